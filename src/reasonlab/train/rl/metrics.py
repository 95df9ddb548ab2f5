"""RL step metrics under the engines' names (verl: ``critic/score/mean``, ``response_length/mean``, ...)."""

from __future__ import annotations

import re
from typing import Any

import torch

from reasonlab.train.rl import algorithms as alg
from reasonlab.train.rl.rollout import Rollouts

__all__ = [
    "REFLECTION_WORDS",
    "batch_metrics",
    "eval_metrics",
    "failure_metrics",
    "hacking_metrics",
    "length_metrics",
    "word_metrics",
]

#: Words whose use Logic-RL relates to reward ("wait", "verify", "re-evaluate" go with higher reward, "recheck"
#: with lower), and the contrast words of its word analysis; matched whole, in any case.
REFLECTION_WORDS = ("wait", "verify", "re-evaluate", "recheck", "check", "however", "but", "yet")


def batch_metrics(
    ro: Rollouts,
    scores: torch.Tensor,
    token_rewards: torch.Tensor,
    adv: torch.Tensor,
    returns: torch.Tensor,
    values: torch.Tensor | None,
    mask: torch.Tensor,
) -> dict[str, float]:
    """Scores, rewards, advantages, returns, accuracy and response lengths of one step's batch."""
    lengths = mask.sum(-1).cpu()
    out = {
        "critic/score/mean": float(scores.mean()),
        "critic/score/max": float(scores.max()),
        "critic/score/min": float(scores.min()),
        "critic/rewards/mean": float(token_rewards.sum(-1).mean()),
        "critic/advantages/mean": float(alg.masked_mean(adv, mask)),
        "critic/advantages/max": float(adv[mask > 0].max()) if mask.any() else 0.0,
        "critic/advantages/min": float(adv[mask > 0].min()) if mask.any() else 0.0,
        "critic/returns/mean": float(alg.masked_mean(returns, mask)),
        "acc/mean": sum(ro.correct) / len(ro),
        "response_length/mean": float(lengths.mean()),
        "response_length/max": float(lengths.max()),
        "response_length/min": float(lengths.min()),
        "response_length/clip_ratio": sum(f == "length" for f in ro.finish) / len(ro),
    }
    if values is not None:
        out["critic/values/mean"] = float(alg.masked_mean(values, mask))
    out.update(hacking_metrics(ro.correct, ro.process_ok, ro.format_ok))
    out.update(failure_metrics(ro.failure, ro.correct, ro.process_ok))
    out.update(length_metrics([int(x) for x in lengths.tolist()], ro.correct))
    out.update(word_metrics(ro.texts, ro.task_scores))
    return out


def length_metrics(lengths: list[int], correct: list[bool]) -> dict[str, float]:
    """Is longer better? ``response_length/correct_mean`` and ``response_length/wrong_mean``: the mean length in
    tokens of the batch's right and wrong responses (each only when the batch has one).
    Example: lengths [10, 20, 30], correct [T, F, F] -> correct_mean 10, wrong_mean 25."""
    out: dict[str, float] = {}
    for key, want in (("correct_mean", True), ("wrong_mean", False)):
        picked = [n for n, c in zip(lengths, correct, strict=True) if c is want]
        if picked:
            out[f"response_length/{key}"] = sum(picked) / len(picked)
    return out


def word_metrics(texts: list[str], scores: list[float], words: tuple[str, ...] = REFLECTION_WORDS) -> dict[str, float]:
    """Reflection words against reward (Logic-RL's word analysis), for every word some response uses:
    ``words/<w>/freq``, the share of responses that contain it (whole word, any case), and, when some responses
    lack it, ``words/<w>/reward_gap`` = mean score of the responses with it - mean score of those without.
    Example: texts ["Wait, no.", "ok", "wait"], scores [1, 0, 0] -> words/wait/freq 2/3, reward_gap 0.5 - 0 = 0.5.
    """
    out: dict[str, float] = {}
    for w in words:
        pattern = re.compile(rf"(?<![\w-]){re.escape(w)}(?![\w-])", re.IGNORECASE)
        has = [bool(pattern.search(t)) for t in texts]
        if not any(has):
            continue
        out[f"words/{w}/freq"] = sum(has) / len(has)
        if not all(has):
            with_w = [s for s, h in zip(scores, has, strict=True) if h]
            without = [s for s, h in zip(scores, has, strict=True) if not h]
            out[f"words/{w}/reward_gap"] = sum(with_w) / len(with_w) - sum(without) / len(without)
    return out


def failure_metrics(failure: list[str | None], correct: list[bool], process_ok: list[bool | None]) -> dict[str, float]:
    """Failures of a batch by the task's kind: ``failure/<kind>`` (share of all samples) and
    ``hacked/<kind>`` (share of all samples whose answer is right but whose chain fails with that kind).

    Example: kinds [None, missing_step, wrong_value, missing_step], correct [T, T, F, F],
    process [T, F, F, F] -> failure/missing_step 0.5, failure/wrong_value 0.25, hacked/missing_step 0.25.
    """
    n = max(len(failure), 1)
    out: dict[str, float] = {}
    for kind in sorted({k for k in failure if k}):
        out[f"failure/{kind}"] = sum(k == kind for k in failure) / n
        hacked = sum(k == kind and c and p is False for k, c, p in zip(failure, correct, process_ok, strict=True))
        if hacked:
            out[f"hacked/{kind}"] = hacked / n
    return out


def hacking_metrics(correct: list[bool], process_ok: list[bool | None], format_ok: list[bool]) -> dict[str, float]:
    """Reward-hacking signals of a batch.

    ``reward/hacked_frac``: the share of samples whose answer is right but whose chain fails the process
    check (right for the wrong reasons; only where the task checks the process); ``acc/process``: the
    share right with every step verified; ``reward/format_fail_frac``: the share that break the format.
    Example: correct [T, T, F, T], process [T, F, F, None] -> hacked 1/3 (the None row does not count).
    """
    n = max(len(correct), 1)
    out = {"reward/format_fail_frac": sum(not f for f in format_ok) / n}
    checked = [(c, p) for c, p in zip(correct, process_ok, strict=True) if p is not None]
    if checked:
        out["reward/hacked_frac"] = sum(c and not p for c, p in checked) / len(checked)
        out["acc/process"] = sum(c and p for c, p in checked) / len(checked)
    return out


def eval_metrics(summary: dict[str, Any], task: str) -> dict[str, float]:
    """verl-style validation metrics from an eval summary: ``val-core/{task}/{bucket}/pass@k`` and overall."""
    out: dict[str, float] = {}
    for bucket, block in summary.get("buckets", {}).items():
        for k, blk in block["outcome"]["pass@k"].items():
            out[f"val-core/{task}/{bucket}/pass@{k}"] = float(blk["mean"])
    for k, blk in summary.get("overall", {}).get("outcome", {}).get("pass@k", {}).items():
        out[f"val-core/{task}/pass@{k}"] = float(blk["mean"])
    return out
