"""Where training metrics go: ``metrics.jsonl`` always, TensorBoard and Weights & Biases on request.

A run's ``logging`` list (``runtime.logging`` for pre-/mid-training, ``logging`` for RL) names the
sinks: ``jsonl`` (the run directory's ``metrics.jsonl``, always written: resume and reports read it),
``tensorboard`` (event files in ``RUN/tensorboard``; ``tensorboard --logdir RUN/tensorboard``) and
``wandb`` (Weights & Biases in **offline** mode, files in ``RUN/wandb``: nothing leaves the machine
unless ``WANDB_MODE=online`` is set or the run is uploaded later with ``wandb sync RUN/wandb/offline-run-*``).
Both are optional packages (``pip install 'reasonlab[logging]'``); asking for one that is missing is a
one-line error when the config loads. Only numeric metrics go to TensorBoard and W&B.

On resume, TensorBoard discards events after the resumed step (``purge_step``), W&B continues the same
run id (derived from the run directory), so neither shows the steps of a killed run twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Literal

__all__ = ["SINKS", "Sink", "Tracker", "check_sinks"]

Sink = Literal["jsonl", "tensorboard", "wandb"]
SINKS: tuple[str, ...] = ("jsonl", "tensorboard", "wandb")
_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def check_sinks(names: list[str]) -> list[str]:
    """``names`` validated: known sinks, no repeats, their packages installed (a ValueError says which)."""
    for name in names:
        if name not in SINKS:
            raise ValueError(f"unknown logging sink {name!r}; allowed: {', '.join(SINKS)}")
        package = _PACKAGES.get(name)
        if package and importlib.util.find_spec(package) is None:
            raise ValueError(f"logging {name!r} needs the {package} package: pip install 'reasonlab[logging]'")
    if len(set(names)) != len(names):
        raise ValueError(f"logging lists a sink twice: {names}")
    return names


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool | int | float) and math.isfinite(float(value)):
            out[key] = float(value)
    return out


class Tracker:
    """The TensorBoard and W&B sinks of one run (``metrics.jsonl`` is written by the run directory)."""

    def __init__(
        self,
        run_path: str | os.PathLike[str],
        names: list[str],
        *,
        config: dict[str, Any] | None = None,
        resume_step: int = 0,
        project: str = "reasonlab",
    ) -> None:
        self.path = Path(run_path)
        self.names = list(names)
        self._tb: Any = None
        self._wandb: Any = None
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter  # optional: needs the tensorboard package

            self._tb = SummaryWriter(
                str(self.path / "tensorboard"), purge_step=resume_step + 1 if resume_step else None
            )
        if "wandb" in names:
            import wandb  # optional: only runs that ask for W&B import it (it starts a service process)

            run_id = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
            (self.path / "wandb").mkdir(parents=True, exist_ok=True)
            self._wandb = wandb.init(
                project=os.environ.get("WANDB_PROJECT", project),
                name=self.path.name,
                id=run_id,
                dir=str(self.path),
                mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
                config=config or {},
                resume="allow",
                settings=wandb.Settings(silent=True, console="off"),
            )

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Send the numeric metrics of ``step`` to every open sink."""
        values = _scalars(metrics)
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(key, value, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(values, step=step)

    def close(self) -> None:
        """Flush and close every sink (safe to call twice)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
