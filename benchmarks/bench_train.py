"""Training throughput: native decoder vs transformers Qwen2 on the same config, and MFU.

Prints the JSON of `reasonlab bench train` for the given preset(s); every ratio is measured in one run.
Usage: python benchmarks/bench_train.py [--preset small] [--threads 2] [--compile]
"""

from __future__ import annotations

import argparse
import json

from reasonlab.bench.train import bench_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    report = bench_train(
        args.preset,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        steps=args.steps,
        threads=args.threads,
        compile=args.compile,
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
