"""``reasonlab data perturb``: memorisation-test perturbations of Knights & Knaves problem sets."""

from __future__ import annotations

import click

from reasonlab.cli.common import console
from reasonlab.errors import ReasonlabError
from reasonlab.io import check_writable, read_records, write_records
from reasonlab.tasks import Problem
from reasonlab.tasks.knights.perturb import PERTURBATIONS, perturb_problems


@click.command("perturb")
@click.option("--kind", required=True, type=click.Choice(PERTURBATIONS), help="Perturbation to apply.")
@click.option("--in", "in_path", required=True, type=click.Path(dir_okay=False), help="Problems (.jsonl/.parquet).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output (.jsonl/.parquet).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; same seed, same perturbations.")
@click.option(
    "--failures",
    "failures_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the items that could not be perturbed (id, kind, reason) to this .jsonl/.parquet.",
)
def perturb_cmd(kind: str, in_path: str, out_path: str, seed: int, failures_path: str | None) -> None:
    """Perturb every knights problem in --in; ids become ID:KIND and meta.original_id keeps the lineage.

    Math-level kinds (statement, leaf) change the solution and keep it unique; the others change only
    the wording. Items that cannot be perturbed are counted and listed, never dropped silently.
    """
    for option, path in (("--out", out_path), ("--failures", failures_path)):
        if path is not None and not path.endswith((".jsonl", ".parquet")):
            raise ReasonlabError(f"{option} {path}: use a .jsonl or .parquet file")
        if path is not None:
            check_writable(path)
    rows = read_records(in_path)
    problems = [Problem.from_dict(row, source=f"{in_path} record {i + 1}") for i, row in enumerate(rows)]
    for i, problem in enumerate(problems):
        if problem.task != "knights":
            raise ReasonlabError(
                f"{in_path} record {i + 1}: task {problem.task!r}; only 'knights' problems can be perturbed"
            )
    result = perturb_problems(problems, kind, seed)
    write_records(out_path, [p.to_dict() for p in result.problems])
    if failures_path:
        write_records(failures_path, [{"id": pid, "kind": kind, "reason": why} for pid, why in result.failures])
    console.print(
        f"perturbed {len(result.problems)} of {len(problems)} problems with {kind!r} -> {out_path}; "
        f"{len(result.failures)} failed"
    )
    for pid, why in result.failures[:5]:
        console.print(f"  failed {pid}: {why}")
    if len(result.failures) > 5:
        console.print(f"  ... and {len(result.failures) - 5} more" + ("" if failures_path else " (use --failures F)"))


def register(root: click.Group) -> None:
    """Attach ``perturb`` to the ``data`` group (owned by :mod:`reasonlab.cli.data`)."""
    from reasonlab.cli.data import data_group

    data_group.add_command(perturb_cmd)
