"""Run directories: ``runs/<name>/`` with the resolved config, metrics, checkpoints and resume; the
lineage of a model (which runs trained it, on which prompts), and where a model or device is found.

Layout (DESIGN.md contract)::

    runs/<name>/
      config.yaml            fully resolved config of the run (rewritten on every start)
      metrics.jsonl          one JSON object per logged step: {"step": N, "<metric>": value, ...}
      checkpoints/step-N/    config.json, model.safetensors, tokenizer.json (``save_model``)
                             + optimizer.pt, rng.pt, trainer_state.json (written last)
      model/                 the final model (``save_model``), what later phases load
      data/prompt_hashes.npy prompt hashes of every problem the run trained on (the held-out check,
                             :mod:`reasonlab.seeds`)

A checkpoint directory is built under a temporary name and renamed into place, so ``step-N`` either
exists complete or not at all; a crash mid-write leaves only a ``.step-N.*.tmp`` directory that the next
start removes. :meth:`RunDir.latest_checkpoint` returns the newest complete one, and on resume
:meth:`RunDir.truncate_metrics` drops metric lines logged after it so that the file reads as if the
run had never been interrupted; :func:`resume_checkpoint` restores model, optimizer and RNG states.

The **lineage** of a model (:func:`training_lineage`) is its own run directory, then the run its
config's ``init_from`` names, and so on: what an evaluation checks its problems against.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from pydantic import BaseModel

from reasonlab.compute import COMPUTE_FILE
from reasonlab.config import check_name, dump_config, load_yaml
from reasonlab.errors import ReasonlabError
from reasonlab.io import (
    atomic_dir,
    atomic_path,
    atomic_write_text,
    read_json,
    remove_stale_temps,
    verify_checksums,
    write_checksums,
)
from reasonlab.model import is_checkpoint, load_model, write_model_files
from reasonlab.tracking import Tracker

__all__ = [
    "LINEAGE_KEYS",
    "RUN_MARKER",
    "ProgressLine",
    "RunDir",
    "capture_rng_state",
    "config_differences",
    "lineage_prompt_hashes",
    "lineage_seeds",
    "mark_run_dir",
    "prompt_hashes_path",
    "resolve_device",
    "resolve_model_path",
    "restore_rng_state",
    "resume_checkpoint",
    "run_dir_of",
    "safe_load",
    "training_lineage",
    "write_prompt_hashes",
]

_STEP_RE = re.compile(r"^step-(\d+)$")
TRAINER_STATE = "trainer_state.json"


#: The marker file that makes a directory a reasonlab run directory: nothing else is ever deleted.
RUN_MARKER = ".reasonlab-run.json"


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states, for exact resume.

    Only plain data and tensors, so ``torch.load(..., weights_only=True)`` reads it back: a checkpoint
    file can never carry code.
    """
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(words), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, words, gauss = state["python"]
    random.setstate((version, tuple(words), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def mark_run_dir(path: str | os.PathLike[str]) -> None:
    """Write the run marker into ``path`` (once): the only directories reasonlab ever deletes carry it."""
    marker = Path(path) / RUN_MARKER
    if not marker.is_file():
        atomic_write_text(marker, json.dumps({"reasonlab_run": 1, "created": time.time()}) + "\n")


def safe_load(path: Path, device: Any = "cpu") -> Any:
    """``torch.load`` of plain data and tensors only (``weights_only=True``); a one-line error otherwise."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        why = "not plain tensors (refusing to run code from it)" if "weights_only" in str(exc) else type(exc).__name__
        raise ReasonlabError(f"{path}: unreadable checkpoint file ({why})") from None


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the fields where two config mappings differ (``["optim.lr", "data.mixture"]``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += config_differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "<root>"]


class RunDir:
    """One run's directory. Create with :meth:`create`; every write is atomic."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tracker: Tracker | None = None

    # ----------------------------------------------------------------- layout
    @property
    def config_path(self) -> Path:
        """``RUN/config.yaml``: the fully resolved config."""
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        """``RUN/metrics.jsonl``: one JSON object per logged step."""
        return self.path / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        """``RUN/checkpoints``: one ``step-N`` directory per checkpoint."""
        return self.path / "checkpoints"

    @property
    def model_dir(self) -> Path:
        """Where the final model of the run is saved (loadable with ``load_model``)."""
        return self.path / "model"

    def checkpoint_path(self, step: int) -> Path:
        """``RUN/checkpoints/step-N`` for ``step``."""
        return self.checkpoints_dir / f"step-{step}"

    @property
    def is_run(self) -> bool:
        """Whether this directory carries the run marker (only such directories are ever deleted)."""
        return (self.path / RUN_MARKER).is_file()

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        name: str,
        config: BaseModel | None = None,
        *,
        overwrite: bool = False,
        may_change: tuple[str, ...] = (),
    ) -> RunDir:
        """Make ``root/name`` (kept if it exists, so a run can resume), write ``config.yaml`` and the marker.

        An existing run resumes only under the same config: fields outside ``may_change`` (dotted
        prefixes such as ``runtime`` or ``optim.stop_at``) must be unchanged, else a one-line error
        names them. ``overwrite=True`` deletes the existing run first, and only a directory that carries
        the run marker. A non-empty directory that is no run directory is never touched.
        """
        try:
            check_name(name)
        except ValueError as exc:
            raise ReasonlabError(f"run name {exc}") from None
        run = cls(Path(root) / name)
        if run.path.exists():
            if not run.path.is_dir():
                raise ReasonlabError(f"{run.path}: exists and is not a directory")
            adopt = run.config_path.is_file() and run.checkpoints_dir.is_dir()  # a run made before markers
            if not run.is_run and not adopt and any(run.path.iterdir()):
                raise ReasonlabError(f"{run.path}: exists and is not a reasonlab run directory; choose another name")
            if overwrite:
                if not run.is_run:
                    raise ReasonlabError(f"{run.path}: has no run marker ({RUN_MARKER}); not deleting it")
                shutil.rmtree(run.path)
            elif config is not None and run.config_path.is_file():
                diff = [
                    d
                    for d in config_differences(load_yaml(run.config_path), config.model_dump(mode="json"))
                    if not any(d == p or d.startswith(p + ".") for p in may_change)
                ]
                if diff:
                    raise ReasonlabError(
                        f"{run.path}: exists with a different config ({', '.join(diff[:6])}); resume it unchanged, "
                        "start over with --overwrite, or choose another name"
                    )
        run.path.mkdir(parents=True, exist_ok=True)
        run.checkpoints_dir.mkdir(exist_ok=True)
        remove_stale_temps(run.path)
        remove_stale_temps(run.checkpoints_dir)
        mark_run_dir(run.path)
        if config is not None:
            run.write_config(config)
        return run

    def write_config(self, config: BaseModel | dict[str, Any]) -> None:
        """Write the fully resolved config as YAML."""
        text = dump_config(config) if isinstance(config, BaseModel) else yaml.safe_dump(config, sort_keys=False)
        atomic_write_text(self.config_path, text)

    # ---------------------------------------------------------------- metrics
    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one JSON object ``{"step": step, **metrics}`` to ``metrics.jsonl`` (and the open sinks)."""
        row = {"step": int(step), **{k: _jsonable(v) for k, v in metrics.items()}}
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            fh.flush()
        if self.tracker is not None:
            self.tracker.log(int(step), metrics)

    def open_tracker(self, sinks: list[str], resume_step: int = 0) -> None:
        """Open the TensorBoard / W&B sinks named in ``sinks`` (:mod:`reasonlab.tracking`); close with
        :meth:`close_tracker`."""
        if any(s != "jsonl" for s in sinks):
            config = load_yaml(self.config_path) if self.config_path.is_file() else {}
            self.tracker = Tracker(self.path, sinks, config=config, resume_step=resume_step)

    def close_tracker(self) -> None:
        """Close the sinks opened by :meth:`open_tracker` (no-op when none)."""
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None

    def read_metrics(self) -> list[dict[str, Any]]:
        """All metric rows (a torn last line from a crash is skipped)."""
        if not self.metrics_path.exists():
            return []
        rows = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def truncate_metrics(self, after_step: int) -> None:
        """Keep only rows with ``step <= after_step`` (used when resuming from that checkpoint)."""
        if not self.metrics_path.exists():
            return
        rows = [r for r in self.read_metrics() if int(r.get("step", 0)) <= after_step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))

    # ------------------------------------------------------------ checkpoints
    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints as ``(step, path)``, oldest first."""
        found = []
        if self.checkpoints_dir.is_dir():
            for child in self.checkpoints_dir.iterdir():
                match = _STEP_RE.match(child.name)
                if match and (child / TRAINER_STATE).is_file():
                    found.append((int(match.group(1)), child))
        return sorted(found)

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        found = self.checkpoints()
        return found[-1][1] if found else None

    def save_checkpoint(
        self,
        step: int,
        model: Any,
        tokenizer: Any,
        *,
        optimizer: Any = None,
        trainer_state: dict[str, Any] | None = None,
        keep_last: int = 0,
    ) -> Path:
        """Write ``checkpoints/step-N`` atomically: model + tokenizer, optimizer, RNG, trainer state.

        ``keep_last > 0`` deletes all but the newest ``keep_last`` complete checkpoints afterwards.
        """

        final = self.checkpoint_path(step)
        with atomic_dir(final) as tmp:
            write_model_files(tmp, model, tokenizer)
            if optimizer is not None:
                torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save(capture_rng_state(), tmp / "rng.pt")
            state = {"step": int(step), "time": time.time(), **(trainer_state or {})}
            (tmp / TRAINER_STATE).write_text(json.dumps(_jsonable(state), indent=1), encoding="utf-8")
            write_checksums(tmp)
        if keep_last > 0:
            for _, old in self.checkpoints()[:-keep_last]:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def save_final_model(self, model: Any, tokenizer: Any, compute: dict[str, Any] | None = None) -> Path:
        """Save the run's final model to ``model/`` (replacing an older one atomically).

        ``compute`` (tokens/FLOPs spent so far, :class:`reasonlab.compute.ComputeLedger` state) is
        written beside it as ``compute.json`` so the next phase continues the totals.
        """

        with atomic_dir(self.model_dir) as tmp:
            write_model_files(tmp, model, tokenizer)
            if compute is not None:
                (tmp / COMPUTE_FILE).write_text(json.dumps(compute), encoding="utf-8")
            write_checksums(tmp)
        return self.model_dir


def load_checkpoint_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``trainer_state.json`` of a checkpoint, with a one-line error when it is missing or corrupt."""
    src = Path(path) / TRAINER_STATE
    if not src.is_file():
        raise ReasonlabError(f"{path}: not a complete checkpoint (no {TRAINER_STATE})")
    state = read_json(src, "trainer state")
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ReasonlabError(f"{src}: corrupt trainer state (no integer 'step')")
    return state


def resume_checkpoint(run: RunDir, model: Any, optimizer: Any, device: Any = "cpu") -> dict[str, Any] | None:
    """Restore the newest complete checkpoint of ``run`` into ``model`` and ``optimizer``; return its state.

    Loads the weights, the optimizer state (required: without it a resume would not be exact), the
    Python/NumPy/torch RNG states, and drops metric lines logged after the checkpoint. Returns the
    checkpoint's trainer state, or None when the run has no checkpoint yet - then the run starts again from step 0
    and the metric lines of a killed attempt are dropped too (otherwise its steps would be logged twice).
    """

    ckpt = run.latest_checkpoint()
    if ckpt is None:
        run.truncate_metrics(0)
        return None
    verify_checksums(ckpt)
    state = load_checkpoint_state(ckpt)
    loaded, _ = load_model(ckpt, device=device)
    model.load_state_dict(loaded.state_dict())
    for name in ("optimizer.pt", "rng.pt"):
        if not (ckpt / name).is_file():
            raise ReasonlabError(f"{ckpt}: checkpoint has no {name}; cannot resume exactly")
    try:
        optimizer.load_state_dict(safe_load(ckpt / "optimizer.pt", device))
        restore_rng_state(safe_load(ckpt / "rng.pt"))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ReasonlabError(f"{ckpt}: corrupt checkpoint ({type(exc).__name__})") from None
    run.truncate_metrics(int(state["step"]))
    return state


# ----------------------------------------------------------------------------- models, devices, lineage


def resolve_model_path(path: str | os.PathLike[str], field: str = "model") -> Path:
    """A loadable model directory from a checkpoint dir, or a run dir (its ``model/``, else its newest
    ``checkpoints/step-N``); a one-line error naming ``field`` otherwise."""
    p = Path(path)
    if is_checkpoint(p):
        return p
    if is_checkpoint(p / "model"):
        return p / "model"
    ckpts = p / "checkpoints"
    if ckpts.is_dir():
        steps = [(int(d.name[5:]), d) for d in ckpts.iterdir() if _STEP_RE.match(d.name) and is_checkpoint(d)]
        if steps:
            return max(steps)[1]
    raise ReasonlabError(f"{field} {path}: not a checkpoint dir, nor a run dir with model/ or checkpoints/step-N/")


def resolve_device(name: str) -> Any:
    """``torch.device`` for ``auto`` (cuda when available, else cpu), ``cpu``, ``cuda`` or ``cuda:N``."""

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not re.fullmatch(r"cuda(:\d+)?", name):
        raise ReasonlabError(f"device {name!r}: use cpu, cuda, cuda:N or auto")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ReasonlabError(f"device {name!r}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(name)


#: Config keys that name the checkpoint a training phase started from (midtrain, RL).
LINEAGE_KEYS = ("init_from", "base_model")


def run_dir_of(model_path: str | os.PathLike[str] | None) -> Path | None:
    """The run dir a model belongs to: the path itself or one of its three nearest parents with a config.yaml."""
    if model_path is None:
        return None
    p = Path(model_path).resolve()
    for cand in [p, *list(p.parents)[:3]]:
        if (cand / "config.yaml").is_file():
            return cand
    return None


def training_lineage(model_path: str | os.PathLike[str] | None, max_depth: int = 8) -> list[Path]:
    """Run dirs that trained ``model_path``: its own, then those its config's ``init_from`` points at.

    So an RL model's lineage covers the RL run, the mid-training run and the pre-training run.
    """
    runs: list[Path] = []
    current = run_dir_of(model_path)
    while current is not None and current not in runs and len(runs) < max_depth:
        runs.append(current)
        try:
            cfg = load_yaml(current / "config.yaml")
        except ReasonlabError:
            break
        nxt = None
        for key in LINEAGE_KEYS:
            value = cfg.get(key)
            if isinstance(value, str) and Path(value).exists():
                nxt = run_dir_of(value)
                break
        current = nxt
    return runs


def prompt_hashes_path(run_dir: str | os.PathLike[str]) -> Path:
    """``RUN/data/prompt_hashes.npy``: the prompt hashes of every problem a run trained on."""
    return Path(run_dir) / "data" / "prompt_hashes.npy"


def write_prompt_hashes(run_dir: str | os.PathLike[str], hashes: Any) -> Path:
    """Write a run's training prompt hashes (int64 array, :func:`reasonlab.seeds.prompt_hash`) atomically."""

    path = prompt_hashes_path(run_dir)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, np.asarray(hashes, dtype=np.int64))
    return path


def lineage_prompt_hashes(model_path: str | os.PathLike[str] | None) -> tuple[list[str], set[int]]:
    """``(hash files, hashes)`` of the training prompts over the model's whole lineage."""

    files: list[str] = []
    hashes: set[int] = set()
    for run in training_lineage(model_path):
        path = prompt_hashes_path(run)
        if not path.is_file():
            continue
        try:
            arr = np.load(path)
        except (OSError, ValueError):
            raise ReasonlabError(f"{path}: unreadable training prompt hashes") from None
        files.append(str(path))
        hashes.update(int(h) for h in arr.tolist())
    return files, hashes


def _collect_seeds(obj: Any, out: set[int]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and (key == "seed" or key.endswith("_seed") or key == "seeds"):
                for v in value if isinstance(value, list) else [value]:
                    if isinstance(v, int) and not isinstance(v, bool):
                        out.add(v)
            _collect_seeds(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _collect_seeds(item, out)


def lineage_seeds(model_path: str | os.PathLike[str] | None) -> tuple[str | None, list[int]]:
    """Seeds recorded by the training runs that produced ``model_path`` (their config.yaml files).

    Returns ``(path of the model's own run config, sorted seeds over its whole lineage)``, or
    ``(None, [])`` when the model has no run dir.
    """
    runs = training_lineage(model_path)
    if not runs:
        return None, []
    seeds: set[int] = set()
    for run in runs:
        try:
            _collect_seeds(load_yaml(run / "config.yaml"), seeds)
        except ReasonlabError:
            continue
    return str(runs[0] / "config.yaml"), sorted(seeds)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


class ProgressLine:
    """A periodic one-line progress report: step, loss, tokens/s, elapsed and ETA (to stderr)."""

    def __init__(self, total_steps: int, stream: Any = None, label: str = "train") -> None:
        self.total = total_steps
        self.stream = stream if stream is not None else sys.stderr
        self.label = label

    @staticmethod
    def format_eta(seconds: float) -> str:
        """``h:mm:ss`` (or ``m:ss`` under an hour)."""
        seconds = max(0, round(seconds))
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"

    def line(self, step: int, loss: float, tokens_per_s: float, elapsed: float, steps_done: int) -> str:
        """Format the line; ETA extrapolates from the steps done in this process."""
        rate = elapsed / max(steps_done, 1)
        eta = rate * max(self.total - step, 0)
        return (
            f"[{self.label}] step {step}/{self.total} loss {loss:.4f} "
            f"tok/s {tokens_per_s:,.0f} elapsed {self.format_eta(elapsed)} eta {self.format_eta(eta)}"
        )

    def report(self, step: int, loss: float, tokens_per_s: float, elapsed: float, steps_done: int) -> None:
        """Print :meth:`line` to the stream."""
        print(self.line(step, loss, tokens_per_s, elapsed, steps_done), file=self.stream, flush=True)
