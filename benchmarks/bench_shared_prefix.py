"""Decoding with the shared-prefix cache vs a copy of the prompt's cache per row, on the main job's workloads.

Rows that share a prompt (an RL group, an evaluation's samples of one problem) can decode with one copy of
the prompt's keys/values per row (``shared_prefix=False``, the sampler before
:class:`reasonlab.model.shared_prefix.SharedPrefixCache`) or with one copy for all of them (the default). Both are
timed alternately in one process on the same batch, best of ``--repeats``; the JSON line also says how many
rows came out with identical tokens and the largest difference of a sampled token's log-probability.

    .venv/bin/python benchmarks/bench_shared_prefix.py --model runs/_shared/pretrain-a6f3cfe9bb1b/model --threads 1

Workloads (the main job's knobs, arith modulo 7, ops 4-6): ``rl``, 8 problems x 8 samples at T 1.0, 200 new
tokens (one GRPO step's rollouts); ``eval``, 16 problems x 16 samples at T 0.7 in one batch of 256 (an
evaluation batch).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

#: The main job's recipe: its task knobs, at its edge ops 4-6.
MAIN_RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"
WORKLOADS = {"rl": (8, 8, 1.0), "eval": (16, 16, 0.7)}  # problems, samples per problem, temperature


def main_job_edge(model_path: str, threads: int) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    """``(model, tokenizer, arith task, prompter, knobs)``: a base of the main job on ``threads`` torch threads and
    the main job's task knobs at its edge ops 4-6 (shared with the other decoding benchmarks)."""
    from reasonlab.model import load_model
    from reasonlab.model.chat import Prompter
    from reasonlab.tasks import get_task

    torch.set_num_threads(threads)
    model, tok = load_model(model_path)
    knobs = {**yaml.safe_load(MAIN_RECIPE.read_text())["task"]["knobs"], "ops": "4-6"}
    return model, tok, get_task("arith"), Prompter("plain", tok, model_path), knobs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a checkpoint trained on the main job's task (its base)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from reasonlab.compute import measure_matmul_peak
    from reasonlab.sampling import SamplingParams, generate

    model, tok, task, prompter, knobs = main_job_edge(args.model, args.threads)
    peak = measure_matmul_peak()
    for name, (n_problems, samples, temperature) in WORKLOADS.items():
        problems = task.generate(task.params(**knobs), n_problems, seed=123)
        prompts = [prompter.prompt(task, p) for p in problems for _ in range(samples)]
        seeds = list(range(len(prompts)))
        params = SamplingParams(max_new_tokens=200, temperature=temperature)
        best = {True: float("inf"), False: float("inf")}
        out = {}
        for _ in range(args.repeats):
            for shared in (False, True):
                t = time.perf_counter()
                out[shared] = generate(
                    model, tok, prompts, params, seeds, batch_size=256, return_logprobs=True, shared_prefix=shared
                )
                best[shared] = min(best[shared], time.perf_counter() - t)
        same = [a.token_ids == b.token_ids for a, b in zip(out[False], out[True], strict=True)]
        lp_diff = max(
            max((abs(x - y) for x, y in zip(a.logprobs or [], b.logprobs or [], strict=True)), default=0.0)
            for a, b, s in zip(out[False], out[True], same, strict=True)
            if s
        )
        row = {
            "workload": name,
            "rows": len(prompts),
            "threads": args.threads,
            "matmul_peak_gflops": round(peak / 1e9, 1),
            "per_row_cache_s": round(best[False], 3),
            "shared_prefix_s": round(best[True], 3),
            "speedup": round(best[False] / best[True], 2),
            "identical_rows": sum(same),
            "max_logprob_diff": float(f"{lp_diff:.2e}"),
            "mean_new_tokens": round(sum(len(g.token_ids) for g in out[True]) / len(prompts), 1),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
