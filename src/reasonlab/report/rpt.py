"""The report of a Reinforcement Pre-Training recipe (``rpt_report`` step; ``recipes/rpt.yaml``), verdict first.

Reads the ``nexttoken_eval`` runs of the models (the pre-trained base, the format warm-up, RPT and the
compute-matched next-token control), the arith evaluations after the same RLVR step from each, and
writes ``report.md``, ``results.json`` and ``plots/``:

- **Table 1 analogue**: next-token accuracy by entropy bucket (easy, medium, hard: nested) of every model
  in standard (argmax) and reasoning (think, then predict) mode, with bootstrap CIs;
- **paired tests** on the same problems: RPT (reasoning) against the control (standard: the paper's
  comparison; and reasoning), against the warm-up (reasoning), and RPT against the control in standard
  mode; two-sided sign-flip permutation p-values, Holm-corrected over the three buckets of a comparison;
- **Table 2 analogue**: arith pass@1 after RLVR from RPT against after RLVR from the control (the paired
  test of their ``compare`` step), with each model's pass@1 before RLVR when evaluated;
- **scaling**: accuracy against training FLOPs over each run's checkpoints with ``P(C) = A / C^alpha + P*``
  fitted (:func:`fit_scaling`);
- **the think slot**: what the models write between ``<think>`` and ``</think>``;
- **what the buckets hold** (:func:`kind_table`): each bucket's positions by kind (question or solution, number,
  word or symbol: :func:`reasonlab.tasks.nexttoken.position_kind`) and every model's accuracy by kind, because
  a high-entropy position may be one that reasoning could settle or a free draw of the corpus's generator.

A seed study over recipes of this kind (``reasonlab run recipes/rpt.yaml`` with ``seeds``) aggregates the
per-seed ``results.json`` (:mod:`reasonlab.report.rpt_seeds`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from pydantic import Field

from reasonlab.config import StrictModel
from reasonlab.eval.metrics import holm_adjust, paired_test
from reasonlab.io import atomic_path, atomic_write_text, read_json, read_records
from reasonlab.tasks.nexttoken import BUCKETS

__all__ = [
    "COMPARISONS",
    "COMPUTABLE",
    "MODELS",
    "RPT_CLAIM",
    "RPT_SCHEMA",
    "RPTReportConfig",
    "fit_scaling",
    "fit_text",
    "kind_table",
    "plot_scaling",
    "rpt_results",
    "table1_lines",
    "write_rpt_report",
]

RPT_SCHEMA = "reasonlab.rpt/1"
#: Paired comparisons: (name, candidate model, candidate mode, baseline model, baseline mode). The first leads.
COMPARISONS = (
    ("rpt_reasoning_vs_control_standard", "rpt", "reasoning", "control", "standard"),
    ("rpt_reasoning_vs_control_reasoning", "rpt", "reasoning", "control", "reasoning"),
    ("rpt_reasoning_vs_warmup_reasoning", "rpt", "reasoning", "warmup", "reasoning"),
    ("rpt_standard_vs_control_standard", "rpt", "standard", "control", "standard"),
)
MODELS = ("base", "warmup", "control", "rpt")
#: The position kind the question determines in the lab's generated corpora (``position_kind``): the tokens
#: where thinking could help, tested on their own.
COMPUTABLE = "solution number"
#: The control "lost the answer format" when the share of its arith completions cut at the length limit before
#: RLVR exceeds RPT's by more than this.
LOST_FORMAT = 0.25
#: The paper's claim the verdict is stated against (RPT, arXiv 2506.08007).
RPT_CLAIM = (
    "Reinforcement Pre-Training (arXiv 2506.08007): reasoning about the next token, rewarded by a verifier, predicts "
    "it better than next-token training with the same compute, most on hard (high-entropy) tokens, and gives a better "
    "start for RL with verifiable rewards."
)


class RPTReportConfig(StrictModel):
    """An ``rpt_report`` step: the evaluation steps to read and the test settings."""

    title: str | None = Field(None, description="report title (default: the recipe name)")
    base: str | None = Field(None, description="nexttoken_eval of the pre-trained base, e.g. @eval_base")
    warmup: str | None = Field(None, description="nexttoken_eval of the format warm-up, e.g. @eval_warmup")
    rpt: str = Field(description="nexttoken_eval of the RPT model, e.g. @eval_rpt")
    control: str = Field(description="nexttoken_eval of the compute-matched control, e.g. @eval_control")
    control_run: str | None = Field(None, description="the ntp_control run (its match.json), e.g. @control.run")
    data: str | None = Field(None, description="the nexttoken_data step's directory, e.g. @data.run")
    rlvr_compare: str | None = Field(None, description="compare step: RLVR from control (baseline) vs from RPT")
    before_rpt: str | None = Field(None, description="arith eval of the RPT model before RLVR")
    before_control: str | None = Field(None, description="arith eval of the control before RLVR")
    headline_bucket: str = Field("hard", description="the bucket the verdict leads with")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level (Holm-corrected over buckets)")
    n_perm: int = Field(10000, ge=100)


# ----------------------------------------------------------------------------- pure statistics


def fit_scaling(flops: Sequence[float], accuracy: Sequence[float]) -> dict[str, Any] | None:
    """Least-squares fit of ``P(C) = A / C^alpha + P*`` to points with ``C > 0``; None with fewer than 4 points
    or when the fit fails.

    Fitted on ``c = C / max(C)`` for conditioning (``P = a / c^alpha + P*``, so ``A = a * max(C)^alpha``), with
    ``alpha`` in ``[0, 5]`` and ``P*`` in ``[-1, 2]``; ``A < 0`` is an accuracy that rises with compute
    towards ``P*``. ``determined`` is False when a parameter ends on a bound or the asymptote ``P*`` is no accuracy
    (outside [0, 1]): the points do not pin the curve down (too few, too flat or too noisy).
    """
    pts = [(float(c), float(p)) for c, p in zip(flops, accuracy, strict=True) if c > 0 and math.isfinite(p)]
    if len(pts) < 4:
        return None
    from scipy.optimize import curve_fit  # heavy: only when a curve is fitted

    c_max = max(c for c, _ in pts)
    x = np.array([c / c_max for c, _ in pts])
    y = np.array([p for _, p in pts])

    def f(x: np.ndarray, a: float, alpha: float, p_star: float) -> np.ndarray:
        return a / x**alpha + p_star

    guess = (float(y[np.argmin(x)] - y[np.argmax(x)]) or -0.01, 0.5, float(y[np.argmax(x)]))
    try:
        (a, alpha, p_star), _ = curve_fit(f, x, y, p0=guess, bounds=([-10, 0, -1], [10, 5, 2]), maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    rmse = float(np.sqrt(np.mean((f(x, a, alpha, p_star) - y) ** 2)))
    on_bound = min(alpha, 5 - alpha, p_star + 1, 2 - p_star, 10 - abs(a)) < 1e-3 or not 0 <= p_star <= 1
    return {
        "A": float(a * c_max**alpha),
        "alpha": float(alpha),
        "P_star": float(p_star),
        "rmse": rmse,
        "points": len(pts),
        "determined": bool(not on_bound),
    }


def _scores(run: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_records(Path(run) / "nexttoken" / "scores.jsonl")}


def paired_rows(
    cand: dict[str, dict[str, Any]],
    cmode: str,
    base: dict[str, dict[str, Any]],
    bmode: str,
    n_perm: int,
    kind: str | None = None,
) -> dict[str, Any]:
    """Per bucket: the paired test of ``cand[cmode] - base[bmode]`` on shared problems (of one position ``kind``
    when given), Holm-corrected over the buckets."""
    out: dict[str, Any] = {}
    for b in BUCKETS:
        ids = sorted(
            i
            for i, r in cand.items()
            if r["bucket"] == b and i in base and r.get(cmode) is not None and base[i].get(bmode) is not None
            if kind is None or r.get("kind") == kind
        )
        if len(ids) >= 2:
            res = paired_test([cand[i][cmode] for i in ids], [base[i][bmode] for i in ids], n_perm=n_perm)
            out[b] = res.to_dict()
    for b, p in zip(list(out), holm_adjust([out[b]["p_value"] for b in out]), strict=True):
        out[b]["p_holm"] = p
    return out


def kind_table(scores: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Positions by kind (``position_kind``) per bucket, and accuracy by kind per model, mode and bucket.

    ``scores``: per model, its ``nexttoken/scores.jsonl`` rows by id (rows without a ``kind`` are skipped).
    Returns ``{"counts": {bucket: {kind: n}}, "accuracy": {model: {mode: {bucket: {kind: {"mean", "n"}}}}}}``;
    counts are over the union of the models' problems (within a seed every model sees the same ones).
    """
    counts: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    acc: dict[str, Any] = {}
    for m, rows in scores.items():
        for i, r in rows.items():
            kind = r.get("kind")
            if not kind:
                continue
            if i not in seen:
                seen.add(i)
                counts.setdefault(r["bucket"], {}).setdefault(kind, 0)
                counts[r["bucket"]][kind] += 1
            for mode in ("standard", "reasoning"):
                if r.get(mode) is not None:
                    acc.setdefault(m, {}).setdefault(mode, {}).setdefault(r["bucket"], {}).setdefault(kind, []).append(
                        float(r[mode])
                    )

    def block(ks: dict[str, list[float]]) -> dict[str, Any]:
        return {k: {"mean": float(np.mean(v)), "n": len(v)} for k, v in sorted(ks.items())}

    accuracy = {m: {mode: {b: block(ks) for b, ks in bs.items()} for mode, bs in md.items()} for m, md in acc.items()}
    return {"counts": {b: dict(sorted(c.items())) for b, c in counts.items()}, "accuracy": accuracy}


def rpt_results(config: RPTReportConfig) -> dict[str, Any]:
    """Everything the report states, from the step directories (see the module docstring)."""
    runs = {m: getattr(config, m) for m in MODELS if getattr(config, m)}
    summaries = {m: read_json(Path(r) / "nexttoken" / "summary.json", "nexttoken summary") for m, r in runs.items()}
    scores = {m: _scores(r) for m, r in runs.items()}
    table1 = {m: s["modes"] for m, s in summaries.items()}
    tests = {}
    for name, cm, cmode, bm, bmode in COMPARISONS:
        if cm in scores and bm in scores and cmode in table1[cm] and bmode in table1[bm]:
            tests[name] = paired_rows(scores[cm], cmode, scores[bm], bmode, config.n_perm)
    name, cm, cmode, bm, bmode = COMPARISONS[0]
    if name in tests:
        tests[f"{name} ({COMPUTABLE}s)"] = paired_rows(scores[cm], cmode, scores[bm], bmode, config.n_perm, COMPUTABLE)
    scaling = {}
    for m in ("rpt", "control"):
        curve = summaries.get(m, {}).get("curve")
        if curve:
            pts = curve["points"]
            scaling[m] = {
                "mode": curve["mode"],
                "points": pts,
                "fits": {
                    b: fit_scaling([p["flops"] for p in pts], [p["buckets"].get(b, float("nan")) for p in pts])
                    for b in BUCKETS
                },
            }
    out: dict[str, Any] = {
        "schema": RPT_SCHEMA,
        "table1": table1,
        "tests": tests,
        "scaling": scaling,
        "think": {m: s["think"] for m, s in summaries.items() if "think" in s},
        "kinds": kind_table(scores),
        "rlvr": _rlvr(config),
        "alpha": config.alpha,
        "headline_bucket": config.headline_bucket,
    }
    if config.data:
        out["data"] = read_json(Path(config.data) / "data.json", "data record")
    match = Path(config.control_run) / "match.json" if config.control_run else None
    out["compute_match"] = read_json(match, "match") if match is not None and match.is_file() else None
    out["verdict"] = verdict(out)
    return out


def _before(run: str | None) -> tuple[float | None, float | None]:
    """(pass@1, share of completions cut at the length limit) of an arith evaluation before RLVR."""
    if not run:
        return None, None
    o = read_json(Path(run) / "eval" / "summary.json", "eval summary")["overall"]
    return float(o["outcome"]["pass@k"]["1"]["mean"]), o.get("truncation_rate")


def _rlvr(config: RPTReportConfig) -> dict[str, Any] | None:
    if not config.rlvr_compare:
        return None
    cmp = read_json(Path(config.rlvr_compare) / "compare.json", "comparison")
    o = cmp["overall"]
    (before_control, cut_control), (before_rpt, cut_rpt) = _before(config.before_control), _before(config.before_rpt)
    return {
        "after_control": o["baseline_pass@1"],
        "after_rpt": o["candidate_pass@1"],
        "paired": o["paired"],
        "before_control": before_control,
        "before_rpt": before_rpt,
        "truncated_before_control": cut_control,
        "truncated_before_rpt": cut_rpt,
    }


def verdict(res: dict[str, Any]) -> dict[str, Any]:
    """The headline: RPT (reasoning) against the control (standard) on the headline bucket, RLVR, the think slot."""
    b, alpha = res["headline_bucket"], res["alpha"]
    head = res["tests"].get(COMPARISONS[0][0], {}).get(b)
    out: dict[str, Any] = {"bucket": b, "alpha": alpha}
    parts = []
    if head is None:
        parts.append(f"No paired test on the {b} bucket (a model or mode was not evaluated).")
    else:
        d, p = head["mean_diff"], head["p_holm"]
        sig = p < alpha
        who = ("RPT beats the control" if d > 0 else "the control beats RPT") if sig else "no significant difference"
        parts.append(
            f"On the {b} bucket, RPT in reasoning mode against the compute-matched next-token control in standard "
            f"mode: {100 * d:+.1f} pp (95% CI {100 * head['ci_low']:+.1f} to {100 * head['ci_high']:+.1f}, "
            f"n = {head['n']}, Holm p = {p:.3g}): {who}."
        )
        out.update(diff=d, p_holm=p, significant=sig, rpt_better=bool(sig and d > 0))
    rl = res.get("rlvr")
    if rl:
        pr = rl["paired"]
        sig = pr["p_value"] < alpha
        parts.append(
            f"After the same RLVR step on arith, the RPT start reaches pass@1 {rl['after_rpt']:.3f} against "
            f"{rl['after_control']:.3f} from the control ({100 * pr['mean_diff']:+.1f} pp, p = {pr['p_value']:.3g}; "
            f"{'significant' if sig else 'not significant'} at {alpha})."
        )
        out.update(rlvr_diff=pr["mean_diff"], rlvr_p=pr["p_value"], rlvr_significant=sig)
        cut_c, cut_r = rl.get("truncated_before_control"), rl.get("truncated_before_rpt")
        if cut_c is not None and cut_r is not None and cut_c - cut_r > LOST_FORMAT:
            parts.append(
                f"Before RLVR {100 * cut_c:.0f}% of the control's arith completions run to the length limit "
                f"(RPT's: {100 * cut_r:.0f}%): the control no longer ends its answers, so the RLVR comparison "
                "measures whether the answer format survived more than what either start knows."
            )
            out["control_lost_format"] = True
    held = (res.get("kinds") or {}).get("counts", {}).get(b)
    if held and any(not k.startswith("text") for k in held):
        n = sum(held.values())
        share = {r: sum(v for k, v in held.items() if k.startswith(r)) / n for r in ("question", "solution")}
        computed = held.get(COMPUTABLE, 0) / n
        other = share["solution"] - computed
        parts.append(
            f"What the {b} bucket holds ({n} positions): {100 * computed:.0f}% numbers of a solution (computed from "
            f"the question: where thinking could help), {100 * other:.0f}% other solution tokens, "
            f"{100 * share['question']:.0f}% question tokens (mostly the generator's draws: quantities, names)."
        )
        out["computed_share"] = computed
        ct = res["tests"].get(f"{COMPARISONS[0][0]} ({COMPUTABLE}s)", {}).get(b)
        if ct and ct["n"] >= 10:
            sig = ct["p_holm"] < alpha
            parts.append(
                f"On those {ct['n']} computable positions, RPT (reasoning) - control (standard): "
                f"{100 * ct['mean_diff']:+.1f} pp (95% CI {100 * ct['ci_low']:+.1f} to {100 * ct['ci_high']:+.1f}, "
                f"Holm p = {ct['p_holm']:.3g}; {'significant' if sig else 'not significant'})."
            )
            out.update(computable_diff=ct["mean_diff"], computable_p_holm=ct["p_holm"], computable_n=ct["n"])
    think = res.get("think", {}).get("rpt")
    if think:
        parts.append(
            f"RPT's think slot: closed in {100 * think['closed_think']:.0f}% of samples, "
            f"{think['mean_think_words']:.1f} words on average, non-empty in {100 * think['share_nonempty_think']:.0f}%"
            + (" (the tiny model predicts without reasoning)." if think["mean_think_words"] < 1 else ".")
        )
        out["think_words"] = think["mean_think_words"]
    out["text"] = "**Verdict.** " + " ".join(parts)
    return out


# ----------------------------------------------------------------------------- markdown and plots


def _cell(block: dict[str, Any] | None) -> str:
    if not block:
        return "-"
    lo, hi = block["ci"]
    return f"{100 * block['mean']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] (n={block['n']})"


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_accuracy(table1: dict[str, Any], path: Path) -> None:
    """Grouped bars: accuracy by bucket for every (model, mode)."""
    series = [(m, mode, blocks) for m in MODELS if m in table1 for mode, blocks in table1[m].items()]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(len(series), 1)
    for k, (m, mode, blocks) in enumerate(series):
        xs = [i + k * width for i in range(len(BUCKETS))]
        ys = [100 * blocks[b]["mean"] if b in blocks else 0.0 for b in BUCKETS]
        err = [[100 * (blocks[b]["mean"] - blocks[b]["ci"][0]) if b in blocks else 0 for b in BUCKETS],
               [100 * (blocks[b]["ci"][1] - blocks[b]["mean"]) if b in blocks else 0 for b in BUCKETS]]  # fmt: skip
        ax.bar(xs, ys, width, yerr=err, capsize=2, label=f"{m} ({mode})", hatch="//" if mode == "reasoning" else None)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(BUCKETS))], list(BUCKETS))
    ax.set_ylabel("next-token accuracy (%)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)


def plot_scaling(scaling: dict[str, Any], path: Path) -> None:
    """Accuracy against training FLOPs per bucket, each run's points and its fitted ``A / C^alpha + P*``."""
    fig, axes = plt.subplots(1, len(BUCKETS), figsize=(12, 3.3), sharey=True)
    for ax, b in zip(axes, BUCKETS, strict=True):
        for m, colour in (("rpt", "C3"), ("control", "C0")):
            if m not in scaling:
                continue
            pts = [(p["flops"], p["buckets"].get(b)) for p in scaling[m]["points"] if p["flops"] > 0]
            pts = [(c, a) for c, a in pts if a is not None]
            if not pts:
                continue
            ax.scatter(
                [c for c, _ in pts], [100 * a for _, a in pts], color=colour, s=12, label=f"{m} ({scaling[m]['mode']})"
            )
            fit = scaling[m]["fits"].get(b)
            if fit:
                cs = np.geomspace(min(c for c, _ in pts), max(c for c, _ in pts), 50)
                style = "-" if fit.get("determined", True) else ":"
                ax.plot(cs, 100 * (fit["A"] / cs ** fit["alpha"] + fit["P_star"]), color=colour, lw=1, ls=style)
        ax.set_xscale("log")
        ax.set_title(b)
        ax.set_xlabel("training FLOPs")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    labelled = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if labelled:
        labelled[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def fit_text(fit: dict[str, Any] | None) -> str:
    """One line for a :func:`fit_scaling` result: its parameters, rmse, points, and whether it is determined."""
    if not fit:
        return "-"
    head = f"A = {fit['A']:.3g}, alpha = {fit['alpha']:.3f}, P* = {100 * fit['P_star']:.1f}%"
    note = "" if fit.get("determined", True) else "; not determined: a parameter on its bound or P* outside [0, 1]"
    return f"{head} (rmse {100 * fit['rmse']:.1f} pp, {int(fit['points'])} points{note})"


def table1_lines(table1: dict[str, Any]) -> list[str]:
    """Markdown table (RPT Table 1 analogue): next-token accuracy by bucket of every model and mode."""
    lines = ["| model | mode | " + " | ".join(BUCKETS) + " |", "|---|---|" + "---|" * len(BUCKETS)]
    for m in MODELS:
        for mode, blocks in table1.get(m, {}).items():
            lines.append(f"| {m} | {mode} | " + " | ".join(_cell(blocks.get(b)) for b in BUCKETS) + " |")
    return lines


def report_lines(res: dict[str, Any], title: str) -> list[str]:
    """The report's markdown lines (verdict first)."""
    lines = [f"# {title}", "", res["verdict"]["text"], ""]
    lines += [
        "## Next-token accuracy by entropy bucket (RPT Table 1 analogue)",
        "",
        "Accuracy in % [95% bootstrap CI] (n problems). Buckets nest: easy, medium and hard are positions where the "
        "proxy's top-16 entropy exceeds the easy, medium and hard thresholds. Standard: the argmax next token, counted "
        "with the prefix rule; reasoning: think, then predict (pass@1 over the samples).",
        "",
        *table1_lines(res["table1"]),
    ]
    lines += ["", "![accuracy by bucket](plots/rpt_accuracy.png)", "", "## Paired tests", ""]
    lines += ["| comparison | bucket | difference (pp) | 95% CI | n | p | Holm p |", "|---|---|---|---|---|---|---|"]
    for name, rows in res["tests"].items():
        for b, r in rows.items():
            lines.append(
                f"| {name} | {b} | {100 * r['mean_diff']:+.1f} | {100 * r['ci_low']:+.1f} to {100 * r['ci_high']:+.1f} "
                f"| {r['n']} | {r['p_value']:.3g} | {r['p_holm']:.3g} |"
            )
    rl = res.get("rlvr")
    if rl:
        fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        lines += [
            "",
            "## The same RLVR step after each (RPT Table 2 analogue)",
            "",
            "| start | arith pass@1 before RLVR | cut at the length limit before RLVR | after RLVR |",
            "|---|---|---|---|",
            f"| compute-matched control | {fmt(rl['before_control'])} | {fmt(rl.get('truncated_before_control'))} | "
            f"{fmt(rl['after_control'])} |",
            f"| RPT | {fmt(rl['before_rpt'])} | {fmt(rl.get('truncated_before_rpt'))} | {fmt(rl['after_rpt'])} |",
            "",
            f"Paired difference after RLVR (RPT start - control start): {100 * rl['paired']['mean_diff']:+.1f} pp, "
            f"p = {rl['paired']['p_value']:.3g}.",
        ]
    if res["scaling"]:
        lines += [
            "",
            "## Accuracy against training compute",
            "",
            "| run | mode | bucket | fit P(C) = A / C^alpha + P* |",
        ]
        lines += ["|---|---|---|---|"]
        for m, s in res["scaling"].items():
            for b in BUCKETS:
                lines.append(f"| {m} | {s['mode']} | {b} | {fit_text(s['fits'].get(b))} |")
        lines += ["", "![accuracy against training FLOPs](plots/rpt_scaling.png)"]
    if res.get("compute_match"):
        cm = res["compute_match"]
        lines += [
            "",
            f"Compute match: the control trained {cm['steps']} steps, {cm['control_flops']:.3g} FLOPs against RPT's "
            f"{cm['target_flops']:.3g} (ratio {cm['ratio']:.3f}).",
        ]
    if res["think"]:
        lines += [
            "",
            "## The think slot",
            "",
            "| model | closed | mean words | non-empty | acc. non-empty | acc. empty |",
        ]
        lines += ["|---|---|---|---|---|---|"]
        for m, t in res["think"].items():
            acc = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
            lines.append(
                f"| {m} | {100 * t['closed_think']:.0f}% | {t['mean_think_words']:.2f} | "
                f"{100 * t['share_nonempty_think']:.0f}% | {acc(t['accuracy_nonempty_think'])} | "
                f"{acc(t['accuracy_empty_think'])} |"
            )
    return lines + kind_lines(res.get("kinds"))


def kind_lines(kinds: dict[str, Any] | None) -> list[str]:
    """The report section "What the buckets hold" (:func:`kind_table`); nothing for scores without kinds."""
    if not kinds or not kinds["counts"]:
        return []
    names = sorted({k for c in kinds["counts"].values() for k in c})
    lines = ["", "## What the buckets hold", "", "Positions by kind (share of the bucket's problems):", ""]
    lines += ["| bucket | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for b in BUCKETS:
        c = kinds["counts"].get(b)
        if c:
            n = sum(c.values())
            lines.append(f"| {b} | {n} | " + " | ".join(f"{100 * c.get(k, 0) / n:.0f}%" for k in names) + " |")
    lines += ["", "Accuracy (%) by kind over the easy bucket (it holds the other two), n problems in brackets:", ""]
    lines += ["| model | mode | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for m in MODELS:
        for mode, bs in kinds["accuracy"].get(m, {}).items():
            cells = [bs.get("easy", {}).get(k) for k in names]
            lines.append(
                f"| {m} | {mode} | "
                + " | ".join("-" if c is None else f"{100 * c['mean']:.1f} ({c['n']})" for c in cells)
                + " |"
            )
    return lines


def write_rpt_report(root: Path, recipe: Any, config: RPTReportConfig) -> Path:
    """Write ``root/report.md``, ``root/results.json`` and the plots; return the report path."""
    res = rpt_results(config)
    plots = root / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    plot_accuracy(res["table1"], plots / "rpt_accuracy.png")
    if res["scaling"]:
        plot_scaling(res["scaling"], plots / "rpt_scaling.png")
    report = root / "report.md"
    atomic_write_text(report, "\n".join(report_lines(res, config.title or recipe.name)) + "\n")
    atomic_write_text(root / "results.json", json.dumps(res, indent=1, default=str))
    return report
