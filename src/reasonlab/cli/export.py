"""``reasonlab export ...``: write reasonlab artefacts in other ecosystems' formats.

``export hf CHECKPOINT OUT_DIR`` turns a native checkpoint into a Hugging Face ``Qwen2ForCausalLM``
directory that ``transformers`` loads offline. ``export verl``, ``export hf-dataset`` and ``export
openrlhf`` write problems (drawn from a task's knobs, or read from problem files) in those engines'
data formats, for the reward bridges in :mod:`reasonlab.integrations`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reasonlab.cli.common import console, parse_knobs
from reasonlab.errors import ReasonlabError


@click.group("export")
def export_group() -> None:
    """Export models (and data) to other formats."""


@export_group.command("hf")
@click.argument("checkpoint", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in OUT_DIR (nothing else is replaced).")
def export_hf_cmd(checkpoint: str, out_dir: str, overwrite: bool) -> None:
    """Write CHECKPOINT as a Hugging Face Qwen2ForCausalLM directory OUT_DIR (loads with AutoModelForCausalLM
    and AutoTokenizer, offline)."""
    from reasonlab.model import load_model
    from reasonlab.model.hf import export_hf
    from reasonlab.rundir import resolve_model_path

    model, tokenizer = load_model(resolve_model_path(checkpoint))
    path = export_hf(model, tokenizer, out_dir, overwrite=overwrite)
    console.print(f"exported {model.num_params():,}-parameter model to {path} (Qwen2ForCausalLM, safetensors)")


def _data_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the data exports: a task and its knobs, or problem files; splits; style; output."""
    for option in reversed(
        [
            click.option("--task", "task_name", default=None, help="Task to draw from (knobs: --knob v)."),
            click.option("--train-n", type=int, default=1000, show_default=True, help="Training problems drawn."),
            click.option("--test-n", type=int, default=100, show_default=True, help="Test problems drawn."),
            click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw."),
            click.option("--train", "train_file", default=None, help="Training problems file instead of --task."),
            click.option("--test", "test_file", default=None, help="Test problems file (with --train)."),
            click.option("--style", default="plain", show_default=True, help="Prompt style (plain or chat)."),
            click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory."),
            click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out."),
        ]
    ):
        fn = option(fn)
    return click.pass_context(fn)


def _problems(
    ctx: click.Context,
    task_name: str | None,
    train_n: int,
    test_n: int,
    seed: int,
    train_file: str | None,
    test_file: str | None,
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """``(train, test, source)``: drawn from ``--task`` and its knobs, or read from ``--train``/``--test``."""
    from reasonlab.integrations.common import load_problems, split_problems

    if (task_name is None) == (train_file is None):
        raise ReasonlabError("give either --task (and its knobs) or --train FILE")
    if train_file is not None:
        if ctx.args:
            raise ReasonlabError(f"task knobs ({' '.join(ctx.args)}) need --task, not --train")
        train = load_problems([train_file])
        test = load_problems([test_file]) if test_file else []
        overlap = {p.prompt for p in train} & {p.prompt for p in test}
        if overlap:
            raise ReasonlabError(f"{len(overlap)} prompts are in both --train and --test")
        return train, test, {"train": train_file, "test": test_file or "-"}
    if test_file is not None:
        raise ReasonlabError("--test FILE goes with --train FILE, not --task")
    assert task_name is not None
    knobs = parse_knobs(ctx.args)
    train, test = split_problems(task_name, knobs, train_n, test_n, seed)
    return train, test, {"task": task_name, **knobs, "seed": seed}


_EXTRA = {"ignore_unknown_options": True, "allow_extra_args": True}


@export_group.command("verl", context_settings=_EXTRA)
@click.option("--reward", default="outcome", show_default=True, help="Scheme named in the printed verl settings.")
@_data_options
def export_verl_cmd(ctx: click.Context, reward: str, style: str, out_dir: str, overwrite: bool, **kw: Any) -> None:
    """Write train/test parquet in verl's RL schema; score with reasonlab.integrations.verl:compute_score."""
    from reasonlab.integrations import verl
    from reasonlab.rewards import check_reward

    check_reward(reward)
    train, test, _ = _problems(ctx, **kw)
    path = verl.export_verl(train, test, out_dir, style=style, overwrite=overwrite)
    console.print(f"wrote {len(train)} train and {len(test)} test rows to {path} (verl RL schema)")
    click.echo(
        f"data.train_files={path / 'train.parquet'} data.val_files={path / 'test.parquet'} "
        f"reward.custom_reward_function.path={verl.__file__} reward.custom_reward_function.name=compute_score "
        f"+reward.custom_reward_function.reward_kwargs.reward={reward}"
    )


@export_group.command("hf-dataset", context_settings=_EXTRA)
@click.option("--conversational", is_flag=True, help="Prompts as chat messages instead of text.")
@_data_options
def export_hf_dataset_cmd(
    ctx: click.Context, conversational: bool, style: str, out_dir: str, overwrite: bool, **kw: Any
) -> None:
    """Write a Hugging Face dataset directory (parquet splits + dataset card) for TRL's GRPOTrainer."""
    from reasonlab.integrations.hf_datasets import export_hf_dataset

    train, test, source = _problems(ctx, **kw)
    path = export_hf_dataset(
        train, test, out_dir, style=style, conversational=conversational, source=source, overwrite=overwrite
    )
    console.print(f"wrote {len(train)} train and {len(test)} test rows to {path} (datasets.load_dataset({path}))")


@export_group.command("openrlhf", context_settings=_EXTRA)
@click.option("--reward", default="outcome", show_default=True, help="Scheme the written reward_func.py uses.")
@_data_options
def export_openrlhf_cmd(ctx: click.Context, reward: str, style: str, out_dir: str, overwrite: bool, **kw: Any) -> None:
    """Write train/test JSONL (prompt, label) and reward_func.py for OpenRLHF's --remote_rm_url."""
    from reasonlab.integrations.common import export_dir, problem_json
    from reasonlab.io import write_records
    from reasonlab.rewards import check_reward
    from reasonlab.tasks import get_task

    check_reward(reward)
    train, test, _ = _problems(ctx, **kw)

    def rows(problems: list[Any]) -> list[dict[str, Any]]:
        return [{"prompt": get_task(p.task).render(p, style)[0], "label": problem_json(p)} for p in problems]

    def write(tmp: Path) -> None:
        write_records(tmp / "train.jsonl", rows(train))
        if test:
            write_records(tmp / "test.jsonl", rows(test))
        (tmp / "reward_func.py").write_text(
            '"""OpenRLHF reward file written by `reasonlab export openrlhf`."""\n\n'
            "from reasonlab.integrations.openrlhf import make_reward_func\n\n"
            f"reward_func = make_reward_func({json.dumps(reward)})\n",
            encoding="utf-8",
        )

    path = export_dir(out_dir, "openrlhf", write, overwrite=overwrite)
    console.print(f"wrote {len(train)} train and {len(test)} test rows and reward_func.py to {path}")
    click.echo(
        f"--prompt_data {path / 'train.jsonl'} --input_key prompt --label_key label "
        f"--remote_rm_url {path / 'reward_func.py'}"
    )


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(export_group)
