"""Rollout data of one RL step: the scored samples, and the tensors the update reads.

:class:`Rollouts` holds one step's samples (aligned lists); :func:`pack_sequences` turns them into
right-padded ``prompt + response`` rows; :func:`policy_forward` computes per-token log-probs (and
entropy, values) of the responses under a model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reasonlab.tasks import Problem
from reasonlab.train.rl import algorithms as alg

__all__ = ["Rollouts", "ValueHead", "pack_sequences", "policy_forward"]


class ValueHead(nn.Module):
    """PPO critic: one linear layer on the decoder's final hidden states (shared trunk)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Values of the hidden states (one per position)."""
        return self.proj(hidden.float()).squeeze(-1)


def pack_sequences(
    prompt_ids: list[list[int]], response_ids: list[list[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``prompt + response`` rows and the response view of them.

    Returns ``input_ids [B, L]``, ``responses [B, T]`` (pad-filled), ``mask [B, T]`` (1 on response
    tokens) and ``positions [B, T]``: the index in ``input_ids`` of the logit that predicts response
    token ``t`` (``len(prompt) - 1 + t``; clamped for padding).
    """
    B = len(prompt_ids)
    T = max(1, max(len(r) for r in response_ids))
    L = max(len(p) + len(r) for p, r in zip(prompt_ids, response_ids, strict=True))
    input_ids = torch.full((B, L), pad_id, dtype=torch.long)
    responses = torch.full((B, T), pad_id, dtype=torch.long)
    mask = torch.zeros(B, T)
    positions = torch.zeros(B, T, dtype=torch.long)
    for b, (p, r) in enumerate(zip(prompt_ids, response_ids, strict=True)):
        seq = list(p) + list(r)
        input_ids[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        if r:
            responses[b, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[b, : len(r)] = 1.0
        positions[b] = (torch.arange(T) + len(p) - 1).clamp(max=L - 1)
    return input_ids, responses, mask, positions


def policy_forward(
    model: Any,
    input_ids: torch.Tensor,
    positions: torch.Tensor,
    responses: torch.Tensor,
    *,
    temperature: float = 1.0,
    value_head: nn.Module | None = None,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Per-token log-probs of ``responses`` (logits divided by the sampling temperature), entropy, values.

    Only the hidden states at response positions are projected to the vocabulary, so the logits cost
    ``B * T * V`` instead of ``B * L * V``.
    """
    hidden = model.hidden_states(input_ids)
    H = hidden.shape[-1]
    h = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, H))
    logits = model.logits(h).float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    logp = alg.token_logprobs(logits, responses)
    entropy = alg.entropy_from_logits(logits) if with_entropy else None
    values = value_head(h) if value_head is not None else None
    return logp, entropy, values


class Rollouts:
    """One step's scored rollouts (lists aligned by row)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.prompt_ids: list[list[int]] = []
        self.response_ids: list[list[int]] = []
        self.texts: list[str] = []
        self.finish: list[str] = []
        self.scores: list[float] = []
        self.task_scores: list[float] = []
        self.correct: list[bool] = []
        self.process_ok: list[bool | None] = []  # every step verified (None: the task checks no process)
        self.format_ok: list[bool] = []
        self.failure: list[str | None] = []  # the task's name for why a sample failed (hacking metrics)
        self.group: list[int] = []

    def extend(self, other: Rollouts, rows: list[int]) -> None:
        """Append ``other``'s rows ``rows`` to this batch."""
        for name in vars(self):
            getattr(self, name).extend(getattr(other, name)[i] for i in rows)

    def __len__(self) -> int:
        return len(self.texts)
