"""What every step of a recipe takes from the recipe itself: its task knobs (``task:``, written once) and
its device (``device:`` or ``reasonlab run --device``), applied to a step's raw config mapping before it is
validated. Nested configs inherit as their own steps would: an ``arms`` step's shared RL config and each
arm's mid-training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from reasonlab.config import StrictModel

__all__ = ["RecipeTask", "inherit_task", "map_arm_midtrain", "with_device"]


class RecipeTask(StrictModel):
    """The task every step of a recipe inherits: its family and knobs (steps may override any knob)."""

    name: str = Field(description="task family, e.g. arith")
    knobs: dict[str, Any] = Field(default_factory=dict, description="knobs every step inherits, e.g. {modulus: 7}")


def _inherit_knobs(task: RecipeTask, name: str | None, knobs: dict[str, Any] | None, skip: str | None = None) -> Any:
    """``knobs`` with the recipe task's knobs as defaults when ``name`` is the recipe's task."""
    if name is not None and name != task.name:
        return knobs
    base = {k: v for k, v in task.knobs.items() if k != skip}
    return {**base, **(knobs or {})}


def map_arm_midtrain(arms: dict[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """An arms step's ``arms`` mapping with ``fn`` applied to every arm's mid-training config."""
    return {
        name: {**arm, "midtrain": fn(arm["midtrain"])}
        if isinstance(arm, dict) and isinstance(arm.get("midtrain"), dict)
        else arm
        for name, arm in arms.items()
    }


def inherit_task(kind: str, config: dict[str, Any], task: RecipeTask | None) -> dict[str, Any]:
    """A step config with the recipe-level task filled in (the step's own values win)."""
    if task is None:
        return config
    cfg = dict(config)
    if kind in ("pretrain", "midtrain", "ntp_control"):
        data = dict(cfg.get("data") or {})
        for key in ("mixture", "tokenizer_extra"):
            if isinstance(data.get(key), list):
                data[key] = [
                    {**c, "knobs": _inherit_knobs(task, c.get("task"), c.get("knobs"))} if isinstance(c, dict) else c
                    for c in data[key]
                ]
        if data:
            cfg["data"] = data
        if isinstance(cfg.get("eval"), dict):
            ev = dict(cfg["eval"])
            ev.setdefault("task", task.name)
            ev["knobs"] = _inherit_knobs(task, ev["task"], ev.get("knobs"), skip=ev.get("bucket_knob", "ops"))
            cfg["eval"] = ev
    elif kind == "rl":
        t = dict(cfg.get("task") or {})
        t.setdefault("name", task.name)
        t["knobs"] = _inherit_knobs(task, t["name"], t.get("knobs"))
        cfg["task"] = t
    elif kind == "arms":  # the shared RL config and each arm's mid-training inherit as their own steps would
        if isinstance(cfg.get("rl"), dict):
            cfg["rl"] = inherit_task("rl", cfg["rl"], task)
        if isinstance(cfg.get("arms"), dict):
            cfg["arms"] = map_arm_midtrain(cfg["arms"], lambda mid: inherit_task("midtrain", mid, task))
    elif kind == "memorisation" and task.name == "knights":  # a knights test: a knights recipe's knobs
        cfg["knobs"] = _inherit_knobs(task, "knights", cfg.get("knobs"))
    elif kind == "eval":
        cfg.setdefault("task", task.name)
        knob = (cfg.get("buckets") or {}).get("knob") if isinstance(cfg.get("buckets"), dict) else None
        if cfg.get("problems") is None:
            cfg["fixed"] = _inherit_knobs(task, cfg["task"], cfg.get("fixed"), skip=knob)
    return cfg


def with_device(kind: str, config: dict[str, Any], device: str) -> dict[str, Any]:
    """A step config with every model it trains or samples placed on ``device`` (the recipe's ``device``)."""
    cfg = dict(config)
    if kind in ("pretrain", "midtrain", "ntp_control"):
        cfg["runtime"] = {**(cfg.get("runtime") or {}), "device": device}
    elif kind in ("rl", "eval"):
        cfg["device"] = device
    elif kind == "arms":
        cfg["rl"] = {**(cfg.get("rl") or {}), "device": device}
        cfg["arms"] = map_arm_midtrain(cfg.get("arms") or {}, lambda mid: with_device("midtrain", mid, device))
    return cfg
