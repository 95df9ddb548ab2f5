"""Find the edge of competence: classify each bucket of a base model as in-range, edge or hard.

The CMU study's bands, measured instead of guessed. With ``p1`` the pass@1 and ``pk`` the pass@k (k the
largest evaluated, or ``BandConfig.k``) of a bucket, by process-verified correctness unless told
otherwise:

- **in-range** (mastered): ``p1 >= in_range_min_pass1`` (default 0.8);
- **edge** (not mastered, but solved sometimes): ``p1 < in_range_min_pass1`` and ``pk >= edge_min_passk``
  (default 0.2) and the lower end of ``pk``'s CI lies above what guessing reaches (0 for process-verified
  correctness, ``1 - (1 - 1/m)^k`` for an ``m``-way answer);
- **hard**: everything else (``pk`` below the threshold, or not distinguishable from guessing).

Point estimates decide; each row also records both CIs and ``clear``: whether the CIs lie on one side
of the thresholds that decided it (a bucket near a threshold is labelled, and flagged as borderline).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.eval.metrics import chance_pass_at_k

__all__ = ["BAND_NAMES", "BandConfig", "ProfileBars", "band_value", "classify_buckets", "profile_check"]

BAND_NAMES = ("in_range", "edge", "hard")


class BandConfig(StrictModel):
    """Thresholds of the band classification (see the module docstring)."""

    correctness: Literal["process", "outcome"] = Field(
        "process", description="process = answer and every step verify (the CMU standard); outcome = answer only"
    )
    in_range_min_pass1: float = Field(0.8, gt=0, le=1, description="pass@1 at or above this: mastered (in-range)")
    edge_min_passk: float = Field(0.2, gt=0, le=1, description="pass@k at or above this (not mastered): the edge")
    k: int | None = Field(None, ge=1, description="k of pass@k (default: the largest evaluated)")


def _block(bucket: dict[str, Any], correctness: str, k: int) -> dict[str, Any]:
    blocks = bucket.get(correctness)
    if blocks is None:
        raise ReasonlabError(f"band classification by {correctness} correctness: the task records no such verdict")
    blk = blocks["pass@k"].get(str(k))
    if blk is None:
        raise ReasonlabError(f"band classification: pass@{k} was not evaluated (k: {sorted(blocks['pass@k'])})")
    return blk


def classify_buckets(
    summary: dict[str, Any], config: BandConfig, answers: Mapping[str, int | None] | None = None
) -> dict[str, Any]:
    """Band of every bucket of an evaluation summary, and the buckets of each band in bucket order.

    ``answers`` maps a bucket to the size of its answer space under outcome scoring (e.g. the modulus),
    for the chance level; process-verified correctness has chance 0.
    """
    buckets = summary["buckets"]
    if not buckets:
        raise ReasonlabError("band classification: the evaluation has no buckets")
    ks = sorted(int(k) for k in next(iter(buckets.values()))["outcome"]["pass@k"])
    k = config.k or ks[-1]
    rows: dict[str, dict[str, Any]] = {}
    for name, b in buckets.items():
        m = (answers or {}).get(name)
        chance = 0.0 if config.correctness == "process" or not m else chance_pass_at_k(m, k)
        p1, pk = _block(b, config.correctness, 1), _block(b, config.correctness, k)
        if p1["mean"] >= config.in_range_min_pass1:
            band, clear = "in_range", p1["ci"][0] >= config.in_range_min_pass1
        elif pk["mean"] >= config.edge_min_passk and pk["ci"][0] > chance:
            band = "edge"
            clear = p1["ci"][1] < config.in_range_min_pass1 and pk["ci"][0] >= config.edge_min_passk
        else:
            band, clear = "hard", pk["ci"][1] < config.edge_min_passk or pk["ci"][1] <= chance
        rows[name] = {
            "band": band,
            "clear": bool(clear),
            "pass@1": p1["mean"],
            "pass@1_ci": p1["ci"],
            f"pass@{k}": pk["mean"],
            f"pass@{k}_ci": pk["ci"],
            "chance": chance,
        }
    return {
        "config": config.model_dump(mode="json"),
        "k": k,
        "buckets": rows,
        **{band: [n for n, r in rows.items() if r["band"] == band] for band in BAND_NAMES},
    }


def band_value(buckets: list[str], band: str) -> str:
    """The buckets of one band as a knob value: ``"5"``, or ``"5-6"`` for a contiguous run of integers.

    One-line error when the band is empty or its integer buckets are not contiguous (a knob range draws
    every value between its ends).
    """
    if not buckets:
        raise ReasonlabError(f"the evaluation found no {band} bucket, so nothing can train or be scored on it")
    try:
        values = sorted(int(b) for b in buckets)
    except ValueError:
        if len(buckets) == 1:
            return buckets[0]
        raise ReasonlabError(f"{band} buckets {buckets} are not integers; name one of them instead") from None
    if values != list(range(values[0], values[-1] + 1)):
        raise ReasonlabError(f"{band} buckets {values} are not contiguous; a knob range would draw the gaps too")
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


class ProfileBars(StrictModel):
    """The bars of a base profile with a process-verified edge (issue 14), beyond the classification's own."""

    edge_max_pass1: float = Field(0.3, gt=0, le=1, description="an edge bucket's pass@1 at most this")
    hard_max_passk: float = Field(0.05, ge=0, le=1, description="some bucket beyond the edge has pass@k at most this")


def _bucket_order(names: list[str]) -> list[str]:
    try:
        return sorted(names, key=int)
    except ValueError:
        return list(names)


def profile_check(bands: dict[str, Any], bars: ProfileBars | None = None) -> dict[str, Any]:
    """Does a base's band classification (:func:`classify_buckets`) show the profile of a base with an edge?

    Buckets in order (by integer value where they are integers), with ``p1``/``pk`` and the thresholds of
    the classification's config:

    - **in range**: the leading run of buckets with ``p1 >= in_range_min_pass1``; it must not be empty;
    - **edge**: the next bucket, and the one after it when its ``pk >= edge_min_passk``; each must have
      ``p1 <= edge_max_pass1`` and ``pk >= edge_min_passk`` (an edge that starts at 0.7 is a range not
      yet mastered, not an edge);
    - **hard**: the buckets after the edge; at least one must have ``pk <= hard_max_passk``.

    Returns ``{"met", "failures" (one line each), "in_range", "edge", "hard"}``.
    """
    bars = bars or ProfileBars()
    cfg, k, rows = bands["config"], bands["k"], bands["buckets"]
    order = _bucket_order(list(rows))
    p1 = {b: rows[b]["pass@1"] for b in order}
    pk = {b: rows[b][f"pass@{k}"] for b in order}
    n_in = 0
    while n_in < len(order) and p1[order[n_in]] >= cfg["in_range_min_pass1"]:
        n_in += 1
    in_range, rest = order[:n_in], order[n_in:]
    edge = rest[:1] + [b for b in rest[1:2] if pk[b] >= cfg["edge_min_passk"]]
    hard = rest[len(edge) :]
    failures = []
    if not in_range:
        failures.append(
            f"no bucket in range: the first, {order[0]}, has pass@1 {p1[order[0]]:.3f} < {cfg['in_range_min_pass1']}"
        )
    if not edge:
        failures.append("no bucket beyond the range: no edge")
    for b in edge:
        if p1[b] > bars.edge_max_pass1:
            failures.append(f"bucket {b} (edge) has pass@1 {p1[b]:.3f} > {bars.edge_max_pass1}")
        if pk[b] < cfg["edge_min_passk"]:
            failures.append(f"bucket {b} (edge) has pass@{k} {pk[b]:.3f} < {cfg['edge_min_passk']}")
    if not any(pk[b] <= bars.hard_max_passk for b in hard):
        failures.append(f"no bucket beyond the edge has pass@{k} <= {bars.hard_max_passk}: no hard band")
    return {"met": not failures, "failures": failures, "in_range": in_range, "edge": edge, "hard": hard}
