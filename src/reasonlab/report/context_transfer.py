"""The report of the context-transfer study (CMU: contextual transfer needs a seed in pre-training).

One ``arms`` step per exposure: a base pre-trained on context A with context B mixed in at that exposure,
RL from it (one arm, several seeds), every model evaluated on context B. Per exposure, B's pass@1 and pass@k
before and after RL (mean +- std over RL seeds, paired per problem against that exposure's own base) by band
and by op. An exposure *transfers* when RL's process-verified (else answer) pass@1 gain on B over the
evaluated ops is at least ``min_gain`` with a pooled paired p below ``alpha``; the exposure threshold is
bracketed by the largest exposure that does not transfer and the smallest that does (the lab measures only
the exposures it ran, so the bracket is the threshold's uncertainty). When the process is checked, the answer-only
gains are stated beside the verdict with the hacking rate (right answer, failing chain) of the RL models: a
model can learn to answer the new context while its chain is written in the old one's words.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms import arms_rows, hacking_cells, measure
from reasonlab.report.pipeline import BAND_LABEL, LABEL
from reasonlab.report.plots import plot_arms

__all__ = ["CONTEXT_CLAIM", "exposure_value", "transfer_verdict", "write_context_report"]

CONTEXT_CLAIM = (
    "RL transfers reasoning to a new context only when pre-training gave that context a seed: with the new context "
    "at 0% or 0.1% of pre-training RL gains nothing on it, at 1% and 10% it transfers (CMU interplay study; the "
    "threshold lies between 0.1% and 1%)."
)


def exposure_value(label: str) -> float:
    """The share an exposure label names: ``"1%"`` -> 0.01, ``"0.001"`` -> 0.001."""
    m = re.fullmatch(r"\s*([0-9.]+(?:e-?[0-9]+)?)\s*(%?)\s*", label)
    if m is None:
        raise ValueError(f"exposure label {label!r}: expected a share like 0.01 or a percentage like 1%")
    return float(m.group(1)) / (100 if m.group(2) else 1)


def transfer_verdict(per_exposure: dict[str, dict[str, Any]], min_gain: float, alpha: float) -> dict[str, Any]:
    """Which exposures transfer, the bracketed threshold, and one paragraph against the claim.

    ``per_exposure``: label -> ``{"gain": mean pass@1 gain over seeds, "p": pooled p, "corr": ...}``.
    """
    labels = sorted(per_exposure, key=exposure_value)
    ok = {
        e: per_exposure[e]["gain"] is not None
        and per_exposure[e]["gain"] >= min_gain
        and (per_exposure[e]["p"] if per_exposure[e]["p"] is not None else 1.0) < alpha
        for e in labels
    }
    passing = [e for e in labels if ok[e]]
    failing = [e for e in labels if not ok[e]]
    monotone = all(ok[b] >= ok[a] for a, b in itertools.pairwise(labels))
    if not passing:
        bracket = f"above {labels[-1]} (no exposure transfers)"
        low, high = exposure_value(labels[-1]), None
    elif not failing:
        bracket = f"at most {labels[0]} (every exposure transfers)"
        low, high = None, exposure_value(labels[0])
    else:
        lo = max(
            (e for e in failing if exposure_value(e) < exposure_value(passing[0])), key=exposure_value, default=None
        )
        bracket = f"between {lo} and {passing[0]}" if lo else f"at most {passing[0]}"
        low, high = (exposure_value(lo) if lo else None), exposure_value(passing[0])
    parts = [
        f"{e}: {100 * per_exposure[e]['gain']:+.1f} pp (p = {per_exposure[e]['p']:.3g})"
        if per_exposure[e]["gain"] is not None and per_exposure[e]["p"] is not None
        else f"{e}: n/a"
        for e in labels
    ]
    corr = next(iter(per_exposure.values()))["corr"]
    claim_ok = {
        "0% and 0.1% gain nothing": all(not ok[e] for e in labels if exposure_value(e) <= 0.001),
        "1% and 10% transfer": all(ok[e] for e in labels if exposure_value(e) >= 0.01),
    }
    reproduced = all(claim_ok.values())
    text = (
        f"Verdict: RL's {LABEL[corr].replace(' ', '-')} pass@1 gain on the new context, by its share of "
        f"pre-training (mean over RL seeds, pooled paired test over problems): {'; '.join(parts)}. "
        f"The lab's exposure threshold lies {bracket}"
        + ("" if monotone else " (the exposures do not transfer monotonically: read the table)")
        + ". "
        + (
            "This reproduces the paper."
            if reproduced
            else "This does not reproduce the paper: " + ", ".join(k for k, v in claim_ok.items() if not v) + " fails."
        )
    )
    return {
        "text": text,
        "transfers": ok,
        "threshold": {"text": bracket, "above": low, "at_most": high},
        "monotone": monotone,
        "checks": claim_ok,
        "reproduced": reproduced,
        "claim": CONTEXT_CLAIM,
    }


def write_context_report(
    root: Path,
    recipe: Any,
    title: str | None,
    exposures: dict[str, str],
    bands: dict[str, str],
    min_gain: float = 0.02,
    alpha: float = 0.05,
) -> Path:
    """Write ``root/report.md``, ``root/results.json`` and ``root/plots/context_*.png``; ``exposures`` maps an
    exposure label ("0.1%") to its arms step's ``arms.json``."""
    labels = sorted(exposures, key=exposure_value)
    measured, per_op, judged_in = {}, {}, {}
    for e in labels:
        arms = read_json(Path(exposures[e]), "arms record")
        if len(arms["arms"]) != 1:
            raise ValueError(f"exposure {e}: the context-transfer report wants one RL arm per exposure")
        m = measure(arms, bands)
        arm = next(iter(m["effects"]))
        measured[e] = m
        per_op[e] = next(iter(arms_rows(arms, bands).values()))
        eff = m["effects"][arm]["all"][m["corr"]]["pass@1"]
        judged_in[e] = {"gain": eff["diff"]["mean"], "p": (eff["pooled"] or {}).get("p_value"), "corr": m["corr"]}
    verdict = transfer_verdict(judged_in, min_gain, alpha)
    corr = measured[labels[0]]["corr"]
    corrs = [corr] + (["outcome"] if corr == "process" else [])
    if corr == "process":  # in the verdict itself, so the study page states it too
        verdict["text"] += " " + _answer_only(measured)
    kk = f"pass@{measured[labels[0]]['kmax']}"
    plots = root / "plots"
    for c in ("process", "outcome"):
        plot_arms(per_op, c, plots / f"context_{c}.png", title="{arm} of pre-training")
    lines = [
        f"# {title or recipe.name}",
        "",
        verdict["text"],
        "",
        f"Claim tested: {CONTEXT_CLAIM}",
        "",
        f"A gain counts as transfer when it is at least {100 * min_gain:.0f} pp with pooled p < {alpha}.",
        "",
        f"![new context by op](plots/context_{corr}.png)",
        "",
    ]
    for c in corrs:
        lines += [
            f"## The new context by band ({LABEL[c]} correctness)",
            "",
            f"| exposure | band | base pass@1 | RL pass@1 | RL - base | base {kk} | RL {kk} | RL - base |",
            "|" + "---|" * 8,
        ]
        for e in labels:
            m = measured[e]
            arm = next(iter(m["effects"]))
            for band in m["bands"]:
                b, x = m["base"][band][c], m["effects"][arm][band][c]
                if b["pass@1"] is None:
                    continue
                lines.append(
                    f"| {e} | {BAND_LABEL.get(band, band)} | {b['pass@1']:.3f} | {_ms(x['pass@1']['value'])} | "
                    f"{_eff(x['pass@1'])} | {b[kk]:.3f} | {_ms(x[kk]['value'])} | {_eff(x[kk])} |"
                )
        lines += [
            "",
            "Mean +- std over RL seeds; RL - base is paired per problem against that exposure's own base (pooled p).",
            "",
        ]
    lines += _hacking_lines(measured)
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    out = {"verdict": verdict, "measured": measured, "per_op": per_op, "exposures": exposures, "bands": bands}
    atomic_write_text(root / "results.json", json.dumps(out, indent=1, default=str))
    return report


def _answer_only(measured: dict[str, dict[str, Any]]) -> str:
    """One sentence: RL's answer-only pass@1 gain on the new context per exposure, beside the process verdict."""
    parts = []
    for e in sorted(measured, key=exposure_value):
        m = measured[e]
        eff = m["effects"][next(iter(m["effects"]))]["all"]["outcome"]["pass@1"]
        parts.append(f"{e}: {_eff(eff)}")
    return (
        "By the answer alone (right answers whether or not the chain verifies): "
        + "; ".join(parts)
        + ". Where those exceed the process-verified gains, RL taught answers the chain does not support "
        "(the hacking table below)."
    )


def _hacking_lines(measured: dict[str, dict[str, Any]]) -> list[str]:
    """The RL models' hacking rate on the new context per exposure and band, with the hacked samples' failure
    kinds (shares of all process-checked samples); empty when the task has no process check."""
    rows = []
    for e in sorted(measured, key=exposure_value):
        for band, h in next(iter(measured[e]["hacking"].values()), {}).items():
            rows.append(f"| {e} | {BAND_LABEL.get(band, band)} | {hacking_cells(h)} |")
    if not rows:
        return []
    return [
        "## Hacking on the new context after RL",
        "",
        "The share of the RL models' samples whose answer is right but whose chain fails the process check (mean +-"
        " std over RL seeds), and the failure kinds of those samples.",
        "",
        "| exposure | band | hacking rate | hacked samples by failure kind |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def _ms(block: dict[str, Any]) -> str:
    if block.get("mean") is None:
        return "-"
    return f"{block['mean']:.3f}" + ("" if block.get("std") is None else f" +- {block['std']:.3f}")


def _eff(eff: dict[str, Any]) -> str:
    d = eff["diff"]
    if d.get("mean") is None:
        return "-"
    p = (eff.get("pooled") or {}).get("p_value")
    return f"{100 * d['mean']:+.1f} pp" + ("" if p is None else f" (p {p:.3g})")
