"""The task contract: problem and score records, verification results, and the Task base class.

A task family (``arith``, ``knights``, ...) is one module defining a :class:`Task` subclass with a
pydantic ``Params`` model (its difficulty/context knobs), a ``sample`` method that draws one problem
from a seeded RNG, and a ``verify`` method that checks a completion exactly; it registers itself in
:mod:`reasonlab.tasks.registry`. Reward schemes live in :mod:`reasonlab.rewards` and turn a
:class:`Verification` into a number (and a score record), so every task gets every scheme its
verification supports without code of its own.
"""

from __future__ import annotations

import hashlib
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from reasonlab.config import StrictModel, validate
from reasonlab.errors import ReasonlabError
from reasonlab.seeds import stable_seed

PROBLEM_FIELDS = ("id", "task", "prompt", "answer", "solution", "meta")


@dataclass
class Problem:
    """One problem record (DESIGN.md contract).

    ``prompt`` is the text a model is given, ``solution`` the gold completion that follows it,
    ``answer`` the canonical final answer, ``meta`` the knobs plus the structured truth a verifier
    needs (dependency graph, statements and solution, ...). ``meta`` must be JSON-serialisable.
    """

    id: str
    task: str
    prompt: str
    answer: str
    solution: str
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (the JSONL/Parquet row)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], source: str = "problem") -> Problem:
        """Build from a record, with a one-line error naming the first missing/ill-typed field."""
        for key in PROBLEM_FIELDS:
            if key not in row:
                raise ReasonlabError(f"{source}: missing field {key!r} (a problem has {', '.join(PROBLEM_FIELDS)})")
        for key in PROBLEM_FIELDS[:-1]:
            if not isinstance(row[key], str):
                raise ReasonlabError(f"{source}: field {key!r} must be a string, got {type(row[key]).__name__}")
        if not isinstance(row["meta"], dict):
            raise ReasonlabError(f"{source}: field 'meta' must be an object, got {type(row['meta']).__name__}")
        return cls(**{k: row[k] for k in PROBLEM_FIELDS})


@dataclass
class ProcessCheck:
    """Step-by-step comparison of a completion against the gold solution.

    Counts follow the process-verified evaluation of the CMU interplay study: gold nodes that no step
    defines (``missing``), steps defining parameters outside the gold graph (``extra``), steps whose
    value (``value_mismatch``) or dependency set (``dep_mismatch``) differs from the gold node, and
    whether the final answer is wrong (``answer_mismatch``).
    """

    n_gold: int
    missing: int = 0
    extra: int = 0
    value_mismatch: int = 0
    dep_mismatch: int = 0
    answer_mismatch: bool = False
    n_steps: int = 0
    matched_ok: int = 0

    @property
    def ok(self) -> bool:
        """Perfect process: nothing missing, no value or dependency mismatch, right answer."""
        return not (self.missing or self.value_mismatch or self.dep_mismatch or self.answer_mismatch)

    @property
    def step_accuracy(self) -> float:
        """Share of gold nodes defined with the right value and dependency set (``matched_ok / n_gold``)."""
        return self.matched_ok / self.n_gold if self.n_gold else 0.0


AnswerStatus = Literal["exact", "mismatch", "unparseable"]

#: The prompt style that renders a task's chat conversation (:meth:`Task.chat_prompt`) through the model's own
#: chat template (an imported instruct model's ``chat_template``) instead of the task's built-in ChatML. Any
#: task with a ``chat`` style accepts it; :mod:`reasonlab.model.chat` does the rendering, since only the model
#: knows its template.
MODEL_CHAT = "model_chat"


@dataclass(frozen=True)
class ChatPrompt:
    """A task's chat prompt as a conversation, so that any chat template can render it.

    ``messages`` are ``{"role", "content"}`` dicts (a system turn, then the user's); ``prefill`` is the
    start of the assistant's turn that the prompt already contains (Logic-RL pre-fills ``<think>``), so the
    model's completion continues it and the verifier reads only that completion.
    """

    messages: tuple[dict[str, str], ...]
    prefill: str = ""

    def chatml(self) -> str:
        """The conversation in ChatML (Qwen's format) with the assistant turn opened and pre-filled."""
        turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in self.messages)
        return f"{turns}<|im_start|>assistant\n{self.prefill}"


def last_tag(text: str, name: str = "answer") -> str | None:
    """Content of the last complete ``<name> ... </name>`` tag, or None when there is none.

    The last complete tag opens at the last ``<name>`` that some ``</name>`` follows and closes at
    the first ``</name>`` after it (``"<answer> 5 </answer> <answer> 7"`` -> ``" 5 "``). Two
    ``rfind`` and one ``find``: linear in the text, whatever it holds.
    """
    open_tag, close_tag = f"<{name}>", f"</{name}>"
    close = text.rfind(close_tag)
    if close < 0:
        return None
    start = text.rfind(open_tag, 0, close)
    if start < 0:
        return None
    start += len(open_tag)
    return text[start : text.find(close_tag, start)]


@dataclass
class StrictCheck:
    """A stricter reading of the same completion that closes known reward hacks.

    The main fields of a :class:`Verification` follow a task's published rule (for Knights & Knaves:
    Logic-RL's tag rule and answer rule); a verifier that also implements a hardened rule reports it
    here. ``format_ok`` is the published format plus hygiene rules, ``answer_status`` the answer under
    the strict parse, ``error`` why either failed (None when both pass). The ``logic_rl_strict``
    reward reads it.
    """

    format_ok: bool
    answer_status: AnswerStatus
    error: str | None = None


@dataclass
class PrefixCheck:
    """What the RPT rewards read: the predicted bytes, the ground-truth continuation and its token boundaries.

    ``target`` is the UTF-8 continuation of the context; ``boundaries`` the cumulative byte lengths of
    its tokens under the problem's tokenizer (ascending, the last equal to ``len(target)``);
    ``prediction`` the UTF-8 bytes of the answer slot (empty when there is none). The ``nexttoken``
    task provides it; ``prefix_match``, ``first_token`` and ``prefix_dense`` are functions of it.
    """

    prediction: bytes
    target: bytes
    boundaries: tuple[int, ...]


@dataclass
class Verification:
    """Everything a verifier established about one completion; reward schemes read from it.

    ``answer_status`` distinguishes a parsed-but-wrong answer from an unparseable one (Logic-RL
    scores them differently); whenever the answer or the format is rejected, ``error`` says why in a
    short phrase. ``units_correct/units_total`` count per-item correctness when the answer has parts
    (people in Knights & Knaves). ``strict`` is the verdict of a stricter rule when the task has one
    (:class:`StrictCheck`; None otherwise), read by ``logic_rl_strict``; ``prefix`` the bytes the RPT
    rewards compare (:class:`PrefixCheck`, ``nexttoken`` only). ``extra`` carries
    task-specific fields that are copied into the score record (e.g. ``person_accuracy``).
    """

    correct: bool
    format_ok: bool
    pred: str | None
    answer_status: AnswerStatus
    error: str | None = None
    process: ProcessCheck | None = None
    units_correct: int | None = None
    units_total: int | None = None
    strict: StrictCheck | None = None
    prefix: PrefixCheck | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def verifier_error(cls, exc: BaseException) -> Verification:
        """A failed verification of a malformed record: no credit under any scheme, the reason in ``error``.

        A training loop must never crash on one bad record, so verifiers catch and return this.
        """
        return cls(
            correct=False,
            format_ok=False,
            pred=None,
            answer_status="unparseable",
            error=f"verifier error: {exc.__class__.__name__}",
            process=ProcessCheck(n_gold=1, missing=1, answer_mismatch=True),
        )


class Task(ABC):
    """Base class of a task family. Subclasses set ``name``, ``Params``, ``description``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[StrictModel]]
    #: Prompt styles ``render`` supports; the first is the default. "plain" is for from-scratch
    #: models (tag tokens such as <question>/<solution>/<answer>), "chat" for instruction models
    #: (:meth:`prompt_styles` adds :data:`MODEL_CHAT`, rendered outside the task).
    styles: ClassVar[tuple[str, ...]] = ("plain", "chat")
    #: How many draws per requested problem before giving up (rejection sampling + de-duplication).
    max_attempts_per_problem: ClassVar[int] = 200

    def params(self, **knobs: Any) -> StrictModel:
        """Validate knobs (CLI strings or typed values) into this task's Params."""
        return validate(self.Params, knobs, source=f"task {self.name!r}")

    @abstractmethod
    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        """Draw one problem (id left empty), or None when this draw is rejected."""

    @abstractmethod
    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """``(prompt_text, gold_completion)`` exactly as a model sees and should produce them.

        The model is given ``prompt_text`` and generates a completion; ``verify`` must accept the
        gold completion of every style as perfect (correct, format ok, process perfect).
        """

    @abstractmethod
    def verify(self, problem: Problem, completion: str) -> Verification:
        """Check ``completion`` (the text generated after ``problem.prompt``); never raises."""

    def ends_text(self, style: str) -> bool:
        """Whether a rendered document (prompt + gold completion) ends where its text ends, so that training
        should teach ``<eos>`` after it (True for every task whose completion is a whole answer)."""
        return True

    def prompt_styles(self) -> tuple[str, ...]:
        """The styles a config may name: :attr:`styles`, plus :data:`MODEL_CHAT` when there is a ``chat`` style."""
        return (*self.styles, MODEL_CHAT) if "chat" in self.styles else self.styles

    def chat_prompt(self, problem: Problem) -> ChatPrompt:
        """The ``chat`` prompt as a conversation (what :data:`MODEL_CHAT` renders with a model's template).

        By default the whole chat prompt is one user message with nothing pre-filled; a task whose chat
        prompt has a system turn or opens the assistant's answer overrides this (``knights``).
        """
        if "chat" not in self.styles:
            raise ReasonlabError(f"task {self.name!r} has no chat style (styles: {', '.join(self.styles)})")
        return ChatPrompt(({"role": "user", "content": self.render(problem, "chat")[0]},))

    def failure_kind(self, v: Verification) -> str | None:
        """A short stable name for why a completion failed (None when it did not), for hacking metrics.

        By default the slug of the error before its first ``:`` (``"wrong answer: 4 (expected 5)"`` ->
        ``wrong_answer``); a task with a richer taxonomy overrides it.
        """
        if v.error is None:
            return None
        head = v.error.split(":", 1)[0].strip().lower()
        return re.sub(r"[^a-z0-9]+", "_", " ".join(head.split()[:4])).strip("_") or "other"

    def answer_space(self, problem: Problem) -> int | None:
        """How many distinct answers a problem has (the chance level of guessing), or None if unbounded."""
        return None

    def unstated_setting(self, params: Any) -> str | None:
        """A knob setting that decides answers but that the prompt does not state, or None.

        Two mixture components of one task whose unstated settings differ can draw the same prompt with two
        different answers (arith's number mode: ``mod 7`` vs ``mod 23``), so a corpus refuses to mix them.
        """
        return None

    def dedup_key(self, problem: Problem) -> str:
        """What makes two problems the same for de-duplication: the prompt (the model's whole input)."""
        return problem.prompt

    def generate(
        self,
        params: Any,
        n: int,
        seed: int,
        *,
        dedup: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[Problem]:
        """Yield ``n`` distinct problems, deterministically from ``seed``.

        Draw ``i`` uses ``random.Random(stable_seed(task, seed, i))`` and the problem id is
        ``{task}-s{seed}-{i}``, so ids are stable and any prefix of a run is reproducible. Problems
        whose :meth:`dedup_key` (by default the prompt) was already seen are skipped (de-duplication by
        content). If a draw budget of ``max_attempts_per_problem * n`` runs out, raise rather than return
        fewer problems.
        """
        if n < 0:
            raise ReasonlabError(f"number of problems must be >= 0, got {n}")
        seen: set[str] = set()
        made = 0
        budget = self.max_attempts_per_problem * max(n, 1)
        i = 0
        while made < n:
            if i >= budget:
                raise ReasonlabError(
                    f"task {self.name!r}: made only {made} of {n} distinct problems in {budget} draws; "
                    "widen the knobs (more ops/people/contexts) or ask for fewer problems"
                )
            rng = random.Random(stable_seed(self.name, seed, i))
            problem = self.sample(params, rng)
            i += 1
            if problem is None:
                continue
            if dedup:
                key = hashlib.sha1(self.dedup_key(problem).encode()).hexdigest()
                if key in seen:
                    continue
                seen.add(key)
            problem.id = f"{self.name}-s{seed}-{i - 1}"
            problem.meta.setdefault("seed", seed)
            made += 1
            if progress is not None:
                progress(1)
            yield problem
