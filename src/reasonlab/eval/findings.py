"""Two findings the reasoning papers state, measured on a model's own samples.

- **Are longer responses more often wrong?** Pooled over problems, the mean length of wrong responses
  minus that of right ones; but harder problems draw both longer and more often wrong answers, so the
  finding is judged **within problems**: over the problems that have both right and wrong samples, the
  mean of (mean wrong length - mean right length), with a bootstrap CI over problems. Both for all
  responses and for complete ones (truncated responses are long and wrong by construction).
- **Does RL collapse diversity?** delta@k = pass@k(RL) - pass@k(base) for every k: collapse shows as
  delta@1 > 0 with delta@k < 0 at the largest k (the base, sampled enough, solves problems RL no longer
  does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from reasonlab.eval import metrics as M
from reasonlab.eval.analyses import collapse_flag, delta_at_k

__all__ = ["diversity_finding", "length_finding"]


def _length_gap(records: Sequence[dict[str, Any]], n_boot: int, seed: int) -> dict[str, Any]:
    by_problem: dict[str, dict[bool, list[int]]] = defaultdict(lambda: {True: [], False: []})
    for r in records:
        by_problem[r["id"]][bool(r["correct"])].append(int(r["length"]))
    right = [n for p in by_problem.values() for n in p[True]]
    wrong = [n for p in by_problem.values() for n in p[False]]
    gaps = [float(np.mean(p[False]) - np.mean(p[True])) for p in by_problem.values() if p[True] and p[False]]
    out: dict[str, Any] = {
        "responses": len(records),
        "mean_length_right": float(np.mean(right)) if right else None,
        "mean_length_wrong": float(np.mean(wrong)) if wrong else None,
        "pooled_gap": float(np.mean(wrong) - np.mean(right)) if right and wrong else None,
        "problems_with_both": len(gaps),
        "within_problem_gap": float(np.mean(gaps)) if gaps else None,
        "within_problem_ci": list(M.bootstrap_ci(gaps, n_boot=n_boot, seed=seed)) if len(gaps) >= 2 else None,
    }
    ci = out["within_problem_ci"]
    out["longer_is_wrong"] = None if ci is None else bool(ci[0] > 0)
    out["longer_is_right"] = None if ci is None else bool(ci[1] < 0)
    return out


def length_finding(records: Sequence[dict[str, Any]], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The length gap (wrong - right, in tokens) for all responses and for complete ones (see module doc)."""
    complete = [r for r in records if not r.get("truncated")]
    return {
        "all": _length_gap(records, n_boot, seed),
        "complete": _length_gap(complete, n_boot, seed),
        "truncation_rate": 1 - len(complete) / max(len(records), 1),
    }


def diversity_finding(
    base: Sequence[dict[str, Any]], rl: Sequence[dict[str, Any]], ks: Sequence[int], process: bool = False
) -> dict[str, Any]:
    """delta@k of the RL model against the base for every k, and the collapse flag (see module doc)."""
    deltas = delta_at_k(rl, base, ks, process=process, n_perm=2000)
    return {"delta@k": deltas, "collapse": collapse_flag(deltas)}
