"""verl: data in verl's RL schema and a reward function with verl's ``compute_score`` signature.

Data (``reasonlab export verl``): one Parquet row per problem, the columns verl's ``RLHFDataset`` and
reward managers read::

    data_source   "reasonlab/<task>"           the reward manager passes it to compute_score
    prompt        [{"role": "user", "content": <prompt text>}]   rendered by the exported chat template
    ability       "arithmetic" | "logic" | ...
    reward_model  {"style": "rule", "ground_truth": <canonical answer>}
    extra_info    {"split", "index", "id", "task", "problem": <the problem record as JSON text>}

Reward: point verl's ``reward.custom_reward_function.path`` at this file (or its installed path, printed by
``python -c "import reasonlab.integrations.verl as m; print(m.__file__)"``) with ``name: compute_score``;
the scheme is a keyword (``reward.custom_reward_function.reward_kwargs: {reward: process, w_a: 0.2, w_s: 0.8}``).
``compute_score`` returns a dict (``score`` plus ``acc``, ``pred`` and the verifier's details), which
verl logs per sample and uses ``acc``/``pred`` of for validation metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.integrations.common import export_dir, problem_from_json, problem_json, score_details
from reasonlab.io import write_records
from reasonlab.tasks import Problem, get_task

__all__ = ["ABILITY", "compute_score", "export_verl", "verl_row"]

#: verl's ``ability`` column per task family (free text in verl; used for grouping only).
ABILITY = {"arith": "arithmetic", "arith_facts": "arithmetic", "knights": "logic"}


def verl_row(problem: Problem, split: str, index: int, style: str = "plain") -> dict[str, Any]:
    """One verl RL row for ``problem`` (prompt rendered in ``style``)."""
    prompt = get_task(problem.task).render(problem, style)[0]
    return {
        "data_source": f"reasonlab/{problem.task}",
        "prompt": [{"role": "user", "content": prompt}],
        "ability": ABILITY.get(problem.task, problem.task),
        "reward_model": {"style": "rule", "ground_truth": problem.answer},
        "extra_info": {
            "split": split,
            "index": index,
            "id": problem.id,
            "task": problem.task,
            "problem": problem_json(problem),
        },
    }


def export_verl(
    train: list[Problem], test: list[Problem], out_dir: str | Path, *, style: str = "plain", overwrite: bool = False
) -> Path:
    """Write ``train.parquet`` and ``test.parquet`` in verl's schema into ``out_dir`` (atomically)."""

    def write(tmp: Path) -> None:
        write_records(tmp / "train.parquet", [verl_row(p, "train", i, style) for i, p in enumerate(train)])
        if test:
            write_records(tmp / "test.parquet", [verl_row(p, "test", i, style) for i, p in enumerate(test)])

    return export_dir(out_dir, "verl", write, overwrite=overwrite)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    reward: str = "outcome",
    **reward_kwargs: Any,
) -> dict[str, Any]:
    """verl's reward signature: our verifier's reward for ``solution_str`` (the response only).

    ``reward`` selects the scheme (``outcome``, ``process``, ``strict``, ``logic_rl``, ...) and
    ``reward_kwargs`` its arguments (``w_a``, ``w_s``). The problem comes from
    ``extra_info["problem"]`` (written by :func:`export_verl`); ``ground_truth`` must agree with its
    answer. Returns :func:`reasonlab.integrations.common.score_details` (``score``, ``acc``, ``pred``,
    ``format_ok``, ``process_ok``, ``step_accuracy``).
    """
    info = extra_info or {}
    raw = info.get("problem")
    if raw is None:
        raise ReasonlabError(
            f"compute_score({data_source!r}): extra_info has no 'problem' (export with `reasonlab export verl`)"
        )
    problem = problem_from_json(raw, source=f"{data_source} extra_info.problem")
    if ground_truth is not None and str(ground_truth) != problem.answer:
        raise ReasonlabError(
            f"compute_score({data_source!r}): ground_truth {ground_truth!r} is not the answer of problem {problem.id}"
        )
    return score_details(problem, solution_str, reward, **reward_kwargs)
