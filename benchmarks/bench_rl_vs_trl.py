"""One RL step of ``reasonlab rl`` against one step of ``trl.GRPOTrainer``, side by side, in one run.

Same model (a random ``tiny`` decoder, exported with ``reasonlab export hf`` for TRL), same prompts,
batch (``--batch`` completions = ``--batch / --group`` prompts x ``--group``), group size, response
budget (``--new-tokens``), sampling (T=1, no top-k/top-p), algorithm (GRPO, one update per batch, no KL,
token-mean loss = TRL's default ``dapo``), optimizer (AdamW) and thread count, on the CPU. A random
model rarely emits EOS, so both engines generate close to the full budget; the report gives the mean
response lengths so the per-token rates can be compared too.

Timing: our steps report ``timing_s/step`` (rollout, scoring, advantages, update); TRL logs
``step_time`` per step, and its generation is timed by wrapping ``model.generate``; process CPU
seconds are measured around the same pieces (on a machine shared with other work, CPU time is the
steadier measure). The engines run in interleaved rounds; the first step of each run is a warm-up and
is not counted; medians over all measured steps.

    .venv/bin/python benchmarks/bench_rl_vs_trl.py --steps 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

KNOBS = {"ops": "2-4", "distractors": 1, "num_mode": "mod", "mode": "forward", "context": "zoo"}


def build_model(tmp: Path, preset: str) -> tuple[Path, Path]:
    """A random decoder with a task tokenizer, saved natively and exported to Hugging Face format."""
    from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model
    from reasonlab.model.hf import export_hf
    from reasonlab.tasks import get_task

    task = get_task("arith")
    texts = ["".join(task.render(p)) for p in task.generate(task.params(**{**KNOBS, "ops": "2-8"}), 300, seed=1)]
    tok = TaskTokenizer.build(texts, 600)
    torch.manual_seed(0)
    model = Decoder(ModelConfig.from_preset(preset, vocab_size=tok.vocab_size))
    native = save_model(tmp / "native", model, tok)
    return native, export_hf(model, tok, tmp / "hf")


def _cpu_timed(obj: Any, name: str, sink: list[float]) -> None:
    """Wrap ``obj.name`` so that each call appends its process CPU seconds to ``sink``."""
    fn = getattr(obj, name)

    def wrapper(*a: Any, **kw: Any) -> Any:
        c = time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            sink.append(time.process_time() - c)

    setattr(obj, name, wrapper)


def run_ours(native: Path, tmp: Path, args: argparse.Namespace, name: str) -> dict[str, list[float]]:
    """Per-step timings of our trainer: wall (its own ``timing_s/*``) and process CPU seconds."""
    from reasonlab.config import validate
    from reasonlab.train.rl.config import RLConfig
    from reasonlab.train.rl.trainer import RLTrainer

    cfg = validate(
        RLConfig,
        {
            "name": name,
            "out_dir": str(tmp),
            "init_from": str(native),
            "steps": args.steps + 1,
            "threads": args.threads,
            "reference": "none",
            "task": {"name": "arith", "knobs": KNOBS, "reward": "outcome"},
            "rollout": {"batch_size": args.batch, "group_size": args.group, "max_new_tokens": args.new_tokens},
            "algorithm": {"name": "grpo", "eps": 1e-4, "loss_agg": "token-mean"},
            "optim": {"lr": 1e-6, "warmup_steps": 0},
            "sample_every": 0,
        },
        source="bench",
    )
    trainer = RLTrainer(cfg, log=lambda _m: None)
    gen_cpu: list[float] = []
    upd_cpu: list[float] = []
    _cpu_timed(trainer, "collect", gen_cpu)  # generation + scoring
    _cpu_timed(trainer, "_update", upd_cpu)
    out: dict[str, list[float]] = {k: [] for k in ("step_s", "gen_s", "update_s", "step_cpu_s", "length")}
    for i in range(args.steps + 1):
        c = time.process_time()
        m = trainer.train_step()
        if i:  # the first step warms up
            out["step_s"].append(m["timing_s/step"])
            out["gen_s"].append(m["timing_s/gen"])
            out["update_s"].append(m["timing_s/update"])
            out["step_cpu_s"].append(time.process_time() - c)
            out["length"].append(m["response_length/mean"])
    out["gen_cpu_s"], out["update_cpu_s"] = gen_cpu[1:], upd_cpu[1:]
    return out


def run_trl(hf_dir: Path, tmp: Path, args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Per-step timings of ``trl.GRPOTrainer``: its ``step_time``, generation wall/CPU, step CPU seconds."""
    import transformers
    import trl

    from reasonlab.integrations.common import split_problems
    from reasonlab.integrations.trl import hf_dataset, outcome_reward

    n_prompts = (args.steps + 1) * args.batch // args.group
    problems, _ = split_problems("arith", KNOBS, n_prompts, 0, 0)
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True)
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    gen_wall: list[float] = []
    gen_cpu: list[float] = []
    generate = model.generate

    def timed_generate(*a: Any, **kw: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        out = generate(*a, **kw)
        gen_wall.append(time.perf_counter() - t)
        gen_cpu.append(time.process_time() - c)
        return out

    model.generate = timed_generate
    config = trl.GRPOConfig(
        output_dir=str(tmp / name),
        max_steps=args.steps + 1,
        per_device_train_batch_size=args.batch,
        num_generations=args.group,
        max_completion_length=args.new_tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        beta=0.0,
        loss_type="dapo",
        learning_rate=1e-6,
        lr_scheduler_type="constant",
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        shuffle_dataset=False,
        seed=0,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[outcome_reward],
        args=config,
        train_dataset=hf_dataset(problems),
        processing_class=tok,
    )
    cpu: list[float] = []

    class CPUTime(transformers.TrainerCallback):
        def on_step_begin(self, *a: Any, **kw: Any) -> None:
            self.start = time.process_time()

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            cpu.append(time.process_time() - self.start)

    trainer.add_callback(CPUTime())
    trainer.train()
    logs = [h for h in trainer.state.log_history if "step_time" in h][1:]
    steps = [h["step_time"] for h in logs]
    step_cpu = cpu[1:]
    return {
        "step_s": steps,
        "gen_s": gen_wall[1:],
        "update_s": [s - g for s, g in zip(steps, gen_wall[1:], strict=False)],
        "step_cpu_s": step_cpu,
        "gen_cpu_s": gen_cpu[1:],
        "update_cpu_s": [s - g for s, g in zip(step_cpu, gen_cpu[1:], strict=False)],
        "length": [h["completions/mean_length"] for h in logs],
        "versions": {"trl": trl.__version__, "transformers": transformers.__version__},
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("step_s", "gen_s", "update_s", "step_cpu_s", "gen_cpu_s", "update_cpu_s")
    out: dict[str, Any] = {k: round(statistics.median(v for r in runs for v in r[k]), 3) for k in keys}
    out["response_length_mean"] = round(statistics.mean(v for r in runs for v in r["length"]), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=64, help="completions per step")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt")
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--steps", type=int, default=3, help="measured steps per engine and round (after a warm-up step)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (ours, TRL, ours, TRL, ...)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads for both (1: on a shared machine 2 threads spin-wait)"
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        native, hf_dir = build_model(tmp, args.preset)
        ours_runs, trl_runs = [], []
        for r in range(args.rounds):  # interleaved, so that a busy spell of the machine hits both
            torch.set_num_threads(args.threads)
            ours_runs.append(run_ours(native, tmp, args, f"ours{r}"))
            torch.set_num_threads(args.threads)
            trl_runs.append(run_trl(hf_dir, tmp, args, f"trl{r}"))
    ours, theirs = _summary(ours_runs), _summary(trl_runs)
    out = {
        "preset": args.preset,
        "threads": args.threads,
        "batch": f"{args.batch} completions = {args.batch // args.group} prompts x {args.group}",
        "max_new_tokens": args.new_tokens,
        "steps_measured": args.steps * args.rounds,
        "ours": ours,
        "trl": {**theirs, **trl_runs[0]["versions"]},
        "speedup": {
            k: round(theirs[k] / max(ours[k], 1e-9), 2)
            for k in ("step_s", "step_cpu_s", "gen_s", "gen_cpu_s", "update_s", "update_cpu_s")
        },
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
