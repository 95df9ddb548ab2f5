"""scripts/gpu_check.sh dry-runs on the CPU with tiny sizes (the lead runs it once on a lent GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")  # subprocesses on both cores, or timing-sensitive: never side by side
def test_gpu_check_dry_run_on_cpu(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["device"] == "cpu"
    assert report["smoke"]["pretrain"]["finite"] and report["smoke"]["rl"]["finite"]
    assert 0.0 <= report["smoke"]["eval"]["pass@1"] <= 1.0
    t = report["throughput_100m"]
    assert t["tokens_per_s"] > 0 and 0 < t["mfu"] < 1.5 and t["peak_bf16_flops_per_s"] > 0
    cmp = report["cpu_vs_device_eval"]
    assert "pass@1_minus_cpu" in cmp["cpu_bf16"]
    assert "gpu_check on cpu" in proc.stdout and "MFU" in proc.stdout
