"""The task registry and :class:`TaskSpec`, a task with its knobs validated once when a config loads.

Built-in families are registered lazily: the registry knows which module defines each one and
imports it on first use, so ``reasonlab tasks`` or a config check never pays for families it does not
touch. A new family is one module with a ``@register``-decorated :class:`~reasonlab.tasks.base.Task`
subclass plus one line in :data:`BUILTIN` (or an import of that module before use).
"""

from __future__ import annotations

import importlib
import json
from functools import lru_cache
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.tasks.base import Task

__all__ = ["BUILTIN", "TaskSpec", "get_task", "register", "task_names", "task_params"]

#: Built-in task families and the module that registers each one.
BUILTIN = {
    "arith": "reasonlab.tasks.arith.task",
    "arith_facts": "reasonlab.tasks.arith.facts",
    "knights": "reasonlab.tasks.knights.task",
    "nexttoken": "reasonlab.tasks.nexttoken.task",
}
_REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task family to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def task_names() -> list[str]:
    """Names of all task families (built-in and registered), sorted."""
    return sorted(set(_REGISTRY) | set(BUILTIN))


def task_modules() -> list[str]:
    """The modules of the task families registered in this process (a spawned worker imports them)."""
    return sorted({cls.__module__ for cls in _REGISTRY.values()})


def get_task(name: str) -> Task:
    """A fresh instance of the named task, or a one-line error listing the known tasks."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _REGISTRY:
        raise ReasonlabError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")
    return _REGISTRY[name]()


@lru_cache(maxsize=512)
def _cached_params(name: str, knobs_json: str) -> Any:
    return get_task(name).params(**json.loads(knobs_json))


def task_params(name: str, knobs: dict[str, Any]) -> Any:
    """The task's validated Params for ``knobs`` (cached per distinct knob set; one-line errors).

    Params are immutable in use (nothing assigns to them), so one validated object serves every caller
    with the same knobs: an RL run with a curriculum validates each stage's knobs once, not per step.
    """
    try:
        key = json.dumps(knobs, sort_keys=True)
    except (TypeError, ValueError):
        return get_task(name).params(**knobs)
    return _cached_params(name, key)


class TaskSpec(StrictModel):
    """A task family, its knobs and the prompt style; the knobs are validated when the config loads."""

    name: str = Field("arith", description="registered task family (see `reasonlab tasks`)")
    knobs: dict[str, Any] = Field(default_factory=dict, description="task knobs, e.g. {ops: '7-8', modulus: 7}")
    style: str = Field(
        "plain", description="prompt style: plain, chat, or model_chat (the chat turns in the model's own template)"
    )
    _params: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> TaskSpec:
        self._params = checked_params(self.name, self.knobs)
        styles = get_task(self.name).prompt_styles()
        if self.style not in styles:
            raise ValueError(f"style {self.style!r}: task {self.name!r} supports {', '.join(styles)}")
        return self

    @property
    def task(self) -> Task:
        """An instance of the task family."""
        return get_task(self.name)

    @property
    def params(self) -> Any:
        """The validated Params of :attr:`knobs`."""
        return self._params

    def params_with(self, extra: dict[str, Any]) -> Any:
        """Validated Params of :attr:`knobs` updated with ``extra`` (e.g. a curriculum stage's knobs)."""
        return task_params(self.name, {**self.knobs, **extra}) if extra else self._params


def checked_params(name: str, knobs: dict[str, Any]) -> Any:
    """:func:`task_params` for use inside pydantic validators: errors become ValueError (so they name the field)."""
    try:
        return task_params(name, knobs)
    except ReasonlabError as exc:
        raise ValueError(str(exc)) from None
