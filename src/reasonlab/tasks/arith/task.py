"""``arith``: dependency-graph arithmetic word problems (GSM-Infinite / iGSM semantics).

A problem states instance parameters ("the number of adult bears in Mayer Aquarium equals 3") and
asks for one parameter whose value follows through a dependency graph; implicit totals ("the total
number of adult animals in ...") are never stated and must be inferred as the sum of every stated
parameter of their kind. Difficulty (the op count of the graph, see :mod:`reasonlab.tasks.arith.graph`)
and surface content (a context template from ``tasks/contexts/*.yaml``) are independent knobs.

Gold solutions follow the reference grammar, one step per necessary parameter in topological order::

    Define adult bears in Mayer Aquarium as Q; so Q = 3. Define total adult animals in Mayer
    Aquarium as i; so i = Q = 3. ... Answer: 12.

Reverse mode hides one stated number ("... is unknown"), gives a downstream value in the question,
and the solution carries the unknown ``x`` through affine values (``2x + 3``) and solves for it.
The verifier (:mod:`reasonlab.tasks.arith.verify`) parses the same grammar and compares it step by
step with the gold graph stored in ``meta``; the text is written by :mod:`reasonlab.tasks.arith.render`.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.tasks.arith.contexts import Context, context_names, get_context
from reasonlab.tasks.arith.graph import ALL_OPERATORS, MOD, RANGE_MAX, GNode, check_operators
from reasonlab.tasks.arith.render import (
    PROMPT_HEAD,
    PROMPT_TAIL,
    capitalize,
    chat_prompt,
    meta_answer,
    meta_modulus,
    plain_completion,
    question_text,
    solution_body,
)
from reasonlab.tasks.arith.values import affine_forms, build_graph
from reasonlab.tasks.arith.verify import failure_kind, verify_completion
from reasonlab.tasks.base import Problem, Task, Verification
from reasonlab.tasks.knobs import IntRange, Mix, MixKnob, RangeKnob
from reasonlab.tasks.registry import register

MIN_OPS, MAX_OPS = 2, 50
#: Variable letters of solution steps; ``x`` is reserved for the unknown of reverse mode.
LETTERS = "abcdefghijklmnopqrstuvwyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Defaults of the rendering knobs; a problem's meta records a knob only when it differs from these, so
#: problems drawn with the defaults stay byte-identical to those drawn before the knobs existed.
RENDER_DEFAULTS: dict[str, Any] = {
    "letters": "random",
    "order": "shuffled",
    "template": "full",
    "sums": "whole",
    "names": "short",
    "number_line": False,
}

OPS_KNOB = RangeKnob(
    "ops",
    MIN_OPS,
    MAX_OPS,
    ": other op counts are impossible for the arith graph (the smallest, a total over one stated number, has 2 "
    "ops; solutions use distinct letters)",
)
CONTEXT_KNOB = MixKnob("context", context_names)


def parse_ops(value: Any) -> IntRange:
    """``5`` or ``"5"`` -> 5..5; ``"2-10"`` -> 2..10; ValueError naming the problem otherwise."""
    return OPS_KNOB.parse(value)


def check_modulus(v: int) -> int:
    """``v`` if it is a prime in 3..1000 (reverse mode divides by the modulus), else a ValueError."""
    if not 3 <= v <= RANGE_MAX or any(v % d == 0 for d in range(2, int(v**0.5) + 1)):
        raise ValueError(f"modulus must be a prime from 3 to {RANGE_MAX} (reverse mode divides by it), got {v}")
    return v


class ArithParams(StrictModel):
    """Knobs of the arith task; CLI strings are accepted (``--ops 2-10 --context zoo=0.99,school=0.01``).

    ``ops`` is stored as an :class:`IntRange` and ``context`` as a :class:`Mix`; both are written back
    in their text form (``2-10``, ``zoo=0.99,school=0.01``).
    """

    ops: Annotated[IntRange, OPS_KNOB] = Field(
        "2-10",
        description="op count of the gold graph (in-edges of necessary nodes, constants included): N or A-B",
        validate_default=True,
    )
    context: Annotated[Mix, CONTEXT_KNOB] = Field(
        "zoo", description="context template, or a weighted mix such as zoo=0.99,school=0.01", validate_default=True
    )
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

    letters: Literal["random", "ordered"] = Field(
        "random",
        description="variable letters of the solution: random distinct letters (iGSM), or ordered: a, b, c, ... "
        "in solution order (x skipped; the unknown of reverse mode stays x)",
    )
    order: Literal["shuffled", "topo"] = Field(
        "shuffled",
        description="order of the stated sentences: shuffled (GSM-Infinite), or topo: necessary sentences in the "
        "gold solution's (dependency) order, distractors where the shuffle put them",
    )
    template: Literal["full", "compact", "reversed"] = Field(
        "full",
        description="sentence wording: full (the context's sentences); compact: equations over the solution's "
        "parameter names, defined name first (`bears in X = wolves in Y + 3.`; fewer tokens per problem); "
        "reversed: the same equations expression first (`wolves in Y + 3 = bears in X.`)",
    )
    names: Literal["short", "long"] = Field(
        "short",
        description="parameter names in the solution (and in compact sentences): short (`adult bears in X`) or "
        "long, the sentences' phrase (`the number of adult bears in X`)",
    )
    number_line: bool = Field(
        False,
        description="mod mode: open the question with the residues in order (`0 1 2 3 4 5 6.` for modulus 7), "
        "a sequence in which each number predicts the next, so next-token training separates the numbers' "
        "embeddings before any arithmetic is learned; it also states the number mode in the prompt",
    )
    sums: Literal["whole", "partial"] = Field(
        "whole",
        description="totals over k >= 3 parameters in the solution: whole (one k-operand sum) or partial "
        "(`= 2 + 3 + 4 = 5 + 4 = 2`: a running sum, one two-operand fact per term)",
    )

    @field_validator("modulus")
    @classmethod
    def _check_modulus(cls, v: int) -> int:
        return check_modulus(v)

    @field_validator("operators", mode="before")
    @classmethod
    def _check_operators(cls, v: Any) -> str:
        return check_operators(v)

    @model_validator(mode="after")
    def _check_depth_operators(self) -> ArithParams:
        if self.depth == 3 and "*" not in self.operators:
            raise ValueError(f"depth 3 needs '*' in operators (totals of products), got {self.operators!r}")
        return self


# ============================================================================ generation


def _graph_meta(
    g_nodes: list[GNode],
    order: list[int],
    target: int,
    hidden: int | None,
    forms: list[tuple[int, int]] | None,
    ctx: Context,
    rng: random.Random,
    letter_mode: str = "random",
    names: str = "short",
) -> dict[str, Any]:
    pos = {v: i for i, v in enumerate(order)}
    letters = rng.sample(LETTERS, len(order))  # drawn in every mode, so the rest of the draw is unchanged
    if letter_mode == "ordered":
        named = [v for v in order if v != hidden]
        letters = [LETTERS[named.index(v)] if v != hidden else "x" for v in order]
    nodes = []
    for i, v in enumerate(order):
        n = g_nodes[v]
        rec: dict[str, Any] = {
            "name": ctx.step_name(n.key, names),
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


#: Sentence wording of ``template: compact``: equations over the short (solution) names of parameters.
COMPACT_SENTENCES = {
    "const": "{P} = {n}.",
    "add": "{P} = {Q} + {n}.",
    "sub": "{P} = {Q} - {n}.",
    "mul": "{P} = {n} * {Q}.",
    "sum2": "{P} = {Q} + {R}.",
    "diff2": "{P} = {Q} - {R}.",
    "unknown": "{P} is unknown.",
    "question": "Find {P}.",
    "question_reverse": "If {Q} = {n}, find {P}.",
}
#: Sentence wording of ``template: reversed``: the compact equations written expression first.
REVERSED_SENTENCES = {
    **COMPACT_SENTENCES,
    "const": "{n} = {P}.",
    "add": "{Q} + {n} = {P}.",
    "sub": "{Q} - {n} = {P}.",
    "mul": "{n} * {Q} = {P}.",
    "sum2": "{Q} + {R} = {P}.",
    "diff2": "{Q} - {R} = {P}.",
}
_WORDING = {"compact": COMPACT_SENTENCES, "reversed": REVERSED_SENTENCES}


def _wording(ctx: Context, template: str) -> dict[str, str]:
    """The sentence templates of ``template``: the context's own (full) or the equation forms."""
    return _WORDING.get(template, ctx.sentences)


def _name(ctx: Context, key: tuple[Any, ...], template: str, names: str) -> str:
    """A parameter's name in the question text: its phrase (full template) or its solution name."""
    return ctx.phrase(key) if template == "full" else ctx.step_name(key, names)


def _sentence(
    ctx: Context, g_nodes: list[GNode], v: int, hidden: int | None, template: str = "full", names: str = "short"
) -> str:
    n = g_nodes[v]
    s = _wording(ctx, template)
    P = _name(ctx, n.key, template, names)
    if template == "full":
        P = capitalize(P)
    if v == hidden:
        return s["unknown"].format(P=P)
    q = [_name(ctx, g_nodes[p].key, template, names) for p in n.parents]
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
        """One problem drawn with ``rng`` (see :meth:`Task.sample`), or None when the draw is rejected."""
        p: ArithParams = params
        ctx = get_context(p.context.draw(rng))
        mode = p.mode if p.mode != "mix" else ("forward" if rng.random() < 0.5 else "reverse")
        ops = p.ops.draw(rng)
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
        meta_graph = _graph_meta(nodes, order, target, hidden, forms, ctx, rng, p.letters, p.names)
        stated = [
            _sentence(ctx, nodes, v, hidden, p.template, p.names) for v in order if nodes[v].key[0] in ("i12", "i23")
        ]
        stated += [_sentence(ctx, nodes, v, None, p.template, p.names) for v in graph.distractors]
        perm = list(range(len(stated)))
        rng.shuffle(perm)  # the same draw in every order mode
        if p.order == "topo":  # necessary sentences (indices < n_necessary) take their slots in solution order
            n_necessary = len(stated) - len(graph.distractors)
            rank = iter(range(n_necessary))
            perm = [next(rank) if i < n_necessary else i for i in perm]
        sentences = [stated[i] for i in perm]
        wording = _wording(ctx, p.template)

        def name(key: tuple[Any, ...]) -> str:
            return _name(ctx, key, p.template, p.names)

        if hidden is None:
            question = wording["question"].format(P=name(nodes[target].key))
        else:
            meta_graph["given"] = nodes[target].value
            question = wording["question_reverse"].format(
                P=name(nodes[hidden].key), Q=name(nodes[target].key), n=nodes[target].value
            )
        line = [" ".join(str(i) for i in range(modulus)) + "."] if p.number_line and modulus is not None else []
        text = " ".join([*line, *sentences, question])
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
        for knob, default in RENDER_DEFAULTS.items():
            if getattr(p, knob) != default:
                meta[knob] = getattr(p, knob)
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

    def answer_space(self, problem: Problem) -> int | None:
        """The modulus in mod mode (answers 0..p-1); None in range mode."""
        return meta_modulus(problem.meta)

    def unstated_setting(self, params: Any) -> str | None:
        """The number mode (``mod 7`` or ``range``) unless the prompt states it (``number_line`` in mod mode)."""
        p: ArithParams = params
        if p.num_mode == "range":
            return "range"
        return None if p.number_line else f"mod {p.modulus}"

    def verify(self, problem: Problem, completion: str) -> Verification:
        """Outcome and process verification of ``completion`` (never raises)."""
        return verify_completion(problem.meta, problem.answer, completion)

    def failure_kind(self, v: Verification) -> str | None:
        """missing_step / wrong_dependency / wrong_value / extra_step / wrong_answer / no_answer (see
        :func:`reasonlab.tasks.arith.verify.failure_kind`)."""
        return failure_kind(v)


__all__ = ["LETTERS", "MAX_OPS", "MIN_OPS", "RENDER_DEFAULTS", "ArithParams", "ArithTask", "check_modulus", "parse_ops"]
