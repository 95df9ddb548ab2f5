"""The seed study of a recipe (``reasonlab run RECIPE --seeds N``): is its verdict a property of the recipe
or of a seed?

Each training seed ran the whole pipeline into ``ROOT/seed-S/`` and wrote its ``results.json``. The study
reads them and reports, for the headline band (the edge) and for every bucket: the effect (RL - base
pass@1, process-verified) per seed, its mean +- std across seeds, the share of seeds where it is
significant (Holm-corrected, at the report's alpha), and the two sources of noise the Sober Look
separates: evaluation noise (the standard error of one seed's paired difference, from its CI: the
samples x problems of one evaluation) and training noise (the standard deviation of the effect across
training seeds).

The headline effect of a seed is its report's pooled band test when the recipe has one (``headline_band``
in ``results.json``: every problem of the band's ops in one paired test, with its own standard error,
p-value and the pass@k change beside it), else the mean of the band's per-op effects, whose standard error
is ``sqrt(sum_i se_i^2) / m`` over its ``m`` ops (independent problems; ``se_i`` = CI width / 2z).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.plots import plot_seed_effects
from reasonlab.report.rpt import RPT_SCHEMA
from reasonlab.report.rpt_seeds import write_rpt_seed_study

__all__ = ["seed_study", "study_markdown", "study_table", "study_verdict", "write_seed_study"]

SCHEMA = "reasonlab.seed_study/1"
Z95 = 1.959963984540054


def _mean_std(values: list[float]) -> dict[str, float | None]:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": float(arr.mean()) if arr.size else None,
        "std": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()) if arr.size else None,
        "max": float(arr.max()) if arr.size else None,
    }


def seed_study(results: dict[int, dict[str, Any]], alpha: float, headline: str = "edge") -> dict[str, Any]:
    """Aggregate per-seed ``results.json`` contents (see the module docstring)."""
    if not results:
        raise ReasonlabError("seed study: no seed finished")
    corr = next(iter(results.values()))["verdict"].get("correctness", "process")
    per_bucket: dict[str, dict[str, Any]] = {}
    headline_effects: dict[int, float] = {}
    headline_passk: dict[int, float] = {}
    headline_significant: dict[int, bool] = {}
    eval_se: list[float] = []
    for seed, res in results.items():
        head, head_se = [], []
        for row in res["rows"]:
            if corr not in row:
                continue
            d = row[corr]["diff_pass@1"]
            p = d.get("p_holm", d["p_value"])
            b = per_bucket.setdefault(row["bucket"], {"bands": {}, "effects": {}, "significant": {}, "base": {}})
            b["bands"][seed] = row["band"]
            b["effects"][seed] = d["mean_diff"]
            b["significant"][seed] = bool(p < alpha and d["mean_diff"] > 0)
            b["base"][seed] = row[corr]["base"]["1"]["mean"]
            if row["band"] == headline:
                head.append(d["mean_diff"])
                head_se.append((d["ci_high"] - d["ci_low"]) / (2 * Z95))
        pooled = (res.get("headline_band") or {}).get("pass@1")
        if pooled is not None:
            headline_effects[seed] = float(pooled["mean_diff"])
            eval_se.append(float(pooled["se"]))
            headline_significant[seed] = bool(pooled["p_value"] < alpha and pooled["mean_diff"] > 0)
            ks = [k for k in res["headline_band"] if k.startswith("pass@") and k != "pass@1"]
            if ks:
                headline_passk[seed] = float(res["headline_band"][max(ks, key=lambda k: int(k[5:]))]["mean_diff"])
        elif head:
            headline_effects[seed] = float(np.mean(head))
            eval_se.append(math.sqrt(sum(x * x for x in head_se)) / len(head_se))
    buckets = {}
    for name, b in per_bucket.items():
        effects = list(b["effects"].values())
        buckets[name] = {
            "bands": b["bands"],
            "effect_per_seed": b["effects"],
            "effect": _mean_std(effects),
            "share_significant": sum(b["significant"].values()) / len(b["significant"]),
            "base_pass@1": _mean_std(list(b["base"].values())),
        }
    reproduced = {s: r["verdict"].get("reproduced") for s, r in results.items()}
    statuses = {s: r["verdict"].get("status") for s, r in results.items()}
    heads = list(headline_effects.values())
    training = _mean_std(heads)["std"]
    evaluation = float(np.mean(eval_se)) if eval_se else None
    return {
        "schema": SCHEMA,
        "seeds": sorted(results),
        "correctness": corr,
        "alpha": alpha,
        "headline_band": headline,
        "headline_effect_per_seed": headline_effects,
        "headline_effect": _mean_std(heads),
        "headline_significant_per_seed": headline_significant,
        "headline_passk_per_seed": headline_passk,
        "headline_passk": _mean_std(list(headline_passk.values())),
        "verdict_per_seed": reproduced,
        "reproduced_in": sum(1 for v in reproduced.values() if v),
        "partly_in": sum(1 for v in statuses.values() if v == "partly"),
        "noise": {
            "training_std": training,
            "evaluation_se": evaluation,
            "note": "training_std: std of the headline effect across training seeds; evaluation_se: mean standard "
            "error of one seed's paired difference (its CI / 2z)",
        },
        "buckets": buckets,
    }


def _pp(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:+.1f} pp"


def study_verdict(study: dict[str, Any]) -> str:
    """The verdict paragraph: does the recipe's verdict survive training seeds, and which noise dominates?"""
    n = len(study["seeds"])
    h = study["headline_effect"]
    noise = study["noise"]
    what = "process-verified" if study["correctness"] == "process" else "answer"
    spread = "-" if h["std"] is None else f"{100 * h['std']:.1f} pp"
    train = "-" if noise["training_std"] is None else f"{100 * noise['training_std']:.1f} pp"
    evaln = "-" if noise["evaluation_se"] is None else f"{100 * noise['evaluation_se']:.1f} pp"
    text = (
        f"Verdict: over {n} training seeds the paper's claim is reproduced in {study['reproduced_in']} of {n} (each "
        f"seed's own verdict)"
        + (f", in direction but not in size in {study['partly_in']}" if study.get("partly_in") else "")
        + ". The headline "
        f"effect ({what} pass@1 gain on the {study['headline_band']}) is {_pp(h['mean'])} +- {spread} (mean +- std "
        f"over seeds; range {_pp(h['min'])} to {_pp(h['max'])})"
        + _significance(study)
        + f". Training noise (std across seeds, {train}) against "
        f"evaluation noise (standard error within one evaluation, {evaln}): "
    )
    if noise["training_std"] is not None and noise["evaluation_se"] is not None:
        text += (
            "the seed matters more than the evaluation's sampling."
            if noise["training_std"] > noise["evaluation_se"]
            else "the evaluation's sampling noise dominates; more seeds would not sharpen the estimate much."
        )
    return text


def _significance(study: dict[str, Any]) -> str:
    """Where the pooled band test exists: in how many seeds it is a significant gain, and the pass@k change."""
    sig = study.get("headline_significant_per_seed") or {}
    if not sig:
        return ""
    pk = study.get("headline_passk") or {}
    text = f", a significant gain (pooled test, p < {study['alpha']}) in {sum(sig.values())} of {len(sig)} seeds"
    if pk.get("mean") is not None:
        spread = "" if pk["std"] is None else f" +- {100 * pk['std']:.1f} pp"
        text += f"; the band's largest-k pass@k changed by {_pp(pk['mean'])}{spread}"
    return text


def study_table(study: dict[str, Any]) -> list[str]:
    """Markdown table: per op, the effect per seed, its mean +- std, the share significant, the base pass@1."""
    lines = [
        "| op | band (per seed) | effect per seed | mean +- std | significant in | base pass@1 mean +- std |",
        "|---|---|---|---|---|---|",
    ]
    for bucket, b in study["buckets"].items():
        bands = ", ".join(sorted(set(b["bands"].values())))
        per = " ".join(_pp(v) for v in b["effect_per_seed"].values())
        e, base = b["effect"], b["base_pass@1"]
        std = "-" if e["std"] is None else f"{100 * e['std']:.1f} pp"
        bstd = "-" if base["std"] is None else f"{base['std']:.3f}"
        lines.append(
            f"| {bucket} | {bands} | {per} | {_pp(e['mean'])} +- {std} | {100 * b['share_significant']:.0f}% | "
            f"{base['mean']:.3f} +- {bstd} |"
        )
    return lines


def study_markdown(study: dict[str, Any], name: str) -> str:
    """The report: the verdict first (does the recipe's verdict survive training seeds?), then the table."""
    lines = [f"# Seed study: {name}", "", study_verdict(study), "", *study_table(study)]
    lines += ["", "![headline effect per seed](plots/seed_effects.png)", ""]
    lines += [f"Each seed's own report: `seed-S/report.md` (S in {study['seeds']})."]
    return "\n".join(lines) + "\n"


def write_seed_study(root: Path, recipe: Any, seeds: list[int]) -> dict[str, Any]:
    """Read ``root/seed-S/results.json`` for every seed, write ``seed_study.json``, ``report.md`` and the plot."""
    results = {}
    alpha = 0.01
    for seed in seeds:
        res = read_json(root / f"seed-{seed}" / "results.json", "results")
        results[seed] = res
        alpha = float(res["verdict"].get("alpha", alpha))
    if all(r.get("schema") == RPT_SCHEMA for r in results.values()):  # a Reinforcement Pre-Training recipe
        return write_rpt_seed_study(root, recipe.name, results)
    study = seed_study(results, alpha)
    atomic_write_text(root / "seed_study.json", json.dumps(study, indent=1))
    plot_seed_effects(study, root / "plots" / "seed_effects.png")
    atomic_write_text(root / "report.md", study_markdown(study, recipe.name))
    return study
