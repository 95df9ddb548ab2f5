"""Where a recipe's change of pass@1 comes from, by solution shape (arith problems): a report section.

A solution shape is the wiring of a gold solution (:func:`reasonlab.tasks.arith.solution_shape`). A gain that
a general skill brings spreads over many shapes; a gain that a learned wiring brings sits in the shapes that
wiring fits and shows as a loss in shapes it does not fit, often at another op. The section names the single
shape that carries most of the headline band's gain (its share of the band's mean change) and every in-range
or edge shape that fell significantly, so a report cannot call one wiring a skill without saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasonlab.eval.analyses import shape_analysis, solution_shapes

__all__ = ["arms_shape_lines", "shape_finding", "shape_section"]

#: Shapes listed per bucket in the report table (largest share of the bucket's change first).
TOP = 4
#: A shape "fell" when its pass@1 dropped by at least this much with p below the report's alpha.
FALL = 0.20


def shape_finding(
    base_run: str | Path,
    cand_run: str | Path,
    bands: dict[str, str],
    headline: str,
    *,
    process: bool,
    alpha: float,
    n_perm: int = 10000,
) -> dict[str, Any] | None:
    """Shape rows of the in-range and edge buckets, the headline band's largest shape and the shapes that fell.

    ``largest``: the shape with the largest ``n / N * diff`` over the headline band's ``N`` problems (its part
    of the band's mean change ``gain``) and ``share = part / gain``. ``fell``: shapes with ``diff <= -FALL`` and
    ``p < alpha``. None when the problems have no solution shapes (not arith) or no bucket is in range or edge.
    """
    buckets = [b for b, band in bands.items() if band in ("in_range", "edge")]
    if not buckets or not (Path(cand_run) / "eval" / "problems.jsonl").is_file():
        return None
    shapes = solution_shapes(cand_run)
    if shapes is None:
        return None
    rows = shape_analysis(base_run, cand_run, process=process, buckets=buckets, n_perm=n_perm, shapes=shapes)
    head = [r for r in rows if bands.get(r["bucket"]) == headline]
    size = sum(r["n"] for r in head)
    out: dict[str, Any] = {"correctness": "process" if process else "outcome", "headline_band": headline}
    if size:
        gain = sum(r["n"] * r["mean_diff"] for r in head) / size
        top = max(head, key=lambda r: r["n"] * r["mean_diff"] * (1 if gain >= 0 else -1))
        part = top["n"] * top["mean_diff"] / size
        out["largest"] = {**top, "band_part": part, "band_gain": gain, "share": part / gain if gain else None}
    out["fell"] = [r for r in rows if r["mean_diff"] <= -FALL and r["p_value"] < alpha]
    shown: list[dict[str, Any]] = []
    for b in buckets:
        shown += [r for r in rows if r["bucket"] == b][:TOP]
    out["rows"] = [{**r, "band": bands[r["bucket"]]} for r in shown]
    return out


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def shape_section(finding: dict[str, Any] | None, base_label: str = "base", cand_label: str = "RL") -> list[str]:
    """Markdown: the headline band's largest shape, the shapes that fell, then the top shapes of each bucket."""
    if finding is None:
        return []
    corr = "process-verified" if finding["correctness"] == "process" else "answer"
    lines = ["## Where the change comes from: solution shapes", ""]
    lines.append(
        f"pass@1 ({corr}) by the wiring of the gold solution (`const add(a) sum(b)`: the third step totals the "
        "second alone). A skill spreads over shapes; a learned wiring sits in the shapes it fits and falls "
        "in those it does not. Share: the shape's part of its bucket's mean change (`n / N x diff`). "
        f"Command: `reasonlab eval shapes BASE_EVAL RL_EVAL`."
    )
    lines.append("")
    big = finding.get("largest")
    if big is not None and big["share"] is not None:
        lines.append(
            f"- The {finding['headline_band'].replace('_', ' ')} band changes by {_pp(big['band_gain'])} pp; its "
            f"largest shape, `{big['shape']}` at bucket {big['bucket']} ({big['n']} problems, "
            f"{big['base']:.3f} -> {big['model']:.3f}), carries {_pp(big['band_part'])} pp of it "
            f"({100 * big['share']:.0f}%)."
        )
    for r in finding["fell"]:
        lines.append(
            f"- Fell: `{r['shape']}` at bucket {r['bucket']} ({r['n']} problems) {r['base']:.3f} -> "
            f"{r['model']:.3f} ({_pp(r['mean_diff'])} pp, p {r['p_value']:.2g}), {_pp(r['contribution'])} pp of "
            "its bucket."
        )
    if not finding["fell"]:
        lines.append(f"- No in-range or edge shape fell by {100 * FALL:.0f} pp or more.")
    lines += [
        "",
        f"| bucket | band | shape | problems | {base_label} | {cand_label} | diff, pp [95% CI] | p | share, pp |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in finding["rows"]:
        lines.append(
            f"| {r['bucket']} | {r['band'].replace('_', ' ')} | `{r['shape']}` | {r['n']} | {r['base']:.3f} | "
            f"{r['model']:.3f} | {_pp(r['mean_diff'])} [{_pp(r['ci_low'])}, {_pp(r['ci_high'])}] | "
            f"{r['p_value']:.2g} | {_pp(r['contribution'])} |"
        )
    return [*lines, ""]


def arms_shape_lines(findings: dict[str, dict[str, dict[str, Any] | None]]) -> list[str]:
    """Markdown for an arms report: per arm and seed (``{arm: {seed: shape_finding}}``), the headline band's
    change, its largest shape with that shape's share, and the in-range or edge shapes that fell."""
    rows = [(arm, seed, f) for arm, by_seed in findings.items() for seed, f in by_seed.items() if f is not None]
    if not rows:
        return []
    lines = [
        "## Where the change comes from: solution shapes",
        "",
        "Each arm's evaluation against the base's, split by the wiring of the gold solution "
        "(`reasonlab eval shapes BASE_EVAL ARM_EVAL`). A skill spreads over shapes; a learned wiring sits in the "
        f"shapes it fits and falls in those it does not (fell: -{100 * FALL:.0f} pp or more, significant).",
        "",
        "| arm | seed | edge band change, pp | largest edge shape (share of the change) | shapes that fell |",
        "|---|---|---|---|---|",
    ]
    for arm, seed, f in rows:
        big = f.get("largest")
        if big is None:
            change, largest = "-", "-"
        else:
            change = _pp(big["band_gain"])
            share = "" if big["share"] is None else f" ({100 * big['share']:.0f}%)"
            largest = f"`{big['shape']}` at {big['bucket']}: {big['base']:.3f} -> {big['model']:.3f}{share}"
        fell = "; ".join(f"`{r['shape']}` at {r['bucket']} {_pp(r['mean_diff'])} pp" for r in f["fell"]) or "none"
        lines.append(f"| {arm} | {seed} | {change} | {largest} | {fell} |")
    return [*lines, ""]
