"""The verifier demo behind ``reasonlab demo``: what each reward scheme pays for each kind of mistake.

It generates arith problems per op, scores the gold completion and one controlled corruption of each
kind (:mod:`reasonlab.tasks.arith.corrupt`) under the strict, process and outcome rewards, and
returns the mean reward per (op, reward, kind): the exercise of every verifier flag.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reasonlab.rewards import compute_reward
from reasonlab.seeds import stable_seed
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.arith.corrupt import CORRUPTIONS, corrupt

__all__ = ["KINDS", "REWARDS", "DemoResult", "run_verifier_demo"]

KINDS = ("gold", *CORRUPTIONS)
REWARDS = ("strict", "process", "outcome")


@dataclass
class DemoResult:
    """Problems, completions, score rows, mean reward per ``(op or "all", "reward:kind")`` and timings."""

    ops: list[int]
    params: Any
    problems: list[Problem] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    means: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    generate_s: float = 0.0
    verify_s: float = 0.0

    @property
    def gold_perfect(self) -> bool:
        """Every gold completion earns full strict reward."""
        return all(s["strict"] == 1.0 for s in self.scores if s["kind"] == "gold")

    @property
    def wrong_paid(self) -> int:
        """Corrupted completions (extra steps excepted, which the metric tolerates) with full strict reward."""
        return sum(1 for s in self.scores if s["kind"] not in ("gold", "extra_step") and s["strict"] == 1.0)


def run_verifier_demo(
    knobs: dict[str, Any], n_per_op: int, seed: int, progress: Callable[[int], None] | None = None
) -> DemoResult:
    """Generate ``n_per_op`` problems per op of ``knobs["ops"]``, score gold and corrupted completions."""
    task = get_task("arith")
    base: Any = task.params(**knobs)
    out = DemoResult(ops=base.ops.values(), params=base)
    start = time.perf_counter()
    for op in out.ops:
        params = task.params(**{**knobs, "ops": op})
        out.problems.extend(task.generate(params, n_per_op, seed * 1000 + op, progress=progress))
    out.generate_s = time.perf_counter() - start
    start = time.perf_counter()
    for p in out.problems:
        for kind in KINDS:
            rng = random.Random(stable_seed("demo", seed, p.id, kind))
            text = p.solution if kind == "gold" else corrupt(p, kind, rng)
            v = task.verify(p, text)
            row = {"id": p.id, "kind": kind, "ops": p.meta["ops"], "correct": v.correct}
            row["process_ok"] = v.process.ok if v.process else None
            for reward in REWARDS:
                value = compute_reward(reward, v)
                row[reward] = value
                for key in (str(p.meta["ops"]), "all"):
                    out.means[(key, f"{reward}:{kind}")].append(value)
            out.completions.append({"id": p.id, "completion": text, "kind": kind})
            out.scores.append(row)
    out.verify_s = time.perf_counter() - start
    return out
