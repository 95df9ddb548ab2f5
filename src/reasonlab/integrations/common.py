"""What every engine bridge shares: the problem record as JSON text, and scoring with details."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_dir, read_records
from reasonlab.model.hf import EXPORT_MARKER
from reasonlab.rewards import check_reward, score
from reasonlab.tasks import Problem, Task, get_task

__all__ = [
    "completion_text",
    "export_dir",
    "load_problems",
    "problem_from_json",
    "problem_json",
    "score_details",
    "split_problems",
]

_TASKS: dict[str, Task] = {}


def problem_json(problem: Problem | dict[str, Any]) -> str:
    """The whole problem record as compact JSON text: the field a bridge hands its engine.

    Text rather than a nested column, because engines load Parquet through ``datasets``, which fills
    keys missing from some rows with nulls and cannot type mixed lists: the verifier must get the
    record exactly as it was generated.
    """
    row = problem.to_dict() if isinstance(problem, Problem) else problem
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def problem_from_json(text: str | dict[str, Any], source: str = "problem") -> Problem:
    """The :class:`Problem` of a record given as JSON text (or as a dict); one-line errors."""
    if isinstance(text, str):
        try:
            text = json.loads(text)
        except json.JSONDecodeError:
            raise ReasonlabError(f"{source}: not a JSON problem record") from None
    if not isinstance(text, dict):
        raise ReasonlabError(f"{source}: expected a problem record, got {type(text).__name__}")
    return Problem.from_dict(text, source=source)


def completion_text(completion: Any) -> str:
    """The text of a completion as engines pass it: a string, or chat messages (the last one's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):  # multimodal content parts: join the text parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    raise ReasonlabError(f"completion: expected text or chat messages, got {type(completion).__name__}")


def score_details(problem: Problem, completion: str, reward: str = "outcome", **reward_kwargs: Any) -> dict[str, Any]:
    """Verify ``completion`` and score it under ``reward``: a flat dict of fixed keys.

    ``score`` (the reward), ``acc`` (1.0 if the answer is right), ``pred`` (the parsed answer, ``""``
    when none), ``format_ok``, ``process_ok`` and ``step_accuracy`` (floats; the process fields are 0.0
    for tasks without a process check). The keys never vary, so engines that collect them per sample
    into arrays (verl's reward managers) get aligned columns.
    """
    check_reward(reward, reward_kwargs)
    task = _TASKS.get(problem.task)
    if task is None:
        task = _TASKS[problem.task] = get_task(problem.task)
    s = score(task, problem, completion, reward, **reward_kwargs)
    return {
        "score": float(s.reward),
        "acc": float(s.correct),
        "pred": s.pred or "",
        "format_ok": float(s.format_ok),
        "process_ok": float(bool(s.process_ok)),
        "step_accuracy": float(s.step_accuracy or 0.0),
    }


def load_problems(paths: Iterable[str]) -> list[Problem]:
    """Problem records from ``.jsonl``/``.parquet`` files, in file order; duplicate ids are an error."""
    out: list[Problem] = []
    seen: set[str] = set()
    for path in paths:
        for i, row in enumerate(read_records(path)):
            problem = Problem.from_dict(row, source=f"{path} row {i + 1}")
            if problem.id in seen:
                raise ReasonlabError(f"{path} row {i + 1}: problem id {problem.id!r} occurs twice")
            seen.add(problem.id)
            out.append(problem)
    return out


def split_problems(
    task_name: str, knobs: dict[str, Any], n_train: int, n_test: int, seed: int
) -> tuple[list[Problem], list[Problem]]:
    """``n_train`` training and ``n_test`` test problems of a task, drawn in one de-duplicated run
    (the first ``n_train`` train, the rest test), so no prompt is in both splits."""
    if n_train < 1 or n_test < 0:
        raise ReasonlabError(f"need at least one training problem and no negative test count, got {n_train}/{n_test}")
    task = get_task(task_name)
    problems = list(task.generate(task.params(**knobs), n_train + n_test, seed))
    return problems[:n_train], problems[n_train:]


def export_dir(
    out_dir: str | os.PathLike[str], fmt: str, write: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Write an export directory atomically: ``write(tmp)`` fills it, the export marker is added.

    As ``reasonlab export hf``: a non-empty ``out_dir`` is refused unless ``overwrite``, and even then
    only an earlier export (a directory carrying the marker) is replaced.
    """
    dest = Path(out_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        if not overwrite:
            raise ReasonlabError(f"{dest}: exists and is not empty; pass --overwrite to replace an earlier export")
        if not (dest / EXPORT_MARKER).is_file():
            raise ReasonlabError(f"{dest}: is not a reasonlab export (no {EXPORT_MARKER}); not replacing it")
    with atomic_dir(dest) as tmp:
        (tmp / EXPORT_MARKER).write_text(json.dumps({"reasonlab_export": 1, "format": fmt}) + "\n", encoding="utf-8")
        write(tmp)
    return dest
