"""Verification of ``arith`` completions: the answer, and the steps compared with the gold graph.

The parser reads the solution grammar of :mod:`reasonlab.tasks.arith.render` (``Define <name> as V;
so V = <expr> = ... = <value>.``) and :func:`process_check` compares the steps with the structured
graph in ``meta`` as the CMU process-verified evaluation does.

The answer is one integer and nothing else (:func:`extract_answer`). If the completion has a complete
``<answer> ... </answer>`` tag, the last one decides and must hold exactly one integer (whitespace
around it allowed). Without a tag the last ``Answer:`` decides: optional spaces and ``*`` (markdown),
one integer, an optional final ``.``, then only whitespace up to the end of the text or a ``<`` (the
plain gold reads ``Answer: 5. </solution> <answer> 5 </answer>``, the chat gold ends ``Answer: 5.``).
``Answer: 4.7``, ``4, 5``, ``4 or 5``, ``4x`` and a tag holding ``4.7`` are unparseable, with the
reason in ``error``. Every scan is linear in the completion (no backtracking regex over junk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reasonlab.tasks.arith.render import node_form
from reasonlab.tasks.base import ProcessCheck, Verification, last_tag

#: One step without its final period: ``Define <name> as V`` optionally followed by ``; so <body>``.
_STEP_RE = re.compile(r"Define ([^;]{1,160}?) as ([A-Za-z])(?:; so (.*))?", re.DOTALL)
#: Longest step (from ``Define`` to its period) the parser looks at; bounds the work on junk input.
MAX_STEP_CHARS = 800
#: Most digits an answer integer may have (longer is unparseable).
MAX_ANSWER_DIGITS = 12
ANSWER_LINE = "Answer:"
_INT_TEXT = re.compile(r"-?[0-9]+")
_SPACES_STARS = re.compile(r"[\s*]*")
_SPACES = re.compile(r"\s*")
_INT_RE = re.compile(r"\s*(-?\d{1,12})\s*")
_AFFINE_RE = re.compile(r"\s*(-?\d{0,12})x(?:\s*([+-])\s*(\d{1,12}))?\s*")
_LETTER_RE = re.compile(r"[A-Za-z]")


def parse_value(text: str) -> tuple[int, int] | None:
    """``"7"`` -> (0, 7); ``"2x + 3"`` -> (2, 3); ``"-x - 4"`` -> (-1, -4); anything else -> None."""
    m = _INT_RE.fullmatch(text)
    if m:
        return (0, int(m.group(1)))
    m = _AFFINE_RE.fullmatch(text)
    if not m:
        return None
    coef = m.group(1)
    a = 1 if coef == "" else -1 if coef == "-" else int(coef)
    b = 0
    if m.group(2):
        b = int(m.group(3)) * (1 if m.group(2) == "+" else -1)
    return (a, b)


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Index after the (possibly empty) run ``pattern`` matches at ``pos``; ``pattern`` has no backtracking."""
    m = pattern.match(text, pos)
    return pos if m is None else m.end()


def _integer(digits: str) -> tuple[str | None, str | None]:
    """Canonical text of an integer already matched by ``-?[0-9]+``, or ``(None, error)`` when too long."""
    if len(digits.lstrip("-")) > MAX_ANSWER_DIGITS:
        return None, f"answer integer has more than {MAX_ANSWER_DIGITS} digits"
    return str(int(digits)), None


def extract_answer(completion: str) -> tuple[str | None, str | None]:
    """(integer text or None, error or None) under the rule in the module docstring.

    ``"<answer> 5 </answer>"`` -> ``("5", None)``; ``"Answer: 007."`` -> ``("7", None)``;
    ``"Answer: 4.7"`` -> ``(None, "text after the integer in the Answer: line")``.
    """
    tag = last_tag(completion)
    if tag is not None:
        body = tag.strip()
        if not _INT_TEXT.fullmatch(body):
            return None, "answer tag does not hold exactly one integer"
        return _integer(body)
    at = completion.rfind(ANSWER_LINE)
    if at < 0:
        return None, "no answer found"
    m = _INT_TEXT.match(completion, _skip(_SPACES_STARS, completion, at + len(ANSWER_LINE)))
    if m is None:
        return None, "no integer after Answer:"
    end = m.end()
    if completion.startswith(".", end):
        end += 1
    end = _skip(_SPACES, completion, end)
    if end < len(completion) and completion[end] != "<":
        return None, "text after the integer in the Answer: line"
    return _integer(m.group())


@dataclass(frozen=True)
class Step:
    """One parsed ``Define`` step: parameter name, variable letter, dependency letters, value."""

    name: str
    var: str
    deps: frozenset[str]
    value: tuple[int, int] | None


def parse_steps(completion: str) -> list[Step]:
    """Every well-formed ``Define <name> as V; so V = <expr> = ... = <value>.`` step, in order.

    A step without ``; so`` defines the unknown (value ``x`` when ``V`` is ``x``). The dependency
    letters come from the first expression after ``V =``; the value is the last ``=`` term.
    """
    steps = []
    find = completion.find
    fullmatch = _STEP_RE.fullmatch
    pos = find("Define ")
    while pos >= 0:
        start, pos = pos, find("Define ", pos + 7)
        # the period must come within MAX_STEP_CHARS and before the next step starts (else malformed):
        # searching only that far keeps the whole scan linear
        end = find(".", start, start + MAX_STEP_CHARS if pos < 0 else min(pos, start + MAX_STEP_CHARS))
        if end < 0:
            continue
        m = fullmatch(completion, start, end)
        if m is None:
            continue
        name, var, body = m.group(1), m.group(2), m.group(3)
        if body is None:
            steps.append(Step(name, var, frozenset(), (1, 0) if var == "x" else None))
            continue
        parts = body.split(" = ")
        if len(parts) < 2 or parts[0].strip() != var:
            steps.append(Step(name, var, frozenset(), None))
            continue
        deps = frozenset(_LETTER_RE.findall(parts[1]))
        steps.append(Step(name, var, deps, parse_value(parts[-1])))
    return steps


def process_check(meta: dict[str, Any], steps: list[Step], correct: bool) -> ProcessCheck:
    """Compare parsed steps with the gold graph (CMU process-verified evaluation).

    Each step's name is looked up among gold parameter names; unknown or repeated names are
    ``extra``. Letters resolve to the parameter most recently defined with that letter; a matched
    step needs the gold value and exactly the gold dependency set to count in ``matched_ok``.
    """
    nodes = meta["graph"]["nodes"]
    by_name = {n["name"]: i for i, n in enumerate(nodes)}
    check = ProcessCheck(n_gold=len(nodes), n_steps=len(steps), answer_mismatch=not correct)
    letter_to: dict[str, int] = {}
    seen: set[int] = set()
    for st in steps:
        i = by_name.get(st.name.strip())
        if i is None or i in seen:
            check.extra += 1
            letter_to[st.var] = -1
            continue
        seen.add(i)
        node = nodes[i]
        deps = {letter_to.get(ch, -2) for ch in st.deps}
        value_ok = st.value is not None and st.value == node_form(node)
        dep_ok = deps == set(node["parents"])
        if not value_ok:
            check.value_mismatch += 1
        if not dep_ok:
            check.dep_mismatch += 1
        if value_ok and dep_ok:
            check.matched_ok += 1
        letter_to[st.var] = i
    check.missing = len(nodes) - len(seen)
    return check


def verify_completion(meta: dict[str, Any], answer: str, completion: Any) -> Verification:
    """Outcome + process verification of one completion; never raises."""
    if not isinstance(completion, str):
        completion = "" if completion is None else str(completion)
    try:
        pred, error = extract_answer(completion)
        correct = pred is not None and pred == answer
        steps = parse_steps(completion)
        check = process_check(meta, steps, correct)
    except Exception as exc:  # a malformed meta must not crash a training loop
        return Verification.verifier_error(exc)
    status = "exact" if correct else ("unparseable" if pred is None else "mismatch")
    if error is None and not correct:
        error = f"wrong answer: {pred} (expected {answer})"
    return Verification(
        correct=correct,
        format_ok=pred is not None and bool(steps),
        pred=pred,
        answer_status=status,  # type: ignore[arg-type]
        error=error,
        process=check,
        extra={"n_steps": len(steps)},
    )


#: The process failures of a chain, in the order a failing completion is named by (the first that applies).
PROCESS_FAILURES = (
    ("missing", "missing_step"),
    ("dep_mismatch", "wrong_dependency"),
    ("value_mismatch", "wrong_value"),
    ("extra", "extra_step"),
)


def failure_kind(v: Verification) -> str | None:
    """Why a completion failed, for the hacking metrics (None when answer and every step verify).

    No parseable answer -> ``no_answer``; a chain that fails the process check -> its first failure in
    :data:`PROCESS_FAILURES` order (a gold step never defined, then a step with the wrong dependency set,
    then a wrong value, then an extra step); a right chain with a wrong final answer -> ``wrong_answer``.
    Example: answer right, one gold step missing -> ``missing_step`` (a hacked sample).
    """
    if v.pred is None:
        return "no_answer"
    check = v.process
    if check is not None and not check.ok:
        for field, kind in PROCESS_FAILURES:
            if getattr(check, field):
                return kind
    return None if v.correct else "wrong_answer"
