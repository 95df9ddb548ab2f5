"""TRL: reward functions with ``GRPOTrainer``'s signature, one per reward scheme, and their dataset.

``GRPOTrainer(reward_funcs=[process_reward], train_dataset=hf_dataset(problems), ...)``: TRL calls a
reward function as ``f(prompts=..., completions=..., completion_ids=..., **columns)`` where every
dataset column but ``prompt`` arrives as a keyword list aligned with the completions, and expects a
list of floats. The dataset (:func:`hf_dataset`, ``reasonlab export hf-dataset``) has the columns
``prompt`` (text, or ``[{"role": "user", "content": ...}]`` when conversational), ``problem`` (the
problem record as JSON text: what the verifier reads), ``id``, ``task`` and ``answer``.

Completions arrive decoded with ``skip_special_tokens=True``; the exported tokenizer keeps the tag
tokens there (they are not special), so the verifier reads the same text as in ``reasonlab rl``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.integrations.common import completion_text, problem_from_json, problem_json, score_details
from reasonlab.rewards import SCHEMES, check_reward
from reasonlab.tasks import Problem, get_task

__all__ = ["REWARD_FUNCS", "dataset_rows", "hf_dataset", "reward_function"]

RewardFn = Callable[..., list[float]]


def reward_function(reward: str = "outcome", **reward_kwargs: Any) -> RewardFn:
    """A TRL reward function scoring completions under scheme ``reward`` (``reward_kwargs`` its arguments).

    Its ``__name__`` is ``reasonlab_<reward>`` (TRL logs ``rewards/<name>/mean``). It needs the
    ``problem`` column; a missing one is a one-line error, never a silent zero.
    """
    check_reward(reward, reward_kwargs)

    def fn(
        prompts: Sequence[Any], completions: Sequence[Any], problem: Sequence[Any] | None = None, **_: Any
    ) -> list[float]:
        if problem is None:
            raise ReasonlabError(f"reasonlab_{reward}: the dataset has no 'problem' column (build it with hf_dataset)")
        if len(problem) != len(completions):
            raise ReasonlabError(f"reasonlab_{reward}: {len(completions)} completions but {len(problem)} problems")
        return [
            score_details(problem_from_json(p, "problem column"), completion_text(c), reward, **reward_kwargs)["score"]
            for p, c in zip(problem, completions, strict=True)
        ]

    fn.__name__ = fn.__qualname__ = f"reasonlab_{reward}"
    fn.__doc__ = f"TRL reward function: reasonlab's {reward!r} reward ({SCHEMES[reward].description})."
    return fn


#: One reward function per scheme with its default arguments (``REWARD_FUNCS["process"]``).
REWARD_FUNCS: dict[str, RewardFn] = {name: reward_function(name) for name in SCHEMES}
outcome_reward = REWARD_FUNCS["outcome"]
format_reward = REWARD_FUNCS["format"]
process_reward = REWARD_FUNCS["process"]
strict_reward = REWARD_FUNCS["strict"]
logic_rl_reward = REWARD_FUNCS["logic_rl"]
logic_rl_strict_reward = REWARD_FUNCS["logic_rl_strict"]
partial_reward = REWARD_FUNCS["partial"]


def dataset_rows(
    problems: Sequence[Problem], style: str = "plain", conversational: bool = False
) -> list[dict[str, Any]]:
    """The rows of :func:`hf_dataset`: ``prompt``, ``problem`` (JSON text), ``id``, ``task``, ``answer``."""
    rows = []
    for p in problems:
        text = get_task(p.task).render(p, style)[0]
        prompt: Any = [{"role": "user", "content": text}] if conversational else text
        rows.append({"prompt": prompt, "problem": problem_json(p), "id": p.id, "task": p.task, "answer": p.answer})
    return rows


def hf_dataset(problems: Sequence[Problem], style: str = "plain", conversational: bool = False) -> Any:
    """A ``datasets.Dataset`` of :func:`dataset_rows` for ``GRPOTrainer(train_dataset=...)``."""
    import datasets  # optional: only this bridge needs Hugging Face datasets

    return datasets.Dataset.from_list(dataset_rows(problems, style, conversational))
