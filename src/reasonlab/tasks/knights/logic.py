"""Knights & Knaves logic: statement trees, their sampler, and the bit-parallel uniqueness check.

A statement is a formula tree in the tuple form of the public K&K generator (mem-kk-logic):
leaves ``("telling-truth", i)`` / ``("lying", i)`` and nodes ``("not", s)``, ``("and", s1, ...)``,
``("or", s1, ...)``, ``("->", s1, s2)``, ``("<=>", s1, s2)``. Person ``i`` is a truth-teller
(knight) iff their own statement is true, so a solution is an assignment making
``AND_i (knight_i <=> s_i)`` true.

Uniqueness is decided by evaluating every statement over all ``2**n`` assignments at once: the
truth of "person i is a knight" is a ``2**n``-bit Python int whose bit ``a`` is bit ``i`` of ``a``,
and ``and``/``or``/``not`` become ``&``/``|``/``^ FULL`` on those ints. One pass over the tree
evaluates the statement under every assignment, so a puzzle costs ``O(tree size)`` big-int
operations instead of ``O(2**n * tree size)`` Python-level evaluations.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

Formula = tuple[Any, ...]

LEAF_KINDS = ("telling-truth", "lying")
BINARY_OPS = ("->", "<=>")
NARY_OPS = ("and", "or")
OPS = ("not", *NARY_OPS, *BINARY_OPS)


class FormulaError(ValueError):
    """A statement that is not a well-formed formula over the puzzle's people."""


def to_tuple(node: Any) -> Formula:
    """Convert a JSON statement (nested lists) into the nested-tuple form, validating its shape."""
    if not isinstance(node, list | tuple) or not node:
        raise FormulaError(f"statement node must be a non-empty list, got {node!r}")
    op = node[0]
    if op in LEAF_KINDS:
        if len(node) != 2 or not isinstance(node[1], int) or isinstance(node[1], bool):
            raise FormulaError(f"leaf must be [{op!r}, person index], got {node!r}")
        return (op, node[1])
    if op == "not":
        if len(node) != 2:
            raise FormulaError(f"'not' takes one operand, got {len(node) - 1}")
        return ("not", to_tuple(node[1]))
    if op in NARY_OPS:
        if len(node) < 3:
            raise FormulaError(f"{op!r} takes at least two operands, got {len(node) - 1}")
        return (op, *(to_tuple(c) for c in node[1:]))
    if op in BINARY_OPS:
        if len(node) != 3:
            raise FormulaError(f"{op!r} takes two operands, got {len(node) - 1}")
        return (op, to_tuple(node[1]), to_tuple(node[2]))
    raise FormulaError(f"unknown statement operator {op!r} (allowed: {', '.join((*LEAF_KINDS, *OPS))})")


def to_json(node: Formula) -> list[Any]:
    """Nested-tuple formula -> nested lists (the ``meta.statements`` form)."""
    if node[0] in LEAF_KINDS:
        return [node[0], node[1]]
    return [node[0], *(to_json(c) for c in node[1:])]


def people_in(node: Formula) -> set[int]:
    """Indices of the people a formula mentions."""
    if node[0] in LEAF_KINDS:
        return {node[1]}
    out: set[int] = set()
    for child in node[1:]:
        out |= people_in(child)
    return out


def formula_depth(node: Formula) -> int:
    """Depth of a formula tree (a leaf has depth 1)."""
    if node[0] in LEAF_KINDS:
        return 1
    return 1 + max(formula_depth(c) for c in node[1:])


def leaf_paths(node: Formula, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Paths (child positions, 1-based as in the tuple) of every leaf, left to right."""
    if node[0] in LEAF_KINDS:
        return [path]
    out: list[tuple[int, ...]] = []
    for pos in range(1, len(node)):
        out.extend(leaf_paths(node[pos], (*path, pos)))
    return out


def get_at(node: Formula, path: Sequence[int]) -> Formula:
    """Sub-formula at ``path``."""
    for pos in path:
        node = node[pos]
    return node


def replace_at(node: Formula, path: Sequence[int], new: Formula) -> Formula:
    """Copy of ``node`` with the sub-formula at ``path`` replaced by ``new``."""
    if not path:
        return new
    pos = path[0]
    return (*node[:pos], replace_at(node[pos], path[1:], new), *node[pos + 1 :])


def has_distinct_children(node: Formula) -> bool:
    """Whether every operator node in the tree has pairwise distinct children (reference rule)."""
    if node[0] in LEAF_KINDS:
        return True
    children = node[1:]
    if node[0] != "not" and len(set(children)) != len(children):
        return False
    return all(has_distinct_children(c) for c in children)


# ----------------------------------------------------------------------------- evaluation


@lru_cache(maxsize=32)
def person_masks(n: int) -> tuple[tuple[int, ...], int]:
    """``(masks, full)``: ``masks[i]`` has bit ``a`` set iff bit ``i`` of ``a`` is set, for ``a < 2**n``.

    ``full = 2**(2**n) - 1``. Built in closed form: a block of ``2**i`` ones above ``2**i`` zeros,
    repeated every ``2**(i+1)`` bits (the repetition is a geometric series in powers of two).
    """
    size = 1 << n
    full = (1 << size) - 1
    masks = []
    for i in range(n):
        half = 1 << i
        period = half << 1
        block = ((1 << half) - 1) << half
        repeat = ((1 << size) - 1) // ((1 << period) - 1)
        masks.append(block * repeat)
    return tuple(masks), full


def eval_mask(node: Formula, masks: Sequence[int], full: int) -> int:
    """Truth of ``node`` under every assignment at once, as a ``2**n``-bit mask."""
    op = node[0]
    if op == "telling-truth":
        return masks[node[1]]
    if op == "lying":
        return full ^ masks[node[1]]
    if op == "not":
        return full ^ eval_mask(node[1], masks, full)
    if op == "and":
        acc = full
        for child in node[1:]:
            acc &= eval_mask(child, masks, full)
        return acc
    if op == "or":
        acc = 0
        for child in node[1:]:
            acc |= eval_mask(child, masks, full)
        return acc
    a = eval_mask(node[1], masks, full)
    b = eval_mask(node[2], masks, full)
    if op == "->":
        return (full ^ a) | b
    if op == "<=>":
        return full ^ (a ^ b)
    raise FormulaError(f"unknown statement operator {op!r}")


def consistent_mask(statements: Sequence[Formula]) -> int:
    """Mask of the assignments under which every person is a knight iff their statement is true."""
    n = len(statements)
    masks, full = person_masks(n)
    acc = full
    for i, statement in enumerate(statements):
        acc &= full ^ (masks[i] ^ eval_mask(statement, masks, full))
        if not acc:
            break
    return acc


def count_solutions(statements: Sequence[Formula]) -> int:
    """Number of consistent assignments (popcount of :func:`consistent_mask`)."""
    return consistent_mask(statements).bit_count()


def solution_of(acc: int, n: int) -> list[bool]:
    """The assignment (True = knight) encoded by the single set bit of a consistent mask."""
    a = acc.bit_length() - 1
    return [bool((a >> i) & 1) for i in range(n)]


def unique_solution(statements: Sequence[Formula]) -> list[bool] | None:
    """The single consistent assignment (True = knight), or None if there are zero or several."""
    acc = consistent_mask(statements)
    if acc.bit_count() != 1:
        return None
    return solution_of(acc, len(statements))


def eval3(node: Formula, assign: Sequence[bool | None]) -> bool | None:
    """Kleene three-valued truth of ``node`` under a partial assignment (None = unknown)."""
    op = node[0]
    if op == "telling-truth":
        return assign[node[1]]
    if op == "lying":
        v = assign[node[1]]
        return None if v is None else not v
    if op == "not":
        v = eval3(node[1], assign)
        return None if v is None else not v
    if op in NARY_OPS:
        vals = [eval3(c, assign) for c in node[1:]]
        absorbing = op == "or"  # True absorbs `or`, False absorbs `and`
        if absorbing in vals:
            return absorbing
        return None if None in vals else not absorbing
    a, b = eval3(node[1], assign), eval3(node[2], assign)
    if op == "->":
        if a is False or b is True:
            return True
        return False if (a is True and b is False) else None
    return None if a is None or b is None else a == b


# ----------------------------------------------------------------------------- sampling


def _draw(
    rand: Callable[[], float], n: int, speaker: int, depth: int, width: int, masks: Sequence[int], full: int
) -> tuple[Formula, int]:
    """Sample one formula with the reference sampler and return it with its truth mask (one pass).

    A die in 0..5 is drawn at each node: 0 (or depth budget 1) gives a leaf, 1 ``not``, 2/3
    ``and``/``or`` with 2..``width`` children, 4/5 ``->``/``<=>`` with two. A leaf is uniform over
    the ``2n - 1`` leaves other than ``("lying", speaker)`` (the reference draws kind and person and
    rejects "I am lying"; drawing directly from the admissible ones gives the same distribution).
    Children are pairwise distinct; when too few distinct children exist (tiny puzzles with a large
    width) the node keeps the distinct ones it found (always at least two).
    """
    dice = int(rand() * 6)
    if depth <= 1 or dice == 0:
        r = int(rand() * (2 * n - 1))
        if r < n:
            return ("telling-truth", r), masks[r]
        r -= n
        if r >= speaker:
            r += 1
        return ("lying", r), full ^ masks[r]
    if dice == 1:
        node, mask = _draw(rand, n, speaker, depth - 1, width, masks, full)
        return ("not", node), full ^ mask
    k = 2 + int(rand() * (width - 1)) if dice <= 3 else 2
    children: list[Formula] = []
    child_masks: list[int] = []
    misses = 0
    while len(children) < k:
        child, mask = _draw(rand, n, speaker, depth - 1, width, masks, full)
        if child in children:
            misses += 1
            if misses > 20 and len(children) >= 2:
                break
            continue
        children.append(child)
        child_masks.append(mask)
    if dice == 2:
        acc = full
        for mask in child_masks:
            acc &= mask
        return ("and", *children), acc
    if dice == 3:
        acc = 0
        for mask in child_masks:
            acc |= mask
        return ("or", *children), acc
    a, b = child_masks
    if dice == 4:
        return ("->", *children), (full ^ a) | b
    return ("<=>", *children), full ^ (a ^ b)


def sample_leaf(rng: random.Random, n: int, speaker: int) -> Formula:
    """A random leaf about a random person, never ``("lying", speaker)`` ("I am lying")."""
    masks, full = person_masks(n)
    return _draw(rng.random, n, speaker, 1, 2, masks, full)[0]


def sample_formula(rng: random.Random, n: int, speaker: int, depth: int, width: int) -> Formula:
    """One statement tree with the reference sampler (see :func:`_draw`)."""
    masks, full = person_masks(n)
    return _draw(rng.random, n, speaker, depth, width, masks, full)[0]


def sample_statements(rng: random.Random, n: int, depth: int, width: int) -> tuple[Formula, ...]:
    """One statement per person, drawn independently."""
    return tuple(sample_formula(rng, n, i, depth, width) for i in range(n))


def sample_puzzle(rng: random.Random, n: int, depth: int, width: int) -> tuple[tuple[Formula, ...], int] | None:
    """One rejection-sampling draw: ``(statements, consistent mask)``, or None once no assignment is left.

    Statements are drawn person by person and the consistent-assignment mask is narrowed as each is
    drawn; when it empties the draw is rejected without sampling the rest (the complete draw would
    have been rejected too, so accepted puzzles have exactly the reference distribution).
    """
    masks, full = person_masks(n)
    rand = rng.random
    acc = full
    statements = []
    for i in range(n):
        node, mask = _draw(rand, n, i, depth, width, masks, full)
        acc &= full ^ (masks[i] ^ mask)
        if not acc:
            return None
        statements.append(node)
    return tuple(statements), acc


def sample_unique(
    rng: random.Random, n: int, depth: int, width: int, max_tries: int = 1000
) -> tuple[tuple[Formula, ...], list[bool]]:
    """Resample statement sets until exactly one assignment is consistent; raise after ``max_tries``."""
    for _ in range(max_tries):
        draw = sample_puzzle(rng, n, depth, width)
        if draw is not None and draw[1].bit_count() == 1:
            return draw[0], solution_of(draw[1], n)
    raise RuntimeError(f"no uniquely solvable {n}-person puzzle in {max_tries} draws")
