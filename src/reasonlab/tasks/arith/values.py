"""Values of ``arith`` graphs: constants and evaluation (mod p or range), reverse mode, distractors.

:func:`build_graph` is the entry point: a necessary graph at an exact op count
(:mod:`reasonlab.tasks.arith.graph`), its values drawn, and distractor parameters stated beside it.
"""

from __future__ import annotations

import random

from reasonlab.tasks.arith.graph import (
    ALL_OPERATORS,
    RANGE_MAX,
    GNode,
    Graph,
    GraphBuilder,
    Key,
    op_choices,
    topo_order,
)

__all__ = ["add_distractors", "affine_forms", "build_graph"]


def _draw_values(nodes: list[GNode], order: list[int], rng: random.Random, modulus: int | None) -> bool:
    """Draw constants and evaluate in ``order``; in range mode repair or reject invalid values.

    Range mode (GSM-Infinite): constants 1..4, no modulus; a subtraction that would go below 1 becomes
    an addition, a difference of two parameters is swapped (or becomes a sum when they are equal);
    any value above :data:`RANGE_MAX` rejects the draw. Mod mode (``modulus`` p, iGSM: p = 23): values
    0..p-1, constants of additions 1..p-1 and of multiplications 2..p-1, all arithmetic mod p.
    ``modulus=None`` is range mode.
    """
    mod = modulus is not None
    top = (modulus or 1) - 1  # largest residue in mod mode
    for v in order:
        n = nodes[v]
        op = n.op
        pv = [nodes[p].value for p in n.parents]
        if op == "const":
            n.const = rng.randint(0, top) if mod else rng.randint(1, 4)
            val = n.const
        elif op in ("add", "sub"):
            n.const = rng.randint(1, top) if mod else rng.randint(1, 4)
            if not mod and op == "sub" and pv[0] - n.const < 1:
                n.op = op = "add"
            val = pv[0] + n.const if op == "add" else pv[0] - n.const
        elif op == "mul":
            n.const = rng.randint(2, top) if mod else rng.randint(2, 4)
            val = pv[0] * n.const
        elif op == "sum2":
            val = pv[0] + pv[1]
        elif op == "diff2":
            val = pv[0] - pv[1]
            if not mod and val < 1:
                if val < 0:
                    n.parents.reverse()
                    val = -val
                else:
                    n.op = "sum2"
                    val = pv[0] + pv[1]
        elif op == "sum":
            val = sum(pv)
        elif op == "sumprod":
            val = sum(pv[i] * pv[i + 1] for i in range(0, len(pv), 2))
        else:  # pragma: no cover - construction never leaves an undefined node
            raise AssertionError(f"undefined node op {op!r}")
        if modulus is not None:
            val %= modulus
        elif val > RANGE_MAX:
            return False
        n.value = val
    return True


def affine_forms(
    nodes: list[GNode], order: list[int], hidden: int, modulus: int | None
) -> list[tuple[int, int]] | None:
    """Each node's value as ``a*x + b`` (mod ``modulus``; None = integers) with ``x`` the hidden leaf; None if
    some node is nonlinear in x.

    Products of two x-dependent factors (possible only in a depth-3 ``sumprod``) make the graph
    nonlinear, and reverse mode then cannot solve for x with one linear equation.
    """
    forms: list[tuple[int, int]] = [(0, 0)] * len(nodes)
    for v in order:
        n = nodes[v]
        op = n.op
        ps = [forms[p] for p in n.parents]
        if v == hidden:
            f = (1, 0)
        elif op == "const":
            f = (0, n.value)
        elif op == "add":
            f = (ps[0][0], ps[0][1] + n.const)  # type: ignore[operator]
        elif op == "sub":
            f = (ps[0][0], ps[0][1] - n.const)  # type: ignore[operator]
        elif op == "mul":
            c = n.const or 0
            f = (c * ps[0][0], c * ps[0][1])
        elif op in ("sum2", "sum"):
            f = (sum(p[0] for p in ps), sum(p[1] for p in ps))
        elif op == "diff2":
            f = (ps[0][0] - ps[1][0], ps[0][1] - ps[1][1])
        else:
            a = b = 0
            for i in range(0, len(ps), 2):
                (a1, b1), (a2, b2) = ps[i], ps[i + 1]
                if a1 and a2:
                    return None
                a += a1 * b2 + a2 * b1
                b += b1 * b2
            f = (a, b)
        if modulus is not None:
            f = (f[0] % modulus, f[1] % modulus)
        forms[v] = f
    return forms


def add_distractors(
    nodes: list[GNode],
    count: int,
    rng: random.Random,
    sizes: tuple[int, int, int],
    depth: int,
    modulus: int | None,
    operators: str = ALL_OPERATORS,
) -> list[int]:
    """State up to ``count`` unnecessary instance parameters (fewer if no free parameter is left).

    A distractor is a stated number or a relation to earlier nodes (necessary or distractor), so the
    graph stays acyclic and every stated parameter is well defined; it never lies in a locked layer.
    """
    n1, n2, n3 = sizes
    index = {n.key: i for i, n in enumerate(nodes)}
    locked_a = {n.key[1] for n in nodes if n.key[0] in ("t2", "t3")}
    locked_b = {n.key[1] for n in nodes if n.key[0] == "u"}
    free: list[Key] = [("i12", a, b) for a in range(n1) if a not in locked_a for b in range(n2)]
    if depth == 3:
        free += [("i23", b, c) for b in range(n2) if b not in locked_b for c in range(n3)]
    free = [k for k in free if k not in index]
    if count <= 0 or not free:
        return []
    chosen = rng.sample(free, min(count, len(free)))
    mod = modulus is not None
    lo = 0 if mod else 1
    hi = modulus - 1 if modulus is not None else 4
    unary_ops, binary_ops = op_choices(operators)
    made: list[int] = []
    for key in chosen:
        n = GNode(key)
        earlier = len(nodes)
        r = rng.random()
        if r < 0.4:
            n.op, n.const = "const", rng.randint(lo, hi)
            n.value = n.const
        elif r < 0.75 or earlier < 2:
            p = rng.randrange(earlier)
            n.op = rng.choice(unary_ops)
            n.parents = [p]
            n.const = rng.randint(2 if n.op == "mul" else 1, hi)
            pv = nodes[p].value
            n.value = pv + n.const if n.op == "add" else pv - n.const if n.op == "sub" else pv * n.const
        else:
            p, q = rng.sample(range(earlier), 2)
            n.op = rng.choice(binary_ops)
            n.parents = [p, q]
            pv, qv = nodes[p].value, nodes[q].value
            n.value = pv + qv if n.op == "sum2" else pv - qv
        if modulus is not None:
            n.value %= modulus
        elif not 1 <= n.value <= RANGE_MAX:
            n.op, n.parents, n.const = "const", [], rng.randint(lo, hi)
            n.value = n.const
        nodes.append(n)
        made.append(len(nodes) - 1)
    return made


def build_graph(
    rng: random.Random,
    sizes: tuple[int, int, int],
    depth: int,
    ops: int,
    modulus: int | None,
    distractors: int,
    value_tries: int = 6,
    operators: str = ALL_OPERATORS,
) -> Graph | None:
    """A necessary graph with exactly ``ops`` operations plus distractors, values drawn; None = reject.

    ``operators`` (a subset of ``+-*`` containing ``+``) limits the relations between parameters;
    implicit totals are sums whatever it says. ``modulus`` p: all values mod p (iGSM); None: range mode
    (GSM-Infinite).
    """
    built = GraphBuilder(rng, sizes, depth, ops, operators).build()
    if built is None:
        return None
    nodes, target = built
    order = topo_order(nodes, target)
    if len(order) != len(nodes):  # pragma: no cover - construction guarantees every node is an ancestor
        return None
    for _ in range(value_tries):
        if _draw_values(nodes, order, rng, modulus):
            break
    else:
        return None
    extra = add_distractors(nodes, distractors, rng, sizes, depth, modulus, operators)
    return Graph(nodes=nodes, target=target, order=order, distractors=extra)
