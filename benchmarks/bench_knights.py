"""Knights & Knaves generator speed: bit-parallel uniqueness vs one assignment at a time.

Measures, in one process and one run, milliseconds per uniquely solvable puzzle at several people
counts for

- ``naive``: a straightforward implementation of the published algorithm (mem-kk-logic): sample the
  statements with the reference dice sampler, then enumerate the 2**n assignments one at a time,
  evaluate every statement under each, collect the consistent ones and resample unless exactly one
  remains. It lives in this script on purpose (it is the baseline, not library code);
- ``core``: the same sampling with reasonlab's bit-parallel check (``knights_logic``), where every
  statement is evaluated over all 2**n assignments at once as 2**n-bit integers;
- ``full``: ``KnightsTask.generate`` end to end (uniqueness, de-duplication, names, rendering and
  the gold chain of thought);

the verifier's throughput on gold completions, and how often the math-level perturbations
(``leaf``, ``statement``) find a changed unique solution. Ratios are naive / reasonlab.

    .venv/bin/python benchmarks/bench_knights.py [--people 3 5 8 10] [--seconds 2]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import time

from reasonlab.rewards import score
from reasonlab.tasks import get_task
from reasonlab.tasks.knights.logic import sample_unique
from reasonlab.tasks.knights.perturb import MATH_LEVEL, perturb_problems

# ----------------------------------------------------------------------------- published algorithm, naively


def naive_sample(rng: random.Random, n: int, speaker: int, depth: int, width: int) -> tuple:
    """Reference dice sampler (0 leaf, 1 not, 2/3 and/or, 4/5 ->/<=>; distinct children; no 'I am lying')."""
    dice = rng.randrange(6)
    if depth <= 1 or dice == 0:
        while True:
            kind = ("telling-truth", "lying")[rng.randrange(2)]
            person = rng.randrange(n)
            if not (kind == "lying" and person == speaker):
                return (kind, person)
    if dice == 1:
        return ("not", naive_sample(rng, n, speaker, depth - 1, width))
    if dice <= 3:
        op, k = ("and", "or")[dice - 2], rng.randint(2, width)
    else:
        op, k = ("->", "<=>")[dice - 4], 2
    children: list[tuple] = []
    while len(children) < k:
        child = naive_sample(rng, n, speaker, depth - 1, width)
        if child not in children:
            children.append(child)
    return (op, *children)


def naive_eval(node: tuple, assignment: tuple[bool, ...]) -> bool:
    op = node[0]
    if op == "telling-truth":
        return assignment[node[1]]
    if op == "lying":
        return not assignment[node[1]]
    if op == "not":
        return not naive_eval(node[1], assignment)
    if op == "and":
        return all(naive_eval(c, assignment) for c in node[1:])
    if op == "or":
        return any(naive_eval(c, assignment) for c in node[1:])
    if op == "->":
        return (not naive_eval(node[1], assignment)) or naive_eval(node[2], assignment)
    return naive_eval(node[1], assignment) == naive_eval(node[2], assignment)


def naive_solutions(statements: tuple) -> list[tuple[bool, ...]]:
    """All consistent assignments, enumerated one at a time (knight iff own statement true)."""
    n = len(statements)
    return [
        a
        for a in itertools.product([True, False], repeat=n)
        if all(naive_eval(statements[i], a) == a[i] for i in range(n))
    ]


def naive_puzzle(rng: random.Random, n: int, depth: int, width: int) -> tuple:
    while True:
        statements = tuple(naive_sample(rng, n, i, depth, width) for i in range(n))
        solutions = naive_solutions(statements)
        if len(solutions) == 1:
            return statements, solutions[0]


# ----------------------------------------------------------------------------- reasonlab


def core_puzzle(rng: random.Random, n: int, depth: int, width: int) -> tuple:
    return sample_unique(rng, n, depth, width)


def per_puzzle_ms(make, seconds: float, min_count: int = 5) -> tuple[float, int]:
    """Run ``make()`` repeatedly for about ``seconds`` (at least ``min_count`` times); ms per call."""
    count, start = 0, time.perf_counter()
    while count < min_count or time.perf_counter() - start < seconds:
        make()
        count += 1
    return (time.perf_counter() - start) * 1000 / count, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[3, 5, 8, 10])
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    args = parser.parse_args()
    task = get_task("knights")
    print(f"python {platform.python_version()} on {platform.machine()}; depth {args.depth}, width {args.width}")
    header = f"{'people':>6} {'naive ms':>10} {'core ms':>9} {'full ms':>9} {'naive/core':>11} {'naive/full':>11}"
    print(header)
    for n in args.people:
        rng_a, rng_b = random.Random(n), random.Random(n)
        naive_ms, _ = per_puzzle_ms(lambda rng=rng_a, n=n: naive_puzzle(rng, n, args.depth, args.width), args.seconds)
        core_ms, _ = per_puzzle_ms(lambda rng=rng_b, n=n: core_puzzle(rng, n, args.depth, args.width), args.seconds)
        params = task.params(people=n, depth=args.depth, width=args.width)
        count = max(20, int(args.seconds * 1000 / max(core_ms * 8, 1e-3)))
        start = time.perf_counter()
        made = sum(1 for _ in task.generate(params, count, seed=n))
        full_ms = (time.perf_counter() - start) * 1000 / made
        print(
            f"{n:>6} {naive_ms:>10.3f} {core_ms:>9.3f} {full_ms:>9.3f} "
            f"{naive_ms / core_ms:>10.1f}x {naive_ms / full_ms:>10.1f}x"
        )
    problems = list(task.generate(task.params(people="3-7"), 500, seed=0))
    start = time.perf_counter()
    for p in problems:
        score(task, p, p.solution, "logic_rl")
    dt = time.perf_counter() - start
    print(f"verifier: {len(problems) / dt:.0f} gold completions/s (people 3-7, logic_rl)")
    print("math-level perturbation success (200 puzzles each):")
    for n in (2, 3, 5, 8):
        base = list(task.generate(task.params(people=n, depth=args.depth, width=args.width), 200, seed=0))
        rates = []
        for kind in MATH_LEVEL:
            result = perturb_problems(base, kind, seed=0)
            rates.append(f"{kind} {len(result.problems) / len(base):.0%}")
        print(f"  {n} people: " + ", ".join(rates))


if __name__ == "__main__":
    main()
