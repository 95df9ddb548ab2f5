"""A tiny registered task for the training tests: add small numbers mod 10 (no dependency on arith)."""

from __future__ import annotations

import random
import re

from pydantic import Field

from reasonlab.config import StrictModel
from reasonlab.tasks import Problem, Task, Verification, register


class ToyParams(StrictModel):
    ops: int = Field(2, ge=1, le=9)
    context: str = "a"


@register
class ToyAdd(Task):
    name = "toyadd"
    description = "sum of `ops` digits mod 10 (test fixture)"
    Params = ToyParams

    def sample(self, params: ToyParams, rng: random.Random) -> Problem:
        xs = [rng.randrange(10) for _ in range(params.ops)]
        ans = str(sum(xs) % 10)
        prompt = f"<question> {params.context}: {' + '.join(map(str, xs))} </question>"
        solution = f" <solution> {ans} </solution> <answer> {ans} </answer>"
        return Problem("", self.name, prompt, ans, solution, {"ops": params.ops, "context": params.context})

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        return problem.prompt, problem.solution

    def verify(self, problem: Problem, completion: str) -> Verification:
        m = re.search(r"<answer> (\d+) </answer>", completion)
        pred = m.group(1) if m else None
        return Verification(
            correct=pred == problem.answer,
            format_ok=m is not None,
            pred=pred,
            answer_status="exact" if pred == problem.answer else "mismatch",
        )
