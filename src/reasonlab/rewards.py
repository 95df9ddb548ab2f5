"""Reward schemes, selectable by name, built on a task's :class:`Verification`, and scoring.

Each scheme is a small pure function registered in :data:`SCHEMES`; the math lives in separate pure
functions (formula in the docstring) so it can be tested against hand-computed numbers and reused
by the engine integrations. This module owns scoring: :func:`score` verifies one completion and
returns a :class:`Score` record (DESIGN.md contract), :func:`score_records` scores completion files,
:func:`supported_schemes` says which schemes a task's verifier can feed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.tasks import Problem, Task, Verification, get_task

# ----------------------------------------------------------------------------- pure math


def process_score(
    value_mismatch: int, dep_mismatch: int, missing: int, extra: int, n_gold: int, answer_mismatch: bool
) -> float:
    """CMU process score: ``max(0, 1 - (value_mm + dep_mm + missing + min(extra, |V|) + [answer_mm]) / |V|)``.

    ``|V|`` is the number of gold nodes; an empty gold graph scores 0.
    """
    if n_gold <= 0:
        return 0.0
    penalty = value_mismatch + dep_mismatch + missing + min(extra, n_gold) + int(answer_mismatch)
    return max(0.0, 1.0 - penalty / n_gold)


def dense_process_reward(correct: bool, process: float, w_a: float = 0.2, w_s: float = 0.8) -> float:
    """``(w_a * outcome + w_s * process) / (w_a + w_s)``, forced to 0 when the final answer is wrong."""
    if w_a < 0 or w_s < 0 or w_a + w_s <= 0:
        raise ReasonlabError(f"process reward weights must be >= 0 with a positive sum, got w_a={w_a}, w_s={w_s}")
    if not correct:
        return 0.0
    return (w_a * 1.0 + w_s * process) / (w_a + w_s)


def logic_rl_reward(format_ok: bool, answer_status: str) -> float:
    """Logic-RL: format +1 / -1; answer (only if the format passes, else -2) +2 exact, -1.5 wrong, -2 unparseable.

    Totals are therefore in {3, -0.5, -1, -3}.
    """
    if not format_ok:
        return -1.0 - 2.0
    return 1.0 + {"exact": 2.0, "mismatch": -1.5, "unparseable": -2.0}[answer_status]


def partial_credit(correct: bool, units_correct: int | None, units_total: int | None) -> float:
    """reasoning-gym partial credit: 1.0 if exact; same count with k of n right: ``0.3 + 0.7 k / n``; else 0."""
    if correct:
        return 1.0
    if units_correct is None or not units_total:
        return 0.0
    return 0.3 + 0.7 * units_correct / units_total


def prefix_match_reward(prediction: bytes, target: bytes, boundaries: Sequence[int]) -> float:
    """RPT prefix matching: 1 iff ``prediction == target[:l]`` and ``l`` is a token boundary, else 0.

    ``l = len(prediction)``; ``boundaries`` are the cumulative byte lengths of the ground-truth
    tokens, so a prediction may span several tokens but must end on one of their boundaries.
    """
    n = len(prediction)
    return 1.0 if n > 0 and n in set(boundaries) and target[:n] == prediction else 0.0


def first_token_reward(prediction: bytes, target: bytes, boundaries: Sequence[int]) -> float:
    """RPT's first-token variant: 1 iff ``prediction == target[:boundaries[0]]`` (exactly the next token), else 0."""
    return 1.0 if boundaries and boundaries[0] > 0 and prediction == target[: boundaries[0]] else 0.0


def prefix_dense_reward(prediction: bytes, target: bytes, boundaries: Sequence[int]) -> float:
    """A dense prefix reward that is a function of the bytes alone: ``j / s``, the share of the tokens the
    prediction spans that it reproduces.

    With ``L_1 < ... < L_K`` the boundaries and ``l = len(prediction) > 0``: ``j = max{i : L_i <= l and
    prediction[:L_i] == target[:L_i]}`` (0 if none) counts whole ground-truth tokens reproduced from the
    start; ``s = min{i : L_i >= l}`` (``K + 1`` when the prediction runs past the continuation) counts the
    tokens it reaches into. It is 1 exactly when :func:`prefix_match_reward` is, 0 when the first token
    is wrong. Example: tokens ``" 12", " +", " 3"`` (L = 3, 5, 7), prediction ``" 12 + 4"`` -> 2/3.
    (The paper's dense variant weighs a wrong prediction by model probabilities, which are not a
    function of the verification; see docs/rpt.md.)
    """
    n = len(prediction)
    bounds = sorted(set(b for b in boundaries if b > 0))
    if n == 0 or not bounds:
        return 0.0
    matched = sum(1 for b in bounds if b <= n and prediction[:b] == target[:b])
    spans = next((i + 1 for i, b in enumerate(bounds) if b >= n), len(bounds) + 1)
    return matched / spans


# ----------------------------------------------------------------------------- schemes


@dataclass(frozen=True)
class RewardScheme:
    """A named reward: ``fn(verification, **kwargs) -> float`` and what the verification must carry."""

    name: str
    fn: Callable[..., float]
    needs: str | None
    description: str

    def kwargs(self) -> list[str]:
        """Names of the scheme's keyword arguments (e.g. ``w_a``, ``w_s``)."""
        return [p for p in inspect.signature(self.fn).parameters if p != "v"]


SCHEMES: dict[str, RewardScheme] = {}


def scheme(name: str, needs: str | None, description: str) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register a reward scheme under ``name``; ``needs`` names the Verification field it requires."""

    def deco(fn: Callable[..., float]) -> Callable[..., float]:
        SCHEMES[name] = RewardScheme(name, fn, needs, description)
        return fn

    return deco


@scheme("outcome", None, "1 if the final answer is right, else 0")
def _outcome(v: Verification) -> float:
    return 1.0 if v.correct else 0.0


@scheme("format", None, "1 if the completion follows the required format, else 0")
def _format(v: Verification) -> float:
    return 1.0 if v.format_ok else 0.0


@scheme("process", "process", "dense process reward (w_a*outcome + w_s*process)/(w_a+w_s), 0 if the answer is wrong")
def _process(v: Verification, w_a: float = 0.2, w_s: float = 0.8) -> float:
    p = v.process
    assert p is not None
    score = process_score(p.value_mismatch, p.dep_mismatch, p.missing, p.extra, p.n_gold, p.answer_mismatch)
    return dense_process_reward(v.correct, score, w_a, w_s)


@scheme("strict", "process", "1 only if the answer is right and the process perfect, else 0")
def _strict(v: Verification) -> float:
    assert v.process is not None
    return 1.0 if v.correct and v.process.ok else 0.0


@scheme("logic_rl", None, "Logic-RL format (+1/-1) + answer (+2/-1.5/-2): totals in {3, -0.5, -1, -3}")
def _logic_rl(v: Verification) -> float:
    return logic_rl_reward(v.format_ok, v.answer_status)


@scheme(
    "logic_rl_strict",
    "strict",
    "logic_rl totals over the strict verdict (hygiene format, strict answer parse) that closes reward hacks",
)
def _logic_rl_strict(v: Verification) -> float:
    assert v.strict is not None
    return logic_rl_reward(v.strict.format_ok, v.strict.answer_status)


@scheme(
    "prefix_match",
    "prefix",
    "RPT: 1 if the prediction's bytes are a prefix of the continuation ending on a token boundary",
)
def _prefix_match(v: Verification) -> float:
    assert v.prefix is not None
    return prefix_match_reward(v.prefix.prediction, v.prefix.target, v.prefix.boundaries)


@scheme("first_token", "prefix", "RPT variant: 1 if the prediction is exactly the next token's bytes, else 0")
def _first_token(v: Verification) -> float:
    assert v.prefix is not None
    return first_token_reward(v.prefix.prediction, v.prefix.target, v.prefix.boundaries)


@scheme(
    "prefix_dense", "prefix", "RPT dense variant on bytes: share of the spanned tokens reproduced (1 = prefix_match)"
)
def _prefix_dense(v: Verification) -> float:
    assert v.prefix is not None
    return prefix_dense_reward(v.prefix.prediction, v.prefix.target, v.prefix.boundaries)


@scheme("partial", "units", "1 if exact; same count with k of n parts right: 0.3 + 0.7k/n; else 0")
def _partial(v: Verification) -> float:
    return partial_credit(v.correct, v.units_correct, v.units_total)


def supports(name: str, v: Verification) -> bool:
    """Whether scheme ``name`` can score a verification of this shape.

    ``needs`` is ``"process"`` (a :class:`~reasonlab.tasks.base.ProcessCheck`, for ``process`` and
    ``strict``), ``"units"`` (per-part counts, for ``partial``), ``"strict"`` (a
    :class:`~reasonlab.tasks.base.StrictCheck`, the hardened verdict ``logic_rl_strict`` reads; only
    ``knights`` provides one), ``"prefix"`` (a :class:`~reasonlab.tasks.base.PrefixCheck`, the bytes the
    RPT rewards compare; only ``nexttoken`` provides one) or None (every verification).
    """
    needs = SCHEMES[name].needs
    if needs == "process":
        return v.process is not None
    if needs == "units":
        return v.units_total is not None
    if needs == "strict":
        return v.strict is not None
    if needs == "prefix":
        return v.prefix is not None
    return True


def compute_reward(name: str, v: Verification, **kwargs: Any) -> float:
    """Reward of ``v`` under scheme ``name``; one-line errors for unknown schemes or arguments."""
    check_reward(name, kwargs)
    s = SCHEMES[name]
    if not supports(name, v):
        raise ReasonlabError(f"reward {name!r} needs a {s.needs} check, which this task's verifier does not provide")
    return float(s.fn(v, **kwargs))


def check_reward(name: str, kwargs: dict[str, Any] | None = None) -> None:
    """One-line error unless ``name`` is a scheme and ``kwargs`` are among its arguments (config-time check)."""
    if name not in SCHEMES:
        raise ReasonlabError(f"unknown reward {name!r}; choose from {', '.join(sorted(SCHEMES))}")
    bad = sorted(set(kwargs or {}) - set(SCHEMES[name].kwargs()))
    if bad:
        allowed = ", ".join(SCHEMES[name].kwargs()) or "none"
        raise ReasonlabError(f"reward {name!r} takes no argument {bad[0]!r} (allowed: {allowed})")


# ----------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """One score record (DESIGN.md contract), plus task-specific extras."""

    id: str
    correct: bool
    format_ok: bool
    process_ok: bool | None
    step_accuracy: float | None
    reward: float
    pred: str | None
    error: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as a flat dict (extras merged in)."""
        row = asdict(self)
        row.update(row.pop("extra"))
        return row


def score_verification(problem_id: str, v: Verification, reward: str = "outcome", **reward_kwargs: Any) -> Score:
    """The :class:`Score` record of an existing verification under scheme ``reward``."""
    return Score(
        id=problem_id,
        correct=v.correct,
        format_ok=v.format_ok,
        process_ok=None if v.process is None else v.process.ok,
        step_accuracy=None if v.process is None else v.process.step_accuracy,
        reward=compute_reward(reward, v, **reward_kwargs),
        pred=v.pred,
        error=v.error,
        extra=dict(v.extra),
    )


def score(task: Task, problem: Problem, completion: str, reward: str = "outcome", **reward_kwargs: Any) -> Score:
    """Verify ``completion`` of ``problem`` with ``task`` and score it under scheme ``reward``."""
    return score_verification(problem.id, task.verify(problem, completion), reward, **reward_kwargs)


def score_records(
    problems: list[dict[str, Any]],
    completions: list[dict[str, Any]],
    reward: str,
    reward_kwargs: dict[str, float] | None = None,
    source: str = "completions",
) -> list[dict[str, Any]]:
    """Score every completion record (``id``, ``completion``) against its problem record.

    Rows are score records; they carry the completion's ``sample``/``seed`` when given. A duplicate
    problem id, or a problem whose own gold solution the verifier cannot read (a malformed ``meta``),
    is a one-line error naming the id: such a file would otherwise score silently wrong.
    """
    check_reward(reward, reward_kwargs)
    by_id: dict[str, Problem] = {}
    tasks: dict[str, Task] = {}
    for i, row in enumerate(problems):
        problem = Problem.from_dict(row, source=f"problem {i + 1}")
        if problem.id in by_id:
            raise ReasonlabError(f"problem {i + 1}: id {problem.id!r} occurs twice among the problems")
        task = tasks.setdefault(problem.task, get_task(problem.task))
        gold = task.verify(problem, problem.solution)
        if gold.error is not None and gold.error.startswith("verifier error"):
            raise ReasonlabError(f"problem {i + 1}: id {problem.id!r} has a malformed meta ({gold.error})")
        by_id[problem.id] = problem
    out = []
    for i, row in enumerate(completions):
        pid, text = row.get("id"), row.get("completion")
        if not isinstance(pid, str) or not isinstance(text, str):
            raise ReasonlabError(f"{source} record {i + 1}: needs string fields 'id' and 'completion'")
        if pid not in by_id:
            raise ReasonlabError(f"{source} record {i + 1}: id {pid!r} is not among the problems")
        problem = by_id[pid]
        task = tasks.setdefault(problem.task, get_task(problem.task))
        record = score(task, problem, text, reward, **(reward_kwargs or {})).to_dict()
        for key in ("sample", "seed"):
            if key in row:
                record[key] = row[key]
        out.append(record)
    return out


def supported_schemes(task: Task) -> list[str]:
    """The reward schemes ``task``'s verifier can feed (checked on a gold completion of the default knobs)."""
    problem = next(task.generate(task.params(), 1, seed=0))
    v = task.verify(problem, problem.solution)
    return [name for name in SCHEMES if supports(name, v)]
