"""Paired comparison of two evaluation runs on the same problems (``reasonlab eval compare A B``).

Run A is the baseline, run B the candidate; every difference is ``B - A``. Per bucket and overall:

* the paired per-problem difference of pass@1 with its t-interval and a two-sided sign-flip
  permutation p-value (:func:`metrics.paired_test`);
* delta@k for every k both runs support (:func:`analyses.delta_at_k`), with a diversity-collapse flag;
* the baseline's seed band (per-seed pass@1: mean, std ddof=1, min, max) and a flag when B's mean
  pass@1 lies inside it, i.e. a single baseline seed could have produced the "gain".
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M
from reasonlab.eval.analyses import collapse_flag, delta_at_k
from reasonlab.eval.record import load_run
from reasonlab.eval.stats import bucket_order, per_seed_pass1, problem_scores
from reasonlab.io import atomic_write_text

COMPARE_SCHEMA = "reasonlab.eval.compare/1"


def compare_records(
    base: list[dict[str, Any]],
    cand: list[dict[str, Any]],
    k_list: list[int],
    *,
    ci: float = 0.95,
    n_perm: int = 10000,
    seed: int = 0,
) -> dict[str, Any]:
    """Paired statistics of candidate vs baseline records restricted to the problems both share.

    By answer correctness at the top level and, when every sample has a process verdict, the same
    paired test and delta@k by process-verified correctness under ``"process"``.
    """
    shared = sorted({r["id"] for r in base} & {r["id"] for r in cand})
    if not shared:
        raise ReasonlabError("compare: the two runs share no problem ids (evaluate both with the same eval config)")
    keep = set(shared)
    base = [r for r in base if r["id"] in keep]
    cand = [r for r in cand if r["id"] in keep]
    a1, b1 = problem_scores(base, 1), problem_scores(cand, 1)
    paired = M.paired_test([b1[i] for i in shared], [a1[i] for i in shared], ci=ci, n_perm=n_perm, seed=seed)
    deltas = delta_at_k(cand, base, k_list, ci=ci, n_perm=n_perm, seed=seed)
    base_seeds = per_seed_pass1(base)
    band: dict[str, Any] = {**M.seed_band(base_seeds), "per_seed": base_seeds}
    cand_mean = M.mean_std(per_seed_pass1(cand))[0]
    gain = paired.mean_diff
    out = {
        "n_problems": len(shared),
        "baseline_pass@1": float(sum(a1[i] for i in shared) / len(shared)),
        "candidate_pass@1": float(sum(b1[i] for i in shared) / len(shared)),
        "paired": paired.to_dict(),
        "delta@k": deltas,
        "diversity_collapse": collapse_flag(deltas),
        "baseline_seed_band": band,
        "candidate_seed_mean": cand_mean,
        "gain_inside_seed_band": M.inside_seed_band(cand_mean, base_seeds) if gain > 0 else None,
        "significant": paired.p_value < 1 - ci,
    }
    if all(r.get("process_ok") is not None for r in base + cand):
        ap, bp = problem_scores(base, 1, process=True), problem_scores(cand, 1, process=True)
        out["process"] = {
            "baseline_pass@1": float(sum(ap[i] for i in shared) / len(shared)),
            "candidate_pass@1": float(sum(bp[i] for i in shared) / len(shared)),
            "paired": M.paired_test(
                [bp[i] for i in shared], [ap[i] for i in shared], ci=ci, n_perm=n_perm, seed=seed
            ).to_dict(),
            "delta@k": delta_at_k(cand, base, k_list, process=True, ci=ci, n_perm=n_perm, seed=seed),
        }
    return out


def compare_runs(
    run_a: str | os.PathLike[str],
    run_b: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    n_perm: int = 10000,
) -> dict[str, Any]:
    """Compare evaluation run B (candidate) against run A (baseline); optionally write ``out/compare.json``.

    The readable report (``compare.md`` and the pass@k plot) is written by
    :func:`reasonlab.report.compare.write_compare_report`.
    """
    sa, ra = load_run(run_a)
    sb, rb = load_run(run_b)
    ca, cb = sa["record"]["config"], sb["record"]["config"]
    warnings = []
    for key in ("task", "buckets", "fixed", "decoding", "prompt_style"):
        if ca.get(key) != cb.get(key):
            warnings.append(f"runs differ in {key}: {ca.get(key)!r} vs {cb.get(key)!r}")
    k_list = sorted(set(ca.get("k", [1])) & set(cb.get("k", [1])))
    ci = float(ca.get("ci", 0.95))
    seed = int(ca.get("seed", 0))
    by_a: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_b: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ra:
        by_a[str(r["bucket"])].append(r)
    for r in rb:
        by_b[str(r["bucket"])].append(r)
    buckets = {}
    for b in bucket_order([*by_a, *by_b]):
        if b in by_a and b in by_b and {r["id"] for r in by_a[b]} & {r["id"] for r in by_b[b]}:
            buckets[b] = compare_records(by_a[b], by_b[b], k_list, ci=ci, n_perm=n_perm, seed=seed)
    result = {
        "schema": COMPARE_SCHEMA,
        "baseline": {"run": str(run_a), "name": sa.get("name")},
        "candidate": {"run": str(run_b), "name": sb.get("name")},
        "k": k_list,
        "warnings": warnings,
        "overall": compare_records(ra, rb, k_list, ci=ci, n_perm=n_perm, seed=seed),
        "buckets": buckets,
        "conventions": {
            "difference": "candidate (B) - baseline (A), per problem, pass@k over all samples of the problem",
            "p_value": "two-sided sign-flip permutation test on per-problem differences of pass@1",
            "process": "the same statistics with process-verified correctness (answer and every step)",
            "ci": f"paired t-interval at level {ci}",
            "seed_band": "baseline per-seed pass@1 range; gain_inside_seed_band = candidate mean within it",
            "std_ddof": M.DDOF,
        },
    }
    if out is not None:
        atomic_write_text(Path(out) / "compare.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result
