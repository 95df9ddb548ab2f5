"""Sampler speed vs transformers ``generate`` across batch sizes and model sizes (JSON lines).

Each line is one ``reasonlab bench sample`` measurement (see :func:`reasonlab.cli.bench.bench_sample`):
both engines on the identical model, prompts and settings, timed alternately in the same process.

Usage: .venv/bin/python benchmarks/bench_sample.py [--presets tiny,small] [--batches 1,8,32]
       [--prompt-len 64] [--new-tokens 128] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json

from reasonlab.bench.sample import bench_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="tiny,small")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for preset in args.presets.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            print(
                json.dumps(bench_sample(preset, batch, args.prompt_len, args.new_tokens, args.threads, args.repeats)),
                flush=True,
            )


if __name__ == "__main__":
    main()
