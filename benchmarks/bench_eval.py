"""Evaluation harness speed: one full evaluation, timed phase by phase, printed as JSON.

Runs ``run_eval`` on an eval config (default ``configs/eval_arith.yaml``: 20 op buckets x 50 problems x
8 samples) with the given model and thread count, and prints wall time, sampling time and sampler
tokens/s, verification time, statistics time and samples/s, with the machine and model size.

    .venv/bin/python benchmarks/bench_eval.py --model runs/<pretrain-run> [--config configs/eval_arith.yaml]
        [--threads 2] [--out runs/bench-eval]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from reasonlab.config import validate
from reasonlab.eval.config import EvalConfig, load_eval_config
from reasonlab.eval.protocol import run_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="checkpoint or run dir")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "eval_arith.yaml"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-eval")
    ap.add_argument("--problems-per-bucket", type=int, default=None, help="override (for a quick check)")
    args = ap.parse_args()
    cfg = load_eval_config(args.config)
    data = cfg.model_dump()
    data.update(model=args.model, threads=args.threads, device="cpu")
    if args.problems_per_bucket:
        data["problems_per_bucket"] = args.problems_per_bucket
    cfg = validate(EvalConfig, data, source=args.config)
    torch.set_num_threads(args.threads)
    summary = run_eval(cfg, args.out)
    t = summary["timing"]
    ov = summary["overall"]
    print(
        json.dumps(
            {
                "config": args.config,
                "buckets": len(cfg.buckets.values),
                "problems": ov["n_problems"],
                "samples": ov["n_samples"],
                "model_params": summary["record"]["model_params"],
                "threads": args.threads,
                "cpu": summary["record"]["device"]["cpu"],
                "python": platform.python_version(),
                "wall_s": round(t["wall_s"], 1),
                "sampling_s": round(t["generate_s"], 1),
                "verify_s": round(t["score_s"], 2),
                "statistics_s": round(t["statistics_s"], 2),
                "generated_tokens": t["generated_tokens"],
                "sampler_tokens_per_s": round(t["tokens_per_s"], 1),
                "samples_per_s": round(t["samples_per_s"], 2),
                "mean_length": round(ov["mean_length"], 1),
                "truncation_rate": round(ov["truncation_rate"], 4),
                "pass@1": round(ov["outcome"]["pass@k"]["1"]["mean"], 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
