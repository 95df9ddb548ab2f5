"""The ``arith`` task family: dependency-graph arithmetic word problems with process verification.

- :mod:`~reasonlab.tasks.arith.task`: the knobs (:class:`ArithParams`) and the generator (:class:`ArithTask`);
- :mod:`~reasonlab.tasks.arith.graph`: dependency graphs at an exact op count, values, reverse mode;
- :mod:`~reasonlab.tasks.arith.contexts`: the context templates (``tasks/contexts/*.yaml``);
- :mod:`~reasonlab.tasks.arith.render`: gold solutions and prompts;
- :mod:`~reasonlab.tasks.arith.verify`: answer extraction, the step parser and the process check;
- :mod:`~reasonlab.tasks.arith.corrupt`: controlled corruptions of gold solutions (verifier tests, demo);
- :mod:`~reasonlab.tasks.arith.facts`: the ``arith_facts`` drill (single-operation facts in the same notation).
"""

from reasonlab.tasks.arith.contexts import Context, contexts, get_context
from reasonlab.tasks.arith.render import fmt_affine, gold_steps, solution_body, solution_shape
from reasonlab.tasks.arith.task import ArithParams, ArithTask, check_modulus, parse_ops
from reasonlab.tasks.arith.verify import extract_answer, parse_steps, parse_value, process_check, verify_completion

__all__ = [
    "ArithParams",
    "ArithTask",
    "Context",
    "check_modulus",
    "contexts",
    "extract_answer",
    "fmt_affine",
    "get_context",
    "gold_steps",
    "parse_ops",
    "parse_steps",
    "parse_value",
    "process_check",
    "solution_body",
    "solution_shape",
    "verify_completion",
]
