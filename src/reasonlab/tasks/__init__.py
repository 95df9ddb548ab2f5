"""Task registry: every task family registers itself by name."""

from __future__ import annotations

from reasonlab.errors import ReasonlabError
from reasonlab.tasks.base import Problem, ProcessCheck, Score, Task, Verification

_REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task family to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    """Import the built-in task modules for their ``@register`` side effect (lazily: keeps imports cheap)."""
    from reasonlab.tasks import arith, arith_facts, knights  # noqa: F401


def task_names() -> list[str]:
    """Names of all registered task families, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """An instance of the named task, or a one-line error listing the known tasks."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ReasonlabError(f"unknown task {name!r}; known tasks: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name]()


__all__ = ["Problem", "ProcessCheck", "Score", "Task", "Verification", "get_task", "register", "task_names"]
