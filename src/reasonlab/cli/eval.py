"""``reasonlab eval CONFIG``, ``reasonlab eval compare RUN_A RUN_B``, ``reasonlab report RUN_DIR`` and
``reasonlab report --study RUNS_DIR``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from reasonlab.cli.common import console, set_option


class _EvalGroup(click.Group):
    """A group whose first argument is a config file unless it names a subcommand.

    ``reasonlab eval CONFIG`` runs an evaluation; ``reasonlab eval compare A B`` compares two runs.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_EvalGroup)
def eval_group() -> None:
    """Evaluate a model on held-out buckets (S seeds x n samples), or compare two evaluation runs.

    \b
    reasonlab eval CONFIG [--out DIR] [--model PATH]
    reasonlab eval compare RUN_A RUN_B [--out DIR]
    reasonlab eval limem ORIGINAL_RUN PERTURBED_RUN...
    reasonlab eval shapes BASE_RUN MODEL_RUN [--bucket 4] [--outcome]
    reasonlab eval profile RUN... [--out profile.json]
    reasonlab eval seed-study RUN_DIR --sizes 40 --sizes 400
    reasonlab eval sensitivity CONFIG [--out DIR]
    """


def _summary_table(summary: dict[str, Any]) -> Table:
    cfg = summary["record"]["config"]
    ks = list(summary["overall"]["outcome"]["pass@k"])
    table = Table(title=f"{summary.get('name')}: {cfg['task']} by {cfg['buckets']['knob']}", title_justify="left")
    for col in [
        cfg["buckets"]["knob"],
        "pass@1 [95% CI]",
        "seed mean +- std",
        f"pass@{ks[-1]}",
        f"maj@{ks[-1]}",
        "truncated",
        "unparseable",
    ]:
        table.add_column(col, justify="right")
    rows = [*summary["buckets"].items(), ("all", summary["overall"])]
    for label, s in rows:
        o = s["outcome"]
        p1 = o["pass@k"]["1"]
        band = o["pass@1_seeds"]
        table.add_row(
            label,
            f"{p1['mean']:.3f} [{p1['ci'][0]:.3f}, {p1['ci'][1]:.3f}]",
            f"{band['mean']:.3f} +- {band['std']:.3f}",
            f"{o['pass@k'][ks[-1]]['mean']:.3f}",
            f"{o['maj@k'][ks[-1]]['mean']:.3f}",
            f"{s['truncation_rate']:.1%}",
            f"{s['unparseable_rate']:.1%}",
        )
    return table


@eval_group.command("run", hidden=True)
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/<name>).")
@click.option("--model", "model_path", help="Override the config's model (checkpoint, run dir or HF dir).")
@click.option("--threads", type=int, help="torch threads for this evaluation.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@set_option
def run_cmd(
    config_path: str,
    out: str | None,
    model_path: str | None,
    threads: int | None,
    quiet: bool,
    assignments: tuple[str, ...],
) -> None:
    """Run the evaluation described by CONFIG (YAML, see configs/eval_*.yaml)."""
    from reasonlab.eval.config import load_eval_config
    from reasonlab.eval.protocol import run_eval
    from reasonlab.report.markdown import write_report

    sugar = [f"{k}={v}" for k, v in (("model", model_path), ("threads", threads)) if v is not None]
    config = load_eval_config(config_path, (*assignments, *sugar))
    out_dir = Path(out) if out else Path("runs") / config.name
    summary = run_eval(config, out_dir, progress=not quiet)
    if config.report:
        write_report(out_dir)
    console.print(_summary_table(summary))
    console.print(
        f"wrote {out_dir}/eval/samples.jsonl, eval/summary.json" + (", report.md, plots/" if config.report else "")
    )


@eval_group.command("compare")
@click.argument("run_a", type=click.Path(file_okay=False))
@click.argument("run_b", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Write compare.json, compare.md and plots/ here.")
@click.option("--n-perm", type=int, default=10000, show_default=True, help="Sign-flip permutations.")
def compare_cmd(run_a: str, run_b: str, out: str | None, n_perm: int) -> None:
    """Paired comparison of RUN_B (candidate) against RUN_A (baseline) on their shared problems."""
    from reasonlab.eval.compare import compare_runs
    from reasonlab.report.markdown import write_compare_report

    res = compare_runs(run_a, run_b, out, n_perm=n_perm)
    if out:
        write_compare_report(res, out)
    table = Table(title=f"B - A: {res['candidate']['name']} vs {res['baseline']['name']}", title_justify="left")
    for col in ("bucket", "A pass@1", "B pass@1", "B - A [95% CI]", "p", "A seed band", "inside band"):
        table.add_column(col, justify="right")
    for label, r in [*res["buckets"].items(), ("all", res["overall"])]:
        p = r["paired"]
        band = r["baseline_seed_band"]
        inside = r["gain_inside_seed_band"]
        table.add_row(
            label,
            f"{r['baseline_pass@1']:.3f}",
            f"{r['candidate_pass@1']:.3f}",
            f"{p['mean_diff']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]",
            f"{p['p_value']:.4f}",
            f"{band['min']:.3f}-{band['max']:.3f}",
            "-" if inside is None else ("yes" if inside else "no"),
        )
    console.print(table)
    deltas = ", ".join(
        f"delta@{k} {d['mean_diff']:+.3f} (p {d['p_value']:.3f})" for k, d in res["overall"]["delta@k"].items()
    )
    console.print(f"{deltas}; diversity collapse: {'yes' if res['overall']['diversity_collapse'] else 'no'}")
    for w in res["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    if out:
        console.print(f"wrote {out}/compare.json, compare.md, plots/pass_at_k_by_bucket.png")


@eval_group.command("sensitivity")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Output directory (default: runs/<name>).")
@set_option
def sensitivity_cmd(config_path: str, out: str | None, assignments: tuple[str, ...]) -> None:
    """Sweep decoding, prompt, budget, framework (and device) around a base evaluation for one or two models."""
    from reasonlab.config import load_config
    from reasonlab.eval.sensitivity import SensitivityConfig, run_sensitivity, settings_of
    from reasonlab.report.sensitivity import write_sensitivity_report

    config = load_config(config_path, SensitivityConfig, assignments)
    settings_of(config)  # every setting is valid before anything runs
    out_dir = Path(out) if out else Path("runs") / config.name
    result = run_sensitivity(config, out_dir, log=lambda m: console.print(m))
    path = write_sensitivity_report(result, out_dir)
    console.print(f"wrote {out_dir}/sensitivity.json and {path}")


@eval_group.command("limem")
@click.argument("original_run", type=click.Path(file_okay=False))
@click.argument("perturbed_runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Write the rows as .jsonl/.parquet.")
def limem_cmd(original_run: str, perturbed_runs: tuple[str, ...], out: str | None) -> None:
    """LiMem = Acc x (1 - CR) of ORIGINAL_RUN against evaluations of perturbed sets (ids '<id>:<kind>')."""
    from reasonlab.eval.analyses import limem_analysis
    from reasonlab.io import write_records

    rows = limem_analysis(original_run, list(perturbed_runs))
    table = Table(title="LiMem (memorisation score)", title_justify="left")
    for col in ("kind", "people", "n", "acc", "acc perturbed", "CR", "LiMem"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["kind"],
            "all" if r["people"] is None else str(r["people"]),
            str(r["n"]),
            f"{r['acc']:.3f}",
            f"{r['acc_perturbed']:.3f}",
            f"{r['cr']:.3f}",
            f"{r['limem']:.3f}",
        )
    console.print(table)
    if out:
        write_records(out, rows)


@eval_group.command("shapes")
@click.argument("base_run", type=click.Path(file_okay=False))
@click.argument("model_run", type=click.Path(file_okay=False))
@click.option("--bucket", "buckets", multiple=True, help="Only these buckets (repeatable; default: all).")
@click.option("--outcome", is_flag=True, help="Answer correctness instead of process-verified correctness.")
@click.option("--min-n", type=int, default=1, show_default=True, help="Hide shapes with fewer problems.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write every row as .jsonl/.parquet.")
def shapes_cmd(
    base_run: str, model_run: str, buckets: tuple[str, ...], outcome: bool, min_n: int, out: str | None
) -> None:
    """Where MODEL_RUN's change against BASE_RUN comes from: pass@1 by bucket and solution shape (arith).

    A shape is the wiring of the gold solution (``const add(a) sum(b)``: the third step totals the second
    alone). A gain carried by one shape while another shape at a neighbouring op falls is a learned
    wiring, not a skill; "share" is the shape's part of its bucket's mean change.
    """
    from reasonlab.eval.analyses import shape_analysis
    from reasonlab.io import write_records

    rows = shape_analysis(base_run, model_run, process=not outcome, buckets=list(buckets) or None)
    kind = "answer" if outcome else "process-verified"
    table = Table(
        title=f"pass@1 by solution shape ({kind}), model - base:\n{model_run} - {base_run}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for col in ("bucket", "shape", "n", "base", "model", "diff pp [95% CI]", "p", "share pp"):
        table.add_column(col, justify="left" if col == "shape" else "right", no_wrap=True)
    for r in rows:
        if r["n"] < min_n:
            continue
        table.add_row(
            r["bucket"],
            r["shape"],
            str(r["n"]),
            f"{r['base']:.3f}",
            f"{r['model']:.3f}",
            f"{100 * r['mean_diff']:+.1f} [{100 * r['ci_low']:+.1f}, {100 * r['ci_high']:+.1f}]",
            f"{r['p_value']:.4f}",
            f"{100 * r['contribution']:+.1f}",
        )
    Console(stderr=True, width=max(console.width, 120)).print(table)  # one row a line: shapes are long
    if out:
        write_records(out, rows)


@eval_group.command("profile")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--edge-max-pass1", type=float, default=0.3, show_default=True, help="An edge bucket's pass@1 at most.")
@click.option(
    "--hard-max-passk", type=float, default=0.05, show_default=True, help="Some hard bucket's pass@k at most."
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write every run's bands, pass@k and verdict as JSON.")
def profile_cmd(runs: tuple[str, ...], edge_max_pass1: float, hard_max_passk: float, out: str | None) -> None:
    """Does each base evaluation show a mastered range, an edge and a hard band (issue 14's bars)?

    Uses each run's own band classification (its ``bands`` thresholds; the defaults when it has none):
    in range = the leading buckets with pass@1 >= 0.8; edge = the next one or two, each with pass@1 <=
    --edge-max-pass1 and pass@k >= 0.2; hard = the rest, one of them with pass@k <= --hard-max-passk.
    """
    from reasonlab.eval.bands import BandConfig, ProfileBars, classify_buckets, profile_check
    from reasonlab.eval.record import load_summary
    from reasonlab.io import atomic_write_text

    bars = ProfileBars(edge_max_pass1=edge_max_pass1, hard_max_passk=hard_max_passk)
    result: dict[str, Any] = {"bars": bars.model_dump(), "runs": {}}
    table = Table(title="base profile (each run's band correctness)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("run", "pass@1 / pass@k by bucket", "in range / edge / hard", "bars met"):
        table.add_column(col, no_wrap=True)
    missed = []
    for run in runs:
        summary = load_summary(run)
        bands = summary.get("bands") or classify_buckets(summary, BandConfig())
        check = profile_check(bands, bars)
        k, rows = bands["k"], bands["buckets"]
        result["runs"][run] = {"bands": bands, "profile": check}
        curve = " ".join(f"{b}:{r['pass@1']:.3f}/{r[f'pass@{k}']:.2f}" for b, r in rows.items())
        split = " / ".join(",".join(check[band]) or "-" for band in ("in_range", "edge", "hard"))
        table.add_row(run, curve, split, "yes" if check["met"] else "no")
        missed += [f"{run}: {f}" for f in check["failures"]]
    out_console = Console(stderr=True, width=max(console.width, 200))
    out_console.print(table)
    for line in missed:
        out_console.print(line, highlight=False)
    if out:
        atomic_write_text(out, json.dumps(result, indent=1) + "\n")


@eval_group.command("seed-study")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--sizes", multiple=True, type=int, required=True, help="Benchmark sizes in problems (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the rows as JSON (and a .png plot beside).")
def seed_study_cmd(run_dir: str, sizes: tuple[int, ...], out: str | None) -> None:
    """Seed band width for benchmarks of each size, from one run with many seeds (see docs/results.md)."""
    import json

    from reasonlab.eval.analyses import seed_variance_study
    from reasonlab.eval.record import load_run
    from reasonlab.io import atomic_write_text

    _, records = load_run(run_dir)
    rows = seed_variance_study(records, list(sizes))
    table = Table(title=f"seed band by benchmark size ({run_dir})", title_justify="left")
    for col in (
        "problems",
        "seeds",
        "1 question",
        "pass@1 mean",
        "seed std",
        "seed min-max",
        "mean seed range",
        "blocks",
        "std of block means",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["problems"]),
            str(r["seeds"]),
            f"{100 * r['question_weight']:.2f} pp",
            f"{r['mean']:.3f}",
            f"{100 * r['std']:.2f} pp",
            f"{r['min']:.3f}-{r['max']:.3f}",
            f"{100 * r['mean_seed_range']:.1f} pp",
            str(r["blocks"]),
            "-" if r["std_of_block_means"] is None else f"{100 * r['std_of_block_means']:.2f} pp",
        )
    console.print(table)
    if out:
        from reasonlab.report.plots import plot_seed_band_by_size

        atomic_write_text(out, json.dumps(rows, indent=2) + "\n")
        plot_seed_band_by_size(rows, Path(out).with_suffix(".png"))
        console.print(f"wrote {out} and {Path(out).with_suffix('.png')}")


@click.command("report")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--with",
    "others",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Another evaluation run drawn on the same pass@k chart (repeatable).",
)
@click.option(
    "--study",
    "study_dir",
    type=click.Path(file_okay=False),
    help="A folder of recipe runs (e.g. runs): one page with every recipe's verdict (study.md, .html, .json).",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Where --study writes (default: its folder).")
def report_cmd(run_dir: str | None, others: tuple[str, ...], study_dir: str | None, out_dir: str | None) -> None:
    """(Re)write RUN_DIR/report.md and RUN_DIR/plots/*.png from its eval/ records; or, with --study RUNS_DIR,
    the study page: every recipe's claim, verdict, headline effect, seeds, wall time, machine and command."""
    if study_dir is not None:
        if run_dir is not None or others:
            raise click.UsageError("--study RUNS_DIR takes no RUN_DIR and no --with")
        from reasonlab.report.study import write_study_report

        res = write_study_report(study_dir, out_dir)
        console.print(
            f"wrote {res['markdown']}, {res['html']} and {res['json']}: {res['runs']} recipe runs, "
            f"{res['incomplete']} incomplete"
        )
        return
    if run_dir is None:
        raise click.UsageError("give an evaluation RUN_DIR or --study RUNS_DIR")
    if out_dir is not None:
        raise click.UsageError("--out applies to --study (a run's report is written into RUN_DIR)")
    from reasonlab.report.markdown import write_report

    path = write_report(run_dir, others)
    console.print(f"wrote {path} and {Path(run_dir) / 'plots'}/")


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(eval_group)
    root.add_command(report_cmd)
