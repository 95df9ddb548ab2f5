"""Dependency graphs of the ``arith`` task: construction at an exact op count, values, reverse mode.

Parameters (nodes) are keyed by kind and layer indices, independent of any context's names:

- ``("i12", a, b)`` instance: the number of layer-2 item ``b`` in layer-1 item ``a`` (stated);
- ``("i23", b, c)`` instance (depth 3): the number of layer-3 item ``c`` per layer-2 item ``b``;
- ``("t2", a)`` abstract: total layer-2 items in ``a`` = sum of every stated ``i12(a, .)``;
- ``("u", b)`` abstract (depth 3): total layer-3 items per ``b`` = sum of every stated ``i23(b, .)``;
- ``("t3", a)`` abstract (depth 3): total layer-3 items in ``a`` = sum over stated ``b`` of
  ``i12(a, b) * u(b)`` (an implicit sum of products).

Abstract parameters are never stated; a reader must infer them from every stated instance of the
right kind, so once an abstract node exists its layer is *locked*: no later instance of that kind may
be stated (not even as a distractor) except as one of its own children.

The op count of a graph is the number of in-edges of its necessary nodes, constants included: a
stated number costs 1, ``c = 4 * R`` costs 2, a total over ``k`` parameters costs ``k`` and a sum of
``k`` products costs ``2k``. Graphs are built top-down from the target at an exact op count: every
open (not yet defined) instance reserves one op (the cheapest definition, a stated number), and a
choice is taken only if the lower bound ``spent + reserved`` stays within the target, so every node
is an ancestor of the target by construction and the count lands exactly (rarely a draw cannot
spend its last op and is rejected; the caller draws again). Values, reverse mode and distractors are
:mod:`reasonlab.tasks.arith.values`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

#: The iGSM modulus, default of the ``modulus`` knob; any prime keeps reverse mode solvable.
MOD = 23
#: Largest value a node may take in "range" mode (GSM-Infinite rejects anything above).
RANGE_MAX = 1000

Key = tuple[Any, ...]
INSTANCE_KINDS = ("i12", "i23")


@dataclass(slots=True)
class GNode:
    """One parameter: ``op`` in const/add/sub/mul/sum2/diff2 (instances) or sum/sumprod (abstract)."""

    key: Key
    op: str = ""
    parents: list[int] = field(default_factory=list)
    const: int | None = None
    value: int = 0


@dataclass(slots=True)
class Graph:
    """A built problem graph: necessary nodes, the target, distractor nodes, gold solution order."""

    nodes: list[GNode]
    target: int
    order: list[int]
    distractors: list[int]

    def ops(self) -> int:
        """Op count of the necessary nodes: in-edges including constant edges."""
        return sum(in_edges(self.nodes[i]) for i in self.order)


def in_edges(node: GNode) -> int:
    """In-edges of one node: its parents plus one for a constant."""
    return len(node.parents) + (node.const is not None)


#: The operator characters of the ``operators`` knob and the node ops each one allows.
OPERATOR_OPS = {"+": ("add", "sum2"), "-": ("sub", "diff2"), "*": ("mul",)}
ALL_OPERATORS = "+-*"


def check_operators(value: object, need_plus: bool = True) -> str:
    """``value`` as distinct characters of ``+-*`` in canonical order (``"*+"`` -> ``"+*"``); ValueError otherwise.

    ``need_plus``: the word problems' implicit totals are sums, so their operator set must include ``+``.
    """
    if not isinstance(value, str) or not value or set(value) - set(ALL_OPERATORS) or len(set(value)) != len(value):
        raise ValueError(f"operators must be distinct characters from {ALL_OPERATORS!r}, got {value!r}")
    if need_plus and "+" not in value:
        raise ValueError(f"operators must include '+' (implicit totals are sums), got {value!r}")
    return "".join(c for c in ALL_OPERATORS if c in value)


def op_choices(operators: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(relation-to-one-parent ops, relation-to-two-parents ops) allowed by ``operators``, in a fixed order.

    ``"+-*"`` -> ``(("add", "sub", "mul"), ("sum2", "diff2"))``; ``"+"`` -> ``(("add",), ("sum2",))``.
    The order is that of :data:`ALL_OPERATORS` whatever the order of ``operators``, so the default draws
    exactly the problems it drew before the knob existed.
    """
    allowed = {op for c in operators for op in OPERATOR_OPS[c]}
    return (
        tuple(o for o in ("add", "sub", "mul") if o in allowed),
        tuple(o for o in ("sum2", "diff2") if o in allowed),
    )


class GraphBuilder:
    """Top-down construction of a necessary graph with exactly ``ops`` operations."""

    def __init__(
        self, rng: random.Random, sizes: tuple[int, int, int], depth: int, ops: int, operators: str = ALL_OPERATORS
    ) -> None:
        self.rng = rng
        self.unary_ops, self.binary_ops = op_choices(operators)
        self.n1, self.n2, self.n3 = sizes
        self.depth = depth
        self.ops = ops
        self.nodes: list[GNode] = []
        self.index: dict[Key, int] = {}
        self.kids: list[list[int]] = []
        self.open: list[int] = []
        self.spent = 0
        self.reserve = 0
        self.B: dict[int, list[int]] = {}
        self.C: dict[int, list[int]] = {}

    # -------------------------------------------------------------- primitives
    def add(self, key: Key) -> int:
        """Add an open node for ``key`` and return its index (instances reserve one op)."""
        i = len(self.nodes)
        self.nodes.append(GNode(key))
        self.index[key] = i
        self.kids.append([])
        kind = key[0]
        if kind == "i12":
            self.B.setdefault(key[1], []).append(key[2])
            self.reserve += 1
        elif kind == "i23":
            self.C.setdefault(key[1], []).append(key[2])
            self.reserve += 1
        self.open.append(i)
        return i

    def link(self, parent: int, child: int) -> None:
        """Make ``parent`` a parent of ``child`` (one op)."""
        self.nodes[child].parents.append(parent)
        self.kids[parent].append(child)
        self.spent += 1

    def desc(self, v: int) -> set[int]:
        """``v`` and every node that depends on it (forbidden as parents of ``v``)."""
        seen = {v}
        stack = [v]
        kids = self.kids
        while stack:
            for k in kids[stack.pop()]:
                if k not in seen:
                    seen.add(k)
                    stack.append(k)
        return seen

    def a_locked(self, a: int) -> bool:
        """Whether layer-1 item ``a`` has a total: then no new instance of it may be stated."""
        return ("t2", a) in self.index or ("t3", a) in self.index

    def fresh_instance(self) -> Key | None:
        """A random instance parameter that may still be stated, or None."""
        rng, index = self.rng, self.index
        for _ in range(16):
            if self.depth == 3 and rng.random() < 0.35:
                b, c = rng.randrange(self.n2), rng.randrange(self.n3)
                if ("u", b) in index or ("i23", b, c) in index:
                    continue
                return ("i23", b, c)
            a, b = rng.randrange(self.n1), rng.randrange(self.n2)
            if self.a_locked(a) or ("i12", a, b) in index:
                continue
            return ("i12", a, b)
        return None

    # -------------------------------------------------------------- abstract parameters
    def u_cost(self, b: int, forbidden: set[int]) -> int | None:
        """Ops needed to make ``u(b)`` available as a parent (0 if it exists), None if impossible."""
        uv = self.index.get(("u", b))
        if uv is not None:
            return None if uv in forbidden else 0
        kids = self.C.get(b, [])
        if any(self.index[("i23", b, c)] in forbidden for c in kids):
            return None
        return len(kids) if kids else 2

    def plan_abstract(self, forbidden: set[int]) -> tuple[Key, int, int | None] | None:
        """Pick a new abstract parameter usable as a parent: ``(key, cost, chosen_b)`` or None."""
        rng, index = self.rng, self.index
        kinds = ("t2",) if self.depth == 2 else ("t2", "t2", "u", "t3")
        for _ in range(6):
            kind = rng.choice(kinds)
            if kind == "u":
                b = rng.randrange(self.n2)
                if ("u", b) in index:
                    continue
                cost = self.u_cost(b, forbidden)
                if cost is None:
                    continue
                return ("u", b), cost, None
            a = rng.randrange(self.n1)
            key = (kind, a)
            if key in index:
                continue
            bs = self.B.get(a, [])
            if any(index[("i12", a, b)] in forbidden for b in bs):
                continue
            if kind == "t2":
                return key, (len(bs) if bs else 2), None
            if bs:
                total = 0
                for b in bs:
                    uc = self.u_cost(b, forbidden)
                    if uc is None:
                        break
                    total += 2 + uc
                else:
                    return key, total, None
                continue
            b = rng.randrange(self.n2)
            uc = self.u_cost(b, forbidden)
            if uc is None:
                continue
            return key, 3 + uc, b
        return None

    def create_abstract(self, key: Key, chosen_b: int | None = None) -> int:
        """Add an abstract node and link every stated child (adding one new child if none exist)."""
        v = self.add(key)
        kind = key[0]
        if kind == "t2":
            a = key[1]
            bs = list(self.B.get(a, []))
            if bs:
                for b in bs:
                    self.link(self.index[("i12", a, b)], v)
            else:
                self.link(self.add(("i12", a, self.rng.randrange(self.n2))), v)
        elif kind == "u":
            b = key[1]
            cs = list(self.C.get(b, []))
            if cs:
                for c in cs:
                    self.link(self.index[("i23", b, c)], v)
            else:
                self.link(self.add(("i23", b, self.rng.randrange(self.n3))), v)
        else:
            a = key[1]
            bs = list(self.B.get(a, [])) or [chosen_b if chosen_b is not None else self.rng.randrange(self.n2)]
            for b in bs:
                self.pair(v, a, b)
        return v

    def pair(self, v: int, a: int, b: int) -> None:
        """Link ``i12(a, b)`` and ``u(b)`` (creating them if needed) as a product term of ``t3`` node ``v``."""
        iv = self.index.get(("i12", a, b))
        if iv is None:
            iv = self.add(("i12", a, b))
        self.link(iv, v)
        uv = self.index.get(("u", b))
        if uv is None:
            uv = self.create_abstract(("u", b))
        self.link(uv, v)

    # -------------------------------------------------------------- expansion
    def parent_choice(
        self, v: int, forbidden: set[int], budget: int, exclude: int | None
    ) -> tuple[str, Any, int] | None:
        """One parent for instance ``v`` costing at most ``budget`` extra ops: (source, what, cost)."""
        rng = self.rng
        options: list[tuple[str, Any, int]] = []
        reuse = [i for i in range(len(self.nodes)) if i not in forbidden and i != exclude]
        if reuse:
            options.append(("reuse", rng.choice(reuse), 0))
        if budget >= 1:
            key = self.fresh_instance()
            if key is not None:
                options.append(("new", key, 1))
                options.append(("new", key, 1))
        if budget >= 2:
            plan = self.plan_abstract(forbidden)
            if plan is not None and plan[1] <= budget:
                options.append(("abstract", plan, plan[1]))
        if not options:
            return None
        return rng.choice(options)

    def materialise(self, choice: tuple[str, Any, int]) -> int:
        """The node a :meth:`parent_choice` result names, creating it when it is new."""
        source, what, _ = choice
        if source == "reuse":
            return what
        if source == "new":
            return self.add(what)
        key, _, chosen_b = what
        return self.create_abstract(key, chosen_b)

    def define_instance(self, v: int, free: int, last: bool) -> None:
        """Define open instance ``v``: a stated number, or a relation to one or two parents.

        ``free`` is the slack ``ops - spent - reserved``; a stated number keeps it, a relation spends
        ``1 + cost(parents)``. The last open node must spend (else the draw ends short and is rejected).
        """
        node = self.nodes[v]
        rng = self.rng
        kind = "leaf"
        if free > 0:
            kind = rng.choice(("unary", "binary") if last else ("leaf", "unary", "binary", "unary", "binary"))
        if kind != "leaf":
            forbidden = self.desc(v)
            first = self.parent_choice(v, forbidden, free - 1, None)
            if first is not None:
                self.reserve -= 1
                p1 = self.materialise(first)
                self.link(p1, v)
                second = None
                if kind == "binary":
                    second = self.parent_choice(v, forbidden, free - 1 - first[2], p1)
                if second is None:
                    node.op = rng.choice(self.unary_ops)
                    node.const = 0
                    self.spent += 1
                else:
                    self.link(self.materialise(second), v)
                    node.op = rng.choice(self.binary_ops)
                return
        self.reserve -= 1
        node.op = "const"
        node.const = 0
        self.spent += 1

    def expand_abstract(self, v: int, free: int, last: bool) -> None:
        """Optionally give an abstract node more (new) children while the budget allows."""
        node = self.nodes[v]
        kind = node.key[0]
        rng = self.rng
        node.op = "sumprod" if kind == "t3" else "sum"
        while free >= 2 and (last or rng.random() < 0.35):
            if kind == "t2":
                a = node.key[1]
                if ("t3", a) in self.index:
                    return
                free_b = [b for b in range(self.n2) if ("i12", a, b) not in self.index]
                if not free_b:
                    return
                self.link(self.add(("i12", a, rng.choice(free_b))), v)
                free -= 2
            elif kind == "u":
                b = node.key[1]
                free_c = [c for c in range(self.n3) if ("i23", b, c) not in self.index]
                if not free_c:
                    return
                self.link(self.add(("i23", b, rng.choice(free_c))), v)
                free -= 2
            else:
                a = node.key[1]
                if ("t2", a) in self.index:
                    return
                forbidden = self.desc(v)
                cands = []
                for b in range(self.n2):
                    if ("i12", a, b) in self.index:
                        continue
                    uc = self.u_cost(b, forbidden)
                    if uc is not None and 3 + uc <= free:
                        cands.append((b, uc))
                if not cands:
                    return
                b, uc = rng.choice(cands)
                self.pair(v, a, b)
                free -= 3 + uc
            last = False

    def build(self) -> tuple[list[GNode], int] | None:
        """``(nodes, target)`` of a graph with exactly ``ops`` operations, or None (draw again)."""
        rng = self.rng
        if self.ops >= 2 and (self.ops == 2 or rng.random() < 0.5):
            plan = self.plan_abstract(set())
            if plan is None or plan[1] > self.ops:
                return None
            root = self.create_abstract(plan[0], plan[2])
        else:
            key = self.fresh_instance()
            if key is None:
                return None
            root = self.add(key)
        while self.open:
            v = self.open.pop(rng.randrange(len(self.open)))
            free = self.ops - self.spent - self.reserve
            if free < 0:
                return None
            if self.nodes[v].key[0] in INSTANCE_KINDS:
                self.define_instance(v, free, not self.open)
            else:
                self.expand_abstract(v, free, not self.open)
        if self.spent != self.ops:
            return None
        return self.nodes, root


def topo_order(nodes: list[GNode], target: int) -> list[int]:
    """Parents-first order of the target's ancestors (DFS post-order, parents in listed order)."""
    order: list[int] = []
    state: dict[int, int] = {}
    stack: list[tuple[int, int]] = [(target, 0)]
    while stack:
        v, i = stack.pop()
        if i == 0:
            if v in state:
                continue
            state[v] = 1
        parents = nodes[v].parents
        if i < len(parents):
            stack.append((v, i + 1))
            p = parents[i]
            if p not in state:
                stack.append((p, 0))
        else:
            order.append(v)
    return order
