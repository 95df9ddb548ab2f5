"""Rendering of ``arith`` problems: gold solution steps, the solve sentence of reverse mode, prompts.

Gold solutions follow the reference grammar, one step per necessary parameter in topological order::

    Define adult bears in Mayer Aquarium as Q; so Q = 3. Define total adult animals in Mayer
    Aquarium as i; so i = Q = 3. ... Answer: 12.

Reverse mode carries the unknown ``x`` through affine values (``2x + 3``) and solves for it.
"""

from __future__ import annotations

from typing import Any

from reasonlab.tasks.arith.graph import MOD

PROMPT_HEAD, PROMPT_TAIL = "<question> ", " </question> <solution>"


def fmt_affine(a: int, b: int) -> str:
    """``a*x + b`` as text: ``"7"``, ``"x"``, ``"2x + 3"``, ``"-x - 4"`` (the grammar of reverse steps)."""
    if a == 0:
        return str(b)
    ax = "x" if a == 1 else "-x" if a == -1 else f"{a}x"
    if b > 0:
        return f"{ax} + {b}"
    if b < 0:
        return f"{ax} - {-b}"
    return ax


def _sub(a: int, b: int) -> str:
    """A value as substituted into an expression: parenthesised when it is a compound affine form."""
    text = fmt_affine(a, b)
    return text if a == 0 or b == 0 else f"({text})"


def capitalize(text: str) -> str:
    """``text`` with its first character upper-cased (sentence starts)."""
    return text[:1].upper() + text[1:]


def expression(node: dict[str, Any], letters: list[str]) -> tuple[str, list[int]]:
    """The step expression over parent letters, and the parent order used in it."""
    op, ps, c = node["op"], node["parents"], node.get("const")
    if op == "const":
        return str(c), []
    if op == "add":
        return f"{letters[ps[0]]} + {c}", ps
    if op == "sub":
        return f"{letters[ps[0]]} - {c}", ps
    if op == "mul":
        return f"{c} * {letters[ps[0]]}", ps
    if op == "sum2":
        return f"{letters[ps[0]]} + {letters[ps[1]]}", ps
    if op == "diff2":
        return f"{letters[ps[0]]} - {letters[ps[1]]}", ps
    if op == "sum":
        return " + ".join(letters[p] for p in ps), ps
    return " + ".join(f"{letters[ps[i]]} * {letters[ps[i + 1]]}" for i in range(0, len(ps), 2)), ps


def substituted(node: dict[str, Any], forms: list[tuple[int, int]]) -> str:
    """The step expression with parent values substituted (affine forms in reverse mode)."""
    op, ps, c = node["op"], node["parents"], node.get("const")
    v = [_sub(*forms[p]) for p in ps]
    if op == "const":
        return str(c)
    if op == "add":
        return f"{v[0]} + {c}"
    if op == "sub":
        return f"{v[0]} - {c}"
    if op == "mul":
        return f"{c} * {v[0]}"
    if op in ("sum2", "sum"):
        return " + ".join(v)
    if op == "diff2":
        return f"{v[0]} - {v[1]}"
    return " + ".join(f"{v[i]} * {v[i + 1]}" for i in range(0, len(v), 2))


def partial_sum_terms(forms: list[tuple[int, int]], modulus: int | None) -> list[str]:
    """Running-sum terms between a k-operand sum's substituted numbers and its value (``sums: partial``).

    Values ``2, 3, 4`` (mod 7) give ``["5 + 4"]``: the step reads ``= 2 + 3 + 4 = 5 + 4 = 2``, so every term
    adds one two-operand fact. Fewer than three operands give ``[]``. Affine forms (reverse mode) add
    coefficient-wise.
    """
    terms: list[str] = []
    acc = forms[0] if forms else (0, 0)
    for j in range(1, len(forms) - 1):
        acc = (acc[0] + forms[j][0], acc[1] + forms[j][1])
        if modulus is not None:
            acc = (acc[0] % modulus, acc[1] % modulus)
        terms.append(" + ".join([_sub(*acc), *(_sub(*f) for f in forms[j + 1 :])]))
    return terms


def node_form(node: dict[str, Any]) -> tuple[int, int]:
    """A gold node's value as an affine pair ``(a, b)`` (``a = 0`` outside reverse mode)."""
    aff = node.get("affine")
    return (aff[0], aff[1]) if aff is not None else (0, node["value"])


def step_text(name: str, letter: str, expr: str | None, numbers: str = "", value: str = "") -> str:
    """``Define <name> as V; so V = <expr> = <numbers> = <value>.`` (repeated terms collapsed).

    ``expr=None`` gives the unknown's step of reverse mode, ``Define <name> as x.``
    """
    if expr is None:
        return f"Define {name} as {letter}."
    parts = [letter]
    for p in (expr, numbers, value):
        if p and p != parts[-1]:
            parts.append(p)
    return f"Define {name} as {letter}; so {' = '.join(parts)}."


def gold_step_parts(meta: dict[str, Any]) -> list[tuple[str, str, str | None, str, str]]:
    """``(name, letter, expr, numbers, value)`` of every gold step (``expr`` None for the unknown).

    With ``meta["sums"] == "partial"`` the ``numbers`` of a k-operand total (k >= 3) carry the running sum
    too (``"2 + 3 + 4 = 5 + 4"``); the verifier still reads the dependencies from ``expr`` and the value last.
    """
    nodes = meta["graph"]["nodes"]
    letters = [n["letter"] for n in nodes]
    forms = [node_form(n) for n in nodes]
    hidden = meta["graph"].get("hidden")
    partial = meta.get("sums", "whole") == "partial"
    modulus = meta_modulus(meta)
    out: list[tuple[str, str, str | None, str, str]] = []
    for i, n in enumerate(nodes):
        if i == hidden:
            out.append((n["name"], n["letter"], None, "", ""))
        else:
            expr, _ = expression(n, letters)
            numbers = substituted(n, forms)
            if partial and n["op"] == "sum":
                numbers = " = ".join([numbers, *partial_sum_terms([forms[p] for p in n["parents"]], modulus)])
            out.append((n["name"], n["letter"], expr, numbers, fmt_affine(*forms[i])))
    return out


def solution_shape(meta: dict[str, Any]) -> str:
    """The gold solution's dependency shape, names and numbers left out: one ``op(parents)`` per step, steps and
    parents named by position (``a`` the first step, ``b`` the second, ...), e.g. ``const add(a) sum(b)``.

    Two problems share a shape when their solutions wire the same ops to the same earlier steps; accuracy by
    shape shows whether a model follows the problem text or a wiring it expects at that op count (a total that
    sums ``b`` alone against one that sums ``a + b``, for instance).
    """
    nodes = meta["graph"]["nodes"]
    names = [chr(ord("a") + i) if i < 26 else f"s{i}" for i in range(len(nodes))]
    return " ".join(n["op"] + (f"({','.join(names[j] for j in n['parents'])})" if n["parents"] else "") for n in nodes)


def gold_steps(meta: dict[str, Any]) -> list[str]:
    """One ``Define ...`` sentence per gold node, from the structured graph in ``meta``."""
    return [step_text(*parts) for parts in gold_step_parts(meta)]


def solve_sentence(meta: dict[str, Any]) -> str:
    """Reverse mode: ``Since c = 17, 8x + 12 = 17; so 8x = 5; so x = 15.``"""
    g = meta["graph"]
    nodes = g["nodes"]
    sink = nodes[g["target"]]
    a, b = node_form(sink)
    given, ans = g["given"], int(meta_answer(meta))
    parts = [f"{fmt_affine(a, b)} = {given}"]
    rhs = given - b
    modulus = meta_modulus(meta)
    if modulus is not None:
        rhs %= modulus
    if b != 0:
        parts.append(f"{fmt_affine(a, 0)} = {rhs}")
    if a != 1:
        parts.append(f"x = {ans}")
    return f"Since {sink['letter']} = {given}, {'; so '.join(parts)}."


def meta_modulus(meta: dict[str, Any]) -> int | None:
    """The modulus of a problem's arithmetic (None in range mode; 23 for metas written before the knob)."""
    return int(meta.get("modulus", MOD)) if meta["num_mode"] == "mod" else None


def meta_answer(meta: dict[str, Any]) -> str:
    """The canonical answer of a problem: the target's value, or the hidden ``x`` in reverse mode."""
    g = meta["graph"]
    node = g["nodes"][g["hidden"] if g.get("hidden") is not None else g["target"]]
    return str(node["value"])


def solution_body(meta: dict[str, Any], steps: list[str] | None = None) -> str:
    """Steps (+ the solve sentence in reverse mode) and ``Answer: N.``"""
    parts = list(gold_steps(meta) if steps is None else steps)
    if meta["mode"] == "reverse":
        parts.append(solve_sentence(meta))
    parts.append(f"Answer: {meta_answer(meta)}.")
    return " ".join(parts)


def plain_completion(body: str, answer: str) -> str:
    """The plain rendering's gold completion: steps, then the answer tag."""
    return f" {body} </solution> <answer> {answer} </answer>"


CHAT_INSTRUCTION = (
    "Solve the problem step by step. Name each quantity with a letter and write each step as "
    '"Define <quantity> as <letter>; so <letter> = <expression> = <value>." '
    'End with "Answer: N."'
)


def chat_prompt(text: str, meta: dict[str, Any]) -> str:
    """The chat rendering's prompt: the problem text, the solution format and the arithmetic mode."""
    notes = []
    modulus = meta_modulus(meta)
    if modulus is not None:
        notes.append(f"All arithmetic is modulo {modulus}.")
    if meta["mode"] == "reverse":
        notes.append("Call the unknown quantity x.")
    note = (" " + " ".join(notes)) if notes else ""
    return f"{text}\n\n{CHAT_INSTRUCTION}{note}"


def question_text(prompt: str) -> str:
    """The problem text (sentences + question) inside a plain prompt."""
    if prompt.startswith(PROMPT_HEAD) and prompt.endswith(PROMPT_TAIL):
        return prompt[len(PROMPT_HEAD) : -len(PROMPT_TAIL)]
    return prompt
