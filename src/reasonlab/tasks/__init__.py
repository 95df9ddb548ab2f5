"""Task families: procedural problems with exact verifiers, registered by name.

The contract (:mod:`~reasonlab.tasks.base`): :class:`Problem` records, :class:`Verification` results and
the :class:`Task` base class; the registry (:mod:`~reasonlab.tasks.registry`) finds a family by name.
Families: :mod:`~reasonlab.tasks.arith` (with the ``arith_facts`` drill), :mod:`~reasonlab.tasks.knights` and
:mod:`~reasonlab.tasks.nexttoken` (RPT: next-token reasoning on any text corpus).
"""

from reasonlab.tasks.base import PrefixCheck, Problem, ProcessCheck, StrictCheck, Task, Verification
from reasonlab.tasks.registry import TaskSpec, get_task, register, task_names, task_params

__all__ = [
    "PrefixCheck",
    "Problem",
    "ProcessCheck",
    "StrictCheck",
    "Task",
    "TaskSpec",
    "Verification",
    "get_task",
    "register",
    "task_names",
    "task_params",
]
