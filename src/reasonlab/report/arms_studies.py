"""The published claims an arms step can test, and how each verdict is reached from the measurements.

Every study reads the same measurements (:func:`reasonlab.report.arms.measure`): per arm and band, pass@1 and
pass@k (mean +- std over RL seeds), the paired difference with the base model and, when the step names a
reference arm, with that arm under the same seed (pooled sign-flip test over problems), the hacking rate,
and the cost. A study states the paper's claim, runs its checks and writes one paragraph that says what
the lab measured, with the numbers, before any table. A check that cannot be run (an arm or band missing)
is reported as not testable rather than passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ALPHA", "FLAT", "STUDIES", "Study", "best_arm", "judge"]

Measured = dict[str, Any]
Verdict = dict[str, Any]


@dataclass(frozen=True)
class Study:
    """A claim and the function that judges it from the measurements."""

    claim: str
    judge: Callable[[Measured], tuple[list[str], dict[str, bool | None]]]


def _get(m: Measured, table: str, arm: str, band: str, key: str, what: str = "diff") -> float | None:
    """Mean over seeds of one effect: ``table`` is "effects" (vs base) or "vs_reference"; ``what`` is
    "diff" (the paired difference) or "value" (the arm's own pass@k)."""
    try:
        return m[table][arm][band][m["corr"]][key][what]["mean"]
    except (KeyError, TypeError):
        return None


def _p(m: Measured, table: str, arm: str, band: str, key: str) -> float | None:
    try:
        return m[table][arm][band][m["corr"]][key]["pooled"]["p_value"]
    except (KeyError, TypeError):
        return None


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pp"


def _effect(m: Measured, table: str, arm: str, band: str, key: str) -> str:
    d, p = _get(m, table, arm, band, key), _p(m, table, arm, band, key)
    return _pp(d) + ("" if p is None else f" (p = {p:.3g})")


def _gt(a: float | None, b: float | None) -> bool | None:
    return None if a is None or b is None else a > b


def _judge_edge(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    k = f"pass@{m['kmax']}"
    parts = []
    for arm in m["effects"]:
        descr = [
            f"{band.replace('_', ' ')} {_effect(m, 'effects', arm, band, 'pass@1')} pass@1, "
            f"{_effect(m, 'effects', arm, band, k)} {k}"
            for band in m["bands"]
            if band != "all"
        ]
        parts.append(f"RL on the {arm.replace('_', ' ')} ops: " + "; ".join(descr))
    e1, ek = _get(m, "effects", "edge", "edge", "pass@1"), _get(m, "effects", "edge", "edge", k)
    p1 = _p(m, "effects", "edge", "edge", "pass@1")
    i1, ik = _get(m, "effects", "in_range", "in_range", "pass@1"), _get(m, "effects", "in_range", "in_range", k)
    h1 = _get(m, "effects", "hard", "hard", "pass@1")
    checks = {
        "edge RL raises edge pass@1 and pass@k": None
        if e1 is None or ek is None
        else e1 > 0.02 and ek > 0.02 and (p1 is not None and p1 < 0.05),
        "in-range RL only sharpens": None if i1 is None or ik is None else i1 > 0 and abs(ik) < i1,
        "hard RL changes little": None if h1 is None else abs(h1) < 0.05,
        "edge RL transfers to the hard ops": _gt(_get(m, "effects", "edge", "hard", "pass@1"), 0.0),
    }
    return parts, checks


def _share(m: Measured, arm: str) -> float:
    return float(m["shares"].get(arm) or 0.0)


#: A band on which the arms span less than this (pass@k, absolute) ranks no arm.
FLAT = 0.01


def best_arm(m: Measured, band: str, key: str) -> str | None:
    """The arm with the highest ``key`` on ``band``; None when the arms span less than ``FLAT`` (1 pp: e.g. all
    at ~0 on a band the base cannot do, where one lucky sample would otherwise name a best arm)."""
    vals = {a: v for a in m["effects"] if (v := _get(m, "effects", a, band, key, "value")) is not None}
    if not vals or max(vals.values()) - min(vals.values()) < FLAT:
        return None
    return max(vals, key=lambda a: vals[a])


def _is(best: str | None, arm: str | None) -> bool | None:
    """Whether ``arm`` is the best one (None when there is no such arm or no best arm)."""
    return None if best is None or arm is None else best == arm


def _judge_midtrain(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    k = f"pass@{m['kmax']}"
    arms = sorted(m["effects"], key=lambda a: _share(m, a))
    parts = []
    for arm in arms:
        cells = []
        for band in ("edge", "hard"):
            v1, vk = _get(m, "effects", arm, band, "pass@1", "value"), _get(m, "effects", arm, band, k, "value")
            if v1 is not None:
                cells.append(f"{band} pass@1 {v1:.3f}, {k} {vk:.3f}" if vk is not None else f"{band} {v1:.3f}")
        parts.append(f"{arm} (mid-training share {_share(m, arm):.1f}): " + "; ".join(cells))
    mixes = [a for a in arms if 0 < _share(m, a) < 1]
    light = max(mixes, key=lambda a: _share(m, a)) if mixes else None
    heavy = min(mixes, key=lambda a: _share(m, a)) if mixes else None
    all_mid = next((a for a in arms if _share(m, a) == 1.0), None)
    ref = m.get("reference")
    # a band where every arm scores the same (all 0 on ops the base cannot do) cannot rank arms: not testable
    bands = [b for b in ("edge", "hard") if best_arm(m, b, "pass@1") is not None]
    beats = [_gt(_get(m, "vs_reference", a, b, "pass@1"), 0.0) for a in mixes if a != ref for b in bands]
    checks = {
        "light RL best on edge pass@1": _is(best_arm(m, "edge", "pass@1"), light),
        "all mid-training best on edge pass@k": _is(best_arm(m, "edge", k), all_mid),
        "heavy RL best on hard pass@1": _is(best_arm(m, "hard", "pass@1"), heavy),
        f"every mix beats all-RL ({', '.join(bands) or 'no band with signal'} pass@1)": None
        if not beats or None in beats
        else all(beats),
    }
    return parts, checks


def _judge_process(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    ref = m.get("reference")
    k = f"pass@{m['kmax']}"
    parts, gains, less_hacking = [], [], []
    band = "edge" if "edge" in m["bands"] else "all"
    rate_ref = (m["hacking"].get(ref, {}).get(band) or {}).get("rate", {}).get("mean")
    for arm in m["effects"]:
        rate = (m["hacking"].get(arm, {}).get(band) or {}).get("rate", {}).get("mean")
        text = f"{arm}: hacking on the {band} ops {'n/a' if rate is None else f'{100 * rate:.1f}%'}"
        if arm != ref:
            text += (
                f", vs {ref} on the hard ops {_effect(m, 'vs_reference', arm, 'hard', 'pass@1')} pass@1, "
                f"{_effect(m, 'vs_reference', arm, 'hard', k)} {k}"
            )
            gains.append(_gt(_get(m, "vs_reference", arm, "hard", "pass@1"), 0.0))
            less_hacking.append(None if rate is None or rate_ref is None else rate <= rate_ref)
        parts.append(text)
    checks = {
        "process rewards raise hard pass@1 over outcome": None if not gains or None in gains else all(gains),
        "process rewards hack less than outcome": None
        if not less_hacking or None in less_hacking
        else all(less_hacking),
    }
    return parts, checks


#: A "beats" claim between two arms needs their paired difference to be positive at this significance.
ALPHA = 0.05


def _beats(m: Measured, arm: str, other: str, band: str = "all", key: str = "pass@1") -> bool | None:
    """Whether ``arm`` beats ``other``: their paired difference (same seed, same problems; the step's reference
    arm must be one of the two) is positive with pooled p < ``ALPHA``. None when there is no such comparison."""
    ref = m.get("reference")
    if ref not in (arm, other) or arm == other:
        return None
    sign, measured = (1.0, arm) if ref == other else (-1.0, other)
    d, p = _get(m, "vs_reference", measured, band, key), _p(m, "vs_reference", measured, band, key)
    return None if d is None or p is None else sign * d > 0 and p < ALPHA


def _judge_algorithms(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    parts = []
    ref = m.get("reference")
    acc = {a: _get(m, "effects", a, "all", "pass@1", "value") for a in m["effects"]}
    speed = {a: (m["training"].get(a, {}).get("seconds_per_step") or {}).get("mean") for a in m["effects"]}
    for a in m["effects"]:
        std = (m["effects"][a]["all"][m["corr"]]["pass@1"]["value"] or {}).get("std")
        parts.append(
            f"{a}: pass@1 {'n/a' if acc[a] is None else f'{acc[a]:.3f}'}"
            + ("" if std is None else f" +- {std:.3f}")
            + (f", vs {ref} {_effect(m, 'vs_reference', a, 'all', 'pass@1')}" if ref and a != ref else "")
            + ("" if speed[a] is None else f", {speed[a]:.1f} s/step")
        )
    known = {a: v for a, v in acc.items() if v is not None}
    ppo_speed = speed.get("ppo")
    # PPO without the highest mean fails whatever the test says; with it, it must also beat GRPO significantly
    ppo_top = None if "ppo" not in known else max(known, key=lambda a: known[a]) == "ppo"
    checks = {
        "PPO most accurate (highest mean, significantly above GRPO)": ppo_top and _beats(m, "ppo", "grpo"),
        "REINFORCE++ beats GRPO (paired, p < 0.05)": _beats(m, "reinforce_pp", "grpo"),
        "PPO slowest per step": None if ppo_speed is None else all(ppo_speed >= (s or 0.0) for s in speed.values()),
    }
    return parts, checks


def _judge_curriculum(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    ref = m.get("reference")
    others = [a for a in m["effects"] if a != ref]
    parts = [f"{a} vs {ref}: {_effect(m, 'vs_reference', a, 'all', 'pass@1')} pass@1 over all buckets" for a in others]
    gains = [_beats(m, a, str(ref)) for a in others]
    return parts, {
        "curriculum beats the shuffled mix (paired, p < 0.05)": None if not gains or None in gains else all(gains)
    }


def _judge_none(m: Measured) -> tuple[list[str], dict[str, bool | None]]:
    parts = [
        f"{a}: {_effect(m, 'effects', a, 'all', 'pass@1')} pass@1 against the base over all buckets"
        for a in m["effects"]
    ]
    return parts, {}


#: Study name -> the claim it tests (``report: {arms: "@arms", study: NAME}``).
STUDIES: dict[str, Study] = {
    "edge": Study(
        "RL adds reasoning on the edge of competence: RL on the edge ops raises process-verified pass@1 and pass@k "
        "there and transfers to harder ops; RL on mastered ops only sharpens pass@1; RL on far-too-hard ops does "
        "little (CMU interplay study).",
        _judge_edge,
    ),
    "midtrain_vs_rl": Study(
        "At equal compute, mid-training + RL beats RL alone: light RL (mostly mid-training) is best on edge pass@1, "
        "heavy RL is best on the hard ops, and every mix beats all-RL (CMU interplay study).",
        _judge_midtrain,
    ),
    "process_reward": Study(
        "Process-aware rewards add a few points of pass@1 on the hard ops over the outcome reward and reduce reward "
        "hacking (right answers with wrong chains) (CMU interplay study).",
        _judge_process,
    ),
    "algorithms": Study(
        "On Knights & Knaves, PPO is the most accurate but much slower, and REINFORCE++ beats GRPO (Logic-RL).",
        _judge_algorithms,
    ),
    "curriculum": Study(
        "A staged curriculum over difficulty is slightly better than a shuffled mix of the same data (Logic-RL).",
        _judge_curriculum,
    ),
    "none": Study("No published claim: the arms are described, not judged.", _judge_none),
}


def judge(study: str, measured: Measured) -> Verdict:
    """The verdict of ``study`` on ``measured``: text (one paragraph), checks, reproduced (None when no check
    could be run)."""
    s = STUDIES[study]
    parts, checks = s.judge(measured)
    run = {k: v for k, v in checks.items() if v is not None}
    reproduced = all(run.values()) if run else None
    corr = "process-verified" if measured["corr"] == "process" else "answer-only"
    head = f"Verdict ({corr} correctness, mean over {measured['n_seeds']} RL seed(s)): " + "; ".join(parts) + "."
    if study == "none":
        tail = ""
    elif reproduced is None:
        tail = " None of the claim's checks could be run."
    elif reproduced:
        tail = " The claim is reproduced; every part holds: " + "; ".join(run) + "."
    else:
        failed = [k for k, v in run.items() if not v]
        held = [k for k, v in run.items() if v]
        tail = " The claim is not reproduced. Fails: " + "; ".join(failed) + "."
        tail += (" Holds: " + "; ".join(held) + ".") if held else ""
    untestable = [k for k, v in checks.items() if v is None]
    if untestable and study != "none":
        tail += " Not testable here: " + ", ".join(untestable) + "."
    return {"text": head + tail, "checks": checks, "reproduced": reproduced, "claim": s.claim, "study": study}
