"""The ``knights`` task family: Knights & Knaves puzzles with exactly one solution, and the Logic-RL verifier.

Semantics follow the public K&K generator (mem-kk-logic, arXiv 2410.23123) and Logic-RL (arXiv
2502.14768). The knobs and generator live in :mod:`~reasonlab.tasks.knights.task`, the logic in
:mod:`~reasonlab.tasks.knights.logic`, the text in :mod:`~reasonlab.tasks.knights.render`, the
verifier in :mod:`~reasonlab.tasks.knights.verify` and the memorisation perturbations in
:mod:`~reasonlab.tasks.knights.perturb`.

Verification (:func:`~reasonlab.tasks.knights.verify.verify_completion`)
-----------------------------------------
Every rendered prompt, in both styles, ends with the pre-filled ``<think>``, so a completion is
checked as ``"<think>" + completion`` (for a prompt of another origin that does not end with
``<think>``, the completion is checked as it is). A completion that opens with its own ``<think>``
therefore has two and fails the format, exactly as in Logic-RL.

``format_ok`` is the published rule (each of ``<think>``, ``</think>``, ``<answer>``, ``</answer>``
exactly once, in that order) plus hygiene rules that close the reward hacks Logic-RL reports:
nothing but whitespace between ``</think>`` and ``<answer>`` or after ``</answer>`` (end-of-turn
markers allowed), and a think block that holds reasoning: after dropping sentences copied from the
prompt it must still mention one of the people (empty thinking, "thinking process here" filler and
a restated question fail).

The answer is the last ``<answer> ... </answer>`` block. It is parseable when it holds exactly
``n`` role words (either word of the pair, singular or plural, whole words, any case), one
``NAME is a ROLE`` per person (word boundaries, case-insensitive, ``a``/``an``), and nothing else
beyond numbering, punctuation and "and" (so reasoning inside the answer, several guesses or hedged
answers are unparseable). ``answer_status`` is ``exact``/``mismatch``/``unparseable``;
``units_correct/units_total`` count people with the right role (for the partial reward;
``units_correct`` is None when unparseable, ``units_total`` 0 when the record itself is broken) and
``extra["person_accuracy"]`` is their ratio (0 when unparseable). ``correct`` means the extracted
answer is exact, whatever the format; the ``logic_rl`` reward combines both.
"""

from reasonlab.tasks.knights.task import KnightsParams, KnightsTask, build_problem, parse_people
from reasonlab.tasks.knights.verify import check_format, check_tags, parse_answer, verify_completion

__all__ = [
    "KnightsParams",
    "KnightsTask",
    "build_problem",
    "check_format",
    "check_tags",
    "parse_answer",
    "parse_people",
    "verify_completion",
]
