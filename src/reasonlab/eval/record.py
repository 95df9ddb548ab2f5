"""The run record of an evaluation: versions, device, git commit, prompt template; loading a finished run."""

from __future__ import annotations

import hashlib
import inspect
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from reasonlab import __version__
from reasonlab.errors import ReasonlabError
from reasonlab.io import read_json, read_records
from reasonlab.tasks import Task

__all__ = [
    "SUMMARY_SCHEMA",
    "device_record",
    "git_commit",
    "load_run",
    "load_summary",
    "prompt_template_record",
    "versions",
]

SUMMARY_SCHEMA = "reasonlab.eval.summary/1"


def git_commit() -> dict[str, Any] | None:
    """The source's git commit and whether the tree is dirty, or None outside a checkout."""
    src = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)} if commit else None


def versions() -> dict[str, str | None]:
    """Versions of Python, reasonlab and the packages that change numbers (torch, numpy, ...)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "reasonlab": __version__}
    for pkg in ("torch", "numpy", "tokenizers", "transformers", "safetensors", "scipy", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The CPU's vector extensions that change which kernels torch picks (and so the last bits)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4", "amx", "f16c")))
    except OSError:
        pass
    return []


def _blas() -> dict[str, str]:
    """The BLAS/threading libraries torch was built with and the kernel level it dispatches to."""
    out = {}
    for line in torch.__config__.show().splitlines():
        line = line.strip(" -")
        for key, marker in (("blas", "BLAS_INFO="), ("cpu_capability", "CPU capability usage: ")):
            if marker in line:
                out[key] = line.split(marker, 1)[1].split(",")[0].strip()
        if "Math Kernel Library Version" in line or "OpenBLAS" in line:
            out["blas_version"] = line
    return out


def device_record(device: str) -> dict[str, Any]:
    """What determines bit-reproducibility: device, CPU model and vector flags, thread counts, the BLAS
    torch dispatches to and its kernel level, the platform (and the GPU name on CUDA).

    Two runs reproduce bit for bit only when all of these match (and the versions in :func:`versions`);
    across machines a result reproduces statistically, as another seed would.
    """
    rec: dict[str, Any] = {
        "device": device,
        "cpu": _cpu_name(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "platform": platform.platform(),
        **_blas(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        rec["gpu"] = torch.cuda.get_device_name(torch.device(device))
        rec["cuda"] = torch.version.cuda
    return rec


def prompt_template_record(task: Task, style: str, prompts: Sequence[str]) -> dict[str, str]:
    """Template id and hashes: the render code of the task and the exact prompt set evaluated."""
    try:
        source = inspect.getsource(type(task).render)
    except (OSError, TypeError):
        source = repr(type(task).render)
    return {
        "id": f"{task.name}/{style}",
        "render_hash": hashlib.sha256(source.encode()).hexdigest()[:16],
        "prompt_set_hash": hashlib.sha256("\x00".join(prompts).encode()).hexdigest()[:16],
    }


def load_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The summary of an evaluation run directory, with one-line errors."""
    d = Path(run_dir)
    path = d / "eval" / "summary.json"
    if not path.is_file():
        raise ReasonlabError(f"{d}: not an evaluation run (no eval/summary.json)")
    summary = read_json(path, "summary")
    if not isinstance(summary, dict) or summary.get("schema") != SUMMARY_SCHEMA:
        raise ReasonlabError(f"{path}: not a reasonlab eval summary (schema {SUMMARY_SCHEMA})")
    return summary


def load_run(run_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(summary, sample records)`` of an evaluation run directory, with one-line errors."""
    return load_summary(run_dir), read_records(Path(run_dir) / "eval" / "samples.jsonl")
