"""``reasonlab tasks`` and ``reasonlab data generate``."""

from __future__ import annotations

import time

import click
from rich.table import Table

from reasonlab.cli.common import console, parse_knobs, progress_bar
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
    """Generate N problems of TASK; task knobs follow as --knob value (see `reasonlab tasks`)."""
    task = get_task(task_name)
    params = task.params(**parse_knobs(ctx.args))
    if not out.endswith((".jsonl", ".parquet")):
        raise ReasonlabError(f"--out {out}: use a .jsonl or .parquet file")
    check_writable(out)
    start = time.perf_counter()
    with progress_bar(f"generate {task_name}", n) as advance:
        rows = [p.to_dict() for p in task.generate(params, n, seed, progress=advance)]
    write_records(out, rows)
    dt = time.perf_counter() - start
    console.print(f"wrote {len(rows)} {task_name} problems to {out} ({len(rows) / max(dt, 1e-9):.0f}/s)")


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(tasks_cmd)
    root.add_command(data_group)
