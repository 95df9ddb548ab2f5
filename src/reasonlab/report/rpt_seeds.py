"""The seed study of a Reinforcement Pre-Training recipe (``reasonlab run recipes/rpt.yaml`` with ``seeds``).

Aggregates each training seed's ``results.json`` (:mod:`reasonlab.report.rpt`): every paired comparison's
difference per bucket (mean +- std over seeds, share of seeds where it is significant after Holm), the
RLVR difference, the Table 1 analogue over seeds and a scaling fit over every seed's checkpoints. The verdict
judges the paper's two claims seed by seed (:func:`judge_claim`): each seed evaluates its own test problems
(the buckets come from its own base's entropies), so seeds are independent replications, not one pooled
sample.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.io import atomic_write_text
from reasonlab.report.rpt import COMPARISONS, MODELS, RPT_SCHEMA, fit_scaling, fit_text, plot_scaling
from reasonlab.tasks.nexttoken import BUCKETS

__all__ = ["judge_claim", "rpt_seed_verdict", "seed_table1_lines", "write_rpt_seed_study"]


def judge_claim(diffs: Sequence[float], ps: Sequence[float], alpha: float) -> dict[str, Any]:
    """Judge a claim "the difference is positive" from one paired test per seed.

    ``reproduced``: positive and ``p < alpha`` in every seed; ``partly``: positive on average and significantly
    positive in some seeds, but not all; ``contradicted``: significantly negative in more than half the seeds;
    ``not reproduced`` otherwise (no consistent significant sign). Returns the status and the counts.
    """
    n = len(diffs)
    pos = sum(d > 0 and p < alpha for d, p in zip(diffs, ps, strict=True))
    neg = sum(d < 0 and p < alpha for d, p in zip(diffs, ps, strict=True))
    if n and pos == n:
        status = "reproduced"
    elif 2 * neg > n:
        status = "contradicted"
    elif pos and float(np.mean(diffs)) > 0:
        status = "partly"
    else:
        status = "not reproduced"
    return {"status": status, "seeds": n, "significant_positive": pos, "significant_negative": neg}


def _claim_text(claim: str, j: dict[str, Any]) -> str:
    return (
        f"{claim}: **{j['status']}** (significantly better in {j['significant_positive']} of {j['seeds']} seeds, "
        f"significantly worse in {j['significant_negative']})."
    )


def rpt_seed_verdict(study: dict[str, Any]) -> str:
    """The verdict of an RPT seed study: the headline comparison's difference over seeds, then RLVR's, then each
    of the paper's claims judged seed by seed (when the study carries the judgements)."""
    head, alpha = study["headline_bucket"], study["alpha"]
    h = study["tests"].get(COMPARISONS[0][0], {}).get(head)
    text = f"**Verdict over {len(study['seeds'])} training seeds.** "
    if h:
        std = "-" if h["std"] is None else f"{100 * h['std']:.1f}"
        text += (
            f"RPT (reasoning) minus the compute-matched control (standard) on the {head} bucket: "
            f"{100 * h['mean']:+.1f} +- {std} pp (mean +- std over seeds), significant (Holm, {alpha}) in "
            f"{100 * h['share_significant']:.0f}% of seeds."
        )
    rl = study.get("rlvr")
    if rl:
        rstd = "-" if rl["std"] is None else f"{100 * rl['std']:.1f}"
        text += f" After RLVR on arith, RPT start minus control start: {100 * rl['mean']:+.1f} +- {rstd} pp."
    held = study.get("computed_share")
    if held:
        text += (
            f" Numbers of a solution (computable from the question) make {100 * held['mean']:.0f}% of the {head} "
            "bucket's positions (mean over seeds); the rest are question tokens (mostly the generator's draws) and "
            "other solution tokens (names copied from the question, fresh letters)."
        )
    claims = study.get("claims") or {}
    if "next_token" in claims:
        text += " " + _claim_text(f"RPT predicts {head} next tokens better than the control", claims["next_token"])
    if "computable" in claims:
        text += " " + _claim_text(f"On the {head} bucket's computable positions, RPT is better", claims["computable"])
    if "rlvr_start" in claims:
        text += " " + _claim_text("RPT is the better start for RLVR", claims["rlvr_start"])
        lost = study.get("control_lost_format")
        if lost:
            text += (
                f" In {lost} of {len(study['seeds'])} seeds the control had lost the answer format before RLVR (its "
                "arith completions ran to the length limit): there the RLVR comparison measures format retention."
            )
    return text


def seed_table1_lines(table1: dict[str, Any]) -> list[str]:
    """Markdown table of an RPT seed study: next-token accuracy (%) by bucket, mean +- std over seeds."""
    lines = ["| model | mode | " + " | ".join(BUCKETS) + " |", "|---|---|" + "---|" * len(BUCKETS)]
    for key, blocks in table1.items():
        m, mode = key.split("/")
        cells = [
            "-"
            if b not in blocks
            else f"{100 * blocks[b]['mean']:.1f}"
            + ("" if blocks[b]["std"] is None else f" +- {100 * blocks[b]['std']:.1f}")
            for b in BUCKETS
        ]
        lines.append(f"| {m} | {mode} | " + " | ".join(cells) + " |")
    return lines


def _mean_std(xs: Sequence[float]) -> tuple[float, float | None]:
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else None


def write_rpt_seed_study(root: Path, name: str, results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-seed RPT results: each comparison's difference per bucket (mean +- std, share significant),
    the RLVR difference, a scaling fit over every seed's points and the paper's claims judged seed by seed
    (:func:`judge_claim`); writes ``report.md`` and ``seed_study.json``."""
    seeds = sorted(results)
    alpha = float(results[seeds[0]].get("alpha", 0.05))
    head = results[seeds[0]].get("headline_bucket", "hard")
    study: dict[str, Any] = {"schema": RPT_SCHEMA + "/seeds", "seeds": seeds, "alpha": alpha, "tests": {}}
    claims: dict[str, Any] = {}
    for name_, *_ in COMPARISONS:
        for b in BUCKETS:
            rows = [r for r in (results[s]["tests"].get(name_, {}).get(b) for s in seeds) if r]
            if rows:
                d = [r["mean_diff"] for r in rows]
                mean, std = _mean_std(d)
                study["tests"].setdefault(name_, {})[b] = {
                    "per_seed": d,
                    "per_seed_p_holm": [r["p_holm"] for r in rows],
                    "mean": mean,
                    "std": std,
                    "share_significant": float(np.mean([r["p_holm"] < alpha for r in rows])),
                }
                if name_ == COMPARISONS[0][0] and b == head:
                    claims["next_token"] = judge_claim(d, [r["p_holm"] for r in rows], alpha)
    table1: dict[str, Any] = {}
    for m in MODELS:
        for mode in ("standard", "reasoning"):
            for b in BUCKETS:
                acc = [v["mean"] for v in (results[s]["table1"].get(m, {}).get(mode, {}).get(b) for s in seeds) if v]
                if acc:
                    mean, std = _mean_std(acc)
                    table1.setdefault(f"{m}/{mode}", {})[b] = {"mean": mean, "std": std, "seeds": len(acc)}
    study["table1"] = table1
    paired = [results[s]["rlvr"]["paired"] for s in seeds if results[s].get("rlvr")]
    if paired:
        rl = [p["mean_diff"] for p in paired]
        mean, std = _mean_std(rl)
        study["rlvr"] = {"per_seed": rl, "per_seed_p": [p["p_value"] for p in paired], "mean": mean, "std": std}
        claims["rlvr_start"] = judge_claim(rl, [p["p_value"] for p in paired], alpha)
    study["claims"] = claims
    verdicts = [results[s].get("verdict", {}) for s in seeds]
    if all("computable_diff" in v for v in verdicts):  # RPT - control on the headline bucket's computable positions
        claims["computable"] = judge_claim(
            [v["computable_diff"] for v in verdicts], [v["computable_p_holm"] for v in verdicts], alpha
        )
    study["control_lost_format"] = sum(bool(v.get("control_lost_format")) for v in verdicts)
    computed = [v.get("computed_share") for v in verdicts]
    if all(c is not None for c in computed):  # what the headline bucket holds (kind_table), per seed
        study["computed_share"] = {"per_seed": computed, "mean": float(np.mean(computed))}
    pooled: dict[str, Any] = {}
    for m in ("rpt", "control"):
        pts = [p for s in seeds for p in results[s].get("scaling", {}).get(m, {}).get("points", [])]
        if pts:
            mode = next(results[s]["scaling"][m]["mode"] for s in seeds if m in results[s].get("scaling", {}))
            fits = {
                b: fit_scaling([p["flops"] for p in pts], [p["buckets"].get(b, float("nan")) for p in pts])
                for b in BUCKETS
            }
            pooled[m] = {"mode": mode, "points": pts, "fits": fits}
    study["scaling"] = pooled
    study["headline_bucket"] = head
    lines = [f"# Seed study: {name}", "", rpt_seed_verdict(study), ""]
    lines += ["Next-token accuracy (%), mean +- std over seeds:", "", *seed_table1_lines(table1)]
    lines += ["", "| comparison | bucket | per seed (pp) | mean +- std | Holm p < alpha in |", "|---|---|---|---|---|"]
    for cmp_name, rows_ in study["tests"].items():
        for b, r in rows_.items():
            per = " ".join(f"{100 * x:+.1f}" for x in r["per_seed"])
            sd = "-" if r["std"] is None else f"{100 * r['std']:.1f}"
            lines.append(
                f"| {cmp_name} | {b} | {per} | {100 * r['mean']:+.1f} +- {sd} | {100 * r['share_significant']:.0f}% |"
            )
    if pooled:
        (root / "plots").mkdir(parents=True, exist_ok=True)
        plot_scaling(pooled, root / "plots" / "rpt_scaling.png")
        lines += ["", "Scaling fits over every seed's checkpoints:", ""]
        for m, s in pooled.items():
            for b in BUCKETS:
                lines.append(f"- {m} ({s['mode']}), {b}: {fit_text(s['fits'].get(b))}")
        lines += ["", "![accuracy against training FLOPs, all seeds](plots/rpt_scaling.png)"]
    lines += ["", f"Each seed's own report: `seed-S/report.md` (S in {seeds})."]
    atomic_write_text(root / "seed_study.json", json.dumps(study, indent=1, default=str))
    atomic_write_text(root / "report.md", "\n".join(lines) + "\n")
    return study
