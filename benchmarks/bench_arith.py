"""arith generator and verifier throughput, one process.

Measures, for ops 2, 5, 10, 15, 20 (mode mix, mod 23, depth 2, zoo, 2 distractors unless changed):

- ``problems/s``: ``ArithTask.generate`` end to end (graph construction at the exact op count,
  values, reverse-mode solving, sentences, gold solution, de-duplication);
- ``draws/problem``: how many draws the construction needed per accepted problem;
- ``steps``: mean gold ``Define`` steps (the reference measured 2.0 / 3.1 / 5.7 / 7.7 (op 14) / 10.1);
- ``chars``: mean characters of prompt + gold completion;
- ``verify/s``: ``ArithTask.verify`` on a mix of gold and corrupted completions of those problems
  (every kind of :mod:`reasonlab.tasks.arith.corrupt` except ``long``, plus gold twice), and on
  gold completions alone.

    .venv/bin/python benchmarks/bench_arith.py [--ops 2 5 10 15 20] [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time

from reasonlab.seeds import stable_seed
from reasonlab.tasks import get_task
from reasonlab.tasks.arith.corrupt import CORRUPTIONS, corrupt


def bench_generate(task, params, seconds: float) -> tuple[float, list, float]:
    """Generate for about ``seconds``; returns (problems/s, problems, draws per problem)."""
    made: list = []
    start = time.perf_counter()
    batch = 200
    seed = 0
    while time.perf_counter() - start < seconds:
        made.extend(task.generate(params, batch, seed))
        seed += 1
    elapsed = time.perf_counter() - start
    draws = 0
    for s in range(seed):
        ids = [int(p.id.rsplit("-", 1)[1]) for p in made[s * batch : (s + 1) * batch]]
        draws += max(ids) + 1
    return len(made) / elapsed, made, draws / len(made)


def bench_verify(task, problems: list, completions: list[str], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    while True:
        for p, c in zip(problems, completions, strict=True):
            task.verify(p, c)
        n += len(problems)
        if time.perf_counter() - start >= seconds:
            break
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, nargs="+", default=[2, 5, 10, 15, 20])
    ap.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    ap.add_argument("--mode", default="mix")
    ap.add_argument("--num-mode", default="mod")
    ap.add_argument("--depth", default="2")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()

    task = get_task("arith")
    kinds = [k for k in CORRUPTIONS if k != "long"]
    rows = []
    for op in args.ops:
        params = task.params(ops=op, mode=args.mode, num_mode=args.num_mode, depth=args.depth)
        rate, problems, draws = bench_generate(task, params, args.seconds)
        sample = problems[:500]
        mixed_p, mixed_c = [], []
        for p in sample:
            rng = random.Random(stable_seed("bench", p.id))
            for kind in ["gold", "gold", *kinds]:
                mixed_p.append(p)
                mixed_c.append(p.solution if kind == "gold" else corrupt(p, kind, rng))
        rows.append(
            {
                "ops": op,
                "problems_per_s": round(rate),
                "draws_per_problem": round(draws, 2),
                "steps": round(statistics.mean(p.meta["n_steps"] for p in problems), 2),
                "chars": round(statistics.mean(len(p.prompt) + len(p.solution) for p in problems)),
                "verify_mixed_per_s": round(bench_verify(task, mixed_p, mixed_c, args.seconds / 2)),
                "verify_gold_per_s": round(bench_verify(task, sample, [p.solution for p in sample], args.seconds / 2)),
            }
        )
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "knobs": {"mode": args.mode, "num_mode": args.num_mode, "depth": args.depth, "context": "zoo"},
        "rows": rows,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    print(f"arith benchmark (python {info['python']}, {info['machine']}; knobs {info['knobs']})")
    print(
        f"{'ops':>4} {'problems/s':>11} {'draws/prob':>11} {'steps':>6} {'chars':>6} "
        f"{'verify/s mixed':>15} {'verify/s gold':>14}"
    )
    for r in rows:
        print(
            f"{r['ops']:>4} {r['problems_per_s']:>11} {r['draws_per_problem']:>11} {r['steps']:>6} {r['chars']:>6} "
            f"{r['verify_mixed_per_s']:>15} {r['verify_gold_per_s']:>14}"
        )


if __name__ == "__main__":
    main()
