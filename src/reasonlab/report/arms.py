"""The report of RL arms from one base (the CMU edge-of-competence figure): verdict first, then per arm
and op the base and RL pass@1 / pass@k (mean +- std over RL seeds), the paired effects and how many
seeds make them significant, and the three-panel figure (one panel per arm, bands shaded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.pipeline import BAND_LABEL, LABEL, comparison_rows
from reasonlab.report.plots import plot_arms

__all__ = ["arms_rows", "arms_verdict", "write_arms_report"]

#: What the CMU study found for each arm, by the band where it shows.
EXPECTED = {
    "in_range": "raises pass@1 on the ops it trains on, not pass@k (sharpening)",
    "edge": "raises pass@1 and pass@k on the edge, and transfers beyond it",
    "hard": "changes little anywhere (nothing to amplify)",
}


def _ms(values: list[float]) -> dict[str, float | None]:
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()) if a.size else None, "std": float(a.std(ddof=1)) if a.size > 1 else None}


def arms_rows(arms: dict[str, Any], bands: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Per arm, one row per op: base pass@1/@k, RL mean +- std over seeds, effects, share significant."""
    base = read_json(Path(arms["baseline"]) / "eval" / "summary.json", "eval summary")
    out: dict[str, list[dict[str, Any]]] = {}
    for arm, seeds in arms["arms"].items():
        per_seed = {}
        for seed, rec in seeds.items():
            cand = read_json(Path(rec["eval"]) / "eval" / "summary.json", "eval summary")
            cmp_ = read_json(Path(rec["compare"]) / "compare.json", "comparison")
            per_seed[seed] = {r["bucket"]: r for r in comparison_rows(base, cand, cmp_, bands)}
        rows = []
        for bucket in next(iter(per_seed.values())):
            first = next(iter(per_seed.values()))[bucket]
            row: dict[str, Any] = {"bucket": bucket, "band": first["band"], "k": first["k"]}
            kmax = str(first["k"][-1])
            for corr in ("process", "outcome"):
                if corr not in first:
                    continue
                seeds_rows = [s[bucket][corr] for s in per_seed.values()]
                row[corr] = {
                    "base_pass@1": first[corr]["base"]["1"]["mean"],
                    f"base_pass@{kmax}": first[corr]["base"][kmax]["mean"],
                    "rl_pass@1": _ms([r["rl"]["1"]["mean"] for r in seeds_rows]),
                    f"rl_pass@{kmax}": _ms([r["rl"][kmax]["mean"] for r in seeds_rows]),
                    "diff_pass@1": _ms([r["diff_pass@1"]["mean_diff"] for r in seeds_rows]),
                    f"diff_pass@{kmax}": _ms(
                        [r["delta@k"][kmax]["mean_diff"] for r in seeds_rows if kmax in r["delta@k"]]
                    ),
                    "significant_seeds": sum(
                        r["diff_pass@1"].get("p_holm", r["diff_pass@1"]["p_value"]) < 0.05 for r in seeds_rows
                    ),
                    "seeds": len(seeds_rows),
                    "pass@k_curve": {
                        k: {"base": first[corr]["base"][k]["mean"], "rl": _ms([r["rl"][k]["mean"] for r in seeds_rows])}
                        for k in first[corr]["base"]
                    },
                }
            rows.append(row)
        out[arm] = rows
    return out


def _band_effect(rows: list[dict[str, Any]], band: str, key: str, corr: str) -> float | None:
    vals = [r[corr][key]["mean"] for r in rows if r["band"] == band and corr in r and r[corr][key]["mean"] is not None]
    return float(np.mean(vals)) if vals else None


def arms_verdict(per_arm: dict[str, list[dict[str, Any]]], corr: str = "process") -> dict[str, Any]:
    """One paragraph: what each arm did on each band (mean over its ops and seeds), against the claim."""
    parts = []
    effects: dict[str, dict[str, dict[str, float | None]]] = {}
    for arm, rows in per_arm.items():
        if not rows or corr not in rows[0]:
            continue
        kmax = str(rows[0]["k"][-1])
        effects[arm] = {}
        descr = []
        for band in ("in_range", "edge", "hard"):
            d1 = _band_effect(rows, band, "diff_pass@1", corr)
            dk = _band_effect(rows, band, f"diff_pass@{kmax}", corr)
            effects[arm][band] = {"pass@1": d1, "pass@k": dk}
            if d1 is not None:
                descr.append(f"{BAND_LABEL[band]} {100 * d1:+.1f} pp pass@1 / {100 * (dk or 0):+.1f} pp pass@{kmax}")
        parts.append(f"RL on the {BAND_LABEL.get(arm, arm)} ops: " + ", ".join(descr))
    edge = effects.get("edge", {})
    ident = effects.get("in_range", {})
    hard = effects.get("hard", {})

    def eff(arm: dict[str, dict[str, float | None]], band: str, key: str) -> float:
        return (arm.get(band) or {}).get(key) or 0.0

    checks = {
        "edge_rl_raises_edge_pass@k": eff(edge, "edge", "pass@k") > 0.02 and eff(edge, "edge", "pass@1") > 0.02,
        "id_rl_sharpens_only": eff(ident, "in_range", "pass@1") > 0
        and abs(eff(ident, "in_range", "pass@k")) < eff(ident, "in_range", "pass@1"),
        "hard_rl_changes_little": bool(hard) and abs(eff(hard, "hard", "pass@1")) < 0.05,
    }
    reproduced = all(checks.values())
    text = (
        f"Verdict ({LABEL[corr]} correctness, mean over RL seeds and the ops of each band): "
        + "; ".join(parts)
        + ". "
        + (
            "The three arms reproduce the CMU pattern."
            if reproduced
            else "The CMU pattern is not fully reproduced: "
            + ", ".join(k.replace("_", " ") for k, v in checks.items() if not v)
            + " fails."
        )
    )
    return {"text": text, "effects": effects, "checks": checks, "reproduced": reproduced, "expected": EXPECTED}


def write_arms_report(root: Path, recipe: Any, title: str | None, arms_path: Path, bands: dict[str, str]) -> Path:
    """Write ``root/report.md``, ``root/results.json`` and ``root/plots/arms_*.png`` for an ``arms`` step."""
    arms = read_json(arms_path, "arms record")
    per_arm = arms_rows(arms, bands)
    corr = "process" if any("process" in r for rows in per_arm.values() for r in rows) else "outcome"
    judged = arms_verdict(per_arm, corr)
    plots = root / "plots"
    lines = [
        f"# {title or recipe.name}",
        "",
        judged["text"],
        "",
        "Expected (CMU): " + "; ".join(f"RL on {BAND_LABEL[b]} ops {t}" for b, t in EXPECTED.items()) + ".",
        "",
    ]
    for c in ("process", "outcome"):
        if not any(c in r for rows in per_arm.values() for r in rows):
            continue
        plot_arms(per_arm, c, plots / f"arms_{c}.png")
        lines += [f"## {LABEL[c].capitalize()} correctness", "", f"![arms]({'plots/arms_' + c + '.png'})", ""]
        for arm, rows in per_arm.items():
            kmax = str(rows[0]["k"][-1]) if rows else "1"
            lines += [
                f"### RL on the {BAND_LABEL.get(arm, arm)} ops",
                "",
                f"| op | band | base pass@1 | RL pass@1 | RL - base pass@1 | significant seeds | base pass@{kmax} | "
                f"RL pass@{kmax} | RL - base pass@{kmax} |",
                "|" + "---|" * 9,
            ]
            for r in rows:
                x = r[c]
                cells = [
                    r["bucket"],
                    BAND_LABEL.get(r["band"], r["band"]),
                    f"{x['base_pass@1']:.3f}",
                    _fmt(x["rl_pass@1"]),
                    _fmt(x["diff_pass@1"], pp=True),
                    f"{x['significant_seeds']}/{x['seeds']}",
                    f"{x[f'base_pass@{kmax}']:.3f}",
                    _fmt(x[f"rl_pass@{kmax}"]),
                    _fmt(x[f"diff_pass@{kmax}"], pp=True),
                ]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "RL - base: mean +- std over RL seeds of the paired per-problem difference; significant seeds: Holm-"
        "corrected p < 0.05 over the ops of the table.",
        "",
    ]
    runs = [(arm, s, rec) for arm, seeds in arms["arms"].items() for s, rec in seeds.items()]
    lines += [
        "## RL runs",
        "",
        "| arm | seed | steps | rollouts | generated tokens | FLOPs | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {a} | {s} | {r['rl']['steps']} | {r['rl']['totals']['rollouts']} | "
        f"{r['rl']['totals']['generated_tokens']:,} | {r['rl']['flops_total']:.3g} | {r['rl']['seconds']:.0f} |"
        for a, s, r in runs
    ]
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    atomic_write_text(
        root / "results.json",
        json.dumps({"verdict": judged, "arms": per_arm, "bands": bands, "runs": arms["arms"]}, indent=1, default=str),
    )
    return report


def _fmt(ms: dict[str, float | None], pp: bool = False) -> str:
    if ms["mean"] is None:
        return "-"
    if pp:
        std = "" if ms["std"] is None else f" +- {100 * ms['std']:.1f}"
        return f"{100 * ms['mean']:+.1f}{std} pp"
    std = "" if ms["std"] is None else f" +- {ms['std']:.3f}"
    return f"{ms['mean']:.3f}{std}"
