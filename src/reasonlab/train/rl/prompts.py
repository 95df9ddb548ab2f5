"""RL prompts: which problems a step trains on, from a problems file (``task.prompts``) or drawn from the
task (its knobs, or a mixture of parts with knobs of their own: :func:`draw_mixture`).

A problems file is read by a pure function of ``(step, round, i)``, so that a resumed run draws the same problems:

- the file's problems (minus any held out) form a pool of ``N``; a run reads an endless stream of
  positions ``k = 0, 1, 2, ...``, position ``k`` being problem ``order_e[k mod N]`` of epoch
  ``e = k // N``, where ``order_e`` is the file order (``in_order``) or a permutation seeded by
  ``stable_seed("rl-prompts", seed, e)`` (``shuffle``);
- step ``s`` takes ``P = batch_size / group_size`` prompts; rollout round ``r`` (``r > 0`` only with
  DAPO dynamic sampling, whose refills may use up to ``R = max_refill_rounds`` extra rounds) reads the
  positions ``k = (s (R + 1) + r) P + i`` for its ``i``-th prompt. Without dynamic sampling a step reads
  positions ``sP .. sP + P - 1``: the file in order, ``P`` prompts a step. With it, each step reserves
  ``(R + 1) P`` positions and the refill rounds it does not need are skipped.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.io import read_records
from reasonlab.seeds import prompt_hash, stable_seed
from reasonlab.tasks import Problem, Task

__all__ = ["PromptPool", "draw_mixture", "draw_problems", "load_prompt_pool", "mixture_counts"]


class PromptPool:
    """The problems of a prompts file and the position -> problem rule above."""

    def __init__(self, problems: list[Problem], order: str, seed: int) -> None:
        if not problems:
            raise ReasonlabError("task.prompts: no problems to train on")
        self.problems = problems
        self.order = order
        self.seed = seed
        self._perms: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.problems)

    def index(self, position: int) -> int:
        """Index in the file (after held-out problems are removed) of stream position ``position``."""
        epoch, j = divmod(position, len(self.problems))
        if self.order == "in_order":
            return j
        perm = self._perms.get(epoch)
        if perm is None:
            perm = list(range(len(self.problems)))
            random.Random(stable_seed("rl-prompts", self.seed, epoch)).shuffle(perm)
            self._perms = {epoch: perm}  # one epoch cached: steps move forward
        return perm[j]

    def take(self, step: int, round_: int, n: int, per_step: int, rounds: int) -> list[Problem]:
        """The ``n`` problems of round ``round_`` of step ``step`` (``per_step`` prompts, ``rounds`` rounds a step)."""
        start = (step * rounds + round_) * per_step
        return [self.problems[self.index(k)] for k in range(start, start + n)]


def load_prompt_pool(path: str, task: str, held_out: Iterable[int], order: str, seed: int) -> PromptPool:
    """The pool of a prompts file: every record must be a problem of ``task``; held-out prompts are dropped."""
    held = set(held_out)
    problems = []
    for i, row in enumerate(read_records(path)):
        problem = Problem.from_dict(row, source=f"{path} row {i + 1}")
        if problem.task != task:
            raise ReasonlabError(f"{path} row {i + 1}: a {problem.task!r} problem, but task.name is {task!r}")
        if prompt_hash(problem.prompt) not in held:
            problems.append(problem)
    if not problems:
        raise ReasonlabError(f"task.prompts {path}: every problem is held out (or the file is empty)")
    return PromptPool(problems, order, seed)


def draw_problems(task: Task, params: Any, n: int, seed: int, held_out: set[int]) -> list[Problem]:
    """``n`` problems of ``task`` from ``seed``, skipping any whose prompt is held out (generation is
    prefix-stable, so drawing more keeps the first ones)."""
    if not held_out:
        return list(task.generate(params, n, seed))
    n_draw = n
    too_small = "rl: the task band is too small to train on without its held-out (evaluation) problems"
    while True:
        try:
            drawn = list(task.generate(params, n_draw, seed))
        except ReasonlabError as exc:
            raise ReasonlabError(f"{too_small} ({exc})") from None
        keep = [p for p in drawn if prompt_hash(p.prompt) not in held_out]
        if len(keep) >= n:
            return keep[:n]
        if n_draw > 20 * n:
            raise ReasonlabError(f"{too_small}: {n_draw - len(keep)} of {n_draw} drawn problems are held out")
        n_draw += 2 * (n - len(keep)) + 1


def mixture_counts(weights: list[float], n: int, rng: random.Random) -> list[int]:
    """Split ``n`` prompts among parts of shares ``q_c = n w_c / sum(w)`` by unbiased (systematic) rounding.

    Part ``c`` gets ``floor(q_c)`` plus one more with probability ``f_c = q_c - floor(q_c)``: the fractions
    ``f_c`` sum to a whole number ``r``, and one uniform ``u`` in [0, 1) gives the extra ones to the parts whose
    cumulative interval ``[F_{c-1}, F_c)`` holds a point ``u + j``: ``ceil(F_c - u) - ceil(F_{c-1} - u)`` of
    them (0 or 1, as ``f_c < 1``; the sum telescopes to ``r``). So ``E[count_c] = q_c`` exactly, the counts
    always sum to ``n``, and when every ``q_c`` is whole (a 50/50 mix of 8 prompts) no draw is made.
    Example: weights (1, 1), n = 8 -> [4, 4]; weights (0.3, 0.7), n = 8 -> [2, 6] or [3, 5], 40% / 60%.
    """
    total = float(sum(weights))
    quotas = [n * w / total for w in weights]
    counts = [math.floor(q) for q in quotas]
    left = n - sum(counts)
    if left:
        bounds = list(itertools.accumulate(q - c for q, c in zip(quotas, counts, strict=True)))
        bounds[-1] = float(left)  # the fractions sum to the whole number `left`: pin it against rounding
        u, lo = rng.random(), 0.0
        for c, hi in enumerate(bounds):
            counts[c] += math.ceil(hi - u) - math.ceil(lo - u)
            lo = hi
    return counts


def draw_mixture(task: Task, parts: list[tuple[float, Any]], n: int, seed: int, held_out: set[int]) -> list[Problem]:
    """``n`` problems from ``parts`` (``[(weight, Params)]``): :func:`mixture_counts` of them from each part, part
    ``c`` drawn with :func:`draw_problems` under ``stable_seed("rl-mixture", seed, c)``. One part is drawn under
    ``seed`` itself (a run without a mixture draws what it always drew)."""
    if len(parts) == 1:
        return draw_problems(task, parts[0][1], n, seed, held_out)
    counts = mixture_counts([w for w, _ in parts], n, random.Random(stable_seed("rl-mixture-counts", seed)))
    problems: list[Problem] = []
    for c, ((_, params), k) in enumerate(zip(parts, counts, strict=True)):
        if k:
            problems += draw_problems(task, params, k, stable_seed("rl-mixture", seed, c) % (2**31), held_out)
    return problems
