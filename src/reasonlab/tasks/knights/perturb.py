"""Perturbations of Knights & Knaves problems for memorisation tests (mem-kk-logic, arXiv 2410.23123).

Math-level perturbations change the logic and must change the solution while keeping it unique:

- ``statement``: resample one person's whole statement;
- ``leaf``: resample one leaf of one statement.

Language-level perturbations keep the logic (statements and solution) unchanged:

- ``uncommon_name``: replace every name with a distinct name from the uncommon pool;
- ``random_pair``: switch to another role-word pair (e.g. saint/sinner);
- ``flip_role``: swap which word means truth-teller (knaves now tell the truth);
- ``reorder_statement``: present the statements in another order.

A perturbed problem keeps its lineage: ``id = original id + ":" + kind`` and
``meta.original_id``/``meta.perturbation``. A math-level perturbation can fail (no changed, unique
solution within the tries); failures are returned with a reason, never dropped silently.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reasonlab.seeds import stable_seed
from reasonlab.tasks.base import Problem
from reasonlab.tasks.knights.logic import (
    LEAF_KINDS,
    Formula,
    get_at,
    has_distinct_children,
    leaf_paths,
    replace_at,
    sample_formula,
    to_json,
    to_tuple,
    unique_solution,
)
from reasonlab.tasks.knights.render import ROLE_PAIRS, name_pool
from reasonlab.tasks.knights.task import KnightsTask, build_problem

PERTURBATIONS = ("statement", "leaf", "uncommon_name", "random_pair", "flip_role", "reorder_statement")
MATH_LEVEL = ("statement", "leaf")


class PerturbError(ValueError):
    """This problem cannot be perturbed this way (the message says why)."""


@dataclass
class PerturbResult:
    """Perturbed problems (in input order) and the ``(id, reason)`` of every item that failed."""

    problems: list[Problem] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _candidates(
    statements: tuple[Formula, ...], meta: dict[str, Any], kind: str, rng: random.Random, tries: int
) -> Iterator[tuple[int, Formula]]:
    """Candidate ``(person, new statement)`` edits in random order.

    ``leaf`` enumerates every single-leaf replacement (each leaf, each other admissible leaf) in a
    shuffled order, so it fails only when no leaf edit works; ``statement`` draws ``tries`` fresh
    statements for random people with the generator's sampler.
    """
    n = len(statements)
    if kind == "leaf":
        edits = [
            (person, path, (leaf_kind, q))
            for person, old in enumerate(statements)
            for path in leaf_paths(old)
            for leaf_kind in LEAF_KINDS
            for q in range(n)
            if not (leaf_kind == "lying" and q == person)
        ]
        rng.shuffle(edits)
        for person, path, leaf in edits:
            old = statements[person]
            if leaf != get_at(old, path):
                new = replace_at(old, path, leaf)
                if has_distinct_children(new):
                    yield person, new
        return
    depth, width = int(meta.get("depth", 2)), int(meta.get("width", 2))
    for _ in range(tries):
        person = rng.randrange(n)
        yield person, sample_formula(rng, n, person, depth, width)


def _resample_logic(
    statements: tuple[Formula, ...],
    solution: list[bool],
    meta: dict[str, Any],
    kind: str,
    rng: random.Random,
    tries: int,
) -> tuple[tuple[Formula, ...], list[bool]]:
    for person, new in _candidates(statements, meta, kind, rng, tries):
        if new == statements[person]:
            continue
        candidate = (*statements[:person], new, *statements[person + 1 :])
        new_solution = unique_solution(candidate)
        if new_solution is not None and new_solution != solution:
            return candidate, new_solution
    what = "single-leaf edit" if kind == "leaf" else f"resampled statement in {tries} tries"
    raise PerturbError(f"no {what} gives a changed unique solution")


def perturb_meta(meta: dict[str, Any], kind: str, rng: random.Random, tries: int = 200) -> dict[str, Any]:
    """A perturbed copy of a knights ``meta`` (see the module docstring); raises PerturbError on failure."""
    if kind not in PERTURBATIONS:
        raise PerturbError(f"unknown perturbation {kind!r}; allowed: {', '.join(PERTURBATIONS)}")
    new = copy.deepcopy(meta)
    n = len(new["names"])
    if n < 2:
        raise PerturbError(f"a puzzle needs at least 2 people to perturb, got {n}")
    if kind in MATH_LEVEL:
        statements = tuple(to_tuple(s) for s in new["statements"])
        solution = [bool(v) for v in new["solution"]]
        statements, solution = _resample_logic(statements, solution, new, kind, rng, tries)
        new["statements"] = [to_json(s) for s in statements]
        new["solution"] = solution
    elif kind == "uncommon_name":
        pool = [name for name in name_pool("uncommon") if name not in set(new["names"])]
        new["names"] = rng.sample(pool, n)
        new["name_pool"] = "uncommon"
    elif kind == "random_pair":
        current = {r.lower() for r in new["roles"]}
        options = [pair for pair in ROLE_PAIRS if set(pair) != current]
        new["roles"] = list(options[rng.randrange(len(options))])
    elif kind == "flip_role":
        new["roles"] = [new["roles"][1], new["roles"][0]]
    else:  # reorder_statement
        order = list(new.get("order") or range(n))
        shuffled = list(order)
        while shuffled == order:
            rng.shuffle(shuffled)
        new["order"] = shuffled
    return new


def perturb_problem(problem: Problem, kind: str, seed: int = 0) -> Problem:
    """Perturb one knights problem, deterministically from ``(kind, seed, problem.id)``; re-rendered in its style."""

    rng = random.Random(stable_seed("knights-perturb", kind, seed, problem.id))
    meta = perturb_meta(problem.meta, kind, rng)
    meta["original_id"] = problem.id
    meta["perturbation"] = kind
    style = meta.get("style") or ("chat" if problem.prompt.startswith("<|im_start|>") else "plain")
    return build_problem(KnightsTask(), meta, f"{problem.id}:{kind}", style)


def perturb_problems(problems: list[Problem], kind: str, seed: int = 0) -> PerturbResult:
    """Perturb every problem; failures (with their reason) are collected, not dropped silently."""
    result = PerturbResult()
    for problem in problems:
        try:
            result.problems.append(perturb_problem(problem, kind, seed))
        except PerturbError as exc:
            result.failures.append((problem.id, str(exc)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            result.failures.append((problem.id, f"malformed knights meta ({type(exc).__name__}: {exc})"))
    return result
