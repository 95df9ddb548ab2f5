"""Verification of Knights & Knaves completions: Logic-RL's published rule, and a strict rule beside it.

See :mod:`reasonlab.tasks.knights` for the rules; :func:`verify_completion` applies both to one
completion of a problem. Every pattern is built from the puzzle's own names and role words (escaped,
longest name first), and every scan is linear in the completion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from reasonlab.tasks.base import AnswerStatus, Problem, StrictCheck, Verification, last_tag
from reasonlab.tasks.knights.render import answer_text, article

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<eos>", "</s>")
#: Words that make a sentence about a person a claim about their truthfulness (besides the role words).
TRUTH_WORDS = ("true", "false", "truth", "truthful", "truthfully", "lie", "lies", "lied", "lying", "liar", "liars")
#: Words that make a sentence about a person a conditional (an assumption or a counterfactual).
CONDITIONAL_WORDS = ("if", "suppose", "supposing", "assume", "assuming", "would", "unless")
_WORD = re.compile(r"[a-z0-9]+")
_SEPARATORS = re.compile(r"\(\s*\d+\s*\)|\b\d+\s*[.):]|\band\b|[\s.,;:*\-]", re.IGNORECASE)


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


# ----------------------------------------------------------------------------- patterns of one puzzle


def _name_pattern(name: str) -> str:
    """A name as a regex: escaped, any whitespace run inside it matching any whitespace run."""
    parts = name.split()
    if not parts:
        raise ValueError("a puzzle name is empty")
    return r"\s+".join(re.escape(part) for part in parts)


#: Punctuation that ends a sentence (when whitespace or the end follows, after optional closing quotes).
_END_CHARS = ".!?;:"
_END_CHAR = re.compile(f"[{re.escape(_END_CHARS)}]")
_SENTENCE_END = re.compile(rf"[{re.escape(_END_CHARS)}][\"'”’)\]]*(?=\s|\Z)|\n")


@dataclass(frozen=True)
class Patterns:
    """The compiled patterns of one (names, roles) pair; see :func:`patterns`."""

    names: tuple[str, ...]
    roles: tuple[str, str]
    #: ``NAME is a ROLE`` (the article the role word takes, any whitespace, any case): groups ``name``
    #: and ``role`` (article and role word).
    statement: re.Pattern[str]
    #: Either role word, singular or plural, as a whole word, any case.
    role_word: re.Pattern[str]
    #: Whether some name holds a role word (``Knight``, ``Mary Knight``): role words must then be
    #: counted outside the names.
    role_in_names: bool
    #: Whether names are told apart by case (only when two names differ in case alone).
    case_sensitive_names: bool
    #: Person index by name key (:meth:`key`).
    index: dict[str, int]
    #: The think check reads the lower-cased think block with the case-sensitive patterns below (no
    #: ``IGNORECASE``: the regex engine can then skip ahead to a possible first letter).
    #: (pattern, replacement) pairs that hide sentence-end punctuation inside names (``a.j.``), so a
    #: sentence split never cuts a name; applied before :data:`_SENTENCE_END`.
    protect: tuple[tuple[re.Pattern[str], str], ...]
    #: Any name (lower case), as it reads after :attr:`protect`.
    name: re.Pattern[str]
    #: A claim word (lower case): a role word, a truth word or a conditional word.
    claim: re.Pattern[str]
    #: Names (lower case, after :attr:`protect`) that are themselves claim words (a person called ``Knight``).
    ambiguous: frozenset[str]

    def key(self, text: str) -> str:
        """Lookup key of a matched name: whitespace runs as one space, lower case unless case-sensitive."""
        key = " ".join(text.split())
        return key if self.case_sensitive_names else key.lower()

    def name_index(self, text: str) -> int | None:
        """Index of the person a matched name refers to.

        A dictionary lookup; when case folding and ``str.lower`` disagree (``İ``), the name the regex
        engine matched is found by matching each name again.
        """
        i = self.index.get(self.key(text))
        if i is None:
            flags, sensitive = re.IGNORECASE, self.case_sensitive_names
            i = next(
                (j for j, n in enumerate(self.names) if re.fullmatch(_alternation([n], sensitive), text, flags)), None
            )
        return i


def _alternation(names: Sequence[str], case_sensitive: bool) -> str:
    alt = "|".join(_name_pattern(n) for n in sorted(names, key=lambda n: (-len(n), n)))
    return f"(?-i:{alt})" if case_sensitive else alt


@lru_cache(maxsize=256)
def patterns(names: tuple[str, ...], roles: tuple[str, str]) -> Patterns:
    """Patterns built from the puzzle's actual names (escaped, longest first) and role words.

    Names are whole words (no letter, digit or ``_`` on either side) and are matched case-insensitively,
    unless two names differ in case alone. Longest first means a name that is a prefix of another
    (``Ann`` and ``Ann Marie``) never steals the longer one's match.
    """
    lowered = [" ".join(n.split()).lower() for n in names]
    case_sensitive = len(set(lowered)) < len(lowered)
    flags = re.IGNORECASE
    role_alt = "|".join(re.escape(r) for r in roles)
    with_article = "|".join(rf"{article(r)}\s+{re.escape(r)}" for r in roles)
    role_word = re.compile(rf"(?<!\w)(?:{role_alt})(?:s|es)?(?!\w)", flags)
    keys = [" ".join(n.split()) if case_sensitive else low for n, low in zip(names, lowered, strict=True)]
    # the think check: lower case, case-sensitive patterns
    low_roles = "|".join(re.escape(r.lower()) for r in roles)
    claim = re.compile(rf"(?<!\w)(?:{'|'.join((f'(?:{low_roles})(?:s|es)?', *TRUTH_WORDS, *CONDITIONAL_WORDS))})(?!\w)")
    hidden = {n: _END_CHAR.sub("\x00", n) for n in lowered}
    protect = tuple(
        (re.compile(rf"(?<!\w){_alternation([n], False)}(?!\w)"), hidden[n])
        for n in sorted(set(lowered), key=lambda n: (-len(n), n))
        if hidden[n] != n
    )
    return Patterns(
        names=tuple(names),
        roles=(roles[0], roles[1]),
        statement=re.compile(
            rf"(?<!\w)(?P<name>{_alternation(names, case_sensitive)})\s+is\s+(?P<role>{with_article})(?!\w)", flags
        ),
        role_word=role_word,
        role_in_names=any(role_word.search(n) for n in names),
        case_sensitive_names=case_sensitive,
        index={k: i for i, k in reversed(list(enumerate(keys)))},
        protect=protect,
        name=re.compile(rf"(?<!\w)(?:{_alternation(sorted(set(hidden.values())), False)})(?!\w)"),
        claim=claim,
        ambiguous=frozenset(h for h in hidden.values() if claim.fullmatch(h)),
    )


# ----------------------------------------------------------------------------- answers


@dataclass
class _Statements:
    """The ``NAME is a ROLE`` statements of an answer block, read once for both rules."""

    found: list[bool | None]
    #: (start, end) of the first statement of each person, in text order.
    used: list[tuple[int, int]]
    role_count: int


def _statements(block: str, pat: Patterns) -> _Statements:
    """First ``NAME is a ROLE`` per person, and the role words outside the names of all statements.

    Role words are counted outside the name spans, so a person named ``Knight`` is not a role word.
    When no name holds a role word the count needs no statement, and a wrong count ends the reading
    (both rules reject the block whatever its statements are).
    """
    n = len(pat.names)
    found: list[bool | None] = [None] * n
    if not pat.role_in_names:
        count = len(pat.role_word.findall(block))
        if count != n:
            return _Statements(found, [], count)
    used: list[tuple[int, int]] = []
    outside, last = [], 0
    truth = pat.roles[0].lower()
    for m in pat.statement.finditer(block):
        outside.append(block[last : m.start("name")])
        last = m.end("name")
        i = pat.name_index(m.group("name"))
        if i is not None and found[i] is None:
            found[i] = m.group("role").split()[-1].lower() == truth
            used.append((m.start(), m.end()))
    outside.append(block[last:])
    role_count = len(pat.role_word.findall(" ".join(outside)))
    return _Statements(found, used, role_count)


def _published(st: _Statements, pat: Patterns) -> tuple[list[bool] | None, str | None]:
    if st.role_count != len(pat.names):
        return None, f"answer names {st.role_count} roles for {len(pat.names)} people"
    missing = [pat.names[i] for i, v in enumerate(st.found) if v is None]
    if missing:
        return None, f"answer has no '{missing[0]} is a ROLE'"
    return [bool(v) for v in st.found], None


def _strict(block: str, st: _Statements, pat: Patterns) -> tuple[list[bool] | None, str | None]:
    found, reason = _published(st, pat)
    if found is None:
        return None, reason
    rest, last = [], 0
    for start, end in st.used:
        rest.append(block[last:start])
        last = end
    rest.append(block[last:])
    if _SEPARATORS.sub("", " ".join(rest)):
        return None, "answer block holds text besides one role statement per person"
    return found, None


def parse_answer_published(
    block: str, names: Sequence[str], roles: Sequence[str]
) -> tuple[list[bool] | None, str | None]:
    """The published Logic-RL answer rule: roles stated in ``block`` (True = truth-teller), or ``(None, reason)``.

    The block must hold exactly ``n`` role words (outside the names) and, for each person, a
    ``NAME is a ROLE`` (the first one counts); any other text is ignored.
    """
    pat = patterns(tuple(names), (roles[0], roles[1]))
    return _published(_statements(block, pat), pat)


def parse_answer(block: str, names: Sequence[str], roles: Sequence[str]) -> tuple[list[bool] | None, str | None]:
    """The strict answer rule: the published one, and nothing else but numbering, punctuation and "and"."""
    pat = patterns(tuple(names), (roles[0], roles[1]))
    return _strict(block, _statements(block, pat), pat)


# ----------------------------------------------------------------------------- the strict format


def _think_has_claim(think: str, prompt: str, pat: Patterns) -> bool:
    """Whether some sentence of ``think`` not copied from ``prompt`` claims something about a person.

    A claim names a person and, outside the names, a role word, a truth word (:data:`TRUTH_WORDS`) or a
    conditional word (:data:`CONDITIONAL_WORDS`); a person called ``Knight`` may serve as the role word
    of a sentence that names someone else too. Copied means the sentence's words appear contiguously in
    the prompt. Names and words are matched in any case. The sentences are filtered by C-level regex
    searches (no Python step per word), and each distinct candidate sentence is checked once: linear
    in the think block.
    """
    text = think.lower()
    for pattern, hidden in pat.protect:
        text = pattern.sub(hidden, text)
    sentences = _SENTENCE_END.split(text)
    candidates = dict.fromkeys(filter(pat.name.search, filter(pat.claim.search, sentences)))
    prompt_padded = f" {_normalise(prompt)} "
    for sentence in candidates:
        if not pat.claim.search(pat.name.sub(" ", sentence)):
            if not pat.ambiguous:
                continue
            found = pat.name.findall(sentence)
            if len(found) < 2 or pat.ambiguous.isdisjoint(" ".join(f.split()) for f in found):
                continue
        if f" {_normalise(sentence)} " not in prompt_padded:
            return True
    return False


def check_format(
    text: str, prompt: str, names: Sequence[str], roles: Sequence[str] = ("knight", "knave")
) -> str | None:
    """The strict format: the published tag rule plus the hygiene rules of the package docstring; None when ok."""
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
    if not _think_has_claim(think, prompt, patterns(tuple(names), (roles[0], roles[1]))):
        return "format: <think> holds no reasoning about the people (no claim about anyone's role or truthfulness)"
    return None


# ----------------------------------------------------------------------------- one completion


def _wrong(found: list[bool], solution: list[bool]) -> str:
    return f"answer wrong for {sum(a != b for a, b in zip(found, solution, strict=True))} of {len(solution)} people"


def _status(found: list[bool] | None, solution: list[bool]) -> AnswerStatus:
    return "unparseable" if found is None else ("exact" if found == solution else "mismatch")


def failed(error: str, n_people: int = 0) -> Verification:
    """No credit under any scheme (published or strict), the reason in ``error``."""
    return Verification(
        False,
        False,
        None,
        "unparseable",
        error=error,
        units_total=n_people,
        strict=StrictCheck(False, "unparseable", error),
        extra={"person_accuracy": 0.0},
    )


def verify_completion(problem: Problem, completion: str) -> Verification:
    """Both rules (see the package docstring) on one completion; may raise on bad meta."""
    if not isinstance(completion, str):
        return failed("completion is not text")
    meta = problem.meta
    names = [str(x) for x in meta["names"]]
    roles = [str(x) for x in meta["roles"]]
    solution = [bool(x) for x in meta["solution"]]
    if not (len(names) == len(solution) and len(roles) == 2):
        raise ValueError("meta names, roles and solution do not fit together")
    pat = patterns(tuple(names), (roles[0], roles[1]))
    prefilled = problem.prompt.rstrip().endswith("<think>")
    text = "<think>" + completion if prefilled else completion
    tag_error = check_tags(text)
    hygiene_error = tag_error or check_format(text, problem.prompt, names, roles)
    block = last_tag(text)
    if block is None:
        pub: tuple[list[bool] | None, str | None] = (None, "no <answer> block")
        strict = pub
    else:
        st = _statements(block, pat)
        pub, strict = _published(st, pat), _strict(block, st, pat)
    found, answer_error = pub
    if found is not None and found != solution:
        answer_error = _wrong(found, solution)
    strict_found, strict_error = strict
    if strict_found is not None and strict_found != solution:
        strict_error = _wrong(strict_found, solution)
    strict_reason = hygiene_error or strict_error
    right = None if found is None else sum(a == b for a, b in zip(found, solution, strict=True))
    return Verification(
        correct=found == solution,
        format_ok=tag_error is None,
        pred=None if found is None else answer_text(names, roles, found),
        answer_status=_status(found, solution),
        error=tag_error or answer_error or (f"strict {strict_reason}" if strict_reason else None),
        units_correct=right,
        units_total=len(solution),
        strict=StrictCheck(
            format_ok=hygiene_error is None,
            answer_status=_status(strict_found, solution),
            error=strict_reason,
        ),
        extra={"person_accuracy": 0.0 if right is None else right / len(solution)},
    )


#: Stable names of the failures (and hacks) the two rules report, in the order they are matched.
FAILURE_KINDS = (
    ("appears", "tag_count"),
    ("out of order", "tag_order"),
    ("text before <think>", "text_before_think"),
    ("text between", "text_between_think_and_answer"),
    ("text after </answer>", "text_after_answer"),
    ("empty <think>", "empty_think"),
    ("holds no reasoning", "filler_think"),
    ("no <answer>", "no_answer"),
    ("answer wrong", "wrong_answer"),
    ("verifier error", "broken_record"),
    ("not text", "not_text"),
)


def failure_kind(error: str | None) -> str | None:
    """The stable name of a verification error (``"unparseable_answer"`` for the answer-parsing reasons)."""
    if not error:
        return None
    for needle, kind in FAILURE_KINDS:
        if needle in error:
            return kind
    return "unparseable_answer"
