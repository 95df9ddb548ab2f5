"""``reasonlab bench sample|train``: speed against Hugging Face ``transformers`` in the same run (JSON).

The measurements live in :mod:`reasonlab.bench`; this module only parses options and prints.
"""

from __future__ import annotations

import json

import click

from reasonlab.config import parse_key_values
from reasonlab.errors import ReasonlabError


@click.group("bench")
def bench_group() -> None:
    """Measure speed (tokens/s) against Hugging Face transformers on identical configurations."""


@bench_group.command("sample")
@click.option("--preset", default="small", show_default=True, help="Model size preset (synthetic workload).")
@click.option("--batch", default=32, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--prompt-len",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Prompt tokens (synthetic workload).",
)
@click.option("--new-tokens", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1), help="torch CPU threads.")
@click.option(
    "--repeats",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Alternating timed runs per engine (best kept).",
)
@click.option(
    "--group",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows per distinct prompt (RL group size / samples per problem).",
)
@click.option(
    "--checkpoint",
    default=None,
    type=click.Path(file_okay=False),
    help="Trained model (with --task): real prompts, EOS honoured.",
)
@click.option("--task", default=None, help="Task whose rendered problems are the prompts (with --checkpoint).")
@click.option("--knob", multiple=True, help="Task knob NAME=VALUE, e.g. ops=2-8 (repeatable).")
@click.option("--temperature", default=1.0, show_default=True, type=float)
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--no-hf", is_flag=True, help="Skip the transformers baseline.")
def sample_cmd(
    preset: str,
    batch: int,
    prompt_len: int,
    new_tokens: int,
    threads: int,
    repeats: int,
    group: int,
    checkpoint: str | None,
    task: str | None,
    knob: tuple[str, ...],
    temperature: float,
    top_k: int,
    device: str,
    no_hf: bool,
) -> None:
    """Sampler tokens/s vs transformers generate on the identical model, prompts and settings (JSON)."""
    import torch

    from reasonlab.bench.sample import bench_sample

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReasonlabError("--device cuda: no CUDA device available")
    knobs = parse_key_values(knob, "--knob", example="NAME=VALUE, e.g. ops=2-8")
    click.echo(
        json.dumps(
            bench_sample(
                preset,
                batch,
                prompt_len,
                new_tokens,
                threads,
                repeats,
                device,
                top_k,
                include_hf=not no_hf,
                group=group,
                checkpoint=checkpoint,
                task=task,
                knobs=knobs,
                temperature=temperature,
            )
        )
    )


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(bench_group)
