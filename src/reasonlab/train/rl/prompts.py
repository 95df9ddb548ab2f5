"""RL prompts from a problems file (``task.prompts``): which problems a step trains on.

The rule, a pure function of ``(step, round, i)`` so that a resumed run draws the same problems:

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

import random
from collections.abc import Iterable
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.io import read_records
from reasonlab.seeds import prompt_hash, stable_seed
from reasonlab.tasks import Problem, Task

__all__ = ["PromptPool", "draw_problems", "load_prompt_pool"]


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
