"""``reasonlab demo``: generate a mixed arith set, score gold and corrupted completions, print per-op tables.

This is the project's main job until a training recipe replaces it: it exercises the generator, both
prompt styles' gold completions and every verifier flag (via :mod:`reasonlab.tasks.arith_corrupt`),
and shows what each reward scheme pays for each kind of mistake.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path

import click
from rich import box
from rich.table import Table

from reasonlab.cli.common import console, progress_bar
from reasonlab.io import write_records
from reasonlab.rewards import compute_reward
from reasonlab.tasks import get_task
from reasonlab.tasks.arith import parse_ops
from reasonlab.tasks.arith_corrupt import CORRUPTIONS, corrupt
from reasonlab.tasks.base import stable_seed

KINDS = ("gold", *CORRUPTIONS)
#: Column labels (narrow, so the tables fit a terminal).
LABELS = {
    "gold": "gold",
    "wrong_value": "value",
    "wrong_dep": "dep",
    "missing_step": "miss",
    "extra_step": "extra",
    "wrong_answer": "ans",
    "answer_only": "only",
    "truncate": "trunc",
    "empty": "empty",
    "garbage": "junk",
    "long": "long",
}
REWARDS = ("strict", "process", "outcome")


def _table(title: str, ops: list[int], means: dict[tuple[str, str], list[float]], reward: str) -> Table:
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False
    )
    table.add_column("op", justify="right")
    for kind in KINDS:
        table.add_column(LABELS[kind], justify="right")
    for key in [*(str(o) for o in ops), "all"]:
        row = [key]
        for kind in KINDS:
            vals = means.get((key, f"{reward}:{kind}"), [])
            row.append(f"{sum(vals) / len(vals):.2f}" if vals else "-")
        table.add_row(*row)
    return table


@click.command("demo")
@click.option("--ops", default="2-12", show_default=True, help="Op counts to cover, N or A-B (one table row each).")
@click.option("-n", "--n-per-op", "n_per_op", type=click.IntRange(1, 100000), default=30, show_default=True)
@click.option(
    "--context", default="zoo=0.4,school=0.3,movie_festival=0.2,library=0.1", show_default=True, help="Context mix."
)
@click.option("--mode", default="mix", show_default=True, help="forward, reverse or mix.")
@click.option("--num-mode", default="mod", show_default=True, help="mod (iGSM, mod 23) or range (GSM-Infinite).")
@click.option("--depth", default="2", show_default=True, help="2 or 3 entity layers.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Also write problems/completions/scores.")
def demo_cmd(
    ops: str, n_per_op: int, context: str, mode: str, num_mode: str, depth: str, seed: int, out: str | None
) -> None:
    """Generate arith problems per op, score gold and corrupted completions, print per-op reward tables."""
    task = get_task("arith")
    base = task.params(ops=ops, context=context, mode=mode, num_mode=num_mode, depth=depth)
    lo, hi = parse_ops(base.ops)
    op_list = list(range(lo, hi + 1))
    start = time.perf_counter()
    problems = []
    with progress_bar("generate", n_per_op * len(op_list)) as advance:
        for op in op_list:
            params = base.model_copy(update={"ops": str(op)})
            problems.extend(task.generate(params, n_per_op, seed * 1000 + op, progress=advance))
    t_gen = time.perf_counter() - start

    means: dict[tuple[str, str], list[float]] = defaultdict(list)
    completions, scores = [], []
    start = time.perf_counter()
    for p in problems:
        for kind in KINDS:
            rng = random.Random(stable_seed("demo", seed, p.id, kind))
            text = p.solution if kind == "gold" else corrupt(p, kind, rng)
            v = task.verify(p, text)
            row = {"id": p.id, "kind": kind, "ops": p.meta["ops"], "correct": v.correct}
            row["process_ok"] = v.process.ok if v.process else None
            for reward in REWARDS:
                value = compute_reward(reward, v)
                row[reward] = value
                for key in (str(p.meta["ops"]), "all"):
                    means[(key, f"{reward}:{kind}")].append(value)
            completions.append({"id": p.id, "completion": text, "kind": kind})
            scores.append(row)
    t_ver = time.perf_counter() - start

    console.print(
        f"arith demo: {len(problems)} problems ({len(problems) / max(t_gen, 1e-9):.0f}/s), "
        f"{len(completions)} completions verified ({len(completions) / max(t_ver, 1e-9):.0f}/s); "
        f"context={base.context} mode={base.mode} num_mode={base.num_mode} depth={base.depth}"
    )
    titles = {
        "strict": "reward=strict (1 only if the answer is right and every step matches the gold graph)",
        "process": "reward=process (0.2*outcome + 0.8*process score, 0 if the answer is wrong)",
        "outcome": "reward=outcome (final answer only)",
    }
    for reward in REWARDS:
        console.print(_table(titles[reward], op_list, means, reward))
    gold_perfect = all(s["strict"] == 1.0 for s in scores if s["kind"] == "gold")
    wrong_paid = sum(1 for s in scores if s["kind"] not in ("gold", "extra_step") and s["strict"] == 1.0)
    console.print(
        "columns: the gold completion, then one corruption each: value = one wrong intermediate value "
        "(answer kept), dep = wrong dependency, miss = missing step, extra = fabricated extra step, "
        "ans = wrong answer, only = answer without steps, trunc = truncated, empty, junk = random "
        "characters, long = ~100k characters of near-grammar junk"
    )
    console.print(
        f"gold solutions perfect: {gold_perfect}; corrupted completions with full strict reward "
        f"(extra steps excepted, which the metric tolerates): {wrong_paid}"
    )
    if out:
        dest = Path(out)
        write_records(dest / "problems.jsonl", [p.to_dict() for p in problems])
        write_records(dest / "completions.jsonl", completions)
        write_records(dest / "scores.jsonl", scores)
        console.print(f"wrote problems, completions and scores to {dest}/")


def register(root: click.Group) -> None:
    root.add_command(demo_cmd)
