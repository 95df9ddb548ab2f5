"""Verification of Knights & Knaves completions: Logic-RL's format rule, hygiene rules, answer parsing.

See :mod:`reasonlab.tasks.knights` for the rules; :func:`verify_completion` applies them to one
completion of a problem.
"""

from __future__ import annotations

import re
from functools import lru_cache

from reasonlab.tasks.base import Problem, Verification
from reasonlab.tasks.knights.render import answer_text

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


def verify_completion(problem: Problem, completion: str) -> Verification:
    """Format, answer extraction and per-person accuracy (see the package docstring); may raise on bad meta."""
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
