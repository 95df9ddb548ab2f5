"""``reasonlab score``: verify completions against problems and summarise."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
from rich.table import Table

from reasonlab.cli.common import console
from reasonlab.config import parse_key_values
from reasonlab.errors import ReasonlabError
from reasonlab.io import check_writable, read_records, write_records
from reasonlab.rewards import score_records


def summary_table(problems: list[dict[str, Any]], scores: list[dict[str, Any]], by: str | None, title: str) -> Table:
    """Accuracy, process accuracy, mean reward and unparseable rate, overall and per ``meta[by]``."""
    meta = {p["id"]: p.get("meta", {}) for p in problems}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in scores:
        groups["all"].append(s)
        if by is not None:
            groups[f"{by}={meta[s['id']].get(by)}"].append(s)
    table = Table(title=title, title_justify="left")
    for col in ("group", "n", "accuracy", "process acc", "mean reward", "unparseable"):
        table.add_column(col, justify="right" if col != "group" else "left")

    def order(key: str) -> tuple[int, float | str]:
        if key == "all":
            return (1, 0)
        value = key.split("=", 1)[1]
        try:
            return (0, float(value))
        except ValueError:
            return (0, value)

    for key in sorted(groups, key=order):
        rows = groups[key]
        n = len(rows)
        proc = [r["process_ok"] for r in rows if r["process_ok"] is not None]
        table.add_row(
            key,
            str(n),
            f"{sum(r['correct'] for r in rows) / n:.3f}",
            f"{sum(proc) / len(proc):.3f}" if proc else "-",
            f"{sum(r['reward'] for r in rows) / n:.3f}",
            f"{sum(r['pred'] is None for r in rows) / n:.3f}",
        )
    return table


@click.command("score")
@click.option("--problems", "problems_path", required=True, type=click.Path(dir_okay=False))
@click.option("--completions", "completions_path", required=True, type=click.Path(dir_okay=False))
@click.option("--reward", default="outcome", show_default=True, help="Reward scheme (see `reasonlab tasks`).")
@click.option("--reward-arg", multiple=True, help="Scheme argument NAME=VALUE, e.g. w_a=0.5 (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write score records (.jsonl/.parquet).")
@click.option("--by", default=None, help="Also summarise per value of this meta knob (e.g. ops, people).")
def score_cmd(
    problems_path: str, completions_path: str, reward: str, reward_arg: tuple[str, ...], out: str | None, by: str | None
) -> None:
    """Verify completions (JSONL/Parquet with id, completion) and print a summary table."""
    if out:
        check_writable(out)
    problems = read_records(problems_path)
    completions = read_records(completions_path)
    reward_kwargs = parse_key_values(reward_arg, "--reward-arg", float, "NAME=NUMBER, e.g. w_a=0.5")
    scores = score_records(problems, completions, reward, reward_kwargs, source=completions_path)
    if not scores:
        raise ReasonlabError(f"{completions_path}: no completions to score")
    if out:
        write_records(out, scores)
    console.print(summary_table(problems, scores, by, f"reward={reward}"))


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(score_cmd)
