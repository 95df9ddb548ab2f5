"""Data-parallel pre-training on the CPU (gloo, 2 processes under torchrun): the loss curve of one
process at the same global batch, checkpoints written once, resume, DDP and FSDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reasonlab.cli import main

CONFIG = {
    "name": "dp",
    "seed": 0,
    "data": {
        "num_problems": 200,
        "seq_len": 128,
        "val_rows": 2,
        "tokenizer_vocab_size": 400,
        "mixture": [{"task": "arith", "weight": 1.0, "knobs": {"ops": "2-3", "modulus": 7}}],
    },
    "model": {
        "preset": "tiny",
        "overrides": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 64},
    },
    "optim": {"lr": 0.003, "warmup_steps": 2, "max_steps": 6, "batch_size": 8, "grad_accum": 2},
    "runtime": {"device": "cpu", "num_threads": 1, "log_every": 2, "checkpoint_every": 3, "keep_last": 0},
}
#: Relative tolerance between one process and two: only the order of floating-point additions differs
#: (measured: 5e-8 over 6 steps).
RTOL = 1e-5


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def _torchrun(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "reasonlab", "pretrain", str(cfg), "--nproc", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dp")
    cfg = root / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({**CONFIG, "out_dir": str(root / "runs")}))
    assert main(["pretrain", str(cfg), "--set", "name=single"]) == 0
    return cfg, root / "runs"


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")  # subprocesses on both cores, or timing-sensitive: never side by side
def test_ddp_two_processes_match_one_and_resume(single) -> None:
    cfg, runs = single
    # stop at step 3 (the schedule still spans 6 steps), then resume to the end
    first = _torchrun(cfg, "--set", "name=ddp", "--set", "optim.stop_at=3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(p.name for p in (runs / "ddp" / "checkpoints").iterdir()) == ["step-3"]
    second = _torchrun(cfg, "--set", "name=ddp")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stderr
    assert second.stdout.count('"run"') == 1  # one summary: rank 0's
    ckpts = sorted(p.name for p in (runs / "ddp" / "checkpoints").iterdir())
    assert ckpts == ["step-3", "step-6"]  # written once each, no temporaries from the other rank
    one, two = _losses(runs / "single"), _losses(runs / "ddp")
    assert len(two) == 6  # one metrics line per step, not one per rank
    assert two == pytest.approx(one, rel=RTOL)
    summary = json.loads((runs / "ddp" / "summary.json").read_text())
    assert summary["resumed_from"] == 3 and summary["steps"] == 6


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")  # subprocesses on both cores, or timing-sensitive: never side by side
def test_fsdp_two_processes_match_one(single) -> None:
    cfg, runs = single
    proc = _torchrun(cfg, "--set", "name=fsdp", "--set", "runtime.parallel=fsdp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(fsdp, cpu)" in proc.stderr
    assert _losses(runs / "fsdp") == pytest.approx(_losses(runs / "single"), rel=RTOL)
    # the checkpoint is in the single-process format: one process resumes it (here: loads and evaluates)
    assert main(["pretrain", str(cfg), "--set", "name=fsdp"]) == 0
    assert sorted(p.name for p in (runs / "fsdp" / "checkpoints").iterdir()) == ["step-3", "step-6"]


def test_nproc_checks_the_config_and_batch_before_launching(single, tmp_path, capsys) -> None:
    cfg, _ = single
    assert main(["pretrain", str(cfg), "--nproc", "2", "--set", "optim.nope=1"]) == 2
    assert "nope" in capsys.readouterr().err
