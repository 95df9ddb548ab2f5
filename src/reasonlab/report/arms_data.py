"""What the arms report measures, read from the arms' own records: every number is computed from the sample
records of the evaluations (``eval/samples.jsonl``) and the RL runs' ``metrics.jsonl``, never from a report.

* **Band effects**: for each arm and band (the ops the baseline evaluation classified as in range, edge or
  hard; one band ``all`` when there are none), pass@1 and pass@k (unbiased, per problem, then the mean over the
  band's problems) per RL seed, their mean +- std over seeds, and the paired difference against a baseline
  (the base model, or a reference arm under the same seed). The pooled test averages each problem's
  difference over seeds and runs the sign-flip test over problems (problems are the units; seeds only
  reduce the noise of each problem's difference).
* **Hacking**: the share of process-checked samples whose answer is right but whose chain fails, per arm and
  band (mean +- std over seeds), and those samples by failure kind.
* **Training**: per arm, the RL curves (mean over seeds at each step) and the cost: steps, seconds per step,
  rollouts, generated tokens and FLOPs of mid-training and RL.
* **Length and words** (Logic-RL's "is longer better?" and its reflection-word analysis): per arm, the mean
  response length of right and of wrong rollouts early and late in RL, and per reflection word the share of
  rollouts that use it and the reward of those that do minus the reward of those that do not.
* **Reward rules** (optional): every evaluation's samples scored under several reward schemes (e.g. the
  published ``logic_rl`` and ``logic_rl_strict``): the mean reward under each, and the samples whose reward
  differs from the first scheme's, by the verifier's reason.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.eval.metrics import paired_test
from reasonlab.eval.record import load_run
from reasonlab.eval.stats import problem_scores
from reasonlab.io import read_records
from reasonlab.rewards import compute_reward
from reasonlab.rundir import RunDir
from reasonlab.tasks.base import Problem
from reasonlab.tasks.registry import get_task
from reasonlab.train.rl.metrics import REFLECTION_WORDS

__all__ = [
    "ArmsData",
    "band_effect",
    "band_map",
    "early_late",
    "hacking_by_band",
    "length_and_words",
    "load_arms",
    "mean_std",
    "reward_rules",
    "score_rules",
    "training_by_arm",
]

#: RL metrics the report follows over training (mean over seeds at each step); the right and wrong responses'
#: lengths answer "is longer better?" (Logic-RL) step by step.
CURVES = (
    "critic/score/mean",
    "acc/mean",
    "acc/process",
    "reward/hacked_frac",
    "response_length/mean",
    "response_length/correct_mean",
    "response_length/wrong_mean",
)

#: Per-step word curves: the share of rollouts using each reflection word (0 at a step where none does: the RL
#: metrics leave an unused word out) and the reward gap of those rollouts (only where some do and some do not).
WORD_CURVES = tuple(f"words/{w}/{what}" for w in REFLECTION_WORDS for what in ("freq", "reward_gap"))


def mean_std(values: Sequence[float]) -> dict[str, float | None]:
    """``{"mean", "std"}`` of per-seed values (std with ddof=1; None below two seeds)."""
    a = np.asarray([v for v in values if v is not None], dtype=float)
    return {"mean": float(a.mean()) if a.size else None, "std": float(a.std(ddof=1)) if a.size > 1 else None}


class ArmsData:
    """The records of an arms step: the baseline evaluation's and every (arm, seed) evaluation's samples."""

    def __init__(self, arms: dict[str, Any]) -> None:
        self.raw = arms
        base_summary, self.base = load_run(arms["baseline"])
        self.base_summary = base_summary
        self.k = [int(k) for k in base_summary["record"]["config"].get("k", [1])]
        self.seeds = [str(s) for s in arms["seeds"]]
        self.records: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.summaries: dict[str, dict[str, dict[str, Any]]] = {}
        for arm, seeds in arms["arms"].items():
            for seed, rec in seeds.items():
                summary, records = load_run(rec["eval"])
                self.records.setdefault(arm, {})[seed] = records
                self.summaries.setdefault(arm, {})[seed] = summary
        self.process = all(r.get("process_ok") is not None for r in self.base)

    @property
    def kmax(self) -> int:
        """The largest k every evaluation supports."""
        return self.k[-1]


def load_arms(arms: dict[str, Any]) -> ArmsData:
    """Read every evaluation of an arms step (``arms.json`` as a dict)."""
    return ArmsData(arms)


def band_map(buckets: Sequence[str], bands: dict[str, str]) -> dict[str, list[str]]:
    """Band -> its buckets, in the order in_range, edge, hard, then others; ``all`` holds every bucket."""
    out: dict[str, list[str]] = defaultdict(list)
    for b in buckets:
        if b in bands:
            out[bands[b]].append(b)
    order = [b for b in ("in_range", "edge", "hard") if b in out] + sorted(set(out) - {"in_range", "edge", "hard"})
    return {**{b: out[b] for b in order}, "all": list(buckets)}


def _in(records: list[dict[str, Any]], buckets: Sequence[str]) -> list[dict[str, Any]]:
    keep = set(buckets)
    return [r for r in records if str(r["bucket"]) in keep]


def _band_score(records: list[dict[str, Any]], k: int, process: bool) -> dict[str, float]:
    return problem_scores(records, k, process=process)


def band_effect(
    cand: dict[str, list[dict[str, Any]]],
    ref: dict[str, list[dict[str, Any]]] | list[dict[str, Any]],
    buckets: Sequence[str],
    k: int,
    *,
    process: bool,
    n_perm: int = 10000,
) -> dict[str, Any]:
    """pass@k of a candidate arm on ``buckets`` per seed, and its paired difference against ``ref`` (one
    record list shared by every seed, e.g. the base model, or one list per seed, e.g. a reference arm).

    Per seed: the mean over the band's problems of the candidate's pass@k and of the difference; ``pooled``:
    the sign-flip test over problems of each problem's difference averaged over seeds (problems both share).
    """
    per_seed_value, per_seed_diff = [], []
    diffs: dict[str, list[float]] = defaultdict(list)
    for seed, records in cand.items():
        r_records = ref[seed] if isinstance(ref, dict) else ref
        c = _band_score(_in(records, buckets), k, process)
        r = _band_score(_in(r_records, buckets), k, process)
        shared = sorted(set(c) & set(r))
        if not shared:
            continue
        per_seed_value.append(float(np.mean([c[i] for i in shared])))
        per_seed_diff.append(float(np.mean([c[i] - r[i] for i in shared])))
        for i in shared:
            diffs[i].append(c[i] - r[i])
    ids = sorted(diffs)
    pooled = None
    if ids:
        d = [float(np.mean(diffs[i])) for i in ids]
        pooled = paired_test(d, [0.0] * len(d), n_perm=n_perm).to_dict()
    return {
        "value": mean_std(per_seed_value),
        "diff": mean_std(per_seed_diff),
        "per_seed_diff": per_seed_diff,
        "pooled": pooled,
        "seeds": len(per_seed_diff),
    }


def base_band_value(base: list[dict[str, Any]], buckets: Sequence[str], k: int, *, process: bool) -> float | None:
    """The base model's pass@k on ``buckets`` (mean over problems)."""
    s = _band_score(_in(base, buckets), k, process)
    return float(np.mean(list(s.values()))) if s else None


def hacking_by_band(records: dict[str, list[dict[str, Any]]], bands: dict[str, list[str]]) -> dict[str, Any]:
    """Per band: the hacking rate (right answer, failing chain; share of process-checked samples) mean +- std
    over seeds, and the hacked samples' failure kinds as shares of all process-checked samples (pooled)."""
    out: dict[str, Any] = {}
    for band, buckets in bands.items():
        rates, kinds, checked_total = [], Counter[str](), 0
        for recs in records.values():
            checked = [r for r in _in(recs, buckets) if r.get("process_ok") is not None]
            if not checked:
                continue
            hacked = [r for r in checked if r["correct"] and not r["process_ok"]]
            rates.append(len(hacked) / len(checked))
            kinds.update(str(r.get("failure") or "unnamed") for r in hacked)
            checked_total += len(checked)
        if rates:
            out[band] = {
                "rate": mean_std(rates),
                "by_kind": {k: c / checked_total for k, c in sorted(kinds.items())},
            }
    return out


def training_by_arm(arms: dict[str, Any]) -> dict[str, Any]:
    """Per arm: RL curves (mean over seeds per step) and cost per seed (mid-training and RL)."""
    out: dict[str, Any] = {}
    for arm, seeds in arms["arms"].items():
        curves: dict[str, dict[int, list[float]]] = {k: defaultdict(list) for k in CURVES + WORD_CURVES}
        cost = []
        for seed, rec in seeds.items():
            row: dict[str, Any] = {"seed": seed}
            if "rl" in rec:
                rl = rec["rl"]
                row.update(
                    rl_steps=rl["steps"],
                    rl_seconds=rl["seconds"],
                    rl_flops=rl["flops_total"],
                    rollouts=rl["totals"]["rollouts"],
                    generated_tokens=rl["totals"]["generated_tokens"],
                    seconds_per_step=rl["seconds"] / max(rl["steps"], 1),
                    stop_reason=rl.get("stop_reason"),
                )
                for m in RunDir(Path(rec["eval"]).parent / "rl").read_metrics():
                    for key in CURVES + WORD_CURVES:
                        if key in m:
                            curves[key][int(m["step"])].append(float(m[key]))
                        elif key.endswith("/freq") and "acc/mean" in m:
                            curves[key][int(m["step"])].append(0.0)
            if "midtrain" in rec:
                mid = rec["midtrain"]
                row.update(mid_steps=mid["steps"], mid_seconds=mid["seconds"], mid_flops=mid["flops"])
                row["mid_tokens"] = mid["tokens_total"]
            cost.append(row)
        out[arm] = {
            "cost": cost,
            "curves": {
                key: {str(step): float(np.mean(v)) for step, v in sorted(points.items())}
                for key, points in curves.items()
                if points
            },
        }
    return out


def early_late(curve: dict[str, float], fraction: float = 1 / 3) -> tuple[float | None, float | None]:
    """Mean of a per-step curve (``{step: value}``) over its first and over its last ``fraction`` of steps,
    at least one step each; ``(None, None)`` for an empty curve.
    Example: steps 1..6 with values 1..6, fraction 1/3 -> (mean of 1, 2; mean of 5, 6) = (1.5, 5.5)."""
    values = [v for _, v in sorted(curve.items(), key=lambda kv: int(kv[0]))]
    if not values:
        return None, None
    n = max(1, int(len(values) * fraction))
    return float(np.mean(values[:n])), float(np.mean(values[-n:]))


def length_and_words(training: dict[str, Any], fraction: float = 1 / 3) -> dict[str, Any]:
    """Per arm, from :func:`training_by_arm`'s curves: ``length`` - for all, right and wrong rollouts, the mean
    response length over the first and the last ``fraction`` of RL steps (:func:`early_late`); ``words`` - per
    reflection word, ``freq`` (the mean over steps of the share of rollouts that use it) and ``reward_gap`` (the
    mean over the steps where it is defined of the mean reward with the word minus without it; None when never
    defined). A word with ``freq`` 0 was never written by any rollout of the arm."""
    out: dict[str, Any] = {}
    for arm, t in training.items():
        c = t["curves"]
        length = {
            name: early_late(c.get(f"response_length/{key}", {}), fraction)
            for name, key in (("all", "mean"), ("right", "correct_mean"), ("wrong", "wrong_mean"))
        }
        words = {}
        for w in REFLECTION_WORDS:
            freq = c.get(f"words/{w}/freq")
            if not freq:
                continue
            gap = c.get(f"words/{w}/reward_gap") or {}
            words[w] = {
                "freq": float(np.mean(list(freq.values()))),
                "reward_gap": float(np.mean(list(gap.values()))) if gap else None,
            }
        out[arm] = {"length": length, "words": words}
    return out


def score_rules(problems: Sequence[dict[str, Any]], samples: Sequence[dict[str, Any]], rules: Sequence[str]) -> dict:
    """Score every sample (``id``, ``completion``) once verified, under each reward scheme in ``rules``.

    Returns ``n``; ``mean``: rule -> mean reward; ``differs``: later rule -> the share of samples whose reward
    differs from ``rules[0]``'s; ``reasons``: later rule -> {the verifier's error with digits as N: share of all
    samples} over those differing samples. Example: two samples rewarded 3 and -1 under the first rule and 3
    and 3 under a second -> mean {first: 1, second: 3}, differs {second: 0.5}."""
    by_id = {str(r["id"]): Problem.from_dict(r, source="evaluation problem") for r in problems}
    rewards: dict[str, list[float]] = {rule: [] for rule in rules}
    reasons: dict[str, Counter[str]] = {rule: Counter() for rule in rules[1:]}
    for rec in samples:
        problem = by_id[str(rec["id"])]
        v = get_task(problem.task).verify(problem, str(rec["completion"]))
        first = compute_reward(rules[0], v)
        rewards[rules[0]].append(first)
        for rule in rules[1:]:
            r = compute_reward(rule, v)
            rewards[rule].append(r)
            if r != first:
                reasons[rule][re.sub(r"\d+", "N", v.error or "none")] += 1
    n = len(samples)
    return {
        "n": n,
        "mean": {rule: float(np.mean(x)) if x else None for rule, x in rewards.items()},
        "differs": {
            rule: float(np.mean([a != b for a, b in zip(rewards[rules[0]], rewards[rule], strict=True)])) if n else 0.0
            for rule in rules[1:]
        },
        "reasons": {rule: {k: c / n for k, c in cnt.most_common()} for rule, cnt in reasons.items()},
    }


def reward_rules(arms: dict[str, Any], rules: Sequence[str]) -> dict[str, Any]:
    """:func:`score_rules` on the baseline evaluation (``base``) and on each arm's evaluations: per model the mean
    reward under each rule and the share scored differently as mean +- std over seeds (std None for the base's
    single evaluation), and the reasons pooled over seeds as shares of all the model's samples."""

    def one(run: str | Path) -> dict[str, Any]:
        ev = Path(run) / "eval"
        return score_rules(read_records(ev / "problems.jsonl"), read_records(ev / "samples.jsonl"), rules)

    def pool(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
        total = max(sum(s["n"] for s in per_seed), 1)
        reasons: dict[str, Counter[str]] = {rule: Counter() for rule in rules[1:]}
        for s in per_seed:
            for rule, shares in s["reasons"].items():
                reasons[rule].update({k: v * s["n"] for k, v in shares.items()})
        return {
            "n": total,
            "mean": {rule: mean_std([s["mean"][rule] for s in per_seed]) for rule in rules},
            "differs": {rule: mean_std([s["differs"][rule] for s in per_seed]) for rule in rules[1:]},
            "reasons": {rule: {k: c / total for k, c in cnt.most_common()} for rule, cnt in reasons.items()},
        }

    out = {"base": pool([one(arms["baseline"])])}
    for arm, seeds in arms["arms"].items():
        out[arm] = pool([one(rec["eval"]) for rec in seeds.values()])
    return out
