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
    P = capitalize(ctx.phrase(n.key))
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

    def answer_space(self, problem: Problem) -> int | None:
        """The modulus in mod mode (answers 0..p-1); None in range mode."""
        return meta_modulus(problem.meta)

    def verify(self, problem: Problem, completion: str) -> Verification:
        """Outcome and process verification of ``completion`` (never raises)."""
        return verify_completion(problem.meta, problem.answer, completion)

    def failure_kind(self, v: Verification) -> str | None:
        """missing_step / wrong_dependency / wrong_value / extra_step / wrong_answer / no_answer (see
        :func:`reasonlab.tasks.arith.verify.failure_kind`)."""
        return failure_kind(v)


__all__ = ["LETTERS", "MAX_OPS", "MIN_OPS", "ArithParams", "ArithTask", "check_modulus", "parse_ops"]
