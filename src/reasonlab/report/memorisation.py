"""The report of a ``memorisation`` step (SFT vs RL on one fixed training set): the verdict against the claim
first, then the curves, the table per checkpoint (mean +- std over seeds), the consistency ratios, LiMem per
perturbation kind at the end, the sets and the cost of each arm.

The verdict (:func:`judge`) splits the claim into three parts, each ``holds``, ``fails`` or ``not testable``:

1. SFT's LiMem rises over training. Per seed, ``rise = mean LiMem at the last checkpoint - at the base``
   (epoch 0, where both arms start); a curve *rises* when the mean rise over seeds is at least ``limem_rise``
   and, with two or more seeds, ``mean - std > 0`` (it stands out of the seed spread).
2. RL's LiMem does not rise: the same test does not call RL's curve a rise.
3. RL's final test accuracy is at least as high as SFT's. Per seed ``d = acc_RL - acc_SFT`` (the arms share
   their seeds); the part fails only when ``mean(d) + std(d) < 0`` (the mean alone with one seed): RL lower
   beyond the seed spread.

A part its numbers cannot carry is *not testable*, never passed: no checkpoint beyond the base, no perturbation
kind measured, or a floor. ``LiMem = Acc (1 - CR) <= Acc``, so an arm whose final training accuracy is below
``min_accuracy`` shows no rise whatever it memorised (parts 1 and 2), and two final test accuracies both below
it compare nothing (part 3). The claim is *reproduced* when all three parts hold, *not reproduced* when one
fails, and *not testable* otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms_data import mean_std
from reasonlab.report.plots import plot_memorisation_curves, plot_memorisation_kinds

__all__ = [
    "MEMORISATION_CLAIM",
    "context",
    "headline",
    "judge",
    "out_of_reach",
    "rise",
    "study_summary",
    "table_lines",
    "write_memorisation_report",
]

MEMORISATION_CLAIM = (
    "SFT memorises, RL generalises (Xie et al., arXiv 2410.23123; Logic-RL): trained on the same puzzles, SFT's "
    "memorisation score LiMem rises over training while RL's does not, and RL's accuracy on held-out puzzles ends "
    "at least as high as SFT's."
)
ARM_LABEL = {"sft": "SFT", "rl": "RL"}


def _at(point: dict[str, Any], key: str) -> dict[str, float | None]:
    """Mean +- std over seeds of one number of a point."""
    return mean_std([s[key] for s in point["seeds"].values()])


def _ms(ms: dict[str, float | None], signed: bool = False) -> str:
    if ms["mean"] is None:
        return "-"
    mean = f"{ms['mean']:+.3f}" if signed else f"{ms['mean']:.3f}"
    return mean if ms["std"] is None else f"{mean} +- {ms['std']:.3f}"


def rise(arm: dict[str, Any], limem_rise: float, min_accuracy: float) -> dict[str, Any]:
    """Does one arm's mean LiMem rise from the base to the last checkpoint? (module docstring, part 1)

    Returns ``{"status": "rises" | "no rise" | "not testable", "why", "start", "end", "rise", "train_acc"}``
    with ``rise`` the mean +- std over seeds of ``LiMem_end - LiMem_start``."""
    points = arm["points"]
    out: dict[str, Any] = {"status": "not testable", "why": "", "train_acc": _at(points[-1], "train_acc")}
    if len(points) < 2:
        return {**out, "why": "no checkpoint beyond the base"}
    start, end = points[0]["seeds"], points[-1]["seeds"]
    deltas = [
        end[s]["limem_mean"] - start[s]["limem_mean"]
        for s in end
        if s in start and end[s]["limem_mean"] is not None and start[s]["limem_mean"] is not None
    ]
    out.update(start=_at(points[0], "limem_mean"), end=_at(points[-1], "limem_mean"))
    if not deltas:
        return {**out, "why": "no perturbation kind was measured"}
    out["rise"] = ms = mean_std(deltas)
    acc = out["train_acc"]["mean"]
    if acc is None or acc < min_accuracy:
        return {
            **out,
            "why": f"it solves {acc or 0:.3f} of its training set at the end, a floor since LiMem <= accuracy",
        }
    assert ms["mean"] is not None
    clear = ms["std"] is None or ms["mean"] - ms["std"] > 0
    return {**out, "status": "rises" if ms["mean"] >= limem_rise and clear else "no rise"}


def _test_part(sft: dict[str, Any], rl: dict[str, Any], min_accuracy: float) -> dict[str, Any]:
    """Part 3: RL - SFT final test accuracy, paired by seed; ``outcome`` holds, fails or not testable."""
    a, b = sft["points"][-1]["seeds"], rl["points"][-1]["seeds"]
    d = mean_std([b[s]["test_acc"] - a[s]["test_acc"] for s in a if s in b])
    out: dict[str, Any] = {
        "diff": d,
        "sft": _at(sft["points"][-1], "test_acc"),
        "rl": _at(rl["points"][-1], "test_acc"),
        "why": "",
    }
    if d["mean"] is None or len(sft["points"]) < 2 or len(rl["points"]) < 2:
        return {**out, "outcome": "not testable", "why": "no checkpoint of both arms"}
    if max(out["sft"]["mean"] or 0.0, out["rl"]["mean"] or 0.0) < min_accuracy:
        return {**out, "outcome": "not testable", "why": f"both arms stay below {min_accuracy} on the test set"}
    return {**out, "outcome": "fails" if d["mean"] + (d["std"] or 0.0) < 0 else "holds"}


def out_of_reach(m: dict[str, Any]) -> list[str]:
    """Perturbation kinds of which the base solves none of the perturbed set in any seed. There CR is 0 before any
    training, so LiMem = training accuracy: it rises with whatever an arm learns and says nothing about
    memorisation (e.g. ``uncommon_name`` for a base that has only ever read a dozen names)."""
    base = m["arms"]["sft"]["points"][0]["seeds"]
    return [
        k
        for k in m.get("kinds", [])
        if base and all((s.get("acc_perturbed") or {}).get(k, 1.0) == 0.0 for s in base.values())
    ]


def context(m: dict[str, Any]) -> dict[str, Any]:
    """What the verdict's numbers need beside them: per arm, the final train - test accuracy gap (mean +- std over
    seeds: a memorising arm widens it) and the mean LiMem at the base and at the end over the kinds the base can
    reach (:func:`out_of_reach` excluded; None when no kind is left or per-kind numbers are absent)."""
    skip = set(out_of_reach(m))
    out: dict[str, Any] = {"out_of_reach": sorted(skip), "arms": {}}
    for arm, a in m["arms"].items():
        last = a["points"][-1]["seeds"]
        row: dict[str, Any] = {"gap": mean_std([s["train_acc"] - s["test_acc"] for s in last.values()])}
        for name, point in (("limem_start", a["points"][0]), ("limem_end", a["points"][-1])):
            vals = []
            for s in point["seeds"].values():
                kept = [v for k, v in (s.get("limem") or {}).items() if k not in skip and v is not None]
                if kept:
                    vals.append(sum(kept) / len(kept))
            row[name] = mean_std(vals) if vals else None
        out["arms"][arm] = row
    return out


def _context_text(c: dict[str, Any]) -> str:
    arms = c["arms"]
    text = "Beside it: train - test accuracy at the end " + ", ".join(
        f"{ARM_LABEL.get(a, a)} {_ms(r['gap'], signed=True)}" for a, r in arms.items()
    )
    if c["out_of_reach"]:
        text += (
            f"; the base solves none of the {', '.join(c['out_of_reach'])} set(s), whose LiMem therefore equals "
            "training accuracy"
        )
        if all(r["limem_start"] is not None and r["limem_end"] is not None for r in arms.values()):
            text += "; over the other kinds mean LiMem goes " + ", ".join(
                f"{ARM_LABEL.get(a, a)} {_ms(r['limem_start'])} -> {_ms(r['limem_end'])}" for a, r in arms.items()
            )
    return text + "."


def _outcome(status: str, holds_when: str) -> str:
    return "not testable" if status == "not testable" else "holds" if status == holds_when else "fails"


def judge(m: dict[str, Any], limem_rise: float, min_accuracy: float) -> dict[str, Any]:
    """The verdict against :data:`MEMORISATION_CLAIM` from ``memorisation.json`` (module docstring): each part's
    numbers and ``outcome``, the ``status`` (reproduced / not reproduced / not testable), ``reproduced`` (True /
    False / None) and the text, numbers first."""
    sft, rl = m["arms"]["sft"], m["arms"]["rl"]
    r_sft, r_rl = rise(sft, limem_rise, min_accuracy), rise(rl, limem_rise, min_accuracy)
    parts = {
        "sft_limem_rises": {**r_sft, "outcome": _outcome(r_sft["status"], "rises")},
        "rl_limem_flat": {**r_rl, "outcome": _outcome(r_rl["status"], "no rise")},
        "rl_test_at_least_sft": _test_part(sft, rl, min_accuracy),
    }
    outcomes = [p["outcome"] for p in parts.values()]
    status = "not reproduced" if "fails" in outcomes else "reproduced" if set(outcomes) == {"holds"} else "not testable"
    n = len(m["seeds"])
    texts = []
    for arm, part in (("sft", parts["sft_limem_rises"]), ("rl", parts["rl_limem_flat"])):
        last = m["arms"][arm]["points"][-1]["epoch"]
        outcome = part["outcome"] + (f": {part['why']}" if part["why"] else "")
        if "rise" not in part:
            texts.append(f"{ARM_LABEL[arm]}'s LiMem is {outcome}")
            continue
        called = "" if part["status"] == "not testable" else f": {part['status']}"
        texts.append(
            f"{ARM_LABEL[arm]}'s mean LiMem went from {_ms(part['start'])} at the base to {_ms(part['end'])} after "
            f"{last:g} epochs (rise {_ms(part['rise'], signed=True)}{called}; {outcome})"
        )
    t = parts["rl_test_at_least_sft"]
    why = f": {t['why']}" if t["why"] else ""
    texts.append(
        f"final test accuracy RL {_ms(t['rl'])} vs SFT {_ms(t['sft'])} (RL - SFT {_ms(t['diff'], signed=True)}; "
        f"{t['outcome']}{why})"
    )
    ending = {
        "reproduced": "The lab reproduces the claim.",
        "not reproduced": "The lab does not reproduce the claim.",
        "not testable": "The claim is not testable on this run.",
    }[status]
    text = f"Verdict ({n} seed{'s' if n != 1 else ''}, mean +- std over seeds): " + "; ".join(texts) + ". " + ending
    ctx = context(m)
    return {
        "text": text + " " + _context_text(ctx),
        "context": ctx,
        "status": status,
        "reproduced": {"reproduced": True, "not reproduced": False}.get(status),
        "parts": parts,
        "limem_rise": limem_rise,
        "min_accuracy": min_accuracy,
        "claim": MEMORISATION_CLAIM,
    }


def headline(m: dict[str, Any]) -> dict[str, Any]:
    """The study page's headline: final mean LiMem SFT - RL, paired by seed, mean +- std over seeds."""
    a, b = m["arms"]["sft"]["points"][-1]["seeds"], m["arms"]["rl"]["points"][-1]["seeds"]
    diffs = [
        a[s]["limem_mean"] - b[s]["limem_mean"]
        for s in a
        if s in b and a[s]["limem_mean"] is not None and b[s]["limem_mean"] is not None
    ]
    ms = mean_std(diffs)
    what = f"final mean LiMem (share of the training set), SFT - RL, after {m['checkpoints'][-1]:g} epochs"
    return {"what": what, "mean": ms["mean"], "std": ms["std"], "n": len(diffs)}


def table_lines(m: dict[str, Any]) -> list[str]:
    """Markdown: per arm and checkpoint, steps, training and test accuracy, mean LiMem and CR, LiMem per kind
    (mean +- std over seeds)."""
    kinds = m["kinds"]
    head = "| arm | epoch | steps | train acc | test acc | mean LiMem | mean CR | " + " | ".join(
        f"LiMem {k.replace('_', ' ')}" for k in kinds
    )
    lines = [head + " |", "|" + "---|" * (7 + len(kinds))]
    for arm, data in m["arms"].items():
        for p in data["points"]:
            steps = sorted(set(p["step"].values()))
            mean = p["mean"]
            cells = [
                ARM_LABEL.get(arm, arm),
                f"{p['epoch']:g}" + (" (base)" if p["epoch"] == 0 else ""),
                "/".join(str(s) for s in steps),
                _ms(mean["train_acc"]),
                _ms(mean["test_acc"]),
                _ms(mean["limem_mean"]),
                _ms(mean["cr_mean"]),
                *[_ms(mean["limem"][k]) for k in kinds],
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cr_lines(m: dict[str, Any]) -> list[str]:
    kinds = m["kinds"]
    lines = [
        "| arm | epoch | " + " | ".join(f"CR {k.replace('_', ' ')}" for k in kinds) + " |",
        "|" + "---|" * (2 + len(kinds)),
    ]
    for arm, data in m["arms"].items():
        for p in data["points"]:
            cells = [ARM_LABEL.get(arm, arm), f"{p['epoch']:g}", *[_ms(p["mean"]["cr"][k]) for k in kinds]]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _setup_lines(m: dict[str, Any]) -> list[str]:
    d, ev = m["data"], m["eval"]
    perturbed = ", ".join(f"{k} {v['n']} ({v['failed']} failed)" for k, v in d["perturbed"].items())
    per_epoch = {
        arm: "/".join(sorted({f"{x:.3g}" for x in a["steps_per_epoch"].values()})) for arm, a in m["arms"].items()
    }
    dec = ev["decoding"]
    sampling = "greedy" if dec["temperature"] == 0 else f"temperature {dec['temperature']}"
    return [
        f"{d['n_train']} training and {d['n_test']} test puzzles (knobs {m['knobs']}, prompt style {m['style']}; "
        f"disjoint by prompt; {d['dropped_seen_by_base']} drawn puzzles the base had trained on were dropped). "
        f"Perturbed training sets: {perturbed}. Both arms start from `{m['init_from']}` and train for "
        f"{m['checkpoints'][-1]:g} passes over the training set (equal exposure to every puzzle, not equal steps): "
        f"SFT {per_epoch['sft']} steps per pass, RL {per_epoch['rl']} steps per pass of {m['rl_prompts_per_step']} "
        "prompts. "
        f"Seeds: {', '.join(str(s) for s in m['seeds'])}. Every point: {ev['seeds']} x {ev['samples_per_seed']} "
        f"samples per puzzle, {sampling}, at most {dec['max_new_tokens']} new tokens. LiMem = Acc x (1 - CR) per "
        "perturbation kind (the share of the training set solved before and failed after the perturbation), "
        "mean over the kinds measured.",
        "",
    ]


def _cost_lines(m: dict[str, Any]) -> list[str]:
    lines = [
        "| arm | seed | steps | training FLOPs | training seconds | evaluation seconds |",
        "|---|---|---|---|---|---|",
    ]
    for arm, data in m["arms"].items():
        for seed, c in data["cost"].items():
            lines.append(
                f"| {ARM_LABEL.get(arm, arm)} | {seed} | {c['steps']} | {c['flops']:.3g} | {c['train_seconds']:.0f} "
                f"| {c['eval_seconds']:.0f} |"
            )
    return lines


def write_memorisation_report(root: Path, recipe: Any, config: Any) -> Path:
    """Write ``root/report.md``, ``root/results.json`` and ``root/plots/memorisation_*.png`` for the memorisation
    step ``config.memorisation`` names (a ``ReportStepConfig``: title, ``limem_rise``, ``min_accuracy``)."""
    m = read_json(Path(config.memorisation), "memorisation record")
    verdict = judge(m, config.limem_rise, config.min_accuracy)
    plots = root / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    curves = {
        arm: {
            "epoch": [p["epoch"] for p in a["points"]],
            **{key: [p["mean"][key] for p in a["points"]] for key in ("train_acc", "test_acc", "limem_mean")},
        }
        for arm, a in m["arms"].items()
    }
    plot_memorisation_curves(curves, plots / "memorisation_curves.png")
    plot_memorisation_kinds(
        {arm: a["points"][-1]["mean"]["limem"] for arm, a in m["arms"].items()}, plots / "memorisation_kinds.png"
    )
    lines = [
        f"# {config.title or recipe.name}",
        "",
        verdict["text"],
        "",
        f"Claim tested: {MEMORISATION_CLAIM}",
        "",
        *_setup_lines(m),
        "![training accuracy, test accuracy and mean LiMem over training](plots/memorisation_curves.png)",
        "",
        "## Per checkpoint",
        "",
        "Mean +- std over seeds (std with two or more seeds). Epoch 0 is the base model, the start of both arms.",
        "",
        *table_lines(m),
        "",
        "## Consistency ratio per kind",
        "",
        "CR = solved after the perturbation / solved before (0 when nothing was solved before).",
        "",
        *_cr_lines(m),
        "",
        "## LiMem per kind at the end",
        "",
        "![LiMem per perturbation kind at the last checkpoint](plots/memorisation_kinds.png)",
        "",
        "## Cost",
        "",
        *_cost_lines(m),
        "",
    ]
    report = root / "report.md"
    atomic_write_text(report, "\n".join(lines))
    results = {"verdict": verdict, "claim": MEMORISATION_CLAIM, "headline": headline(m), "memorisation": m}
    atomic_write_text(root / "results.json", json.dumps(results, indent=1, default=str))
    return report


def study_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What the study page shows of a memorisation report's ``results.json``: the verdict, its status, the
    number of seeds, the headline (:func:`headline`) and the per-checkpoint table."""
    m = results["memorisation"]
    return {
        "verdict": results["verdict"]["text"],
        "claim": results.get("claim") or MEMORISATION_CLAIM,
        "status": results["verdict"]["status"],
        "seeds": len(m["seeds"]),
        "headline": results.get("headline") or headline(m),
        "table": ["**Per checkpoint** (mean +- std over seeds; epoch 0 is the base).", "", *table_lines(m)],
    }
