"""One-shot GPU check (not run by CI): CUDA smoke of pretrain / RL / eval in bf16, the 100M preset's
training tokens/s and MFU against a bf16 matmul peak measured here, and one CPU-trained checkpoint
evaluated on the CPU and on the GPU with the same seeds.

Run through ``scripts/gpu_check.sh`` (which picks the Python and ``$OUT``). ``--device cpu`` dry-runs
every piece on the CPU with tiny sizes (what the test suite does, ``tests/test_gpu_check.py``).
Writes ``$OUT/gpu_check.json`` and prints a summary; each part records its own error instead of
stopping the others.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reasonlab.compute import attention_shape, measure_matmul_peak, train_flops
from reasonlab.config import validate
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.model import Decoder, ModelConfig
from reasonlab.sampling import autocast
from reasonlab.train.optim import TrainOptimConfig, make_optimizer
from reasonlab.train.pretrain import PretrainConfig, pretrain
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.trainer import train_rl

ARITH = {"ops": "2-3", "modulus": 7, "distractors": 0, "mode": "forward", "context": "zoo"}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def pretrain_config(out: Path, name: str, device: str, steps: int, problems: int, precision: str) -> PretrainConfig:
    return validate(
        PretrainConfig,
        {
            "name": name,
            "out_dir": str(out),
            "data": {
                "num_problems": problems,
                "seq_len": 192,
                "val_rows": 4,
                "tokenizer_vocab_size": 600,
                "mixture": [{"task": "arith", "weight": 1.0, "knobs": ARITH}],
            },
            "model": {"preset": "tiny", "overrides": {"hidden_size": 64, "num_layers": 2, "intermediate_size": 256}},
            "optim": {"lr": 0.005, "warmup_steps": 10, "max_steps": steps, "batch_size": 32},
            "runtime": {"device": device, "dtype": precision, "log_every": 50, "num_threads": 0},
        },
        source="gpu_check pretrain",
    )


def eval_config(model: Path, name: str, device: str, precision: str, problems: int, seeds: int) -> EvalConfig:
    return validate(
        EvalConfig,
        {
            "name": name,
            "model": str(model),
            "task": "arith",
            "fixed": {k: v for k, v in ARITH.items() if k != "ops"},
            "buckets": {"knob": "ops", "values": [3, 4]},  # op 2 has too few distinct problems at mod 7
            "problems_per_bucket": problems,
            "seeds": seeds,
            "samples_per_seed": 1,
            "decoding": {"temperature": 0.7, "max_new_tokens": 96},
            "bootstrap": 100,
            "device": device,
            "precision": precision,
            "report": False,
        },
        source="gpu_check eval",
    )


def smoke(out: Path, device: str, tiny: bool) -> dict[str, Any]:
    """pretrain -> RL -> eval on ``device`` in bf16, tiny sizes."""
    res: dict[str, Any] = {}
    t = time.perf_counter()
    cfg = pretrain_config(out, "smoke-pretrain", device, 6 if tiny else 60, 100 if tiny else 400, "bf16")
    s = pretrain(cfg, overwrite=True, log=lambda _m: None)
    res["pretrain"] = {
        "final_loss": s["final_loss"],
        "tokens_per_s": s["tokens_per_s"],
        "finite": math.isfinite(s["final_loss"]),
    }
    rl = validate(
        RLConfig,
        {
            "name": "smoke-rl",
            "out_dir": str(out),
            "init_from": s["model"],
            "device": device,
            "precision": "bf16",
            "threads": 1 if tiny else 4,
            "steps": 2 if tiny else 4,
            "task": {"name": "arith", "knobs": ARITH, "reward": "process"},
            "rollout": {
                "batch_size": 8 if tiny else 64,
                "group_size": 4 if tiny else 8,
                "max_new_tokens": 32 if tiny else 128,
            },
            "algorithm": {"name": "grpo", "entropy_coef": 0.001, "kl": {"placement": "loss", "coef": 0.001}},
            "sample_every": 0,
        },
        source="gpu_check rl",
    )
    r = train_rl(rl, overwrite=True, log=lambda _m: None)
    rows = [json.loads(line) for line in (out / "smoke-rl" / "metrics.jsonl").read_text().splitlines()]
    res["rl"] = {
        "steps": r["steps"],
        "seconds": r["seconds"],
        "finite": all(math.isfinite(row.get("actor/pg_loss", 0.0)) for row in rows),
        "rollout_tokens_per_s": rows[-1].get("perf/rollout_tokens_per_s"),
    }
    e = run_eval(eval_config(Path(r["model"]), "smoke-eval", device, "bf16", 4, 2), out / "smoke-eval", progress=False)
    res["eval"] = {
        "pass@1": e["overall"]["outcome"]["pass@k"]["1"]["mean"],
        "tokens_per_s": e["timing"].get("tokens_per_s"),
    }
    res["seconds"] = time.perf_counter() - t
    return res


def throughput_100m(device: str, tiny: bool, steps: int, compile_model: bool) -> dict[str, Any]:
    """Training tokens/s and MFU of the 100M preset (bf16 autocast) vs the bf16 matmul peak measured here."""
    preset, batch, seq = ("tiny", 2, 64) if tiny else ("qwen2-100m", 16, 2048)
    peak = measure_matmul_peak(
        n=256 if tiny else 8192, dtype=torch.bfloat16, device=device, min_seconds=0.2 if tiny else 1.0
    )
    config = ModelConfig.from_preset(preset, vocab_size=2200, max_seq_len=seq)
    torch.manual_seed(0)
    model = Decoder(config).to(device).train()
    runner: Any = torch.compile(model) if compile_model else model
    opt = make_optimizer(model.parameters(), TrainOptimConfig(lr=1e-4))
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, config.vocab_size, (batch, seq), generator=gen).to(device)
    y = torch.randint(0, config.vocab_size, (batch, seq), generator=gen).to(device)

    def step() -> None:
        with autocast(device, torch.bfloat16):
            logits = runner(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3 if not compile_model else 5):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    seconds = (time.perf_counter() - t) / steps
    tokens = batch * seq
    flops = train_flops(model.num_params(), tokens, attn=attention_shape(config), seq_len=seq)
    out = {
        "preset": preset,
        "params": model.num_params(),
        "batch": batch,
        "seq_len": seq,
        "compile": compile_model,
        "s_per_step": seconds,
        "tokens_per_s": tokens / seconds,
        "flops_per_step": flops,
        "peak_bf16_flops_per_s": peak,
        "mfu": flops / seconds / peak,
    }
    if device.startswith("cuda"):
        out["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def cpu_vs_device(out: Path, device: str, tiny: bool, checkpoint: str | None) -> dict[str, Any]:
    """One CPU-trained checkpoint evaluated on the CPU (fp32) and on ``device`` (bf16 and fp32), same seeds."""
    if checkpoint is None:
        cfg = pretrain_config(out, "cpu-trained", "cpu", 8 if tiny else 300, 200 if tiny else 2000, "fp32")
        checkpoint = pretrain(cfg, overwrite=True, log=lambda _m: None)["model"]
    n, seeds = (4, 2) if tiny else (50, 4)
    runs = {
        "cpu_fp32": ("cpu", "fp32"),
        f"{device}_bf16": (device, "bf16"),
        f"{device}_fp32": (device, "fp32"),
    }
    res: dict[str, Any] = {"checkpoint": checkpoint, "problems_per_bucket": n, "seeds": seeds}
    samples = {}
    for key, (dev, prec) in runs.items():
        s = run_eval(eval_config(Path(checkpoint), key, dev, prec, n, seeds), out / f"cmp-{key}", progress=False)
        res[key] = {"pass@1": s["overall"]["outcome"]["pass@k"]["1"]["mean"]}
        samples[key] = [
            json.loads(line) for line in (out / f"cmp-{key}" / "eval" / "samples.jsonl").read_text().splitlines()
        ]
    base = samples["cpu_fp32"]
    for key in runs:
        if key == "cpu_fp32":
            continue
        res[key]["pass@1_minus_cpu"] = res[key]["pass@1"] - res["cpu_fp32"]["pass@1"]
        res[key]["identical_completions"] = sum(
            a["completion"] == b["completion"] for a, b in zip(base, samples[key], strict=True)
        ) / len(base)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run with tiny sizes)")
    ap.add_argument("--out", required=True, help="directory for gpu_check.json and the work files")
    ap.add_argument("--steps", type=int, default=None, help="timed steps of the 100M throughput (default 20; 2 on cpu)")
    ap.add_argument("--compile", action="store_true", help="also time the 100M step under torch.compile")
    ap.add_argument(
        "--checkpoint", default=None, help="a CPU-trained model for the CPU/GPU comparison (default: train one)"
    )
    args = ap.parse_args()
    tiny = args.device == "cpu"
    out = Path(args.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "device": args.device,
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        report["error"] = "CUDA is not available"
    else:
        parts = [
            ("smoke", lambda: smoke(work, args.device, tiny)),
            ("throughput_100m", lambda: throughput_100m(args.device, tiny, args.steps or (2 if tiny else 20), False)),
        ]
        if args.compile:
            parts.append(
                ("throughput_100m_compiled", lambda: throughput_100m(args.device, tiny, args.steps or 20, True))
            )
        parts.append(("cpu_vs_device_eval", lambda: cpu_vs_device(work, args.device, tiny, args.checkpoint)))
        for name, fn in parts:
            t = time.perf_counter()
            try:
                report[name] = fn()
            except Exception as exc:  # record and go on: one broken part must not hide the others
                report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
            report[name]["wall_s"] = time.perf_counter() - t
            (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    print(summary(report))
    return 1 if any(isinstance(v, dict) and "error" in v for v in report.values()) or "error" in report else 0


def summary(r: dict[str, Any]) -> str:
    lines = [f"gpu_check on {r['device']} ({r.get('gpu') or 'no GPU'}; torch {r['torch']})"]
    if "error" in r:
        return "\n".join([*lines, f"  error: {r['error']}"])
    s = r.get("smoke", {})
    if "error" in s:
        lines.append(f"  smoke: ERROR {s['error']}")
    else:
        lines.append(
            f"  smoke bf16: pretrain loss {s['pretrain']['final_loss']:.3f} "
            f"({s['pretrain']['tokens_per_s']:,.0f} tok/s), "
            f"RL {s['rl']['steps']} steps finite={s['rl']['finite']}, eval pass@1 {s['eval']['pass@1']:.3f}"
        )
    for key in ("throughput_100m", "throughput_100m_compiled"):
        t = r.get(key)
        if t is None:
            continue
        if "error" in t:
            lines.append(f"  {key}: ERROR {t['error']}")
        else:
            lines.append(
                f"  {key}: {t['preset']} ({t['params'] / 1e6:.1f}M) {t['tokens_per_s']:,.0f} tok/s, "
                f"MFU {t['mfu']:.1%} of a measured bf16 peak of {t['peak_bf16_flops_per_s'] / 1e12:.1f} TFLOP/s"
            )
    c = r.get("cpu_vs_device_eval", {})
    if "error" in c:
        lines.append(f"  cpu vs device eval: ERROR {c['error']}")
    elif c:
        for key, val in c.items():
            if isinstance(val, dict) and "pass@1_minus_cpu" in val:
                lines.append(
                    f"  eval {key}: pass@1 {val['pass@1']:.3f} vs cpu {c['cpu_fp32']['pass@1']:.3f} "
                    f"(diff {val['pass@1_minus_cpu']:+.3f}; identical completions {val['identical_completions']:.0%})"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
