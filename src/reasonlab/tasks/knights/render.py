"""Knights & Knaves text: name pools, role words, statement phrasing, prompts and the gold chain of thought.

Everything here is a pure function of the puzzle ``meta`` (names, roles, statements, solution,
template choices, presentation order), so a problem re-renders identically in either prompt style
and a perturbation only has to edit ``meta`` and render again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from reasonlab.tasks.base import ChatPrompt
from reasonlab.tasks.knights.logic import LEAF_KINDS, Formula, eval3, people_in

#: Role-word pairs (truth-teller, liar) used by the K&K literature.
ROLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("knight", "knave"),
    ("pioneer", "laggard"),
    ("saint", "sinner"),
    ("hero", "villain"),
    ("angel", "devil"),
    ("altruist", "egoist"),
    ("sage", "fool"),
)

NAME_POOLS = ("common", "uncommon")

#: Names of the ``names: fixed`` knob, person by person (one per person up to the 12-person maximum).
FIXED_NAMES = ("Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Kevin", "Laura")

#: Statement templates. ``{S}`` is the quoted first-person sentence, ``{s}`` the reported clause
#: (third person), ``{name}`` the speaker. Index 0 is the one used with ``phrasing=fixed``.
TEMPLATES: tuple[str, ...] = (
    '{name} says, "{S}."',
    '{name} remarks: "{S}."',
    'In the words of {name}: "{S}."',
    '{name} tells you, "{S}."',
    '"{S}," {name} claims.',
    '{name} states, "{S}."',
    'According to {name}, "{S}."',
    '{name} declares: "{S}."',
    '{name} insists, "{S}."',
    '"{S}," says {name}.',
    "{name} says that {s}.",
    "{name} claims that {s}.",
    "{name} tells you that {s}.",
    "As {name} puts it, {s}.",
    "{name} mentions that {s}.",
    "{name} asserts that {s}.",
    "{name} reports that {s}.",
    "{name} informs you that {s}.",
)

CHAT_SYSTEM = (
    "You are a helpful assistant. You first reason about the problem step by step and then give the "
    "final answer. Put the reasoning inside <think> </think> and the answer inside <answer> </answer>, "
    "i.e. <think> your reasoning </think> <answer> your answer </answer>. When you reach a conclusion, "
    "state the role of every inhabitant inside the answer tags, one per line, in the form "
    "<answer> (1) {example1}\n(2) {example2} </answer>."
)


@lru_cache(maxsize=4)
def name_pool(pool: str) -> tuple[str, ...]:
    """Names of the packaged pool ``common`` or ``uncommon`` (``tasks/names/<pool>.txt``); ``fixed``:
    :data:`FIXED_NAMES`."""
    if pool == "fixed":
        return FIXED_NAMES
    text = resources.files("reasonlab.tasks").joinpath(f"names/{pool}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def article(word: str) -> str:
    """``a`` or ``an`` for a role word."""
    return "an" if word[0].lower() in "aeiou" else "a"


def plural(word: str) -> str:
    """English plural of a role word (``hero`` -> ``heroes``)."""
    return word + ("es" if word.endswith(("o", "s", "sh", "ch")) else "s")


def role_np(is_truthful: bool, roles: Sequence[str]) -> str:
    """``"a knight"`` / ``"a knave"`` (with the right article) for a truth value."""
    word = roles[0] if is_truthful else roles[1]
    return f"{article(word)} {word}"


def capitalize_first(text: str) -> str:
    """Upper-case the first letter of ``text`` (skipping leading brackets)."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
    return text


def join_names(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B, and C``."""
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _needs_parens(node: Formula) -> bool:
    """Whether a formula used as an operand must be bracketed: anything but a (negated) leaf."""
    op = node[0]
    if op in LEAF_KINDS:
        return False
    if op == "not":
        return node[1][0] not in LEAF_KINDS
    return True


def clause(node: Formula, names: Sequence[str], roles: Sequence[str], speaker: int | None = None) -> str:
    """English text of a formula.

    With ``speaker`` set, leaves about the speaker read "I am ..." (a quoted statement); otherwise
    every person is named. Compound operands are parenthesised, a negated compound reads "it is not
    the case that (...)", so formulas of any depth and width read unambiguously.
    """
    op = node[0]
    if op in LEAF_KINDS or (op == "not" and node[1][0] in LEAF_KINDS):
        leaf = node if op in LEAF_KINDS else node[1]
        negated = op == "not"
        person = leaf[1]
        subject, verb = ("I", "am") if person == speaker else (names[person], "is")
        truthful = leaf[0] == "telling-truth"
        word = roles[0] if truthful else roles[1]
        return f"{subject} {verb} {'not ' if negated else ''}{article(word)} {word}"
    if op == "not":
        inner = clause(node[1], names, roles, speaker)
        if node[1][0] not in LEAF_KINDS and node[1][0] != "not":
            inner = f"({inner})"
        return f"it is not the case that {inner}"
    parts = []
    for child in node[1:]:
        text = clause(child, names, roles, speaker)
        parts.append(f"({text})" if _needs_parens(child) else text)
    if op == "and":
        return " and ".join(parts)
    if op == "or":
        return " or ".join(parts)
    if op == "->":
        return f"if {parts[0]} then {parts[1]}"
    return f"{parts[0]} if and only if {parts[1]}"


def statement_sentence(template: int, speaker: int, node: Formula, names: Sequence[str], roles: Sequence[str]) -> str:
    """One rendered statement: a template filled with the speaker and the formula text."""
    tpl = TEMPLATES[template % len(TEMPLATES)]
    if "{S}" in tpl:
        return tpl.format(name=names[speaker], S=capitalize_first(clause(node, names, roles, speaker=speaker)))
    return tpl.format(name=names[speaker], s=clause(node, names, roles))


def puzzle_text(meta: dict[str, Any], statements: Sequence[Formula]) -> str:
    """Preamble, one sentence per statement (in ``meta['order']``), and the question."""
    names, roles = meta["names"], meta["roles"]
    n = len(names)
    truth, liar = roles
    order = meta.get("order") or list(range(n))
    templates = meta.get("templates") or [0] * n
    lines = [
        f"A remote island is home only to {plural(truth)} and {plural(liar)}: {plural(truth)} always tell "
        f"the truth and {plural(liar)} always lie. You meet {n} inhabitants: {join_names(names)}."
    ]
    for i in order:
        lines.append(statement_sentence(templates[i], i, statements[i], names, roles))
    lines.append(f"Who is {role_np(True, roles)} and who is {role_np(False, roles)}?")
    return " ".join(lines)


def answer_text(names: Sequence[str], roles: Sequence[str], solution: Sequence[bool]) -> str:
    """Canonical answer: ``(1) Zoey is a knave\\n(2) Oliver is a knight``."""
    return "\n".join(
        f"({i + 1}) {name} is {role_np(v, roles)}" for i, (name, v) in enumerate(zip(names, solution, strict=True))
    )


# ----------------------------------------------------------------------------- chain of thought


class _CoT:
    """Backtracking search that narrates itself: assume, derive, check, contradiction, backtrack."""

    def __init__(self, statements: Sequence[Formula], names: Sequence[str], roles: Sequence[str]) -> None:
        self.statements = statements
        self.names = names
        self.roles = roles
        self.lines: list[str] = []
        self.said = [f'"{capitalize_first(clause(s, names, roles))}"' for s in statements]
        n = len(statements)
        #: watchers[q]: people whose statement mentions q (their truth may change when q is fixed)
        self.watchers: list[list[int]] = [[] for _ in range(n)]
        for j, s in enumerate(statements):
            for q in sorted(people_in(s)):
                self.watchers[q].append(j)

    @staticmethod
    def _tv(value: bool) -> str:
        return "true" if value else "false"

    def _np(self, value: bool) -> str:
        return role_np(value, self.roles)

    def _propagate(self, assign: list[bool | None], checked: set[int]) -> bool:
        """Apply checks and forced deductions until nothing changes; False on a contradiction."""
        n = len(self.statements)
        names, out = self.names, self.lines
        while True:
            for j in range(n):
                if assign[j] is None or j in checked:
                    continue
                value = eval3(self.statements[j], assign)
                if value is None:
                    continue
                checked.add(j)
                if value != assign[j]:
                    out.append(
                        f"{names[j]}'s statement {self.said[j]} is {self._tv(value)}, but {names[j]} is "
                        f"{self._np(bool(assign[j]))}. Contradiction."
                    )
                    return False
                out.append(
                    f"{names[j]}'s statement {self.said[j]} is {self._tv(value)}, which fits {names[j]} "
                    f"being {self._np(value)}."
                )
            if self._derive(assign, checked):
                continue
            return True

    def _derive(self, assign: list[bool | None], checked: set[int]) -> bool:
        """One forced deduction, narrated; False when none applies."""
        names, out = self.names, self.lines
        unknown = [q for q, v in enumerate(assign) if v is None]
        for q in unknown:
            value = eval3(self.statements[q], assign)
            if value is not None:
                assign[q] = value
                checked.add(q)
                out.append(
                    f"{names[q]}'s statement {self.said[q]} is {self._tv(value)} whatever role {names[q]} has, "
                    f"so {names[q]} must be {self._np(value)}."
                )
                return True
        for q in unknown:
            for value in (True, False):
                assign[q] = value
                for j in (*self.watchers[q], q):
                    if assign[j] is None or (j in checked and j != q):
                        continue
                    truth = eval3(self.statements[j], assign)
                    if truth is not None and truth != assign[j]:
                        assign[q] = not value
                        whose = f"{names[q]}'s own" if j == q else f"{names[j]}'s"
                        tail = "" if j == q else f", yet {names[j]} is {self._np(bool(assign[j]))}"
                        out.append(
                            f"If {names[q]} were {self._np(value)}, {whose} statement {self.said[j]} would be "
                            f"{self._tv(truth)}{tail}; so {names[q]} must be {self._np(not value)}."
                        )
                        return True
                assign[q] = None
        return False

    def solve(self, assign: list[bool | None], checked: set[int], last: str | None) -> list[bool] | None:
        if not self._propagate(assign, checked):
            return None
        if all(v is not None for v in assign):
            return [bool(v) for v in assign]
        names = self.names
        p = next(i for i, v in enumerate(assign) if v is None)
        for value in (True, False):
            self.lines.append(f"Assume {names[p]} is {self._np(value)}.")
            trial = list(assign)
            trial[p] = value
            found = self.solve(trial, set(checked), names[p])
            if found is not None:
                return found
            self.lines.append(f"So {names[p]} cannot be {self._np(value)}.")
        if last is not None:
            self.lines.append(f"Both roles for {names[p]} fail, so we go back and reconsider {last}.")
        return None


def chain_of_thought(
    statements: Sequence[Formula], names: Sequence[str], roles: Sequence[str], solution: Sequence[bool]
) -> str:
    """A correct step-by-step derivation of ``solution``.

    Depth-first search over the people in order, trying the truth-teller role first. After every
    assumption it checks each statement whose truth the known roles settle (Kleene three-valued
    evaluation): a settled statement of a person with a known role either fits or is a
    contradiction; a settled statement of a person with no role yet forces that role (derivation).
    A contradiction rejects the assumption; when both roles fail it backtracks. Because the puzzle
    has exactly one consistent assignment, the first complete assignment reached is the solution.
    """
    cot = _CoT(statements, names, roles)
    found = cot.solve([None] * len(statements), set(), None)
    if found is None or list(found) != [bool(v) for v in solution]:
        raise ValueError("chain of thought did not reach the recorded solution (puzzle not uniquely solvable)")
    summary = ", ".join(f"{name} is {role_np(v, roles)}" for name, v in zip(names, found, strict=True))
    cot.lines.append(f"Every statement is consistent with this assignment: {summary}.")
    return "\n".join(cot.lines)


# ----------------------------------------------------------------------------- compact chain of thought

#: Operator words of the compact chain of thought (``not`` precedes its operand; ``->`` reads "if A then B").
COMPACT_OPS = {"and": "and", "or": "or", "<=>": "iff"}


def _tv_letter(value: bool) -> str:
    return "T" if value else "F"


def compact_formula(
    node: Formula, names: Sequence[str], roles: Sequence[str], assign: Sequence[bool], leaf: str = "pair"
) -> tuple[str, bool]:
    """A formula with every leaf's truth written after it, and its value under the full ``assign``.

    How a leaf reads (``leaf``): ``pair`` is ``NAME ROLE V`` (``Zoey knave F``: "Zoey is a knave" is false);
    ``claim`` is ``NAME is a ROLE V``, the claim in the prompt's words, so that in a lookup chain a bare pair
    ``NAME ROLE`` only ever states a role under the current try; ``versus`` is ``NAME ROLE vs TRY V``
    (``Zoey knave vs knight F``): the role the leaf needs from the try line is written out, and its truth is
    the comparison of the two roles just before it; ``bound`` is ``NAME TRY is a ROLE V`` (``Zoey knight is a
    knave F``): every bare pair ``NAME ROLE`` in the chain is then the person's role under the current try, so
    the latest such pair of a name answers the lookup. A compound operand is bracketed with its own value
    (``(A knight T and B knave F = F)``), so each value the line states follows from values written just
    before it.
    """
    op = node[0]
    if op in LEAF_KINDS:
        truthful = op == "telling-truth"
        name, value = names[node[1]], assign[node[1]] == truthful
        claimed, now = roles[0] if truthful else roles[1], roles[0] if assign[node[1]] else roles[1]
        if leaf == "claim":
            text = f"{name} is {role_np(truthful, roles)}"
        elif leaf == "versus":
            text = f"{name} {claimed} vs {now}"
        elif leaf == "bound":
            text = f"{name} {now} is {role_np(truthful, roles)}"
        else:
            text = f"{name} {claimed}"
        return f"{text} {_tv_letter(value)}", value
    parts: list[str] = []
    values: list[bool] = []
    for child in node[1:]:
        text, value = compact_formula(child, names, roles, assign, leaf)
        parts.append(text if child[0] in LEAF_KINDS else f"({text} = {_tv_letter(value)})")
        values.append(value)
    if op == "not":
        return f"not {parts[0]}", not values[0]
    if op == "and":
        value = all(values)
    elif op == "or":
        value = any(values)
    elif op == "->":
        return f"if {parts[0]} then {parts[1]}", (not values[0]) or values[1]
    else:
        value = values[0] == values[1]
    return f" {COMPACT_OPS[op]} ".join(parts), value


def compact_chain(
    statements: Sequence[Formula],
    names: Sequence[str],
    roles: Sequence[str],
    solution: Sequence[bool],
    style: str = "compact",
) -> str:
    """A short, mechanical derivation of ``solution`` for small models: a truth table with early exit.

    Assignments are tried in counting order (the truth-teller role first, the last person fastest).
    Each try is one line, ``Try Zoey knight, Oliver knave.``, followed by the statements in the people's
    order, one line each: ``- `` and the statement quoted as the first template words it
    (``Zoey says, "I am a knight."``, a verbatim copy of the prompt's sentence under ``phrasing: fixed``
    and the same text in every try), then the statement with each leaf's truth written after it, its
    value, the speaker's role under the try and ``ok`` (they agree) or ``no`` (they do not; the try
    ends). The first try whose every statement is ``ok`` is the solution (it is the only one). Every
    token depends on a few tokens before it: the quote on the same quote in the prompt or an earlier
    try, a leaf's truth on the person's role in the try line, the value on the leaves, the verdict on
    the value and the speaker's role. Lines open with a word or a dash, so a name is always the same
    token (the one after a space) wherever it occurs.

    ``style`` (the ``cot`` knob): ``compact`` as above; ``lookup`` opens each check line with the try
    (``- Zoey knight, Oliver knave: Zoey says, ...``), writes claims as ``NAME is a ROLE V`` and names the
    speaker before their role, so a bare ``NAME ROLE`` pair is always the current try; ``short`` writes
    ``- NAME:`` in place of the quoted statement; ``roles`` is ``short`` with each leaf's person's role
    under the try written before the leaf's truth (``Oliver knave vs knight F``); ``bound`` is ``short``
    with the leaves as ``Oliver knight is a knave F`` (the role under the try, then the claim), so that every
    ``NAME ROLE`` pair of the chain states the current try.
    """
    if style not in COT_STYLES[1:]:
        raise ValueError(f"unknown compact chain style {style!r} (allowed: {', '.join(COT_STYLES[1:])})")
    lookup = style == "lookup"
    quote = style in ("compact", "lookup")
    leaf = {"lookup": "claim", "roles": "versus", "bound": "bound"}.get(style, "pair")
    n = len(statements)
    target = [bool(v) for v in solution]
    lines: list[str] = []
    for code in range(1 << n):
        assign = [not (code >> (n - 1 - i)) & 1 for i in range(n)]
        current = ", ".join(f"{name} {roles[0] if v else roles[1]}" for name, v in zip(names, assign, strict=True))
        lines.append(f"Try {current}.")
        for j, statement in enumerate(statements):
            text, value = compact_formula(statement, names, roles, assign, leaf)
            fits = value == assign[j]
            role = roles[0] if assign[j] else roles[1]
            said = statement_sentence(0, j, statement, names, roles) if quote else f"{names[j]}:"
            if lookup:  # the try opens the line, the speaker is named: every NAME ROLE pair is the current try
                said, role = f"{current}: {said}", f"{names[j]} {role}"
            lines.append(f"- {said} {text} = {_tv_letter(value)}, {role} {'ok' if fits else 'no'}.")
            if not fits:
                break
        else:
            if assign != target:
                raise ValueError("compact chain of thought reached a solution other than the recorded one")
            return "\n".join(lines)
    raise ValueError("compact chain of thought found no consistent assignment (puzzle not solvable)")


COT_STYLES = ("full", "compact", "lookup", "short", "roles", "bound")


def chat_conversation(meta: dict[str, Any], statements: Sequence[Formula]) -> ChatPrompt:
    """Logic-RL's conversation: the instructions as the system turn, the puzzle as the user's, and ``<think>``
    pre-filled."""
    names, roles = meta["names"], meta["roles"]
    system = CHAT_SYSTEM.format(
        example1=f"{names[0]} is {role_np(True, roles)}", example2=f"{names[-1]} is {role_np(False, roles)}"
    )
    user = puzzle_text(meta, statements)
    return ChatPrompt(({"role": "system", "content": system}, {"role": "user", "content": user}), prefill="<think>")


def render_prompt(meta: dict[str, Any], statements: Sequence[Formula], style: str) -> str:
    """The prompt text for ``style`` ("plain" or "chat", the conversation in ChatML); both end with ``<think>``."""
    if style == "plain":
        return f"<question>\n{puzzle_text(meta, statements)}\n</question>\n<think>"
    return chat_conversation(meta, statements).chatml()


def render_completion(
    statements: Sequence[Formula],
    names: Sequence[str],
    roles: Sequence[str],
    solution: Sequence[bool],
    cot_style: str = "full",
) -> str:
    """Gold completion following a prompt that ends with ``<think>``: reasoning, ``</think>``, answer block.

    ``cot_style``: ``full`` (the backtracking narration, :func:`chain_of_thought`) or one of the truth
    tables of :func:`compact_chain` (``compact``, ``lookup``, ``short``, ``roles``, ``bound``).
    """
    if cot_style == "full":
        cot = chain_of_thought(statements, names, roles, solution)
    elif cot_style in COT_STYLES:
        cot = compact_chain(statements, names, roles, solution, cot_style)
    else:
        raise ValueError(f"unknown chain-of-thought style {cot_style!r} (allowed: {', '.join(COT_STYLES)})")
    return f"\n{cot}\n</think>\n<answer>\n{answer_text(names, roles, solution)}\n</answer>"
