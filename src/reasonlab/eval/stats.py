"""Statistics of evaluation records ("A Sober Look at Progress in LM Reasoning", arXiv 2504.07086).

Unbiased pass@k over all ``S*n`` samples of a problem, maj@k over canonical answers, the mean +- std
(ddof=1) of pass@1 across seeds, SE over problems, a seeded percentile bootstrap CI and, when problems
come in groups, a clustered SE; all of them also for process-verified correctness where the task
checks the process. The formulas live in :mod:`reasonlab.eval.metrics`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M
from reasonlab.eval.config import EvalConfig
from reasonlab.seeds import stable_seed

__all__ = ["bucket_order", "failure_breakdown", "per_seed_pass1", "problem_scores", "summarize", "summarize_records"]


def _vote_key(rec: dict[str, Any]) -> str | None:
    """Canonical answer a sample votes for in maj@k.

    A correct sample votes for the gold answer whatever its surface form (the verifier has judged
    it equivalent); a wrong one votes for its extracted answer with whitespace collapsed and case
    folded; an unparseable one does not vote.
    """
    if rec["correct"]:
        return "\x00gold"
    pred = rec.get("pred")
    if pred is None or rec.get("unparseable"):
        return None
    return " ".join(str(pred).split()).casefold()


def _per_problem(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["id"]].append(r)
    for rows in groups.values():
        rows.sort(key=lambda r: (r["seed"], r["sample"]))
    return groups


def problem_scores(
    records: Sequence[dict[str, Any]],
    k: int,
    *,
    process: bool = False,
    metric: Literal["pass", "maj"] = "pass",
    tie_rule: str = "fractional",
    maj_subsamples: int = 1000,
) -> dict[str, float]:
    """Per-problem pass@k (unbiased, over all samples) or maj@k, keyed by problem id.

    ``process=True`` uses process-verified correctness (``process_ok``) instead of ``correct``. The
    maj@k subsampling seed of a problem is derived from its id and k, so it is reproducible.
    """
    out = {}
    for pid, rows in _per_problem(records).items():
        vals = [float(bool(r["process_ok"]) if process else bool(r["correct"])) for r in rows]
        if metric == "pass":
            out[pid] = M.pass_at_k(len(vals), int(sum(vals)), k)
        else:
            out[pid] = M.maj_at_k(
                [_vote_key(r) for r in rows],
                vals,
                k,
                n_subsamples=maj_subsamples,
                seed=stable_seed("maj", pid, k) % 2**32,
                tie_rule=tie_rule,
            )
    return out


def per_seed_pass1(records: Sequence[dict[str, Any]], process: bool = False) -> list[float]:
    """pass@1 of each seed run: mean over problems of the mean correctness of that seed's samples."""
    by_seed: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        v = bool(r["process_ok"]) if process else bool(r["correct"])
        by_seed[int(r["seed"])][r["id"]].append(float(v))
    return [float(np.mean([np.mean(v) for v in by_seed[s].values()])) for s in sorted(by_seed)]


def _score_block(
    scores: dict[str, float], clusters: dict[str, Any], *, n_boot: int, ci: float, seed: int
) -> dict[str, Any]:
    ids = sorted(scores)
    vals = [scores[i] for i in ids]
    lo, hi = M.bootstrap_ci(vals, n_boot=n_boot, ci=ci, seed=seed)
    out: dict[str, Any] = {"mean": float(np.mean(vals)), "se": M.standard_error(vals), "ci": [lo, hi]}
    labels = [clusters.get(i) for i in ids]
    if all(lab is not None for lab in labels) and labels:
        out["clustered_se"] = M.clustered_standard_error(vals, labels)
        out["n_clusters"] = len(set(labels))
    return out


def summarize_records(
    records: Sequence[dict[str, Any]],
    k_list: Sequence[int],
    *,
    tie_rule: str = "fractional",
    maj_subsamples: int = 1000,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Statistics of one set of sample records (a bucket or everything).

    ``pass@k``/``maj@k`` blocks hold the mean over problems, SE over problems (ddof=1), the seeded
    percentile bootstrap CI, and the clustered SE when every record carries a ``cluster`` label.
    ``pass@1_seeds`` is the seed-to-seed spread of pass@1 (mean, std with ddof=1, min, max, per seed).
    Process blocks are present when every sample has a process verdict.
    """
    if not records:
        raise ReasonlabError("no sample records to summarise")
    groups = _per_problem(records)
    n_per = {len(rows) for rows in groups.values()}
    n_min = min(n_per)
    clusters = {pid: rows[0].get("cluster") for pid, rows in groups.items()}
    has_process = all(r.get("process_ok") is not None for r in records)

    def blocks(process: bool) -> dict[str, Any]:
        res: dict[str, Any] = {"pass@k": {}, "maj@k": {}}
        for k in k_list:
            if k > n_min:
                continue
            metrics: tuple[tuple[Literal["pass", "maj"], str], ...] = (("pass", "pass@k"), ("maj", "maj@k"))
            for metric, key in metrics:
                sc = problem_scores(
                    records, k, process=process, metric=metric, tie_rule=tie_rule, maj_subsamples=maj_subsamples
                )
                res[key][str(k)] = _score_block(sc, clusters, n_boot=n_boot, ci=ci, seed=seed + k)
        per_seed = per_seed_pass1(records, process)
        band: dict[str, Any] = {**M.seed_band(per_seed), "per_seed": per_seed, "ddof": M.DDOF}
        res["pass@1_seeds"] = band
        return res

    n_rec = len(records)
    out: dict[str, Any] = {
        "n_problems": len(groups),
        "n_samples": n_rec,
        "samples_per_problem": n_min if len(n_per) == 1 else sorted(n_per),
        "outcome": blocks(False),
        "process": blocks(True) if has_process else None,
        "truncation_rate": sum(bool(r["truncated"]) for r in records) / n_rec,
        "unparseable_rate": sum(bool(r["unparseable"]) for r in records) / n_rec,
        "format_ok_rate": sum(bool(r.get("format_ok")) for r in records) / n_rec,
        "mean_reward": float(np.mean([r["reward"] for r in records])),
        "mean_length": float(np.mean([r["length"] for r in records])),
        **failure_breakdown(records),
    }
    return out


def failure_breakdown(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Why samples failed, and how often a right answer came without a right chain (reward hacking).

    ``failures``: share of all samples per ``failure`` kind (the task's name for why a sample failed;
    None when the records carry no kinds); ``hacked_rate``: share of process-checked samples whose answer
    is right but whose chain fails (None without process checks), and ``hacked`` that share by kind.
    Example: correct [T, T, F], process [T, F, F], failure [None, missing_step, wrong_value] ->
    failures {missing_step: 1/3, wrong_value: 1/3}, hacked_rate 1/3, hacked {missing_step: 1/3}.
    """
    n = max(len(records), 1)
    with_kinds = all("failure" in r for r in records)
    checked = [r for r in records if r.get("process_ok") is not None]
    hacked = [r for r in checked if r["correct"] and not r["process_ok"]]
    kinds = Counter(r["failure"] for r in records if r["failure"] is not None) if with_kinds else None
    by_kind = Counter(r["failure"] or "unnamed" for r in hacked) if with_kinds else Counter[str]()
    return {
        "failures": None if kinds is None else {k: c / n for k, c in sorted(kinds.items())},
        "hacked_rate": len(hacked) / len(checked) if checked else None,
        "hacked": {k: c / len(checked) for k, c in sorted(by_kind.items())},
    }


def bucket_order(values: Sequence[Any]) -> list[str]:
    """Bucket labels in a natural order (numbers numerically, then strings)."""

    def key(v: Any) -> tuple[int, float, str]:
        try:
            return (0, float(v), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(v))

    return [str(v) for v in sorted(dict.fromkeys(values), key=key)]


def summarize(records: Sequence[dict[str, Any]], config: EvalConfig) -> dict[str, Any]:
    """Per-bucket and overall statistics of an evaluation, with the conventions used."""
    kw: dict[str, Any] = dict(
        tie_rule=config.maj_tie_rule,
        maj_subsamples=config.maj_subsamples,
        n_boot=config.bootstrap,
        ci=config.ci,
        seed=config.seed,
    )
    by_bucket: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_bucket[str(r["bucket"])].append(r)
    buckets = {b: summarize_records(by_bucket[b], config.k, **kw) for b in bucket_order(list(by_bucket))}
    return {
        "buckets": buckets,
        "overall": summarize_records(records, config.k, **kw),
        "conventions": {
            "std_ddof": M.DDOF,
            "se": "sd over problems (ddof=1) / sqrt(problems); problems are the units",
            "ci": f"percentile bootstrap over problems, {config.bootstrap} resamples, level {config.ci}, seeded",
            "pass@k": "unbiased 1 - C(n-c,k)/C(n,k) over all seeds x samples of a problem",
            "maj@k": (
                f"vote over canonical answers of a random k-subset (exact when C(n,k) <= {config.maj_subsamples}); "
                f"correct samples vote for the gold answer, unparseable ones abstain; tie rule {config.maj_tie_rule!r}"
            ),
            "maj_tie_rule": config.maj_tie_rule,
            "process": "same statistics with process_ok (step-by-step verified) in place of correct",
            "clustered_se": (
                f"clusters = meta[{config.cluster_by!r}], C/(C-1) correction" if config.cluster_by else None
            ),
            "seed_spread": "pass@1 per seed run = mean over problems of that seed's sample mean; std ddof=1",
        },
    }
