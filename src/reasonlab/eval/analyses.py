"""Analyses over per-sample evaluation records (``eval/samples.jsonl``).

* :func:`length_vs_correctness` - histograms of correct and wrong responses per length bin, for all
  responses and for complete (untruncated) ones only: longer responses being more often wrong even
  when complete is one of the reference study's findings, and truncation must not explain it away.
* :func:`reasoning_words` - how often reasoning words ("wait", "check", "contradiction", ...) appear in
  correct vs wrong responses, and the accuracy of responses with and without each word.
* :func:`seed_stability_curve` - the spread of mean pass@1 when averaging K = 1..S seed runs.
* :func:`delta_at_k` - pass@k(model) - pass@k(base) per k, paired over problems: the diversity-collapse
  check (collapse shows as delta@1 > 0 with delta@k < 0 for larger k).
* :func:`change_by_shape` - where a change of pass@1 comes from: the paired difference per bucket and
  problem shape (e.g. the wiring of an arith solution), with each shape's share of the bucket's change, so
  a gain that is one shape's shortcut (and a loss at another op with the opposite shape) shows.
* :func:`limem_analysis` - LiMem (Acc x (1 - CR)) on perturbed sets, through the knights task's
  :mod:`reasonlab.eval.limem`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M
from reasonlab.eval.limem import limem_table, people_by_id
from reasonlab.eval.record import load_run
from reasonlab.eval.stats import bucket_order, per_seed_pass1, problem_scores
from reasonlab.io import read_records
from reasonlab.tasks.arith import solution_shape

#: Words whose frequency is compared between correct and wrong responses by default.
REASONING_WORDS = (
    "wait",
    "but",
    "so",
    "check",
    "verify",
    "again",
    "assume",
    "suppose",
    "contradiction",
    "therefore",
    "because",
    "if",
    "then",
    "however",
    "recheck",
    "mistake",
)


def _length_edges(lengths: Sequence[int], n_bins: int) -> np.ndarray:
    hi = max(int(max(lengths)), 1) if len(lengths) else 1
    edges = np.unique(np.linspace(0, hi + 1, n_bins + 1).round().astype(int))
    return edges if edges.size >= 2 else np.array([0, hi + 1])


def length_vs_correctness(
    records: Sequence[dict[str, Any]], n_bins: int = 12, edges: Sequence[int] | None = None
) -> dict[str, Any]:
    """Counts of correct and wrong responses per length bin (tokens), all and complete-only.

    Bins are ``[edges[i], edges[i+1])``; by default ``n_bins`` equal-width integer bins over
    ``[0, max length]``. Also returns per-bin accuracy (None for empty bins), the mean length of
    correct and of wrong responses, and the truncation rate, reported separately as the protocol asks.
    """
    if not records:
        raise ReasonlabError("length analysis needs at least one sample record")
    lengths = np.array([int(r["length"]) for r in records])
    correct = np.array([bool(r["correct"]) for r in records])
    complete = ~np.array([bool(r["truncated"]) for r in records])
    e = np.asarray(edges if edges is not None else _length_edges(lengths.tolist(), n_bins))

    def hist(mask: np.ndarray) -> dict[str, Any]:
        c, _ = np.histogram(lengths[mask & correct], bins=e)
        w, _ = np.histogram(lengths[mask & ~correct], bins=e)
        acc = [None if (ci + wi) == 0 else float(ci / (ci + wi)) for ci, wi in zip(c, w, strict=True)]
        return {"correct": c.tolist(), "wrong": w.tolist(), "accuracy": acc}

    def mean_or_none(x: np.ndarray) -> float | None:
        return float(x.mean()) if x.size else None

    return {
        "edges": [int(x) for x in e],
        "all": hist(np.ones_like(correct)),
        "complete": hist(complete),
        "mean_length_correct": mean_or_none(lengths[correct]),
        "mean_length_wrong": mean_or_none(lengths[~correct]),
        "mean_length_correct_complete": mean_or_none(lengths[correct & complete]),
        "mean_length_wrong_complete": mean_or_none(lengths[~correct & complete]),
        "truncation_rate": float((~complete).mean()),
    }


_WORD_RE = re.compile(r"[a-z]+")


def reasoning_words(records: Sequence[dict[str, Any]], words: Sequence[str] = REASONING_WORDS) -> list[dict[str, Any]]:
    """Per word: occurrences per correct and per wrong response, and accuracy with vs without it.

    Words are matched case-insensitively as whole words. ``rate_correct`` = total occurrences in
    correct responses / number of correct responses (likewise ``rate_wrong``); ``acc_with`` is the
    accuracy of responses containing the word at least once, ``acc_without`` of the others (None when
    a group is empty). Rows are sorted by ``rate_wrong - rate_correct``, words typical of wrong answers
    first.
    """
    tokens = [_WORD_RE.findall(str(r["completion"]).lower()) for r in records]
    correct = np.array([bool(r["correct"]) for r in records])
    n_c, n_w = int(correct.sum()), int((~correct).sum())
    rows: list[dict[str, Any]] = []
    for w in words:
        counts = np.array([t.count(w.lower()) for t in tokens])
        has = counts > 0
        rows.append(
            {
                "word": w,
                "rate_correct": float(counts[correct].sum() / n_c) if n_c else None,
                "rate_wrong": float(counts[~correct].sum() / n_w) if n_w else None,
                "share_with": float(has.mean()) if has.size else 0.0,
                "acc_with": float(correct[has].mean()) if has.any() else None,
                "acc_without": float(correct[~has].mean()) if (~has).any() else None,
            }
        )
    rows.sort(key=lambda r: -((r["rate_wrong"] or 0.0) - (r["rate_correct"] or 0.0)))
    return rows


def seed_stability_curve(
    records: Sequence[dict[str, Any]], *, n_resamples: int = 2000, seed: int = 0
) -> list[dict[str, float]]:
    """Spread of mean pass@1 when averaging K = 1..S seed runs (:func:`metrics.seed_stability`)."""
    return M.seed_stability(per_seed_pass1(records), n_resamples=n_resamples, seed=seed)


def seed_variance_study(records: Sequence[dict[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """How wide the seed band is for benchmarks of ``m`` problems, for each ``m`` in ``sizes``.

    Problems are taken in their evaluation order and cut into disjoint blocks of ``m`` (as many as fit).
    For each block, pass@1 of every seed run is the mean correctness of that seed's samples over the
    block's problems; the row reports, for the first block, the per-seed values with their mean, std
    (ddof=1), min and max, and over all blocks the mean seed std and mean seed range (max - min), plus
    the std of block means (how much the choice of problems moves the score). One question is worth
    ``1/m`` of pass@1.
    """
    order = list(dict.fromkeys(r["id"] for r in records))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_id.setdefault(r["id"], []).append(r)
    rows = []
    for m in sizes:
        if m < 1 or m > len(order):
            raise ReasonlabError(f"seed variance study: block size {m} must be in 1..{len(order)} problems")
        blocks = [order[i : i + m] for i in range(0, len(order) - m + 1, m)]
        stats = []
        for ids in blocks:
            per_seed = per_seed_pass1([r for pid in ids for r in by_id[pid]])
            stats.append((per_seed, *M.mean_std(per_seed)))
        first = stats[0][0]
        rows.append(
            {
                "problems": m,
                "blocks": len(blocks),
                "seeds": len(first),
                "question_weight": 1 / m,
                "per_seed": first,
                "mean": float(np.mean(first)),
                "std": M.mean_std(first)[1],
                "min": float(np.min(first)),
                "max": float(np.max(first)),
                "mean_seed_std": float(np.mean([s[2] for s in stats])),
                "mean_seed_range": float(np.mean([max(s[0]) - min(s[0]) for s in stats])),
                "std_of_block_means": M.mean_std([s[1] for s in stats])[1] if len(stats) > 1 else None,
            }
        )
    return rows


def delta_at_k(
    model_records: Sequence[dict[str, Any]],
    base_records: Sequence[dict[str, Any]],
    k_list: Sequence[int],
    *,
    process: bool = False,
    ci: float = 0.95,
    n_perm: int = 10000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """delta@k = pass@k(model) - pass@k(base) per k, paired over the problems both runs share.

    Each entry is a :class:`metrics.PairedResult` as a dict plus both means; k values larger than
    either run's samples per problem are skipped.
    """
    out: dict[str, dict[str, Any]] = {}
    n_a = min(_samples_per_problem(model_records).values())
    n_b = min(_samples_per_problem(base_records).values())
    for k in k_list:
        if k > min(n_a, n_b):
            continue
        a = problem_scores(model_records, k, process=process)
        b = problem_scores(base_records, k, process=process)
        ids = sorted(set(a) & set(b))
        if not ids:
            raise ReasonlabError("delta@k: the two runs share no problem ids")
        res = M.paired_test([a[i] for i in ids], [b[i] for i in ids], ci=ci, n_perm=n_perm, seed=seed + k)
        row = res.to_dict()
        row["model"] = float(np.mean([a[i] for i in ids]))
        row["base"] = float(np.mean([b[i] for i in ids]))
        out[str(k)] = row
    return out


def _samples_per_problem(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r["id"]] = counts.get(r["id"], 0) + 1
    if not counts:
        raise ReasonlabError("no sample records")
    return counts


def collapse_flag(deltas: dict[str, dict[str, Any]]) -> bool:
    """Diversity collapse: delta@1 > 0 while delta@k < 0 for the largest k evaluated."""
    if "1" not in deltas or len(deltas) < 2:
        return False
    k_max = max(deltas, key=int)
    return deltas["1"]["mean_diff"] > 0 and deltas[k_max]["mean_diff"] < 0


def change_by_shape(
    model_records: Sequence[dict[str, Any]],
    base_records: Sequence[dict[str, Any]],
    shapes: dict[str, str],
    *,
    process: bool = True,
    n_perm: int = 10000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """pass@1(model) - pass@1(base) per (bucket, shape), paired over the problems both runs share.

    ``shapes`` maps a problem id to its shape label. Each row: ``bucket``, ``shape``, ``n`` problems, both
    means, the :func:`metrics.paired_test` of the difference and ``contribution = n / N * diff``, its share of
    the bucket's mean difference over all ``N`` of the bucket's problems (a bucket's contributions sum to that
    mean difference). Rows come in bucket order, largest ``|contribution|`` first within a bucket.
    """
    a = problem_scores(model_records, 1, process=process)
    b = problem_scores(base_records, 1, process=process)
    ids = sorted(set(a) & set(b))
    if not ids:
        raise ReasonlabError("change by shape: the two runs share no problem ids")
    missing = [i for i in ids if i not in shapes]
    if missing:
        raise ReasonlabError(f"change by shape: no shape for problem {missing[0]!r} ({len(missing)} without one)")
    bucket_of = {r["id"]: str(r["bucket"]) for r in base_records}
    groups: dict[tuple[str, str], list[str]] = {}
    for i in ids:
        groups.setdefault((bucket_of[i], shapes[i]), []).append(i)
    size = Counter(bucket_of[i] for i in ids)
    rows = []
    for (bucket, shape), members in groups.items():
        res = M.paired_test([a[i] for i in members], [b[i] for i in members], n_perm=n_perm, seed=seed)
        rows.append(
            {
                "bucket": bucket,
                "shape": shape,
                "n": len(members),
                "base": float(np.mean([b[i] for i in members])),
                "model": float(np.mean([a[i] for i in members])),
                **res.to_dict(),
                "contribution": len(members) / size[bucket] * res.mean_diff,
            }
        )
    order = {bk: n for n, bk in enumerate(bucket_order(list(size)))}
    return sorted(rows, key=lambda r: (order[r["bucket"]], -abs(r["contribution"]), r["shape"]))


def solution_shapes(run: str | os.PathLike[str]) -> dict[str, str] | None:
    """Problem id -> :func:`~reasonlab.tasks.arith.solution_shape` for an evaluation run's problems; None when
    a problem carries no dependency graph in its meta (not an arith problem)."""
    shapes = {}
    for prob in read_records(Path(run) / "eval" / "problems.jsonl"):
        graph = (prob.get("meta") or {}).get("graph")
        if not isinstance(graph, dict) or "nodes" not in graph:
            return None
        shapes[prob["id"]] = solution_shape(prob["meta"])
    return shapes


def shape_analysis(
    base_run: str | os.PathLike[str],
    model_run: str | os.PathLike[str],
    *,
    process: bool = True,
    buckets: Sequence[str] | None = None,
    n_perm: int = 10000,
    shapes: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`change_by_shape` of two evaluation runs of arith problems (``shapes``, or the model run's
    :func:`solution_shapes`), restricted to ``buckets`` when given."""
    _, base = load_run(base_run)
    _, model = load_run(model_run)
    shapes = shapes if shapes is not None else solution_shapes(model_run)
    if shapes is None:
        raise ReasonlabError(
            f"{Path(model_run) / 'eval' / 'problems.jsonl'}: a problem has no dependency graph in its meta "
            "(shapes are defined for arith problems)"
        )
    if buckets is not None:
        known = {str(r["bucket"]) for r in base}
        unknown = [b for b in buckets if b not in known]
        if unknown:
            names = ", ".join(bucket_order(sorted(known)))
            raise ReasonlabError(f"{base_run}: no bucket {unknown[0]!r} (buckets: {names})")
        base = [r for r in base if str(r["bucket"]) in buckets]
        model = [r for r in model if str(r["bucket"]) in buckets]
    return change_by_shape(model, base, shapes, process=process, n_perm=n_perm)


def limem_analysis(
    original_run: str | os.PathLike[str], perturbed_runs: Sequence[str | os.PathLike[str]]
) -> list[dict[str, Any]]:
    """LiMem (Acc x (1 - CR)) from an evaluation of original problems and of their perturbed versions.

    Evaluate the originals and each perturbed set (``reasonlab data perturb`` output) with
    ``problems: FILE`` in the eval config, then pass the run dirs here. Every sample record counts (the
    per-item solve rate averages seeds x samples), rows per perturbation kind and people count. The
    arithmetic lives in :mod:`reasonlab.eval.limem` (owned by the knights task), so there is one
    definition of the score.
    """
    _, orig = load_run(original_run)
    people = people_by_id(read_records(Path(original_run) / "eval" / "problems.jsonl"))
    pert: list[dict[str, Any]] = []
    for run in perturbed_runs:
        pert.extend(load_run(run)[1])
    return [row.to_dict() for row in limem_table(orig, pert, people)]
