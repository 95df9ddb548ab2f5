"""``reasonlab demo``: generate a mixed arith set, score gold and corrupted completions, print per-op tables.

The computation is :func:`reasonlab.experiments.verifier_demo.run_verifier_demo`; this module prints it.
It exercises the generator, the gold completions and every verifier flag (via
:mod:`reasonlab.tasks.arith.corrupt`), and shows what each reward scheme pays for each kind of mistake.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from reasonlab.cli.common import console, progress_bar
from reasonlab.io import write_records
from reasonlab.tasks import get_task
from reasonlab.tasks.arith.corrupt import CORRUPTIONS

KINDS = ("gold", *CORRUPTIONS)  # the columns: the same kinds as reasonlab.experiments.verifier_demo.KINDS
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
    from reasonlab.experiments.verifier_demo import REWARDS, run_verifier_demo

    knobs = {"ops": ops, "context": context, "mode": mode, "num_mode": num_mode, "depth": depth}
    n_ops = len(get_task("arith").params(**knobs).ops.values())  # type: ignore[attr-defined]
    with progress_bar("generate", n_per_op * n_ops) as advance:
        res = run_verifier_demo(knobs, n_per_op, seed, progress=advance)
    base, op_list, means, problems, completions, scores = (
        res.params,
        res.ops,
        res.means,
        res.problems,
        res.completions,
        res.scores,
    )
    t_gen, t_ver = res.generate_s, res.verify_s

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
    gold_perfect, wrong_paid = res.gold_perfect, res.wrong_paid
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
    """Attach this module's commands to the root command group."""
    root.add_command(demo_cmd)
