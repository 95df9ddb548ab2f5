"""Arithmetic facts: single-operation modular drills, the atomic skill ``arith`` solutions compose.

An ``arith`` solution step such as ``h = A + X = 8 + 12 = 20`` needs two skills: carrying values to
the right places, and knowing the fact ``8 + 12 = 20`` (mod 23). In a word-problem corpus the facts are
sparse (about one per 60 tokens), so a small model spends most of its budget before it knows them.
This task states them densely, in exactly the solution's notation, in one of two layouts:

``compute`` (the default) gives the expressions and asks for their values::

    <question> Compute modulo 23: 8 + 12 ; 3 * 5 </question> <solution>
     8 + 12 = 20 ; 3 * 5 = 15 </solution> <answer> 20, 15 </answer>

``recite`` asks for any ``facts`` distinct true facts; the gold completion is a random set of them. As
pre-training text it is the densest form of the table (no copying needed, one fact per 6 tokens)::

    <question> State 2 facts modulo 23 with + * </question> <solution>
     8 + 12 = 20 ; 3 * 5 = 15 </solution> <answer> 2 </answer>

It serves as a pre-training mixture component (a drill next to word problems; the stage-1 drill is
``configs/pretrain_facts_drill.yaml``, its runs in docs/results.md) and as a diagnostic: evaluated in
the compute layout with ``operators`` as the bucket knob it gives the model's fact accuracy per
operator.

Verification, compute: the answer is the comma-separated list of results, in order, in the last complete
``<answer> ... </answer>`` tag (whatever that tag holds or how long it is: an earlier tag never decides);
it is correct only when every value is right and none is missing or extra. ``units_correct`` counts the
right positions when the list has the right length (partial-credit reward; None otherwise). The process
check matches each gold expression with the first unused stated equation ``a op b = c`` over the same
operands and operator: none is ``missing``, a wrong ``c`` is a ``value_mismatch``, equations over other
expressions are ``extra``.

Verification, recite: the answer is the number of stated equations; it is correct when exactly
``facts`` distinct equations are stated, every one true, with operands in 0..modulus-1 and allowed operators.
The process check counts true ones as ``matched_ok``, false or repeated ones (or ones with another
operator) as ``value_mismatch``, and the shortfall or excess against ``facts`` as ``missing``/``extra``.

In both layouts a rejected answer has its reason in ``error``.
"""

from __future__ import annotations

import random
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.tasks.arith.graph import ALL_OPERATORS, MOD, check_operators
from reasonlab.tasks.arith.render import PROMPT_HEAD, PROMPT_TAIL
from reasonlab.tasks.arith.task import check_modulus
from reasonlab.tasks.base import Problem, ProcessCheck, Task, Verification, last_tag
from reasonlab.tasks.registry import register

__all__ = ["ArithFactsParams", "ArithFactsTask", "apply_operator", "parse_equations"]

MAX_FACTS = 64


def apply_operator(a: int, op: str, b: int, modulus: int = MOD) -> int:
    """``(a op b) mod modulus`` for ``op`` in ``+ - *``; mod 23: ``8 - 12 -> 19``, ``17 * 3 -> 5``."""
    if op == "+":
        return (a + b) % modulus
    if op == "-":
        return (a - b) % modulus
    if op == "*":
        return (a * b) % modulus
    raise ReasonlabError(f"unknown operator {op!r} (allowed: {', '.join(ALL_OPERATORS)})")


class ArithFactsParams(StrictModel):
    """Knobs of a drill problem: which operators, and how many facts per problem."""

    operators: str = Field(ALL_OPERATORS, description="Operators drawn uniformly: a non-empty subset of '+-*'.")
    facts: int = Field(8, ge=1, le=MAX_FACTS, description="Expressions per problem.")
    layout: Literal["compute", "recite"] = Field(
        "compute", description="compute: give expressions, ask values; recite: ask for any true facts."
    )
    modulus: int = Field(MOD, description="The prime modulus; match the arith task's `modulus` knob.")

    @field_validator("modulus")
    @classmethod
    def _check_modulus(cls, v: int) -> int:
        return check_modulus(v)

    @field_validator("operators", mode="before")
    @classmethod
    def _check_operators(cls, v: Any) -> str:
        return check_operators(str(v), need_plus=False)


#: ``a op b = c`` with whole numbers of up to six ASCII digits (no digit just before ``a`` or after ``c``,
#: so a match never starts inside a digit run: one attempt per run keeps the scan linear).
_EQ_RE = re.compile(r"(?<![0-9])(-?[0-9]{1,6}) ?([+*-]) ?(-?[0-9]{1,6}) ?= ?(-?[0-9]{1,6})(?![0-9])")
#: One to six ASCII digits per value, commas between, whitespace anywhere around them; possessive
#: quantifiers: a failed match never re-splits digits or whitespace.
_LIST_RE = re.compile(r"\s*+-?[0-9]{1,6}+(?:\s*+,\s*+-?[0-9]{1,6}+)*+\s*+")
#: Longest answer tag read (64 six-digit values with generous spacing fit many times over); a longer
#: last tag is unparseable, never skipped for an earlier one.
MAX_ANSWER_CHARS = 4096


def parse_equations(completion: str) -> list[tuple[int, str, int, int]]:
    """Every stated ``a op b = c`` in order, e.g. ``"8 + 12 = 20 ; 3 * 5 = 1"`` -> ``[(8,'+',12,20), (3,'*',5,1)]``."""
    return [(int(a), op, int(b), int(c)) for a, op, b, c in _EQ_RE.findall(completion)]


def _answer_list(completion: str) -> tuple[list[int] | None, str | None]:
    """Values in the last complete ``<answer>`` tag (whatever it holds or how long it is), or ``(None, error)``."""
    tag = last_tag(completion)
    if tag is None:
        return None, "no answer found"
    if len(tag) > MAX_ANSWER_CHARS:
        return None, f"answer tag longer than {MAX_ANSWER_CHARS} characters"
    if not _LIST_RE.fullmatch(tag):
        return None, "answer tag does not hold a comma-separated list of integers"
    return [int(x) for x in tag.split(",")], None


def _list_error(values: list[int], gold: list[int]) -> str:
    """Why a parsed answer list is wrong, in a short phrase."""
    if len(values) != len(gold):
        return f"answer has {len(values)} values for {len(gold)} expressions"
    wrong = sum(v != g for v, g in zip(values, gold, strict=True))
    return f"answer wrong at {wrong} of {len(gold)} positions"


def _process(items: list[list[Any]], stated: list[tuple[int, str, int, int]], correct: bool) -> ProcessCheck:
    """Each gold item takes the first unused stated equation over its expression (one pass over ``stated``)."""
    check = ProcessCheck(n_gold=len(items), n_steps=len(stated), answer_mismatch=not correct)
    results: dict[tuple[int, str, int], list[int]] = {}
    for a, op, b, c in stated:
        results.setdefault((a, op, b), []).append(c)
    taken: dict[tuple[int, str, int], int] = {}
    used = 0
    for a, op, b, c in items:
        key = (a, op, b)
        k, found = taken.get(key, 0), results.get(key, [])
        if k >= len(found):
            check.missing += 1
            continue
        taken[key] = k + 1
        used += 1
        if found[k] == c:
            check.matched_ok += 1
        else:
            check.value_mismatch += 1
    check.extra = len(stated) - used
    return check


@register
class ArithFactsTask(Task):
    """Single-operation modular facts in the ``arith`` solution notation."""

    name = "arith_facts"
    description = "single-operation modular facts (a op b = c) in arith's notation: drill component and diagnostic"
    Params = ArithFactsParams
    styles = ("plain",)

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        """One drill problem drawn with ``rng`` (see :meth:`Task.sample`)."""
        p: ArithFactsParams = params
        items = []
        for _ in range(p.facts):
            a, op, b = rng.randrange(p.modulus), rng.choice(p.operators), rng.randrange(p.modulus)
            items.append([a, op, b, apply_operator(a, op, b, p.modulus)])
        body = " ; ".join(f"{a} {op} {b} = {c}" for a, op, b, c in items)
        if p.layout == "recite":
            if len({(a, op, b) for a, op, b, _ in items}) < len(items):
                return None  # the gold completion must itself be a correct answer (distinct facts)
            question = f"State {p.facts} facts modulo {p.modulus} with {' '.join(p.operators)}"
            answer = str(p.facts)
        else:
            question = f"Compute modulo {p.modulus}: " + " ; ".join(f"{a} {op} {b}" for a, op, b, _ in items)
            answer = ", ".join(str(c) for *_, c in items)
        return Problem(
            id="",
            task=self.name,
            prompt=f"{PROMPT_HEAD}{question}{PROMPT_TAIL}",
            answer=answer,
            solution=f" {body} </solution> <answer> {answer} </answer>",
            meta={"operators": p.operators, "facts": p.facts, "layout": p.layout, "modulus": p.modulus, "items": items},
        )

    def dedup_key(self, problem: Problem) -> str:
        """Recite problems share one prompt per knob setting; they differ in their gold facts."""
        if problem.meta.get("layout") == "recite":
            return problem.prompt + problem.solution
        return problem.prompt

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """Prompt ``<question> Compute modulo 23: EXPRS </question> <solution>``; completion
        `` EQUATIONS </solution> <answer> LIST </answer>``."""
        if style != "plain":
            raise ReasonlabError(f"arith_facts: unknown prompt style {style!r}; choose from {', '.join(self.styles)}")
        return problem.prompt, problem.solution

    def verify(self, problem: Problem, completion: str) -> Verification:
        """Answer, format and per-fact process check of ``completion`` (never raises)."""
        if not isinstance(completion, str):
            completion = "" if completion is None else str(completion)
        try:
            items = problem.meta["items"]
            stated = parse_equations(completion)
            if problem.meta.get("layout", "compute") == "recite":
                return _verify_recite(
                    int(problem.meta["facts"]),
                    str(problem.meta["operators"]),
                    stated,
                    int(problem.meta.get("modulus", MOD)),
                )
            gold = [int(c) for *_, c in items]
            values, error = _answer_list(completion)
            process = _process(items, stated, values == gold)
        except (KeyError, TypeError, ValueError) as exc:
            return Verification.verifier_error(exc)
        correct = values == gold
        if values is not None and not correct:
            error = _list_error(values, gold)
        same_count = values is not None and len(values) == len(gold)
        units = sum(v == g for v, g in zip(values, gold, strict=True)) if values is not None and same_count else None
        status = "exact" if correct else ("unparseable" if values is None else "mismatch")
        return Verification(
            correct=correct,
            format_ok=values is not None and bool(stated),
            pred=None if values is None else ", ".join(map(str, values)),
            answer_status=status,  # type: ignore[arg-type]
            error=error,
            process=process,
            units_correct=units,
            units_total=len(gold),
            extra={"n_steps": len(stated)},
        )


def _verify_recite(facts: int, operators: str, stated: list[tuple[int, str, int, int]], modulus: int) -> Verification:
    """Recite layout: exactly ``facts`` distinct true equations over 0..modulus-1 with allowed operators."""
    seen: set[tuple[int, str, int]] = set()
    good = 0
    for a, op, b, c in stated:
        ok = op in operators and 0 <= a < modulus and 0 <= b < modulus and (a, op, b) not in seen
        seen.add((a, op, b))
        good += ok and apply_operator(a, op, b, modulus) == c
    correct = good == facts == len(stated)
    if not stated:
        error: str | None = "no equation found"
    elif len(stated) != facts:
        error = f"states {len(stated)} facts, asked for {facts}"
    elif not correct:
        error = f"{facts - good} of {facts} stated facts false, repeated or not allowed"
    else:
        error = None
    check = ProcessCheck(
        n_gold=facts,
        n_steps=len(stated),
        answer_mismatch=not correct,
        matched_ok=min(good, facts),
        value_mismatch=len(stated) - good,
        missing=max(0, facts - len(stated)),
        extra=max(0, len(stated) - facts),
    )
    return Verification(
        correct=correct,
        format_ok=bool(stated),
        pred=str(len(stated)) if stated else None,
        answer_status="exact" if correct else ("mismatch" if stated else "unparseable"),
        error=error,
        process=check,
        units_correct=min(good, facts) if len(stated) == facts else None,
        units_total=facts,
        extra={"n_steps": len(stated)},
    )
