"""Where an RL step's time goes: rollout, scoring, old/reference/value passes, advantages, update.

Runs a few RL steps of the real trainer on the arith task and prints JSON with the mean seconds per
phase (engine names ``timing_s/*``), each phase's share of the step, and rollout tokens/s.

    .venv/bin/python benchmarks/bench_rl.py --model runs/quickstart/pretrain/model --steps 4
    .venv/bin/python benchmarks/bench_rl.py --algorithm ppo          # random tiny model if --model is omitted
    .venv/bin/python benchmarks/bench_rl.py --model runs/_shared/pretrain-a6f3cfe9bb1b/model --knobs main \
        --ops 4-6 --reward process --max-new-tokens 200 --steps 10    # the main job's RL step on its base

With no ``--model`` a randomly initialised ``tiny`` decoder is used; its rollouts run to
``max_new_tokens``, so use a trained checkpoint for realistic response lengths.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

PHASES = ("gen", "reward", "old_log_prob", "ref", "adv", "update")
KNOBS = {"ops": "2", "distractors": 1, "num_mode": "mod", "mode": "forward", "context": "zoo"}
#: The recipe whose task knobs ``--knobs main`` uses (the main job's, read from its YAML).
MAIN_RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "quickstart.yaml"


def random_model(out: Path) -> Path:
    from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model
    from reasonlab.tasks import get_task

    task = get_task("arith")
    texts = ["".join(task.render(p)) for p in task.generate(task.params(**{**KNOBS, "ops": "2-8"}), 300, seed=1)]
    tok = TaskTokenizer.build(texts, 600)
    torch.manual_seed(0)
    model = Decoder(ModelConfig.from_preset("tiny", vocab_size=tok.vocab_size))
    return save_model(out / "init", model, tok)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint to start from (default: random tiny model)")
    ap.add_argument("--algorithm", default="grpo", help="grpo (KL in loss: reference pass) or ppo (value head)")
    ap.add_argument("--steps", type=int, default=4, help="measured steps (after one warm-up step)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--knobs", choices=["default", "main"], default="default", help="main: the main job's task")
    ap.add_argument("--ops", default=None, help="the ops knob (default: the knob set's)")
    ap.add_argument("--reward", default="outcome", help="reward scheme (the main job: process)")
    ap.add_argument("--workers", type=int, default=None, help="rollout.workers: processes decoding rollouts")
    args = ap.parse_args(argv)
    knobs = dict(yaml.safe_load(MAIN_RECIPE.read_text())["task"]["knobs"] if args.knobs == "main" else KNOBS)
    if args.ops is not None:
        knobs["ops"] = args.ops

    from reasonlab.config import validate
    from reasonlab.train.rl.config import RLConfig
    from reasonlab.train.rl.trainer import RLTrainer

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else random_model(Path(tmp))
        algo: dict[str, object] = {"name": args.algorithm, "kl": {"placement": "loss", "coef": 0.001}}
        if args.algorithm == "ppo":
            algo = {"name": "ppo", "kl": {"placement": "reward", "estimator": "k1", "coef": 0.005}, "lam": 0.95}
        cfg = validate(
            RLConfig,
            {
                "name": "bench",
                "out_dir": tmp,
                "init_from": str(model),
                "steps": args.steps + 1,
                "threads": args.threads,
                "task": {"name": "arith", "knobs": knobs, "reward": args.reward},
                "rollout": {
                    "batch_size": args.batch_size,
                    "group_size": args.group_size,
                    "max_new_tokens": args.max_new_tokens,
                    "workers": args.workers,
                },
                "algorithm": algo,
                "sample_every": 0,
            },
            source="bench",
        )
        trainer = RLTrainer(cfg, log=lambda _m: None)
        rows = []
        t0 = time.perf_counter()
        try:
            for i in range(args.steps + 1):
                m = trainer.train_step()
                if i:  # the first step warms up allocator, caches and worker processes
                    rows.append(m)
        finally:
            trainer.rollout_workers.close()
        wall = time.perf_counter() - t0
    step = statistics.mean(r["timing_s/step"] for r in rows)
    phases = {p: statistics.mean(r.get(f"timing_s/{p}", 0.0) for r in rows) for p in PHASES}
    out = {
        "algorithm": args.algorithm,
        "model": str(args.model or "random tiny"),
        "params": trainer.n_params,
        "threads": args.threads,
        "workers": args.workers or 1,
        "batch": f"{args.batch_size} rollouts = {args.batch_size // args.group_size} prompts x {args.group_size}",
        "steps_measured": len(rows),
        "step_s": round(step, 3),
        "phase_s": {p: round(v, 3) for p, v in phases.items()},
        "phase_share": {p: round(v / step, 3) for p, v in phases.items()},
        "other_s": round(step - sum(phases.values()), 3),
        "rollout_tokens_per_s": round(statistics.mean(r["perf/rollout_tokens_per_s"] for r in rows)),
        "response_length_mean": round(statistics.mean(r.get("response_length/mean", 0.0) for r in rows), 1),
        "wall_s": round(wall, 1),
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
