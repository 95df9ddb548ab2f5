"""The report of a sensitivity sweep (``reasonlab eval sensitivity``): verdict first, one table, one plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasonlab.io import atomic_write_text
from reasonlab.report.plots import plot_sensitivity

__all__ = ["sensitivity_markdown", "write_sensitivity_report"]


def _cell(block: dict[str, Any] | None) -> str:
    return "-" if block is None else f"{block['mean']:.3f} [{block['ci'][0]:.3f}, {block['ci'][1]:.3f}]"


def _diff(paired: dict[str, Any] | None) -> str:
    if paired is None:
        return "-"
    return f"{paired['mean_diff']:+.3f} [{paired['ci_low']:+.3f}, {paired['ci_high']:+.3f}] (p {paired['p_value']:.3g})"


def verdict_text(result: dict[str, Any]) -> str:
    """One paragraph: how far pass@1 moves across settings against the seed band, and what flips."""
    parts = []
    for label, spread in result["spread"].items():
        for corr in ("process", "outcome"):
            s = spread.get(corr)
            if not s:
                continue
            band = s["seed_band"]
            parts.append(
                f"{label}'s {'process-verified' if corr == 'process' else 'answer'} pass@1 ranges over "
                f"{100 * s['settings_range']:.1f} pp across settings "
                f"({s['settings_min']:.3f}-{s['settings_max']:.3f}), "
                f"against a seed band of {100 * (band['max'] - band['min']):.1f} pp in the base setting"
            )
            break
    text = "Verdict: " + "; ".join(parts) + "."
    engine = [r for r in result["rows"] if r["factor"] == "engine"]
    for r in engine:
        for label, m in r["models"].items():
            d = (m.get("vs_base") or {}).get("outcome")
            if d:
                inside = d["p_value"] >= 0.05
                text += (
                    f" The framework effect ({r['setting']} vs the native sampler) on {label}: "
                    f"{100 * d['mean_diff']:+.1f} pp "
                    f"(95% CI [{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}] pp, p = {d['p_value']:.2g}), "
                    + ("inside the noise." if inside else "outside the noise.")
                )
    flips = result.get("flips")
    if flips:
        for corr, f in flips.items():
            what = "process-verified" if corr == "process" else "answer"
            if f["ranking_flips"] or f["verdict_flips"]:
                text += (
                    f" By {what} correctness the paired verdict in the base setting ({f['base_verdict']}) "
                    "does not survive: "
                    f"the ranking flips under {', '.join(f['ranking_flips']) or 'no setting'} and the verdict changes "
                    f"under {', '.join(f['verdict_flips']) or 'no setting'}."
                )
            else:
                text += f" By {what} correctness the paired verdict ({f['base_verdict']}) holds in every setting."
    return text


def sensitivity_markdown(result: dict[str, Any], plot: str) -> str:
    """The report text."""
    labels = result["models"]
    lines = [f"# Sensitivity: {result['config']['name']}", "", verdict_text(result), ""]
    head = ["setting"]
    for label in labels:
        head += [f"{label} pass@1", f"{label} process pass@1", f"{label} vs base (answer)"]
    if len(labels) == 2:
        head += [f"{labels[1]} - {labels[0]} (answer)", f"{labels[1]} - {labels[0]} (process)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        cells = [r["setting"]]
        for label in labels:
            m = r["models"][label]
            cells += [_cell(m["outcome"]), _cell(m["process"]), _diff((m.get("vs_base") or {}).get("outcome"))]
        if len(labels) == 2:
            cells += [_diff(r["pair"]["outcome"]), _diff(r["pair"]["process"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: pass@1 over all samples [95% bootstrap CI over problems]; differences are paired per problem "
        "(t-interval, two-sided sign-flip p). Seed band: the spread of pass@1 over the base setting's sampling seeds.",
        "",
        f"![pass@1 by setting]({plot})",
        "",
    ]
    return "\n".join(lines)


def write_sensitivity_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/plots/sensitivity.png``; return the report path."""
    out = Path(out_dir)
    plot_sensitivity(result, out / "plots" / "sensitivity.png")
    path = out / "report.md"
    atomic_write_text(path, sensitivity_markdown(result, "plots/sensitivity.png"))
    return path
