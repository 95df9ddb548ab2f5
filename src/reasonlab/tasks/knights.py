"""The ``knights`` task: Knights & Knaves puzzles with exactly one solution, and the Logic-RL verifier.

Semantics follow the public K&K generator (mem-kk-logic, arXiv 2410.23123) and Logic-RL (arXiv
2502.14768); the logic lives in :mod:`reasonlab.tasks.knights_logic`, the text in
:mod:`reasonlab.tasks.knights_render`, the memorisation perturbations in
:mod:`reasonlab.tasks.knights_perturb`.

Verification (:meth:`KnightsTask.verify`)
-----------------------------------------
Every rendered prompt, in both styles, ends with the pre-filled ``<think>``, so a completion is
checked as ``"<think>" + completion`` (for a prompt of another origin that does not end with
``<think>``, the completion is checked as it is). A completion that opens with its own ``<think>``
therefore has two and fails the format, exactly as in Logic-RL.

``format_ok`` is the published rule (each of ``<think>``, ``</think>``, ``<answer>``, ``</answer>``
exactly once, in that order) plus hygiene rules that close the reward hacks Logic-RL reports:
nothing but whitespace between ``</think>`` and ``<answer>`` or after ``</answer>`` (end-of-turn
markers allowed), and a think block that holds reasoning: after dropping sentences copied from the
prompt it must still mention one of the people (empty thinking, "thinking process here" filler and
a restated question fail).

The answer is the last ``<answer> ... </answer>`` block. It is parseable when it holds exactly
``n`` role words (either word of the pair, singular or plural, whole words, any case), one
``NAME is a ROLE`` per person (word boundaries, case-insensitive, ``a``/``an``), and nothing else
beyond numbering, punctuation and "and" (so reasoning inside the answer, several guesses or hedged
answers are unparseable). ``answer_status`` is ``exact``/``mismatch``/``unparseable``;
``units_correct/units_total`` count people with the right role (for the partial reward;
``units_correct`` is None when unparseable, ``units_total`` 0 when the record itself is broken) and
``extra["person_accuracy"]`` is their ratio (0 when unparseable). ``correct`` means the extracted
answer is exact, whatever the format; the ``logic_rl`` reward combines both.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.tasks import register
from reasonlab.tasks.base import Problem, Task, Verification
from reasonlab.tasks.knights_logic import (
    Formula,
    sample_puzzle,
    solution_of,
    to_json,
    to_tuple,
)
from reasonlab.tasks.knights_render import (
    ROLE_PAIRS,
    TEMPLATES,
    answer_text,
    name_pool,
    render_completion,
    render_prompt,
)

MIN_PEOPLE, MAX_PEOPLE = 2, 12
ROLE_CHOICES = ("random", *(f"{t}/{f}" for t, f in ROLE_PAIRS))


def parse_people(value: Any) -> tuple[int, int]:
    """``5`` -> (5, 5); ``"3-7"`` -> (3, 7); bounds 2..12. Raises ValueError with the allowed form."""
    if isinstance(value, bool):
        raise ValueError("people must be an int or a range like '3-7'")
    if isinstance(value, int):
        lo = hi = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        parts = [int(p) for p in value.split("-")]
        lo, hi = parts[0], parts[-1]
    else:
        raise ValueError(f"people must be an int or a range like '3-7', got {value!r}")
    if not (MIN_PEOPLE <= lo <= hi <= MAX_PEOPLE):
        raise ValueError(f"people must lie in {MIN_PEOPLE}..{MAX_PEOPLE} with low <= high, got {value!r}")
    return lo, hi


class KnightsParams(StrictModel):
    """Knobs of the ``knights`` task (defaults follow the K&K generator and Logic-RL's training mix)."""

    people: str = Field("3-7", description="people per puzzle: N or a range LO-HI (2..12), drawn uniformly")
    depth: int = Field(
        2, ge=2, le=6, description="max statement tree depth (K&K default 2; single claims are never unique)"
    )
    width: int = Field(2, ge=2, le=6, description="max operands of and/or (K&K default 2)")
    roles: str = Field(
        "knight/knave", description=f"role-word pair TRUTH/LIE or 'random'; one of {', '.join(ROLE_CHOICES)}"
    )
    names: Literal["common", "uncommon", "mixed"] = Field(
        "common", description="name pool: common, uncommon, mixed"
    )
    phrasing: Literal["varied", "fixed"] = Field(
        "varied", description=f"statement templates: varied ({len(TEMPLATES)} templates) or fixed (one)"
    )
    style: Literal["plain", "chat"] = Field(
        "plain",
        description="prompt format: plain (tag tokens, from-scratch models) or chat (Logic-RL ChatML)",
    )

    @field_validator("people", mode="before")
    @classmethod
    def _people(cls, value: Any) -> str:
        lo, hi = parse_people(value)
        return str(lo) if lo == hi else f"{lo}-{hi}"

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ROLE_CHOICES:
            raise ValueError(f"unknown role pair {value!r}; allowed: {', '.join(ROLE_CHOICES)}")
        return value

    @property
    def people_range(self) -> tuple[int, int]:
        return parse_people(self.people)


# ----------------------------------------------------------------------------- verification helpers

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<eos>", "</s>")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def check_tags(text: str) -> str | None:
    """Logic-RL's published format rule; None if each tag appears exactly once and in order, else why not."""
    positions = []
    for tag in TAGS:
        count = text.count(tag)
        if count != 1:
            return f"format: {tag} appears {count} times (must be exactly once)"
        positions.append(text.find(tag))
    if positions != sorted(positions):
        return "format: tags out of order (need <think> ... </think> <answer> ... </answer>)"
    return None


def check_format(text: str, prompt: str, names: list[str]) -> str | None:
    """Published tag rule plus the hygiene rules in the module docstring; None when the format is ok."""
    reason = check_tags(text)
    if reason:
        return reason
    think_open, think_close = text.find("<think>"), text.find("</think>")
    answer_open, answer_close = text.find("<answer>"), text.find("</answer>")
    if text[:think_open].strip():
        return "format: text before <think>"
    if text[think_close + len("</think>") : answer_open].strip():
        return "format: text between </think> and <answer>"
    tail = text[answer_close + len("</answer>") :]
    for marker in END_MARKERS:
        tail = tail.replace(marker, "")
    if tail.strip():
        return "format: text after </answer>"
    think = text[think_open + len("<think>") : think_close]
    if not think.strip():
        return "format: empty <think> block"
    prompt_norm = _normalise(prompt)
    lowered = {name.lower() for name in names}
    for seg in _SENTENCE_END.split(think):
        norm = _normalise(seg)
        if norm and norm not in prompt_norm and not lowered.isdisjoint(norm.split()):
            break
    else:
        return "format: <think> holds no reasoning about the people (empty, filler or a copy of the question)"
    return None


def last_answer_block(text: str) -> str | None:
    """Content of the last complete ``<answer> ... </answer>`` block, or None."""
    close = text.rfind("</answer>")
    if close < 0:
        return None
    open_ = text.rfind("<answer>", 0, close)
    if open_ < 0:
        return None
    return text[open_ + len("<answer>") : close]


@lru_cache(maxsize=64)
def _role_patterns(roles: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Compiled (role word, ``WORD is a ROLE``) patterns for one role pair; names are looked up after matching."""
    truth, liar = (re.escape(r) for r in roles)
    role_word = re.compile(rf"\b(?:{truth}|{liar})(?:s|es)?\b", re.IGNORECASE)
    statement = re.compile(rf"\b(\w+)\s+is\s+an?\s+({truth}|{liar})\b", re.IGNORECASE)
    return role_word, statement


_SEPARATORS = re.compile(r"\(\s*\d+\s*\)|\b\d+\s*[.):]|\band\b|[\s.,;:*\-]", re.IGNORECASE)


def parse_answer(block: str, names: list[str], roles: list[str]) -> tuple[list[bool] | None, str | None]:
    """Roles stated in an answer block (True = truth-teller), or ``(None, reason)`` if unparseable."""
    role_word, statement = _role_patterns(tuple(roles))
    count = len(role_word.findall(block))
    if count != len(names):
        return None, f"answer names {count} roles for {len(names)} people"
    index = {name.lower(): i for i, name in enumerate(names)}
    found: list[bool | None] = [None] * len(names)
    pieces, last = [], 0
    for match in statement.finditer(block):
        i = index.get(match.group(1).lower())
        if i is not None and found[i] is None:
            found[i] = match.group(2).lower() == roles[0].lower()
            pieces.append(block[last : match.start()])
            last = match.end()
    missing = [names[i] for i, v in enumerate(found) if v is None]
    if missing:
        return None, f"answer has no '{missing[0]} is a ROLE'"
    pieces.append(block[last:])
    if _SEPARATORS.sub("", " ".join(pieces)):
        return None, "answer block holds text besides one role statement per person"
    return [bool(v) for v in found], None


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
        lo, hi = p.people_range
        n = rng.randint(lo, hi)
        draw = sample_puzzle(rng, n, p.depth, p.width)
        if draw is None or draw[1].bit_count() != 1:
            return None
        statements, solution = draw[0], solution_of(draw[1], n)
        if self._seen_statements is not None:
            if statements in self._seen_statements:
                return None
            self._seen_statements.add(statements)
        pool = name_pool("common") + name_pool("uncommon") if p.names == "mixed" else name_pool(p.names)
        names = rng.sample(pool, n)
        roles = (
            list(ROLE_PAIRS[rng.randrange(len(ROLE_PAIRS))]) if p.roles == "random" else p.roles.split("/")
        )
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
        return build_problem(self, meta, "", p.style)

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """``(prompt, gold completion)``; both styles end the prompt with the pre-filled ``<think>``."""
        if style not in self.styles:
            raise ReasonlabError(
                f"unknown style {style!r} for task 'knights'; allowed: {', '.join(self.styles)}"
            )
        meta = problem.meta
        statements = _statements(meta)
        prompt = render_prompt(meta, statements, style)
        completion = render_completion(statements, meta["names"], meta["roles"], meta["solution"])
        return prompt, completion

    def verify(self, problem: Problem, completion: str) -> Verification:
        """Format, answer extraction and per-person accuracy (module docstring); never raises."""
        try:
            return self._verify(problem, completion)
        except Exception as exc:  # malformed meta or input must never crash a scorer
            return Verification(
                False,
                False,
                None,
                "unparseable",
                error=f"verifier error: {type(exc).__name__}",
                units_total=0,
                extra={"person_accuracy": 0.0},
            )

    def _verify(self, problem: Problem, completion: str) -> Verification:
        if not isinstance(completion, str):
            return Verification(
                False,
                False,
                None,
                "unparseable",
                error="completion is not text",
                units_total=0,
                extra={"person_accuracy": 0.0},
            )
        meta = problem.meta
        names = [str(x) for x in meta["names"]]
        roles = [str(x) for x in meta["roles"]]
        solution = [bool(x) for x in meta["solution"]]
        prefilled = problem.prompt.rstrip().endswith("<think>")
        text = "<think>" + completion if prefilled else completion
        format_error = check_format(text, problem.prompt, names)
        block = last_answer_block(text)
        if block is None:
            return Verification(
                False,
                format_error is None,
                None,
                "unparseable",
                error=format_error or "no <answer> block",
                units_total=len(solution),
                extra={"person_accuracy": 0.0},
            )
        found, parse_error = parse_answer(block, names, roles)
        if found is None:
            return Verification(
                False,
                format_error is None,
                None,
                "unparseable",
                error=format_error or parse_error,
                units_total=len(solution),
                extra={"person_accuracy": 0.0},
            )
        right = sum(a == b for a, b in zip(found, solution, strict=True))
        exact = right == len(solution)
        return Verification(
            correct=exact,
            format_ok=format_error is None,
            pred=answer_text(names, roles, found),
            answer_status="exact" if exact else "mismatch",
            error=format_error,
            units_correct=right,
            units_total=len(solution),
            extra={"person_accuracy": right / len(solution)},
        )


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
