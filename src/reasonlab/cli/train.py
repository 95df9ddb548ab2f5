"""``reasonlab pretrain CONFIG``, ``reasonlab midtrain CONFIG`` and ``reasonlab bench train``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from reasonlab.cli.common import overwrite_option, set_option
from reasonlab.config import load_config
from reasonlab.errors import ReasonlabError


def _run_phase(
    config_path: str,
    assignments: tuple[str, ...],
    overwrite: bool,
    config_cls: type[Any],
    fn: Callable[..., dict[str, Any]],
) -> None:
    """Load CONFIG with ``--set`` overrides, run a training phase and print its summary as one JSON line."""
    cfg = load_config(config_path, config_cls, assignments)
    summary = fn(cfg, overwrite=overwrite)
    if "run" not in summary:  # a non-zero rank of a distributed run: rank 0 reports
        return
    keys = ("run", "model", "steps", "final_loss", "val_loss", "tokens_total", "flops_total", "seconds")
    click.echo(json.dumps({k: summary[k] for k in keys}))


def launch_torchrun(nproc: int, verb: str, config_path: str, assignments: tuple[str, ...], overwrite: bool) -> None:
    """Run ``torchrun --nproc_per_node NPROC -m reasonlab VERB CONFIG ...`` and exit with its status."""
    import subprocess
    import sys

    if nproc < 1:
        raise ReasonlabError(f"--nproc must be >= 1, got {nproc}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd += ["-m", "reasonlab", verb, config_path, *(f"--set={a}" for a in assignments)]
    cmd += ["--overwrite"] if overwrite else []
    raise SystemExit(subprocess.call(cmd))


@click.command("pretrain")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@set_option
@overwrite_option
@click.option(
    "--nproc",
    type=int,
    default=None,
    help="Train data-parallel on N processes (runs torchrun; DDP, FSDP for the 100M preset; gloo on CPU).",
)
def pretrain_cmd(config_path: str, assignments: tuple[str, ...], overwrite: bool, nproc: int | None) -> None:
    """Pre-train a from-scratch decoder on a task mixture (resumes runs/<name> if it exists)."""
    from reasonlab.train.pretrain import PretrainConfig, pretrain

    if nproc is not None and nproc > 1:
        load_config(config_path, PretrainConfig, assignments)  # a bad config fails here, once, not in N processes
        launch_torchrun(nproc, "pretrain", config_path, assignments, overwrite)
    _run_phase(config_path, assignments, overwrite, PretrainConfig, pretrain)


@click.command("midtrain")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@set_option
@overwrite_option
def midtrain_cmd(config_path: str, assignments: tuple[str, ...], overwrite: bool) -> None:
    """Mid-train a checkpoint: SFT on gold completions or continued next-token training."""
    from reasonlab.train.midtrain import MidtrainConfig, midtrain

    _run_phase(config_path, assignments, overwrite, MidtrainConfig, midtrain)


@click.command("train")
@click.option("--preset", default="small", show_default=True, help="Model size preset.")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--seq-len", default=256, show_default=True)
@click.option("--vocab-size", default=1024, show_default=True)
@click.option("--steps", default=8, show_default=True, help="Timed steps (median reported).")
@click.option("--warmup", default=3, show_default=True, help="Untimed warm-up steps.")
@click.option("--threads", default=0, show_default=True, help="torch threads (0 = torch default).")
@click.option("--compile", "use_compile", is_flag=True, help="torch.compile our model.")
@click.option("--no-transformers", is_flag=True, help="Skip the transformers comparison.")
def bench_train_cmd(
    preset: str,
    batch_size: int,
    seq_len: int,
    vocab_size: int,
    steps: int,
    warmup: int,
    threads: int,
    use_compile: bool,
    no_transformers: bool,
) -> None:
    """Training tokens/s: native vs transformers Qwen2 (same config), and MFU vs measured matmul peak."""
    from reasonlab.bench.train import bench_train
    from reasonlab.model import PRESETS

    if preset not in PRESETS:
        raise ReasonlabError(f"--preset {preset!r}: unknown (allowed: {', '.join(PRESETS)})")
    report = bench_train(
        preset,
        batch_size=batch_size,
        seq_len=seq_len,
        vocab_size=vocab_size,
        steps=steps,
        warmup=warmup,
        threads=threads,
        compile=use_compile,
        compare_transformers=not no_transformers,
    )
    click.echo(json.dumps(report, indent=1))


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    from reasonlab.cli.bench import bench_group

    root.add_command(pretrain_cmd)
    root.add_command(midtrain_cmd)
    bench_group.add_command(bench_train_cmd)
