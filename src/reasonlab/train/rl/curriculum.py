"""Curricula: which task knobs each RL step draws its prompts from.

A curriculum is a small object with ``knobs(step) -> dict`` (overrides of the task's base knobs),
``update(success)`` (called once per step with the batch's success rate; verl's sampler hook) and
``state_dict``/``load_state_dict`` for resume. Three kinds, chosen by ``kind`` in the config:

* ``none``: the task's knobs every step.
* ``staged``: a schedule of knob ranges, e.g. people 3 -> 4 -> 5 (Logic-RL) or ops 5-6 -> 7-8; stage
  ``i`` is used for ``stages[i].steps`` steps, the last stage for ever after.
* ``adaptive``: an ordered list of difficulty levels; after each step the success rate (averaged over
  the last ``window`` steps) moves the level up when above ``raise_above`` and down when below
  ``lower_below`` (reasoning-gym's training configs use 0.7 / 0.3), then the window restarts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError


class Stage(StrictModel):
    """One stage of a staged curriculum: these knob overrides for ``steps`` steps."""

    steps: int = Field(gt=0, description="How many RL steps this stage lasts (the last stage lasts for ever)")
    knobs: dict[str, Any] = Field(description="Task knob overrides for this stage, e.g. {ops: '5-6'}")


class CurriculumConfig(StrictModel):
    """Curriculum settings (``kind``: none | staged | adaptive)."""

    kind: Literal["none", "staged", "adaptive"] = "none"
    stages: list[Stage] = Field(default_factory=list, description="staged: the schedule")
    levels: list[dict[str, Any]] = Field(
        default_factory=list, description="adaptive: knob overrides per difficulty level, easiest first"
    )
    start_level: int = Field(0, ge=0, description="adaptive: index of the first level")
    raise_above: float = Field(0.7, description="adaptive: move up when the windowed success rate exceeds this")
    lower_below: float = Field(0.3, description="adaptive: move down when the windowed success rate is below this")
    window: int = Field(1, gt=0, description="adaptive: steps averaged before deciding")

    @model_validator(mode="after")
    def _check(self) -> CurriculumConfig:
        if self.kind == "staged" and not self.stages:
            raise ValueError("a staged curriculum needs at least one stage")
        if self.kind == "adaptive":
            if not self.levels:
                raise ValueError("an adaptive curriculum needs at least one level")
            if self.start_level >= len(self.levels):
                raise ValueError(f"start_level {self.start_level} is beyond the {len(self.levels)} levels")
            if not self.lower_below < self.raise_above:
                raise ValueError("lower_below must be smaller than raise_above")
        return self


class Curriculum:
    """Base: no overrides."""

    def knobs(self, step: int) -> dict[str, Any]:
        """Task knobs for ``step`` (merged over the RL task's own knobs)."""
        return {}

    def update(self, success: float) -> None:
        """Record the success rate of the step just taken."""

    def level(self, step: int) -> int:
        """The curriculum stage or level in force at ``step``."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """State to store in a checkpoint (resume continues the same schedule)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class StagedCurriculum(Curriculum):
    """Stage ``i`` covers steps ``[sum(steps[:i]), sum(steps[:i+1]))``; the last stage never ends."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages

    def level(self, step: int) -> int:
        """The curriculum stage or level in force at ``step``."""
        end = 0
        for i, stage in enumerate(self.stages):
            end += stage.steps
            if step < end:
                return i
        return len(self.stages) - 1

    def knobs(self, step: int) -> dict[str, Any]:
        """Task knobs for ``step`` (merged over the RL task's own knobs)."""
        return dict(self.stages[self.level(step)].knobs)


class AdaptiveCurriculum(Curriculum):
    """Raise the level when the windowed success rate is above ``raise_above``, lower it below ``lower_below``."""

    def __init__(self, config: CurriculumConfig) -> None:
        self.levels = config.levels
        self.raise_above = config.raise_above
        self.lower_below = config.lower_below
        self.window = config.window
        self.current = config.start_level
        self.history: list[float] = []

    def level(self, step: int) -> int:
        """The curriculum stage or level in force at ``step``."""
        return self.current

    def knobs(self, step: int) -> dict[str, Any]:
        """Task knobs for ``step`` (merged over the RL task's own knobs)."""
        return dict(self.levels[self.current])

    def update(self, success: float) -> None:
        """Record the batch accuracy of the last step; move the level when the rule says so."""
        self.history.append(float(success))
        if len(self.history) < self.window:
            return
        rate = sum(self.history[-self.window :]) / self.window
        moved = adaptive_move(rate, self.raise_above, self.lower_below)
        new = min(max(self.current + moved, 0), len(self.levels) - 1)
        if new != self.current:
            self.history = []  # a new level starts a fresh window
        else:
            self.history = self.history[len(self.history) - self.window + 1 :]  # slide by one step
        self.current = new

    def state_dict(self) -> dict[str, Any]:
        """State to store in a checkpoint (resume continues the same schedule)."""
        return {"current": self.current, "history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.current = int(state["current"])
        self.history = [float(x) for x in state["history"]]


def adaptive_move(rate: float, raise_above: float, lower_below: float) -> int:
    """``+1`` if ``rate > raise_above``, ``-1`` if ``rate < lower_below``, else ``0``."""
    if rate > raise_above:
        return 1
    if rate < lower_below:
        return -1
    return 0


def build_curriculum(config: CurriculumConfig) -> Curriculum:
    """The curriculum object for a config."""
    if config.kind == "staged":
        return StagedCurriculum(config.stages)
    if config.kind == "adaptive":
        return AdaptiveCurriculum(config)
    if config.kind == "none":
        return Curriculum()
    raise ReasonlabError(f"unknown curriculum kind {config.kind!r}; allowed: none, staged, adaptive")
