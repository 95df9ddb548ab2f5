"""``arith``: dependency-graph arithmetic word problems (GSM-Infinite / iGSM semantics).

A problem states instance parameters ("the number of adult bears in Mayer Aquarium equals 3") and
asks for one parameter whose value follows through a dependency graph; implicit totals ("the total
number of adult animals in ...") are never stated and must be inferred as the sum of every stated
parameter of their kind. Difficulty (the op count of the graph, see :mod:`reasonlab.tasks.arith_graph`)
and surface content (a context template from ``tasks/contexts/*.yaml``) are independent knobs.

Gold solutions follow the reference grammar, one step per necessary parameter in topological order::

    Define adult bears in Mayer Aquarium as Q; so Q = 3. Define total adult animals in Mayer
    Aquarium as i; so i = Q = 3. ... Answer: 12.

Reverse mode hides one stated number ("... is unknown"), gives a downstream value in the question,
and the solution carries the unknown ``x`` through affine values (``2x + 3``) and solves for it.
The verifier (:func:`verify_completion`) parses the same grammar and compares it step by step with
the gold graph stored in ``meta``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.tasks import register
from reasonlab.tasks.arith_graph import (
    ALL_OPERATORS,
    MOD,
    RANGE_MAX,
    GNode,
    affine_forms,
    build_graph,
    in_edges,
)
from reasonlab.tasks.base import Problem, ProcessCheck, Task, Verification

CONTEXT_DIR = Path(__file__).parent / "contexts"
MIN_OPS, MAX_OPS = 2, 50
#: Variable letters of solution steps; ``x`` is reserved for the unknown of reverse mode.
LETTERS = "abcdefghijklmnopqrstuvwyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PROMPT_HEAD, PROMPT_TAIL = "<question> ", " </question> <solution>"

# ============================================================================ contexts


@dataclass(frozen=True)
class Context:
    """A context template: three layers of names and the wording of parameters and sentences."""

    name: str
    description: str
    l1: tuple[str, ...]
    l2: tuple[tuple[str, str], ...]  # (plural, singular)
    l3: tuple[str, ...]
    params: dict[str, str]
    short: dict[str, str]
    sentences: dict[str, str]

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.l1), len(self.l2), len(self.l3)

    def fill(self, template: str, key: tuple[Any, ...]) -> str:
        """Name the parameter ``key`` with ``template`` (a ``params`` or ``short`` entry)."""
        kind = key[0]
        if kind == "i12":
            plural, single = self.l2[key[2]]
            return template.format(a=self.l1[key[1]], b=plural, b1=single)
        if kind == "i23":
            plural, single = self.l2[key[1]]
            return template.format(b=plural, b1=single, c=self.l3[key[2]])
        if kind == "u":
            plural, single = self.l2[key[1]]
            return template.format(b=plural, b1=single)
        return template.format(a=self.l1[key[1]])

    def phrase(self, key: tuple[Any, ...]) -> str:
        return self.fill(self.params[key[0]], key)

    def short_name(self, key: tuple[Any, ...]) -> str:
        return self.fill(self.short[key[0]], key)


_PARAM_KINDS = ("i12", "i23", "t2", "u", "t3")
_SENTENCE_KINDS = ("const", "add", "sub", "mul", "sum2", "diff2", "unknown", "question", "question_reverse")


def _load_context(path: Path) -> Context:
    src = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReasonlabError(f"{src}: cannot read context template ({exc.__class__.__name__})") from None
    try:
        l1, l2, l3 = data["layers"]
        ctx = Context(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            l1=tuple(str(x) for x in l1),
            l2=tuple((str(p), str(s)) for p, s in l2),
            l3=tuple(str(x) for x in l3),
            params={k: str(data["params"][k]) for k in _PARAM_KINDS},
            short={k: str(data["short"][k]) for k in _PARAM_KINDS},
            sentences={k: str(data["sentences"][k]) for k in _SENTENCE_KINDS},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReasonlabError(f"{src}: malformed context template (missing or bad entry {exc})") from None
    for layer, names in (("1", ctx.l1), ("2", ctx.l2), ("3", ctx.l3)):
        if not 5 <= len(names) <= 10:
            raise ReasonlabError(f"{src}: layer {layer} has {len(names)} names; a template needs 5..10")
    return ctx


@cache
def contexts() -> dict[str, Context]:
    """All context templates shipped in ``tasks/contexts/``, by name."""
    out = {}
    for path in sorted(CONTEXT_DIR.glob("*.yaml")):
        ctx = _load_context(path)
        out[ctx.name] = ctx
    return out


def get_context(name: str) -> Context:
    known = contexts()
    if name not in known:
        raise ReasonlabError(f"unknown arith context {name!r}; known contexts: {', '.join(sorted(known))}")
    return known[name]


# ============================================================================ params


def parse_ops(value: Any) -> tuple[int, int]:
    """``5`` or ``"5"`` -> (5, 5); ``"2-10"`` -> (2, 10); ValueError naming the problem otherwise."""
    text = str(value).strip()
    m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", text)
    if not m:
        raise ValueError(f"ops {text!r} is not an integer or a range such as 2-10")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    if lo > hi:
        raise ValueError(f"ops range {text!r} is empty (low end above high end)")
    if lo < MIN_OPS or hi > MAX_OPS:
        raise ValueError(
            f"ops {text!r} is impossible for the arith graph: the smallest graph (a total over one stated "
            f"number) has {MIN_OPS} ops and solutions use distinct letters, so ops must lie in {MIN_OPS}..{MAX_OPS}"
        )
    return lo, hi


def parse_context_mix(value: Any) -> list[tuple[str, float]]:
    """``"zoo"`` -> [("zoo", 1.0)]; ``"zoo=0.99,school=0.01"`` -> weighted list (weights >= 0, sum > 0)."""
    text = str(value).strip()
    known = contexts()
    items: list[tuple[str, float]] = []
    parts = [p.strip() for p in text.split(",")]
    for part in parts:
        name, eq, weight = part.partition("=")
        name = name.strip()
        if not name:
            raise ValueError(f"context mix {text!r} is malformed: expected NAME or NAME=WEIGHT,NAME=WEIGHT")
        if name not in known:
            raise ValueError(f"unknown context {name!r}; known contexts: {', '.join(sorted(known))}")
        if any(name == n for n, _ in items):
            raise ValueError(f"context mix {text!r} names {name!r} twice")
        if not eq:
            if len(parts) > 1:
                raise ValueError(f"context mix {text!r} is malformed: give every context a weight (NAME=WEIGHT)")
            w = 1.0
        else:
            try:
                w = float(weight)
            except ValueError:
                raise ValueError(
                    f"context mix {text!r}: weight {weight.strip()!r} of {name!r} is not a number"
                ) from None
            if not w >= 0 or w == float("inf"):
                raise ValueError(f"context mix {text!r}: weight of {name!r} must be a finite number >= 0")
        items.append((name, w))
    if sum(w for _, w in items) <= 0:
        raise ValueError(f"context mix {text!r}: weights must have a positive sum")
    return items


def check_modulus(v: int) -> int:
    """``v`` if it is a prime in 3..1000 (reverse mode divides by the modulus), else a ValueError."""
    if not 3 <= v <= RANGE_MAX or any(v % d == 0 for d in range(2, int(v**0.5) + 1)):
        raise ValueError(f"modulus must be a prime from 3 to {RANGE_MAX} (reverse mode divides by it), got {v}")
    return v


class ArithParams(StrictModel):
    """Knobs of the arith task; CLI strings are accepted (``--ops 2-10 --context zoo=0.99,school=0.01``)."""

    ops: str = Field(
        "2-10",
        description="op count of the gold graph (in-edges of necessary nodes, constants included): N or A-B",
    )
    context: str = Field("zoo", description="context template, or a weighted mix such as zoo=0.99,school=0.01")
    mode: Literal["forward", "reverse", "mix"] = Field(
        "forward", description="forward (ask a derived value), reverse (solve for a hidden number x), mix 50/50"
    )
    distractors: int = Field(2, ge=0, le=30, description="unnecessary stated parameters (fewer if none is free)")
    num_mode: Literal["mod", "range"] = Field(
        "mod", description="mod: all values mod `modulus` (iGSM); range: constants 1-4, values 1..1000 (GSM-Infinite)"
    )
    modulus: int = Field(
        MOD,
        description="the prime of mod mode (iGSM: 23); a smaller one shrinks the fact tables a model must learn "
        "(3 x p^2 facts) without changing the graphs",
    )
    depth: int = Field(2, ge=2, le=3, description="entity layers: 2 (totals) or 3 (adds per-item totals, products)")
    operators: str = Field(
        ALL_OPERATORS,
        description="relations allowed between parameters: a subset of +-* with + (totals are sums); "
        "depth 3 needs * (its totals are sums of products)",
    )

    @field_validator("ops", mode="before")
    @classmethod
    def _check_ops(cls, v: Any) -> str:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise ValueError(f"ops must be an integer or a range such as 2-10, got {v!r}")
        lo, hi = parse_ops(v)
        return str(lo) if lo == hi else f"{lo}-{hi}"

    @field_validator("modulus")
    @classmethod
    def _check_modulus(cls, v: int) -> int:
        return check_modulus(v)

    @field_validator("operators", mode="before")
    @classmethod
    def _check_operators(cls, v: Any) -> str:
        if not isinstance(v, str) or not v or set(v) - set(ALL_OPERATORS) or len(set(v)) != len(v):
            raise ValueError(f"operators must be distinct characters from {ALL_OPERATORS!r}, got {v!r}")
        if "+" not in v:
            raise ValueError(f"operators must include '+' (implicit totals are sums), got {v!r}")
        return "".join(c for c in ALL_OPERATORS if c in v)

    @model_validator(mode="after")
    def _check_depth_operators(self) -> ArithParams:
        if self.depth == 3 and "*" not in self.operators:
            raise ValueError(f"depth 3 needs '*' in operators (totals of products), got {self.operators!r}")
        return self

    @field_validator("context", mode="before")
    @classmethod
    def _check_context(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"context must be a name or a mix such as zoo=0.99,school=0.01, got {v!r}")
        items = parse_context_mix(v)
        if len(items) == 1 and "=" not in v:
            return items[0][0]
        return ",".join(f"{n}={w:g}" for n, w in items)


@cache
def _ops_range(text: str) -> tuple[int, int]:
    return parse_ops(text)


@cache
def _context_table(text: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    items = parse_context_mix(text)
    total = sum(w for _, w in items)
    acc, cum = 0.0, []
    for _, w in items:
        acc += w / total
        cum.append(acc)
    return tuple(n for n, _ in items), tuple(cum)


def pick_context(text: str, rng: random.Random) -> str:
    """Draw a context name from a mix string (one ``rng.random()`` call; exact for weights to 1e-9)."""
    names, cum = _context_table(text)
    if len(names) == 1:
        return names[0]
    r = rng.random()
    for name, c in zip(names, cum, strict=True):
        if r < c:
            return name
    return names[-1]


# ============================================================================ rendering


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


def _cap(text: str) -> str:
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
    """``(name, letter, expr, numbers, value)`` of every gold step (``expr`` None for the unknown)."""
    nodes = meta["graph"]["nodes"]
    letters = [n["letter"] for n in nodes]
    forms = [node_form(n) for n in nodes]
    hidden = meta["graph"].get("hidden")
    out: list[tuple[str, str, str | None, str, str]] = []
    for i, n in enumerate(nodes):
        if i == hidden:
            out.append((n["name"], n["letter"], None, "", ""))
        else:
            expr, _ = expression(n, letters)
            out.append((n["name"], n["letter"], expr, substituted(n, forms), fmt_affine(*forms[i])))
    return out


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
    return f" {body} </solution> <answer> {answer} </answer>"


CHAT_INSTRUCTION = (
    "Solve the problem step by step. Name each quantity with a letter and write each step as "
    '"Define <quantity> as <letter>; so <letter> = <expression> = <value>." '
    'End with "Answer: N."'
)


def chat_prompt(text: str, meta: dict[str, Any]) -> str:
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


# ============================================================================ verification

#: One step without its final period: ``Define <name> as V`` optionally followed by ``; so <body>``.
_STEP_RE = re.compile(r"Define ([^;]{1,160}?) as ([A-Za-z])(?:; so (.*))?", re.DOTALL)
#: Longest step (from ``Define`` to its period) the parser looks at; bounds the work on junk input.
MAX_STEP_CHARS = 800
_ANSWER_TAG_RE = re.compile(r"<answer>([^<]{0,100})</answer>")
_ANSWER_RE = re.compile(r"Answer:\**\s*\**\s*(-?\d{1,12})")
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


def extract_answer(completion: str) -> tuple[str | None, str | None]:
    """(integer text or None, error or None): last ``<answer>`` tag, else last ``Answer: N``."""
    tags = _ANSWER_TAG_RE.findall(completion)
    if tags:
        m = _INT_RE.fullmatch(tags[-1])
        if m:
            return str(int(m.group(1))), None
    last = None
    for m in _ANSWER_RE.finditer(completion):
        last = m
    if last is not None:
        return str(int(last.group(1))), None
    if tags:
        return None, "answer tag does not hold an integer"
    return None, "no answer found"


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
        end = find(".", start, start + MAX_STEP_CHARS)
        if end < 0 or 0 <= pos < end:  # no period in reach, or the next step starts first: malformed
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
        return Verification(
            correct=False,
            format_ok=False,
            pred=None,
            answer_status="unparseable",
            error=f"verifier error: {exc.__class__.__name__}",
            process=ProcessCheck(n_gold=1, missing=1, answer_mismatch=True),
        )
    status = "exact" if correct else ("unparseable" if pred is None else "mismatch")
    return Verification(
        correct=correct,
        format_ok=pred is not None and bool(steps),
        pred=pred,
        answer_status=status,  # type: ignore[arg-type]
        error=error,
        process=check,
        extra={"n_steps": len(steps)},
    )


# ============================================================================ generation


def _graph_meta(
    g_nodes: list[GNode],
    order: list[int],
    target: int,
    hidden: int | None,
    forms: list[tuple[int, int]] | None,
    ctx: Context,
    rng: random.Random,
) -> dict[str, Any]:
    pos = {v: i for i, v in enumerate(order)}
    letters = rng.sample(LETTERS, len(order))
    nodes = []
    for i, v in enumerate(order):
        n = g_nodes[v]
        rec: dict[str, Any] = {
            "name": ctx.short_name(n.key),
            "key": list(n.key),
            "op": n.op,
            "parents": [pos[p] for p in n.parents],
            "const": n.const if n.op in ("const", "add", "sub", "mul") else None,
            "value": n.value,
            "letter": "x" if v == hidden else letters[i],
        }
        if forms is not None:
            rec["affine"] = list(forms[v])
        nodes.append(rec)
    return {"nodes": nodes, "target": pos[target], "hidden": None if hidden is None else pos[hidden]}


def _sentence(ctx: Context, g_nodes: list[GNode], v: int, hidden: int | None) -> str:
    n = g_nodes[v]
    s = ctx.sentences
    P = _cap(ctx.phrase(n.key))
    if v == hidden:
        return s["unknown"].format(P=P)
    q = [ctx.phrase(g_nodes[p].key) for p in n.parents]
    if n.op == "const":
        return s["const"].format(P=P, n=n.const)
    if n.op in ("add", "sub", "mul"):
        return s[n.op].format(P=P, n=n.const, Q=q[0])
    return s[n.op].format(P=P, Q=q[0], R=q[1])


@register
class ArithTask(Task):
    """Dependency-graph arithmetic with process verification (GSM-Infinite / iGSM lineage)."""

    name = "arith"
    description = "dependency-graph arithmetic (GSM-Infinite/iGSM): ops, context, mode, process verification"
    Params = ArithParams

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        p: ArithParams = params
        ctx = get_context(pick_context(p.context, rng))
        mode = p.mode if p.mode != "mix" else ("forward" if rng.random() < 0.5 else "reverse")
        lo, hi = _ops_range(p.ops)
        ops = rng.randint(lo, hi)
        modulus = p.modulus if p.num_mode == "mod" else None
        graph = build_graph(rng, ctx.sizes, p.depth, ops, modulus, p.distractors, operators=p.operators)
        if graph is None:
            return None
        nodes, order, target = graph.nodes, graph.order, graph.target
        hidden = None
        forms = None
        if mode == "reverse":
            leaves = [v for v in order if nodes[v].op == "const" and v != target]
            rng.shuffle(leaves)
            for h in leaves:
                f = affine_forms(nodes, order, h, modulus)
                if f is not None and f[target][0] != 0:
                    hidden, forms = h, f
                    break
            if hidden is None:
                return None
        meta_graph = _graph_meta(nodes, order, target, hidden, forms, ctx, rng)
        sentences = [_sentence(ctx, nodes, v, hidden) for v in order if nodes[v].key[0] in ("i12", "i23")]
        sentences += [_sentence(ctx, nodes, v, None) for v in graph.distractors]
        rng.shuffle(sentences)
        if hidden is None:
            question = ctx.sentences["question"].format(P=ctx.phrase(nodes[target].key))
        else:
            meta_graph["given"] = nodes[target].value
            question = ctx.sentences["question_reverse"].format(
                P=ctx.phrase(nodes[hidden].key), Q=ctx.phrase(nodes[target].key), n=nodes[target].value
            )
        text = " ".join([*sentences, question])
        meta: dict[str, Any] = {
            "ops": ops,
            "context": ctx.name,
            "mode": mode,
            "num_mode": p.num_mode,
            "modulus": modulus,
            "depth": p.depth,
            "operators": p.operators,
            "distractors": len(graph.distractors),
            "n_steps": len(order),
            "graph": meta_graph,
        }
        answer = meta_answer(meta)
        solution = plain_completion(solution_body(meta), answer)
        return Problem(
            id="",
            task=self.name,
            prompt=f"{PROMPT_HEAD}{text}{PROMPT_TAIL}",
            answer=answer,
            solution=solution,
            meta=meta,
        )

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """plain: ``<question> TEXT </question> <solution>`` + `` STEPS Answer: N. </solution> <answer> N </answer>``;
        chat: TEXT + instructions, completion ``STEPS Answer: N.``"""
        if style == "plain":
            return problem.prompt, problem.solution
        if style == "chat":
            return chat_prompt(question_text(problem.prompt), problem.meta), solution_body(problem.meta)
        raise ReasonlabError(f"arith: unknown prompt style {style!r}; choose from {', '.join(self.styles)}")

    def verify(self, problem: Problem, completion: str) -> Verification:
        return verify_completion(problem.meta, problem.answer, completion)


__all__ = [
    "ArithParams",
    "ArithTask",
    "Context",
    "contexts",
    "extract_answer",
    "fmt_affine",
    "gold_steps",
    "in_edges",
    "parse_steps",
    "parse_value",
    "process_check",
    "verify_completion",
]
