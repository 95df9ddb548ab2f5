"""OpenRLHF: a reward file with ``reward_func(queries, prompts, labels, **kwargs)``.

OpenRLHF loads the file given to ``--remote_rm_url`` (a ``.py`` path) and calls ``reward_func`` with
``queries`` (prompt + response, decoded with special tokens), ``prompts`` (the prompts) and
``labels`` (the dataset column named by ``--label_key``), expecting ``{"rewards": Tensor, "scores":
Tensor, "extra_logs": {name: Tensor}}``. Export the data with ``reasonlab export openrlhf`` (a JSONL
file with ``prompt`` and ``label`` = the problem record as JSON text) and pass this file (or the
``reward_func.py`` the export writes, which fixes the scheme) with ``--label_key label``.

The scheme comes from ``REASONLAB_REWARD`` (default ``outcome``) and its arguments from
``REASONLAB_REWARD_KWARGS`` (JSON), or from :func:`make_reward_func`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.integrations.common import problem_from_json, score_details
from reasonlab.model.tokenizer import CONTROL_TOKENS
from reasonlab.rewards import check_reward

__all__ = ["make_reward_func", "response_of", "reward_func"]


def _strip_control(text: str) -> str:
    for tok in CONTROL_TOKENS:
        text = text.replace(tok, "")
    return text


def response_of(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query: the text after the prompt, control tokens removed.

    Queries carry <bos>/<eos>/<pad> (decoded with special tokens); they are dropped from both sides
    before the prompt is located (at the start, else its last occurrence).
    """
    q, p = _strip_control(query), _strip_control(prompt)
    if q.startswith(p):
        return q[len(p) :]
    at = q.rfind(p)
    if at < 0:
        raise ReasonlabError("reward_func: a query does not contain its prompt")
    return q[at + len(p) :]


def make_reward_func(reward: str = "outcome", **reward_kwargs: Any) -> Callable[..., dict[str, Any]]:
    """An OpenRLHF ``reward_func`` bound to scheme ``reward``."""
    check_reward(reward, reward_kwargs)

    def fn(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **_: Any) -> dict[str, Any]:
        import torch  # heavy: OpenRLHF wants tensors, and the reward file must import cheaply

        if not len(queries) == len(prompts) == len(labels):
            raise ReasonlabError(f"reward_func: {len(queries)} queries, {len(prompts)} prompts, {len(labels)} labels")
        rows = [
            score_details(problem_from_json(label, "label"), response_of(q, p), reward, **reward_kwargs)
            for q, p, label in zip(queries, prompts, labels, strict=True)
        ]
        scores = torch.tensor([r["score"] for r in rows], dtype=torch.float32)
        logs = {
            k: torch.tensor([r[k] for r in rows], dtype=torch.float32) for k in ("acc", "format_ok", "step_accuracy")
        }
        # OpenRLHF's dynamic filtering reads "scores" in [0, 1]: the answer's correctness
        return {"rewards": scores, "scores": logs["acc"].clone(), "extra_logs": logs}

    fn.__name__ = "reward_func"
    return fn


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF's entry point: scheme from ``REASONLAB_REWARD``, arguments from ``REASONLAB_REWARD_KWARGS``."""
    reward = os.environ.get("REASONLAB_REWARD", "outcome")
    try:
        reward_kwargs = json.loads(os.environ.get("REASONLAB_REWARD_KWARGS", "{}"))
    except json.JSONDecodeError:
        raise ReasonlabError("REASONLAB_REWARD_KWARGS: not valid JSON") from None
    return make_reward_func(reward, **reward_kwargs)(queries, prompts, labels, **kwargs)
