"""Rollout data of one RL step: the scored samples, and the tensors the update reads.

:class:`Rollouts` holds one step's samples (aligned lists); :func:`pack_sequences` turns them into
right-padded ``prompt + response`` rows; :func:`policy_forward` computes per-token log-probs (and
entropy, values) of the responses under a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reasonlab.tasks import Problem
from reasonlab.train.rl import algorithms as alg

__all__ = ["Rollouts", "ValueHead", "length_chunks", "pack_sequences", "policy_forward", "policy_forward_chunked"]


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
    entropy_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Per-token log-probs of ``responses`` (logits divided by the sampling temperature), entropy, values.

    Only the hidden states at response positions are projected to the vocabulary, so the logits cost
    ``B * T * V`` instead of ``B * L * V``. ``entropy_grad=False`` computes the entropy as a metric
    only (no autograd graph over the ``[B, T, V]`` softmax).
    """
    hidden = model.hidden_states(input_ids)
    H = hidden.shape[-1]
    h = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, H))
    return score_hidden(
        model,
        h,
        responses,
        temperature=temperature,
        value_head=value_head,
        with_entropy=with_entropy,
        entropy_grad=entropy_grad,
    )


def score_hidden(
    model: Any,
    h: torch.Tensor,
    responses: torch.Tensor,
    *,
    temperature: float = 1.0,
    value_head: nn.Module | None = None,
    with_entropy: bool = False,
    entropy_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Log-probs of ``responses``, entropy and values from the ``[B, T, H]`` hidden states at response positions."""
    logits = model.logits(h).float()
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    logp = alg.token_logprobs(logits, responses)
    entropy = None
    if with_entropy:
        if entropy_grad:
            entropy = alg.entropy_from_logits(logits)
        else:
            with torch.no_grad():
                entropy = alg.entropy_from_logits(logits.detach())
    values = value_head(h) if value_head is not None else None
    return logp, entropy, values


#: Padding a length-sorted chunk may save before another forward pass pays off, in tokens.
CHUNK_OVERHEAD_TOKENS = 512


def length_chunks(lengths: list[int], max_chunks: int = 4, overhead: int = CHUNK_OVERHEAD_TOKENS) -> list[list[int]]:
    """Rows grouped into at most ``max_chunks`` runs of similar length, longest first.

    The rows sorted by length (descending, ties by row) are cut into contiguous runs that minimise
    ``sum(rows_in_run * longest_in_run) + overhead * runs`` (a small dynamic programme): the tokens a
    right-padded forward pass computes, plus a per-pass cost. One run (no split) when splitting does
    not pay.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    srt = [lengths[i] for i in order]
    n = len(srt)
    inf = float("inf")
    # best[k][j]: cost of the first j sorted rows in k runs; a run i..j-1 costs (j - i) * srt[i]
    best = [[inf] * (n + 1) for _ in range(max_chunks + 1)]
    cut = [[0] * (n + 1) for _ in range(max_chunks + 1)]
    best[0][0] = 0.0
    for k in range(1, max_chunks + 1):
        for j in range(1, n + 1):
            for i in range(j):
                c = best[k - 1][i] + (j - i) * srt[i] + overhead
                if c < best[k][j]:
                    best[k][j], cut[k][j] = c, i
    k = min(range(1, max_chunks + 1), key=lambda kk: (best[kk][n], kk))
    runs, j = [], n
    while k > 0:
        i = cut[k][j]
        runs.append(order[i:j])
        j, k = i, k - 1
    return runs[::-1]


def policy_forward_chunked(
    model: Any,
    input_ids: torch.Tensor,
    positions: torch.Tensor,
    responses: torch.Tensor,
    mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    value_head: nn.Module | None = None,
    with_entropy: bool = False,
    entropy_grad: bool = True,
    pad_id: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """:func:`policy_forward` over length-sorted chunks (:func:`length_chunks`), each cut to its own
    longest row, so right padding is not computed; outputs are ``[B, T]`` in the original row order.

    Rows never interact in the model, so each row's numbers are those of one big pass up to the
    blocking of matrix products; gradients add up chunk by chunk (a different order of float additions).
    """
    B, T = responses.shape
    prompt_len = positions[:, 0] + 1  # positions[b, 0] = len(prompt_b) - 1
    resp_len = mask.sum(-1).long()
    total = (prompt_len + resp_len).tolist()
    chunks = length_chunks([int(t) for t in total], overhead=CHUNK_OVERHEAD_TOKENS)
    if len(chunks) == 1:
        return policy_forward(
            model,
            input_ids,
            positions,
            responses,
            temperature=temperature,
            value_head=value_head,
            with_entropy=with_entropy,
            entropy_grad=entropy_grad,
        )
    parts: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]] = []
    order: list[int] = []
    for rows in chunks:
        idx = torch.tensor(rows, device=input_ids.device)
        L = max(1, max(total[r] for r in rows))
        Tc = max(1, int(resp_len[idx].max()))
        out = policy_forward(
            model,
            input_ids[idx, :L],
            positions[idx, :Tc].clamp(max=L - 1),
            responses[idx, :Tc],
            temperature=temperature,
            value_head=value_head,
            with_entropy=with_entropy,
            entropy_grad=entropy_grad,
        )
        parts.append(tuple(None if t is None else F.pad(t, (0, T - Tc)) for t in out))  # type: ignore[arg-type]
        order += rows
    inverse = torch.empty(B, dtype=torch.long, device=input_ids.device)
    inverse[torch.tensor(order, device=input_ids.device)] = torch.arange(B, device=input_ids.device)

    def join(i: int) -> torch.Tensor | None:
        if parts[0][i] is None:
            return None
        return torch.cat([p[i] for p in parts], dim=0).index_select(0, inverse)  # type: ignore[misc]

    logp = join(0)
    assert logp is not None
    return logp, join(1), join(2)


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

    def sample_records(self, step: int, n: int, prompt: Callable[[Problem], str]) -> list[dict[str, Any]]:
        """The first ``n`` rows as readable records (``samples/step-N.jsonl``), prompts rendered by ``prompt``."""
        return [
            {
                "step": step,
                "id": self.problems[i].id,
                "group": self.group[i],
                "prompt": prompt(self.problems[i]),
                "completion": self.texts[i],
                "score": self.scores[i],
                "correct": self.correct[i],
                "finish_reason": self.finish[i],
            }
            for i in range(min(n, len(self)))
        ]
