"""``reasonlab tasks`` and ``reasonlab data generate``."""

from __future__ import annotations

import time

import click
from rich.table import Table

from reasonlab.cli.common import console, parse_knobs, progress_bar
from reasonlab.config import validate
from reasonlab.errors import ReasonlabError
from reasonlab.io import check_writable, write_records
from reasonlab.rewards import supported_schemes
from reasonlab.tasks import get_task, task_names


@click.command("tasks")
def tasks_cmd() -> None:
    """List task families, their knobs with defaults, and the reward schemes they support."""
    for name in task_names():
        task = get_task(name)
        table = Table(title=f"{name}: {task.description}", title_justify="left", show_lines=False)
        table.add_column("knob")
        table.add_column("default")
        table.add_column("meaning")
        for field_name, field in task.Params.model_fields.items():
            table.add_row(f"--{field_name.replace('_', '-')}", str(field.default), field.description or "")
        console.print(table)
        console.print(f"  rewards: {', '.join(supported_schemes(task))}\n")


@click.group("data")
def data_group() -> None:
    """Generate and transform problem sets."""


@data_group.command("generate", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("task_name", metavar="TASK")
@click.option("-n", "n", type=int, required=True, help="Number of distinct problems.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; same seed, same problems.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output .jsonl or .parquet.")
@click.pass_context
def generate_cmd(ctx: click.Context, task_name: str, n: int, seed: int, out: str) -> None:
    """Generate N problems of TASK; task knobs follow as --knob value (see `reasonlab tasks`).

    nexttoken also takes --proxy MODEL (a reasonlab model or HF directory): its entropy at every position of
    the corpus fills the entropy table (--entropy-table PATH, else a cache) that --min-entropy and --bucket
    read; --proxy-top-k (16), --proxy-batch-size (16), --proxy-window (0: the model's) and --proxy-device
    (cpu) tune it. --tokenizer defaults to the proxy's.
    """
    task = get_task(task_name)
    knobs = parse_knobs(ctx.args)
    if not out.endswith((".jsonl", ".parquet")):
        raise ReasonlabError(f"--out {out}: use a .jsonl or .parquet file")
    check_writable(out)
    if any(k.startswith("proxy") for k in knobs):
        knobs = _score_with_proxy(task_name, knobs)
    params = task.params(**knobs)
    start = time.perf_counter()
    with progress_bar(f"generate {task_name}", n) as advance:
        rows = [p.to_dict() for p in task.generate(params, n, seed, progress=advance)]
    write_records(out, rows)
    dt = time.perf_counter() - start
    console.print(f"wrote {len(rows)} {task_name} problems to {out} ({len(rows) / max(dt, 1e-9):.0f}/s)")


def _score_with_proxy(task_name: str, knobs: dict[str, str]) -> dict[str, str]:
    """Score the corpus with the --proxy model and return the knobs with --entropy-table set to its table."""
    if task_name != "nexttoken":
        raise ReasonlabError(f"--proxy scores next-token positions: it applies to nexttoken, not {task_name}")
    proxy = knobs.pop("proxy", None)
    if proxy is None:
        raise ReasonlabError("--proxy-* options need --proxy MODEL")
    opts = {k: knobs.pop(k) for k in list(knobs) if k.startswith("proxy_")}
    unknown = sorted(set(opts) - {"proxy_top_k", "proxy_batch_size", "proxy_window", "proxy_device"})
    if unknown:
        raise ReasonlabError(f"unknown option --{unknown[0].replace('_', '-')}")
    try:
        top_k, batch, window = (
            int(opts.get(k, d)) for k, d in (("proxy_top_k", 16), ("proxy_batch_size", 16), ("proxy_window", 0))
        )
    except ValueError:
        raise ReasonlabError("--proxy-top-k, --proxy-batch-size and --proxy-window take integers") from None
    table = knobs.pop("entropy_table", None)
    knobs.setdefault("tokenizer", proxy)
    from reasonlab.eval.entropy import entropy_table_for  # torch: only when a proxy model scores the corpus
    from reasonlab.tasks.nexttoken import NextTokenParams, documents_of

    scoring = {k: v for k, v in knobs.items() if k not in ("min_entropy", "bucket")}
    params = validate(NextTokenParams, scoring, source=f"task {task_name!r}")

    n_docs = len(documents_of(params).docs)
    with progress_bar("proxy entropy", n_docs) as advance:
        path, info = entropy_table_for(
            params,
            proxy,
            table,
            top_k=top_k,
            window=window,
            batch_size=batch,
            device=opts.get("proxy_device", "cpu"),
            progress=advance,
            log=console.print,
        )
    console.print(f"entropy table {path}: {info['positions']} positions of {info['documents']} documents")
    return {**knobs, "entropy_table": str(path)}


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(tasks_cmd)
    root.add_command(data_group)
