"""Corrupted arith completions: the adversarial cases the verifier is tested against and the demo shows.

``corrupt(problem, kind, rng)`` rewrites the gold completion of ``problem`` in one controlled way.
Each kind targets one verifier flag:

=============== ======================================================== =========================
kind            what changes                                             expected flags
=============== ======================================================== =========================
wrong_value     one intermediate step's value (final answer kept)        value_mismatch, not ok
wrong_dep       one step's expression names a wrong/undefined letter     dep_mismatch, not ok
missing_step    one non-final step dropped                               missing, not ok
extra_step      a fabricated step for a parameter outside the graph      extra (tolerated: ok)
wrong_answer    final answer off by one                                  answer_mismatch, wrong
answer_only     just the (right) final answer, no steps                  all missing, not ok
truncate        cut before the final answer                              unparseable
empty           empty string                                             unparseable
garbage         random characters, tags and keywords                     not ok
long            ~100k characters of near-grammar junk, wrong answer      wrong, not ok
=============== ======================================================== =========================
"""

from __future__ import annotations

import random
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.tasks.arith.contexts import get_context
from reasonlab.tasks.arith.render import (
    fmt_affine,
    gold_step_parts,
    meta_modulus,
    node_form,
    plain_completion,
    solve_sentence,
    step_text,
)
from reasonlab.tasks.arith.task import LETTERS
from reasonlab.tasks.base import Problem

CORRUPTIONS = (
    "wrong_value",
    "wrong_dep",
    "missing_step",
    "extra_step",
    "wrong_answer",
    "answer_only",
    "truncate",
    "empty",
    "garbage",
    "long",
)


def _wrap(meta: dict[str, Any], steps: list[str], answer: str, style: str) -> str:
    parts = list(steps)
    if meta["mode"] == "reverse":
        parts.append(solve_sentence(meta))
    parts.append(f"Answer: {answer}.")
    body = " ".join(parts)
    return plain_completion(body, answer) if style == "plain" else body


def _bump(value: int, modulus: int | None) -> int:
    """``value + 1`` (mod ``modulus`` unless None): a wrong value of the same kind."""
    return (value + 1) % modulus if modulus is not None else value + 1


def corrupt(problem: Problem, kind: str, rng: random.Random, style: str = "plain") -> str:
    """A completion of ``problem`` corrupted as ``kind`` (see the module table); deterministic in ``rng``."""
    if kind not in CORRUPTIONS:
        raise ReasonlabError(f"unknown corruption {kind!r}; choose from {', '.join(CORRUPTIONS)}")
    if style not in ("plain", "chat"):
        raise ReasonlabError(f"arith: unknown prompt style {style!r}; choose from plain, chat")
    meta = problem.meta
    graph = meta["graph"]
    nodes = graph["nodes"]
    mod = meta_modulus(meta)
    hidden = graph.get("hidden")
    target = graph["target"]
    answer = problem.answer
    parts = gold_step_parts(meta)
    steps = [step_text(*p) for p in parts]

    if kind == "wrong_value":
        cands = [i for i in range(len(nodes)) if i not in (hidden, target)] or [target]
        i = rng.choice(cands)
        a, b = node_form(nodes[i])
        name, letter, expr, numbers, _ = parts[i]
        steps[i] = step_text(name, letter, expr, numbers, fmt_affine(a, _bump(b, mod)))
        return _wrap(meta, steps, answer, style)
    if kind == "wrong_dep":
        letters = [n["letter"] for n in nodes]
        pairs = [(i, j) for i in range(len(nodes)) if i != hidden for j in range(i) if j not in nodes[i]["parents"]]
        used = set(letters)
        if pairs:
            i, j = rng.choice(pairs)
            new_letter = letters[j]
        else:
            i = rng.choice([k for k in range(len(nodes)) if k != hidden])
            new_letter = rng.choice([c for c in LETTERS if c not in used])
        name, letter, expr, numbers, value = parts[i]
        tokens = (expr or "").split(" ")
        slots = [k for k, t in enumerate(tokens) if t in used]
        if slots:
            tokens[rng.choice(slots)] = new_letter
        else:
            tokens = [new_letter, "+", *tokens]
        steps[i] = step_text(name, letter, " ".join(tokens), numbers, value)
        return _wrap(meta, steps, answer, style)
    if kind == "missing_step":
        i = rng.choice([k for k in range(len(nodes)) if k != target])
        del steps[i]
        return _wrap(meta, steps, answer, style)
    if kind == "extra_step":
        ctx = get_context(meta["context"])
        gold_names = {n["name"] for n in nodes}
        n1, n2, _ = ctx.sizes
        names = meta.get("names", "short")
        free = [
            ctx.step_name(("i12", a, b), names)
            for a in range(n1)
            for b in range(n2)
            if ctx.step_name(("i12", a, b), names) not in gold_names
        ]
        letter = rng.choice([c for c in LETTERS if c not in {n["letter"] for n in nodes}])
        value = str(rng.randint(0, mod - 1) if mod is not None else rng.randint(1, 4))
        steps.insert(rng.randint(0, len(steps)), step_text(rng.choice(free), letter, value, value, value))
        return _wrap(meta, steps, answer, style)
    if kind == "wrong_answer":
        return _wrap(meta, steps, str(_bump(int(answer), mod)), style)
    if kind == "answer_only":
        body = f"Answer: {answer}."
        return plain_completion(body, answer) if style == "plain" else body
    if kind == "truncate":
        full = _wrap(meta, steps, answer, style)
        cut = full.index("Answer:")
        return full[: rng.randint(0, cut)]
    if kind == "empty":
        return ""
    if kind == "garbage":
        alphabet = [*"abcxyzQR0123456789 =+*-.;:<>/", "Define ", " as ", "; so ", "<answer>", "Answer: "]
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
    junk = "Define Define as as x; so x = = = 1 + Define <answer> " * 2000
    return junk + _wrap(meta, steps[:1], str(_bump(int(answer), mod)), style)


__all__ = ["CORRUPTIONS", "corrupt"]
