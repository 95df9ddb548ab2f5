"""Rollout decoding in one process on T threads vs ``rollout.workers`` processes on T // workers threads each.

The two ways are timed alternately in one process on the same batches (one GRPO step's rollouts of the main job:
8 of its edge problems x 8 samples at T 1.0, 200 new tokens), so drift in the machine's speed hits both alike;
batch 0 (worker start-up) is left out of the medians. Prints one JSON line per batch and a summary line.

    .venv/bin/python benchmarks/bench_rollout_workers.py --model runs/_shared/pretrain-a6f3cfe9bb1b/model
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a checkpoint trained on the main job's task (its base)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=12)
    args = ap.parse_args(argv)

    from bench_shared_prefix import main_job_edge
    from reasonlab.sampling import SamplingParams, generate
    from reasonlab.train.rl.workers import RolloutWorkers

    model, tok, task, prompter, knobs = main_job_edge(args.model, args.threads)
    problems = list(task.generate(task.params(**knobs), 8 * args.batches, seed=5))
    params = SamplingParams(temperature=1.0, max_new_tokens=200, stop_token_ids=[tok.eos_id])
    pool = RolloutWorkers(model, tok, args.workers, None, threads=args.threads)
    here: list[float] = []
    pooled: list[float] = []
    try:
        for it in range(args.batches):
            rows = [prompter.prompt(task, p) for p in problems[it * 8 : (it + 1) * 8] for _ in range(8)]
            seeds = list(range(it * 64, it * 64 + 64))
            out = {}
            for way in ("here", "workers") if it % 2 == 0 else ("workers", "here"):
                t = time.perf_counter()
                if way == "here":
                    out[way] = generate(model, tok, rows, params, seeds, add_bos=prompter.add_bos, shared_prefix=False)
                    here.append(time.perf_counter() - t)
                else:
                    out[way] = pool.generate(rows, params, seeds, add_bos=prompter.add_bos)
                    pooled.append(time.perf_counter() - t)
            same = sum(a.token_ids == b.token_ids for a, b in zip(out["here"], out["workers"], strict=True))
            print(json.dumps({"batch": it, "here_s": round(here[-1], 3), "workers_s": round(pooled[-1], 3),
                              "identical_rows": same, "rows": len(rows)}), flush=True)  # fmt: skip
    finally:
        pool.close()
    ratios = [a / b for a, b in zip(here[1:], pooled[1:], strict=True)]
    summary = {
        "threads": args.threads,
        "workers": args.workers,
        "median_here_s": round(statistics.median(here[1:]), 3),
        "median_workers_s": round(statistics.median(pooled[1:]), 3),
        "median_speedup": round(statistics.median(ratios), 2),
        "speedup_range": [round(min(ratios), 2), round(max(ratios), 2)],
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
