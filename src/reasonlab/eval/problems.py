"""Evaluation problems: one bucket per value of a knob, drawn from the evaluation seed namespace.

Problems whose prompt occurs among the training prompts of the model's lineage (or in any
``holdout_files``) are dropped and replaced by further draws, so an evaluation problem is held out
by content, not only by seed (:mod:`reasonlab.seeds`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.eval.config import EvalConfig
from reasonlab.io import read_records
from reasonlab.seeds import eval_problem_seed, prompt_hash
from reasonlab.tasks import Problem, Task, get_task
from reasonlab.tasks.base import PROBLEM_FIELDS

__all__ = ["build_problems", "held_out_hashes", "problem_of"]


def held_out_hashes(sources: list[str]) -> set[int]:
    """Prompt hashes of the problems in ``sources``: problem files, or evaluation run dirs (their problems).

    A training phase drops any problem whose prompt hash is among them, so it never trains on them.
    """
    hashes: set[int] = set()
    for src in sources:
        path = Path(src)
        if path.is_dir():
            path = path / "eval" / "problems.jsonl"
            if not path.is_file():
                raise ReasonlabError(f"holdout {src}: a directory without eval/problems.jsonl (not an evaluation run)")
        hashes.update(prompt_hash(r["prompt"]) for r in read_records(path) if isinstance(r.get("prompt"), str))
    return hashes


def problem_of(row: dict[str, Any]) -> Problem:
    """The :class:`Problem` inside an evaluation problem row (which adds ``bucket`` and ``cluster``)."""
    return Problem.from_dict({k: row[k] for k in PROBLEM_FIELDS})


def _bucket_rows(config: EvalConfig, p: Problem, value: Any) -> dict[str, Any]:
    row = p.to_dict()
    row["bucket"] = value
    cl = p.meta.get(config.cluster_by) if config.cluster_by else None
    if config.cluster_by and cl is None:
        raise ReasonlabError(
            f"cluster_by {config.cluster_by!r}: problem {p.id} has no such meta key "
            f"(meta keys: {', '.join(sorted(p.meta))})"
        )
    row["cluster"] = None if cl is None else json.dumps(cl, sort_keys=True)
    return row


def _problems_from_file(config: EvalConfig, task: Task, banned: set[int]) -> tuple[list[dict[str, Any]], dict]:
    """Problems of ``config.problems`` grouped by ``meta[knob]``, the first ``problems_per_bucket`` of each."""
    assert config.problems is not None
    knob = config.buckets.knob
    wanted = {str(v): v for v in config.buckets.values}
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    dropped = 0
    for i, raw in enumerate(read_records(config.problems)):
        p = Problem.from_dict(raw, source=f"{config.problems} record {i + 1}")
        if p.task != task.name:
            raise ReasonlabError(
                f"{config.problems} record {i + 1}: task {p.task!r}, but the config says {task.name!r}"
            )
        if knob not in p.meta:
            raise ReasonlabError(f"{config.problems} record {i + 1}: meta has no bucket knob {knob!r}")
        key = str(p.meta[knob])
        if key not in wanted or len(per[key]) >= config.problems_per_bucket:
            continue
        if prompt_hash(p.prompt) in banned:
            dropped += 1
            continue
        per[key].append(_bucket_rows(config, p, wanted[key]))
    missing = [k for k in wanted if not per[k]]
    if missing:
        raise ReasonlabError(f"{config.problems}: no problems with {knob}={missing[0]} (bucket values {list(wanted)})")
    rows = [r for k in wanted for r in per[k]]
    return rows, {
        "namespace": "file",
        "problems_file": config.problems,
        "problem_seeds": {},
        "holdout_files": list(config.holdout_files),
        "dropped_overlapping": dropped,
    }


def build_problems(
    config: EvalConfig, task: Task | None = None, banned_hashes: set[int] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate each bucket's held-out problems; returns ``(problem rows, holdout record)``.

    Rows are problem records plus ``bucket`` and ``cluster``. Problems whose prompt appears in a
    ``holdout_files`` set or among ``banned_hashes`` (the training corpus' prompt hashes) are dropped
    and replaced by further draws (counted in the record).
    """
    task = task or get_task(config.task)
    banned: set[int] = set(banned_hashes or ())
    banned |= held_out_hashes(config.holdout_files)
    if config.problems is not None:
        return _problems_from_file(config, task, banned)
    rows: list[dict[str, Any]] = []
    dropped = 0
    seeds = {}
    for value in config.buckets.values:
        params = config.bucket_params(value)
        seed = eval_problem_seed(config.seed, task.name, config.buckets.knob, value)
        seeds[str(value)] = seed
        want = n_draw = config.problems_per_bucket
        while True:
            # generation is prefix-stable, so drawing more only appends problems
            batch = list(task.generate(params, n_draw, seed))
            keep = [prompt_hash(p.prompt) not in banned for p in batch]
            if sum(keep) >= want:
                break
            n_draw += 2 * (want - sum(keep)) + 1
            if n_draw > 20 * want:
                raise ReasonlabError(
                    f"bucket {config.buckets.knob}={value}: {len(keep) - sum(keep)} of {len(keep)} drawn problems "
                    f"appear among the training/holdout prompts; this bucket cannot be held out"
                )
        kept = [i for i, k in enumerate(keep) if k][:want]
        got = [batch[i] for i in kept]
        dropped += sum(not k for k in keep[: kept[-1] + 1])
        rows.extend(_bucket_rows(config, p, value) for p in got)
    record = {
        "namespace": "reasonlab-eval",
        "problem_seeds": seeds,
        "holdout_files": list(config.holdout_files),
        "dropped_overlapping": dropped,
    }
    return rows, record
