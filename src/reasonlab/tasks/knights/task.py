"""The ``knights`` task: knobs (:class:`KnightsParams`) and the puzzle generator (:class:`KnightsTask`).

The verifier is :mod:`reasonlab.tasks.knights.verify`; the package docstring states its rules.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.seeds import stable_seed
from reasonlab.tasks.base import ChatPrompt, Problem, Task, Verification
from reasonlab.tasks.knights.logic import (
    Formula,
    sample_puzzle,
    solution_of,
    to_json,
    to_tuple,
)
from reasonlab.tasks.knights.render import (
    FIXED_NAMES,
    ROLE_PAIRS,
    TEMPLATES,
    answer_text,
    chat_conversation,
    name_pool,
    render_completion,
    render_prompt,
)
from reasonlab.tasks.knights.verify import failed, failure_kind, verify_completion
from reasonlab.tasks.knobs import IntRange, RangeKnob
from reasonlab.tasks.registry import register

MIN_PEOPLE, MAX_PEOPLE = 2, 12
ROLE_CHOICES = ("random", *(f"{t}/{f}" for t, f in ROLE_PAIRS))


PEOPLE_KNOB = RangeKnob("people", MIN_PEOPLE, MAX_PEOPLE)


def parse_people(value: Any) -> IntRange:
    """``5`` -> 5..5; ``"3-7"`` -> 3..7; bounds 2..12. Raises ValueError with the allowed form."""
    return PEOPLE_KNOB.parse(value)


class KnightsParams(StrictModel):
    """Knobs of the ``knights`` task (defaults follow the K&K generator and Logic-RL's training mix)."""

    people: Annotated[IntRange, PEOPLE_KNOB] = Field(
        "3-7", description="people per puzzle: N or a range LO-HI (2..12), drawn uniformly", validate_default=True
    )
    depth: int = Field(
        2, ge=2, le=6, description="max statement tree depth (K&K default 2; single claims are never unique)"
    )
    width: int = Field(2, ge=2, le=6, description="max operands of and/or (K&K default 2)")
    roles: str = Field(
        "knight/knave", description=f"role-word pair TRUTH/LIE or 'random'; one of {', '.join(ROLE_CHOICES)}"
    )
    names: Literal["common", "uncommon", "mixed", "fixed", "few", "cycle"] = Field(
        "common",
        description="name pool: common, uncommon, mixed, fixed (Alice, Bob, Carol, ... in that order: no name "
        "to copy from the prompt, for small from-scratch models) or few (n of those twelve names in a random "
        "order: few names to learn, yet every name at every position, so a model trained on 2-4 people has "
        "written every name a larger puzzle uses) or cycle (n consecutive names of those twelve, read as a "
        "circle, from a seeded start: only person 1's name is copied from the prompt, every later name is its "
        "predecessor's successor, and every name appears at every position)",
    )
    phrasing: Literal["varied", "fixed"] = Field(
        "varied", description=f"statement templates: varied ({len(TEMPLATES)} templates) or fixed (one)"
    )
    cot: Literal["full", "compact", "lookup", "short", "roles", "bound"] = Field(
        "full",
        description="gold chain of thought: full (the published backtracking narration), compact (a truth "
        "table with early exit, every value written down: for small from-scratch models), lookup (compact "
        "with the try restated at the start of each check line, each claim in the prompt's words and the "
        "speaker named: a bare NAME ROLE pair only ever states the current try, so a person's role is read "
        "from the same line), short (compact without the quoted statement: the speaker's name, then the "
        "leaves read from the prompt; fewer tokens to copy), roles (short with each leaf's person's role under "
        "the try written before the leaf's truth, `Bob knave vs knight F`: the lookup in the try line and the "
        "comparison with the claim become two tokens) or bound (short with each leaf as `Bob knight is a knave F`, "
        "the role under the try before the claim: every NAME ROLE pair of the chain states the current try, so "
        "the latest pair of a name is the lookup's answer)",
    )
    style: Literal["plain", "chat"] = Field(
        "plain",
        description="prompt format: plain (tag tokens, from-scratch models) or chat (Logic-RL ChatML)",
    )

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ROLE_CHOICES:
            raise ValueError(f"unknown role pair {value!r}; allowed: {', '.join(ROLE_CHOICES)}")
        return value


def _statements(meta: dict[str, Any]) -> tuple[Formula, ...]:
    return tuple(to_tuple(s) for s in meta["statements"])


# ----------------------------------------------------------------------------- task


@register
class KnightsTask(Task):
    """Knights & Knaves: who tells the truth? Exactly one consistent assignment per puzzle."""

    name: ClassVar[str] = "knights"
    description: ClassVar[str] = "Knights & Knaves logic puzzles (K&K / Logic-RL), unique solution"
    Params: ClassVar[type[StrictModel]] = KnightsParams

    def __init__(self) -> None:
        self._seen_statements: set[tuple[Formula, ...]] | None = None

    def generate(
        self, params: Any, n: int, seed: int, *, dedup: bool = True, progress: Any = None
    ) -> Iterator[Problem]:
        """As :meth:`Task.generate`, also de-duplicating statement tuples within the run."""
        self._seen_statements = set() if dedup else None
        try:
            yield from super().generate(params, n, seed, dedup=dedup, progress=progress)
        finally:
            self._seen_statements = None

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        """One draw: statements with the reference sampler; None unless exactly one assignment is consistent."""
        p: KnightsParams = params
        n = p.people.draw(rng)
        draw = sample_puzzle(rng, n, p.depth, p.width)
        if draw is None or draw[1].bit_count() != 1:
            return None
        statements, solution = draw[0], solution_of(draw[1], n)
        if self._seen_statements is not None:
            if statements in self._seen_statements:
                return None
            self._seen_statements.add(statements)
        if p.names == "mixed":
            pool = name_pool("common") + name_pool("uncommon")
        else:  # `fixed`, `few` and `cycle` draw from the common pool, then rename
            pool = name_pool("common" if p.names in ("fixed", "few", "cycle") else p.names)
        names = rng.sample(pool, n)  # drawn for every pool, so the renamed pools keep the other draws paired
        if p.names == "fixed":
            names = list(FIXED_NAMES[:n])
        elif p.names == "few":  # seeded by the common draw: no extra draw from rng
            names = random.Random(stable_seed("knights-few-names", *names)).sample(FIXED_NAMES, n)
        elif p.names == "cycle":  # the start is seeded by the common draw, as for `few`
            start = stable_seed("knights-cycle-names", *names) % len(FIXED_NAMES)
            names = [FIXED_NAMES[(start + k) % len(FIXED_NAMES)] for k in range(n)]
        roles = list(ROLE_PAIRS[rng.randrange(len(ROLE_PAIRS))]) if p.roles == "random" else p.roles.split("/")
        templates = [rng.randrange(len(TEMPLATES)) if p.phrasing == "varied" else 0 for _ in range(n)]
        meta = {
            "people": n,
            "names": names,
            "roles": roles,
            "statements": [to_json(s) for s in statements],
            "solution": solution,
            "depth": p.depth,
            "width": p.width,
            "name_pool": p.names,
            "templates": templates,
            "order": list(range(n)),
            "style": p.style,
        }
        if p.cot != "full":  # absent for the default, so default records stay byte-identical
            meta["cot"] = p.cot
        return build_problem(self, meta, "", p.style)

    def answer_space(self, problem: Problem) -> int | None:
        """``2^n`` role assignments of ``n`` people."""
        return 2 ** int(problem.meta["people"])

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """``(prompt, gold completion)``; both styles end the prompt with the pre-filled ``<think>``."""
        if style not in self.styles:
            raise ReasonlabError(f"unknown style {style!r} for task 'knights'; allowed: {', '.join(self.styles)}")
        meta = problem.meta
        statements = _statements(meta)
        prompt = render_prompt(meta, statements, style)
        completion = render_completion(
            statements, meta["names"], meta["roles"], meta["solution"], meta.get("cot", "full")
        )
        return prompt, completion

    def chat_prompt(self, problem: Problem) -> ChatPrompt:
        """The chat prompt as a conversation: system instructions, the puzzle, ``<think>`` pre-filled."""
        return chat_conversation(problem.meta, _statements(problem.meta))

    def failure_kind(self, v: Verification) -> str | None:
        """The Logic-RL reward hacks by name (tags, text around the answer, filler thinking, ...), from the
        strict rule's reason, so a run shows hacking under the published reward too."""
        return failure_kind(v.strict.error if v.strict is not None and v.strict.error else v.error)

    def verify(self, problem: Problem, completion: str) -> Verification:
        """Format, answer extraction and per-person accuracy (module docstring); never raises."""
        try:
            return verify_completion(problem, completion)
        except Exception as exc:  # malformed meta or input must never crash a scorer
            return failed(f"verifier error: {type(exc).__name__}")


def build_problem(task: Task, meta: dict[str, Any], problem_id: str, style: str) -> Problem:
    """A Problem from ``meta``: prompt and gold completion rendered in ``style``, canonical answer."""
    problem = Problem(
        id=problem_id,
        task="knights",
        prompt="",
        answer=answer_text(meta["names"], meta["roles"], meta["solution"]),
        solution="",
        meta=meta,
    )
    problem.prompt, problem.solution = task.render(problem, style)
    return problem
