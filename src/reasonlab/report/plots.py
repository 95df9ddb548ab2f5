"""Plots for evaluation runs (matplotlib, Agg backend; every file written atomically).

Each function takes already-computed statistics (an eval summary or an analysis result), draws one
figure and writes it as PNG; none of them computes statistics of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from reasonlab.io import atomic_path


def _save(fig: Any, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _bucket_x(labels: Sequence[str]) -> tuple[list[float], bool]:
    try:
        return [float(b) for b in labels], True
    except ValueError:
        return list(range(len(labels))), False


def plot_pass_at_k_by_bucket(
    summaries: Mapping[str, Mapping[str, Any]],
    path: str | os.PathLike[str],
    ks: Sequence[int] | None = None,
    metric: str = "pass@k",
) -> None:
    """pass@k (or maj@k) per bucket for several models on one chart, one panel per k.

    Points are the mean over problems, error bars the bootstrap CI recorded in each summary.
    ``summaries`` maps a model label to its ``eval/summary.json`` content.
    """
    if ks is None:
        common = None
        for s in summaries.values():
            have = set(s["overall"]["outcome"][metric])
            common = have if common is None else common & have
        ks = sorted(int(k) for k in (common or {"1"}))
        if len(ks) > 3:
            ks = [ks[0], ks[len(ks) // 2], ks[-1]]
    fig, axes = plt.subplots(1, len(ks), figsize=(4.6 * len(ks), 3.6), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], ks, strict=True):
        for j, (label, s) in enumerate(summaries.items()):
            buckets = [b for b in s["buckets"] if str(k) in s["buckets"][b]["outcome"][metric]]
            x, numeric = _bucket_x(buckets)
            offset = (j - (len(summaries) - 1) / 2) * (0.08 if numeric else 0.1)
            ys, lo, hi = [], [], []
            for b in buckets:
                blk = s["buckets"][b]["outcome"][metric][str(k)]
                ys.append(blk["mean"])
                lo.append(max(blk["mean"] - blk["ci"][0], 0.0))
                hi.append(max(blk["ci"][1] - blk["mean"], 0.0))
            ax.errorbar(
                [xi + offset for xi in x], ys, yerr=[lo, hi], marker="o", ms=3.5, capsize=2.5, lw=1.2, label=label
            )
            if not numeric:
                ax.set_xticks(x, buckets, rotation=30)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        knob = next(iter(summaries.values()))["record"]["config"]["buckets"]["knob"]
        ax.set_xlabel(knob)
        ax.set_title(metric.replace("k", str(k)))
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score (95% bootstrap CI)")
    axes[0][-1].legend(fontsize=8)
    _save(fig, path)


def plot_seed_spread(summary: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """pass@1 of every seed run per bucket (dots) with the across-seed mean +- std (ddof=1)."""
    buckets = list(summary["buckets"])
    x, numeric = _bucket_x(buckets)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for xi, b in zip(x, buckets, strict=True):
        band = summary["buckets"][b]["outcome"]["pass@1_seeds"]
        ax.scatter([xi] * len(band["per_seed"]), band["per_seed"], s=10, color="tab:gray", alpha=0.6)
        ax.errorbar(
            [xi], [band["mean"]], yerr=[[band["std"]], [band["std"]]], color="tab:blue", marker="_", ms=12, capsize=3
        )
    if not numeric:
        ax.set_xticks(x, buckets, rotation=30)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(summary["record"]["config"]["buckets"]["knob"])
    ax.set_ylabel("pass@1 per seed run")
    ax.set_title("seed-to-seed spread (mean +- std, ddof=1)")
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_length_vs_correctness(analysis: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Stacked histograms of correct and wrong responses per length bin: all, and complete only."""
    edges = analysis["edges"]
    width = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, key, title in ((axes[0], "all", "all responses"), (axes[1], "complete", "complete (not truncated)")):
        h = analysis[key]
        ax.bar(
            edges[:-1], h["correct"], width=width, align="edge", color="tab:green", label="correct", edgecolor="white"
        )
        ax.bar(
            edges[:-1],
            h["wrong"],
            width=width,
            align="edge",
            bottom=h["correct"],
            color="tab:red",
            label="wrong",
            edgecolor="white",
        )
        ax.set_title(title)
        ax.set_xlabel("response length (tokens)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("responses")
    axes[0].legend()
    fig.suptitle(f"length vs correctness (truncation rate {analysis['truncation_rate']:.1%})", fontsize=10)
    _save(fig, path)


def plot_seed_stability(curve: Sequence[Mapping[str, float]], path: str | os.PathLike[str]) -> None:
    """Std of mean pass@1 when averaging K seed runs (resampled and analytic sd/sqrt(K))."""
    ks = [row["k"] for row in curve]
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(ks, [row["std_of_mean"] for row in curve], marker="o", ms=3.5, label="resampled")
    ax.plot(ks, [row["analytic_std"] for row in curve], ls="--", label="sd / sqrt(K)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("seeds averaged (K)")
    ax.set_ylabel("std of mean pass@1")
    ax.set_title("seed-count stability")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_reasoning_words(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Occurrences per response of each reasoning word in correct vs wrong responses."""
    rows = [r for r in rows if (r["rate_correct"] or 0) + (r["rate_wrong"] or 0) > 0] or list(rows)
    words = [r["word"] for r in rows]
    y = list(range(len(words)))
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(words) + 1.4))
    ax.barh(
        [v - 0.2 for v in y], [r["rate_correct"] or 0 for r in rows], height=0.4, color="tab:green", label="correct"
    )
    ax.barh([v + 0.2 for v in y], [r["rate_wrong"] or 0 for r in rows], height=0.4, color="tab:red", label="wrong")
    ax.set_yticks(y, words)
    ax.invert_yaxis()
    ax.set_xlabel("occurrences per response")
    ax.set_title("reasoning words vs correctness")
    ax.legend()
    ax.grid(alpha=0.3, axis="x")
    _save(fig, path)


def plot_seed_band_by_size(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Per-seed pass@1 (first block) for each benchmark size of a seed-variance study.

    ``rows`` come from :func:`reasonlab.eval.analyses.seed_variance_study`; the band (min-max over seeds)
    narrows roughly as 1/sqrt(problems).
    """
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for i, r in enumerate(rows):
        ax.scatter([i] * len(r["per_seed"]), r["per_seed"], s=12, alpha=0.6, color="tab:blue")
        ax.plot([i - 0.2, i + 0.2], [r["mean"]] * 2, color="black", lw=1.5)
    ax.set_xticks(range(len(rows)), [f"{r['problems']} problems" for r in rows])
    ax.set_ylabel("pass@1 of each seed run")
    ax.set_title(f"seed band by benchmark size ({rows[0]['seeds']} seeds)" if rows else "seed band")
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_rl_curve(metrics: list[dict[str, Any]], path: Path) -> None:
    """Training score, accuracy, response length and zero-variance group share against RL step."""
    steps = [r["step"] for r in metrics]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
    for key, label in (("critic/score/mean", "reward"), ("acc/mean", "accuracy")):
        axes[0].plot(steps, [r.get(key, float("nan")) for r in metrics], label=label)
    axes[0].set_title("training batch")
    axes[0].legend()
    axes[1].plot(steps, [r.get("response_length/mean", float("nan")) for r in metrics])
    axes[1].set_title("response_length/mean")
    axes[2].plot(steps, [r.get("frac_reward_zero_std", float("nan")) for r in metrics])
    axes[2].set_title("frac_reward_zero_std")
    for ax in axes:
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


BAND_COLOURS = {"in_range": "#d9f0d3", "edge": "#fde0c5", "hard": "#e0e0e0"}


def plot_band_pass_at_k(
    base: Mapping[str, Any],
    cand: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    correctness: str,
    path: str | os.PathLike[str],
    labels: tuple[str, str] = ("base", "RL"),
) -> None:
    """pass@k by bucket for a base (dashed) and an RL model (solid), one panel per k, bands shaded, and the
    chance level of guessing drawn (dotted) where it is above zero."""
    body = [r for r in rows if r["bucket"] != "all" and correctness in r]
    if not body:
        return
    ks = [str(k) for k in body[0]["k"]]
    ks = ks if len(ks) <= 3 else [ks[0], ks[len(ks) // 2], ks[-1]]
    x, numeric = _bucket_x([r["bucket"] for r in body])
    fig, axes = plt.subplots(1, len(ks), figsize=(4.6 * len(ks), 3.6), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], ks, strict=True):
        for xi, r in zip(x, body, strict=True):
            colour = BAND_COLOURS.get(r["band"])
            if colour:
                ax.axvspan(xi - 0.5, xi + 0.5, color=colour, lw=0, zorder=0)
        for who, style, label in (("base", "--", labels[0]), ("rl", "-", labels[1])):
            ys = [r[correctness][who][k]["mean"] if r[correctness][who].get(k) else float("nan") for r in body]
            lo = [
                max(y - r[correctness][who][k]["ci"][0], 0.0) if r[correctness][who].get(k) else 0.0
                for y, r in zip(ys, body, strict=True)
            ]
            hi = [
                max(r[correctness][who][k]["ci"][1] - y, 0.0) if r[correctness][who].get(k) else 0.0
                for y, r in zip(ys, body, strict=True)
            ]
            ax.errorbar(x, ys, yerr=[lo, hi], ls=style, marker="o", ms=3.5, capsize=2.5, lw=1.3, label=label)
        chance = [r[correctness]["chance"].get(k) for r in body]
        if any(c for c in chance):
            ax.plot(x, [c if c is not None else float("nan") for c in chance], ":", color="black", lw=1, label="chance")
        if not numeric:
            ax.set_xticks(x, [r["bucket"] for r in body], rotation=30)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"pass@{k} ({'process-verified' if correctness == 'process' else 'answer only'})")
        ax.set_xlabel("op")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("pass@k (95% bootstrap CI)")
    handles, _ = axes[0][-1].get_legend_handles_labels()
    present = {r["band"] for r in body}
    handles += [Patch(color=c, label=b.replace("_", " ")) for b, c in BAND_COLOURS.items() if b in present]
    axes[0][-1].legend(handles=handles, fontsize=7)
    _save(fig, path)


def plot_sensitivity(result: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """pass@1 (answer and process-verified) of each model in each setting, with CIs, and each model's seed
    band in the base setting as a shaded strip."""
    rows = result["rows"]
    labels = list(result["models"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    x = list(range(len(rows)))
    for ax, corr in zip(axes, ("outcome", "process"), strict=True):
        for j, label in enumerate(labels):
            pts = [r["models"][label][corr] for r in rows]
            if all(p is None for p in pts):
                continue
            ys = [p["mean"] if p else float("nan") for p in pts]
            lo = [max(p["mean"] - p["ci"][0], 0.0) if p else 0.0 for p in pts]
            hi = [max(p["ci"][1] - p["mean"], 0.0) if p else 0.0 for p in pts]
            off = (j - (len(labels) - 1) / 2) * 0.12
            line = ax.errorbar(
                [xi + off for xi in x], ys, yerr=[lo, hi], marker="o", ls="none", capsize=2.5, label=label
            )
            band = result["spread"][label].get(corr, {}).get("seed_band")
            if band:
                ax.axhspan(band["min"], band["max"], color=line[0].get_color(), alpha=0.15, lw=0)
        ax.set_xticks(x, [r["setting"] for r in rows], rotation=35, ha="right", fontsize=8)
        ax.set_title(f"pass@1 ({'process-verified' if corr == 'process' else 'answer only'})")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("pass@1 (95% CI); strip = seed band")
    axes[-1].legend(fontsize=8)
    _save(fig, path)


def plot_seed_effects(study: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """The headline effect of each training seed (dots) with its mean +- std, and every bucket's effects."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    per = study["headline_effect_per_seed"]
    seeds = [str(s) for s in per]
    axes[0].bar(seeds, [100 * v for v in per.values()], color="#4c72b0")
    h = study["headline_effect"]
    if h["mean"] is not None:
        axes[0].axhline(100 * h["mean"], color="black", lw=1)
        if h["std"] is not None:
            axes[0].axhspan(100 * (h["mean"] - h["std"]), 100 * (h["mean"] + h["std"]), color="grey", alpha=0.2, lw=0)
    axes[0].set_xlabel("training seed")
    axes[0].set_ylabel(f"RL - base pass@1 on the {study['headline_band']} (pp)")
    axes[0].axhline(0, color="grey", lw=0.8)
    buckets = list(study["buckets"])
    x, _ = _bucket_x(buckets)
    for xi, b in zip(x, buckets, strict=True):
        vals = [100 * v for v in study["buckets"][b]["effect_per_seed"].values()]
        axes[1].plot([xi] * len(vals), vals, "o", color="#4c72b0", alpha=0.6, ms=4)
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_xlabel("op")
    axes[1].set_ylabel("RL - base pass@1 per seed (pp)")
    for ax in axes:
        ax.grid(alpha=0.3)
    _save(fig, path)


def plot_arms(
    per_arm: Mapping[str, Sequence[Mapping[str, Any]]],
    correctness: str,
    path: str | os.PathLike[str],
    title: str = "RL on the {arm} ops",
    xlabel: str = "op",
) -> None:
    """One panel per RL arm: pass@1 and pass@k by bucket (``xlabel``: op, people, ...), base (dashed) and RL
    (solid, mean +- std over seeds), the bands shaded; ``title`` names a panel (``{arm}`` is the arm)."""
    arms = [a for a, rows in per_arm.items() if rows and correctness in rows[0]]
    if not arms:
        return
    fig, axes = plt.subplots(1, len(arms), figsize=(4.8 * len(arms), 3.8), squeeze=False, sharey=True)
    for ax, arm in zip(axes[0], arms, strict=True):
        rows = [r for r in per_arm[arm] if r["bucket"] != "all"]  # the pooled row is no op
        kmax = str(rows[0]["k"][-1])
        x, _ = _bucket_x([r["bucket"] for r in rows])
        for xi, r in zip(x, rows, strict=True):
            if r["band"] in BAND_COLOURS:
                ax.axvspan(xi - 0.5, xi + 0.5, color=BAND_COLOURS[r["band"]], lw=0, zorder=0)
        for key, colour in (("1", "#4c72b0"), (kmax, "#dd8452")):
            base = [r[correctness][f"base_pass@{key}"] for r in rows]
            rl = [r[correctness][f"rl_pass@{key}"] for r in rows]
            ax.plot(x, base, "--", color=colour, lw=1.2, label=f"base pass@{key}")
            ax.errorbar(
                x,
                [m["mean"] for m in rl],
                yerr=[m["std"] or 0.0 for m in rl],
                color=colour,
                marker="o",
                ms=3.5,
                capsize=2.5,
                lw=1.4,
                label=f"RL pass@{key}",
            )
        ax.set_title(title.format(arm=arm.replace("_", " ")))
        ax.set_xlabel(xlabel)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"pass@k ({'process-verified' if correctness == 'process' else 'answer only'})")
    axes[0][-1].legend(fontsize=7)
    _save(fig, path)


def plot_arm_bands(
    measured: Mapping[str, Any], path: str | os.PathLike[str], xs: Mapping[str, float] | None = None, xlabel: str = ""
) -> None:
    """One panel per band: each arm's pass@1 and pass@k (mean +- std over RL seeds), the base model dashed.

    ``xs`` places the arms on a numeric axis (e.g. the mid-training share); by default they are categories.
    """
    corr, kmax = measured["corr"], measured["kmax"]
    bands = [b for b in measured["bands"] if b != "all"] or ["all"]
    arms = list(measured["effects"])
    x = [xs[a] for a in arms] if xs else list(range(len(arms)))
    fig, axes = plt.subplots(1, len(bands), figsize=(4.4 * len(bands), 3.6), squeeze=False, sharey=True)
    for ax, band in zip(axes[0], bands, strict=True):
        for key, colour in (("pass@1", "#4c72b0"), (f"pass@{kmax}", "#dd8452")):
            vals = [measured["effects"][a].get(band, {}).get(corr, {}).get(key, {}).get("value") or {} for a in arms]
            ys = [v.get("mean") if v.get("mean") is not None else float("nan") for v in vals]
            err = [v.get("std") or 0.0 for v in vals]
            ax.errorbar(x, ys, yerr=err, marker="o", ms=4, capsize=3, lw=1.3 if xs else 0, color=colour, label=key)
            base = (measured["base"].get(band) or {}).get(corr, {}).get(key)
            if base is not None:
                ax.axhline(base, ls="--", lw=1, color=colour, label=f"base {key}")
        if not xs:
            ax.set_xticks(x, [a.replace("_", " ") for a in arms], rotation=20)
        ax.set_xlabel(xlabel)
        ax.set_title(f"{band.replace('_', ' ')} ops")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"pass@k ({'process-verified' if corr == 'process' else 'answer only'})")
    axes[0][-1].legend(fontsize=7)
    _save(fig, path)


def plot_arm_curves(training: Mapping[str, Any], keys: Sequence[str], path: str | os.PathLike[str]) -> None:
    """RL metrics against step, one line per arm (the mean over its seeds), one panel per metric."""
    keys = [k for k in keys if any(k in t["curves"] for t in training.values())]
    if not keys:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.3), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for arm, t in training.items():
            curve = t["curves"].get(key)
            if curve:
                ax.plot([int(s) for s in curve], list(curve.values()), lw=1.3, label=arm.replace("_", " "))
        ax.set_title(key)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


#: Line colours of the memorisation test's arms.
MEMORISATION_COLOURS = {"sft": "#c44e52", "rl": "#4c72b0"}


def plot_memorisation_curves(curves: Mapping[str, Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Training accuracy, test accuracy and mean LiMem against passes over the training set (epochs), one line
    per arm (mean over seeds) with +- one std over seeds shaded. ``curves``: arm -> ``{"epoch": [...], key:
    [{"mean", "std"}, ...]}`` for the keys ``train_acc``, ``test_acc`` and ``limem_mean``."""
    panels = (("train_acc", "training-set accuracy"), ("test_acc", "test-set accuracy"), ("limem_mean", "mean LiMem"))
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for arm, c in curves.items():
            pts = [(e, v) for e, v in zip(c["epoch"], c[key], strict=True) if v["mean"] is not None]
            if not pts:
                continue
            x = [e for e, _ in pts]
            mean = [v["mean"] for _, v in pts]
            std = [v["std"] or 0.0 for _, v in pts]
            colour = MEMORISATION_COLOURS.get(arm)
            ax.plot(x, mean, marker="o", ms=3.5, lw=1.5, color=colour, label=arm.upper())
            lo = [m - s for m, s in zip(mean, std, strict=True)]
            hi = [m + s for m, s in zip(mean, std, strict=True)]
            ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
        ax.set_title(title)
        ax.set_xlabel("passes over the training set (epochs)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of the set (mean +- std over seeds)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_memorisation_kinds(final: Mapping[str, Mapping[str, Mapping[str, Any]]], path: str | os.PathLike[str]) -> None:
    """LiMem per perturbation kind at the last checkpoint: grouped bars, one bar per arm (mean over seeds, the
    std as an error bar). ``final``: arm -> kind -> ``{"mean", "std"}`` (a kind never measured has mean None)."""
    kinds = list(next(iter(final.values())))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(kinds) + 2), 3.6))
    width = 0.8 / max(len(final), 1)
    for j, (arm, per_kind) in enumerate(final.items()):
        x = [i + (j - (len(final) - 1) / 2) * width for i in range(len(kinds))]
        ys = [per_kind[k]["mean"] if per_kind[k]["mean"] is not None else float("nan") for k in kinds]
        err = [per_kind[k]["std"] or 0.0 for k in kinds]
        ax.bar(x, ys, width, yerr=err, capsize=3, color=MEMORISATION_COLOURS.get(arm), label=arm.upper())
    ax.set_xticks(list(range(len(kinds))), [k.replace("_", " ") for k in kinds], rotation=20)
    ax.set_ylabel("LiMem at the end (mean +- std over seeds)")
    ax.set_ylim(bottom=0)
    ax.set_title("LiMem per perturbation kind, last checkpoint")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    _save(fig, path)
