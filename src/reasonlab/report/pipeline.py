"""The report of a pipeline run (``report.md`` + ``plots/``): what was trained, the RL curve, and base vs RL
per bucket with confidence intervals and the paired test, read from the steps' own output files.

The ``report`` step's config names the steps to read: ``baseline``/``candidate`` (eval run dirs),
``compare`` (compare dir), optional ``pretrain``/``rl`` (run dirs), ``title`` and ``bands`` (a mapping
bucket -> label such as in-range / edge / far, shown in the table).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from reasonlab.config import StrictModel
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.plots import plot_rl_curve
from reasonlab.rundir import RunDir

__all__ = ["ReportStepConfig", "quickstart_rows", "quickstart_table", "write_pipeline_report"]


class ReportStepConfig(StrictModel):
    """A recipe's ``report`` step: which steps to read, the title and the band label of each bucket."""

    baseline: str = Field(description="baseline eval step, e.g. @eval_base")
    candidate: str = Field(description="candidate eval step, e.g. @eval_rl")
    compare: str = Field(description="compare step, e.g. @compare")
    pretrain: str | None = Field(None, description="pre-training run, e.g. @pretrain.run")
    rl: str | None = Field(None, description="RL run, e.g. @rl.run")
    title: str | None = Field(None, description="report title (default: the recipe name)")
    bands: dict[str, str] = Field(default_factory=dict, description="bucket -> band label (in range, edge, ...)")

    @field_validator("bands", mode="before")
    @classmethod
    def _keys_as_text(cls, v: Any) -> Any:
        return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else v


def _blk(block: dict[str, Any] | None) -> str:
    if not block:
        return "-"
    return f"{block['mean']:.3f} [{block['ci'][0]:.3f}, {block['ci'][1]:.3f}]"


def quickstart_rows(
    base: dict[str, Any], cand: dict[str, Any], compare: dict[str, Any], bands: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per bucket (and 'all'): pass@1 and the largest shared pass@k of both models, paired test."""
    ks = sorted(int(k) for k in compare.get("k", [1]))
    kmax = str(ks[-1]) if ks else "1"
    rows = []
    for bucket in [*compare["buckets"], "all"]:
        b = base["overall"] if bucket == "all" else base["buckets"].get(bucket)
        c = cand["overall"] if bucket == "all" else cand["buckets"].get(bucket)
        cmp_ = compare["overall"] if bucket == "all" else compare["buckets"][bucket]
        if b is None or c is None:
            continue
        paired = cmp_["paired"]
        dk = cmp_.get("delta@k", {}).get(kmax)
        rows.append(
            {
                "bucket": bucket,
                "band": bands.get(bucket, "all" if bucket == "all" else ""),
                "n_problems": cmp_["n_problems"],
                "k": int(kmax),
                "base_pass1": b["outcome"]["pass@k"].get("1"),
                "rl_pass1": c["outcome"]["pass@k"].get("1"),
                "base_passk": b["outcome"]["pass@k"].get(kmax),
                "rl_passk": c["outcome"]["pass@k"].get(kmax),
                "diff_pass1": paired["mean_diff"],
                "diff_ci": [paired["ci_low"], paired["ci_high"]],
                "p_value": paired["p_value"],
                "diff_passk": None if dk is None else dk["mean_diff"],
                "p_value_passk": None if dk is None else dk["p_value"],
                "inside_seed_band": cmp_.get("gain_inside_seed_band"),
            }
        )
    return rows


def quickstart_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`quickstart_rows`."""
    k = rows[0]["k"] if rows else 1
    head = (
        f"| bucket | band | problems | base pass@1 [95% CI] | RL pass@1 [95% CI] | diff pass@1 [95% CI] | p | "
        f"base pass@{k} | RL pass@{k} | diff pass@{k} (p) |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        dk = "-" if r["diff_passk"] is None else f"{r['diff_passk']:+.3f} ({r['p_value_passk']:.3g})"
        lines.append(
            f"| {r['bucket']} | {r['band']} | {r['n_problems']} | {_blk(r['base_pass1'])} | {_blk(r['rl_pass1'])} | "
            f"{r['diff_pass1']:+.3f} [{r['diff_ci'][0]:+.3f}, {r['diff_ci'][1]:+.3f}] | {r['p_value']:.3g} | "
            f"{_blk(r['base_passk'])} | {_blk(r['rl_passk'])} | {dk} |"
        )
    return "\n".join(lines)


def write_pipeline_report(root: Path, recipe: Any, config: ReportStepConfig, outputs: dict[str, Any]) -> Path:
    """Write ``root/report.md`` (+ ``root/plots``) and ``root/results.json``; return the report path."""
    base = read_json(Path(config.baseline) / "eval" / "summary.json", "eval summary")
    cand = read_json(Path(config.candidate) / "eval" / "summary.json", "eval summary")
    compare_dir = Path(config.compare)
    compare = read_json(compare_dir / "compare.json")
    bands = config.bands
    rows = quickstart_rows(base, cand, compare, bands)
    plots = root / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    lines = [f"# {config.title or recipe.name}", ""]
    if recipe.description:
        lines += [recipe.description.strip(), ""]
    pipeline_seconds = {}
    for name, out in outputs.items():
        done = Path(out.get("run", root / name)) / "step_done.json"
        if done.is_file():
            pipeline_seconds[name] = read_json(done, "step record")["seconds"]
    if pipeline_seconds:
        lines += ["## Steps", "", "| step | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.0f} |" for k, v in pipeline_seconds.items()]
        lines += ["", ""]
    if config.pretrain:
        ps = Path(config.pretrain) / "summary.json"
        if ps.is_file():
            s = read_json(ps, "pre-training summary")
            lines += [
                "## Pre-training",
                "",
                f"{s.get('num_params', 0):,} parameters, {s.get('steps')} steps, final loss "
                f"{s.get('final_loss', float('nan')):.4f}.",
                "",
            ]
    rl_summary = None
    if config.rl:
        rl_dir = Path(config.rl)
        metrics = RunDir(rl_dir).read_metrics()
        if metrics:
            plot_rl_curve(metrics, plots / "rl_curve.png")
        rl_summary = read_json(rl_dir / "summary.json", "RL summary") if (rl_dir / "summary.json").is_file() else None
        if rl_summary:
            t = rl_summary["totals"]
            lines += [
                "## RL",
                "",
                f"{rl_summary['steps']} steps ({rl_summary['stop_reason']}), {t['prompts']} prompts, "
                f"{t['rollouts']} rollouts, {t['generated_tokens']:,} generated tokens, "
                f"{rl_summary['flops_total']:.3g} FLOPs, {rl_summary['seconds']:.0f}s.",
                "",
                "![RL training curve](plots/rl_curve.png)",
                "",
            ]
    cmp_plot = compare_dir / "plots" / "pass_at_k_by_bucket.png"
    if cmp_plot.is_file():
        shutil.copyfile(cmp_plot, plots / "pass_at_k_by_bucket.png")
    ecfg = base["record"]["config"]
    dec = ecfg["decoding"]
    lines += [
        "## Base vs RL",
        "",
        f"{ecfg['problems_per_bucket']} held-out problems per bucket x {ecfg['seeds']} seeds x "
        f"{ecfg['samples_per_seed']} samples, temperature {dec['temperature']}, max {dec['max_new_tokens']} new "
        "tokens. CIs: percentile bootstrap over problems (pass@k), paired t-interval (differences); p: two-sided "
        "sign-flip permutation test on per-problem pass@1 differences.",
        "",
        quickstart_table(rows),
        "",
        "![pass@k by bucket](plots/pass_at_k_by_bucket.png)",
        "",
        "## Reading",
        "",
    ]
    for r in rows:
        sig = r["p_value"] < 0.05
        verdict = (
            ("significant gain" if r["diff_pass1"] > 0 else "significant loss") if sig else "no significant change"
        )
        band = f" ({r['band']})" if r["band"] else ""
        lines.append(
            f"- bucket {r['bucket']}{band}: pass@1 {r['diff_pass1']:+.3f}, p = {r['p_value']:.3g}: {verdict}"
            + ("; the gain lies inside the baseline's seed band" if r["inside_seed_band"] else "")
            + "."
        )
    lines.append("")
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines))
    atomic_write_text(root / "results.json", json.dumps({"rows": rows, "rl": rl_summary}, indent=1, default=str))
    return report
