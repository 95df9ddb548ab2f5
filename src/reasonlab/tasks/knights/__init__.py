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

The verifier applies two rules and reports both.

**The published Logic-RL rule** fills the main fields (``format_ok``, ``answer_status``, ``correct``,
``pred``, ``units_correct``, ``person_accuracy``) and is all the ``logic_rl``, ``outcome``, ``format``
and ``partial`` rewards read. ``format_ok``: each of ``<think>``, ``</think>``, ``<answer>``,
``</answer>`` exactly once, in that order; nothing else (a short, empty or filler think block, text
between the blocks or after ``</answer>`` all pass). The answer is the last complete ``<answer> ...
</answer>`` block: it must hold exactly ``n`` role words (either word of the pair, singular or plural,
whole words, any case, counted outside the people's names) and, for every person, ``NAME is a ROLE``
(the first one counts; whole words, any case, any whitespace, the article the role word takes:
``a knight``, ``an angel``); other text in the block is ignored.

**The strict rule** (:class:`~reasonlab.tasks.base.StrictCheck` in ``Verification.strict``, read by
``logic_rl_strict``) closes the reward hacks Logic-RL reports. Its format is the published one plus
hygiene: nothing but whitespace before ``<think>``, between ``</think>`` and ``<answer>`` or after
``</answer>`` (end-of-turn markers allowed), and a think block with at least one sentence, not copied
from the prompt, that makes a claim about a person: a person's name together with a role word, a
truth word (true, false, truth, lie, lying, liar, ...) or a conditional (if, suppose, assume, would,
unless). Empty thinking, "thinking process here" filler, one-sentence junk that merely names someone,
a restated question or statements copied from the prompt fail. Its answer is the published one with
nothing else in the block beyond numbering, punctuation and "and" (so reasoning inside the answer,
several guesses or hedged answers are unparseable).

Names are matched as the puzzle's actual names (escaped, longest first, so ``Ann`` never matches
inside ``Ann Marie``; case-insensitive unless two names differ in case alone), so names with
punctuation, spaces, hyphens or equal to a role word work. ``answer_status`` is
``exact``/``mismatch``/``unparseable``; ``units_correct/units_total`` count people with the right role
(for the partial reward; ``units_correct`` is None when unparseable, ``units_total`` 0 when the record
itself is broken) and ``extra["person_accuracy"]`` is their ratio (0 when unparseable). ``correct``
means the extracted answer is exact, whatever the format. ``error`` gives the first reason the
published rule rejects the completion, else the strict rule's reason prefixed ``strict``; every scan
is linear in the completion.
"""

from reasonlab.tasks.knights.task import KnightsParams, KnightsTask, build_problem, parse_people
from reasonlab.tasks.knights.verify import (
    check_format,
    check_tags,
    parse_answer,
    parse_answer_published,
    verify_completion,
)

__all__ = [
    "KnightsParams",
    "KnightsTask",
    "build_problem",
    "check_format",
    "check_tags",
    "parse_answer",
    "parse_answer_published",
    "parse_people",
    "verify_completion",
]
