"""Decoding many rows that share few prompts: one copy of each prompt's keys/values, cascade attention.

An RL group (G samples of one problem) or an evaluation's samples of one problem decode from the same
prompt. :class:`SharedPrefixCache` keeps that prompt's keys/values once and each row's generated tokens in
its own slots; :func:`cascade_attention` attends to both parts and merges the two softmaxes exactly. The
sampler (:mod:`reasonlab.sampling`) uses it whenever a batch repeats a prompt; the decoder's attention
dispatches to :meth:`SharedPrefixCache.attend`.
"""

from __future__ import annotations

import math

import torch

from reasonlab.errors import ReasonlabError

__all__ = ["SharedPrefixCache", "cascade_attention"]


def cascade_attention(
    q: torch.Tensor,
    prefix_k: torch.Tensor,
    prefix_v: torch.Tensor,
    prefix_bias: torch.Tensor,
    suffix_k: torch.Tensor,
    suffix_v: torch.Tensor,
    group_rows: torch.Tensor,
    slot_pos: torch.Tensor,
    group_size: int,
) -> torch.Tensor:
    """One decoding step's attention for rows that share prompts, reading each prompt's keys once.

    ``q [n, nq, 1, d]`` are the rows' queries; row ``i`` attends to its prompt's keys/values
    ``prefix_k/v [P, nkv, W, d]`` (plus ``prefix_bias [P, 1, 1, W]``: 0, or -inf on padding) and to its own
    ``suffix_k/v [n, nkv, S, d]``; query head ``h`` uses key head ``h // (nq / nkv)`` (grouped-query).
    ``group_rows [P * group_size]`` lists each prompt's rows (``n`` = an empty seat) and ``slot_pos [n]``
    where row ``i`` sits in that list, so the prefix part is one matrix product per prompt and head over
    all of its rows. With the scaled scores ``s = q k / sqrt(d)`` of the two parts, their maxima ``m_j``,
    ``l_j = sum exp(s_j - m_j)`` and ``o_j = sum exp(s_j - m_j) v_j``, the output is the softmax over all
    keys: ``(o_1 a_1 + o_2 a_2) / (l_1 a_1 + l_2 a_2)`` with ``a_j = exp(m_j - max(m_1, m_2))``.
    """
    n, nq, _, d = q.shape
    P, nkv = prefix_k.shape[:2]
    r = nq // nkv
    scale = 1.0 / math.sqrt(d)
    rows_q = q.reshape(n, nkv, r, d)
    seats = torch.cat([rows_q, rows_q.new_zeros(1, nkv, r, d)]).index_select(0, group_rows)
    grouped = seats.view(P, group_size, nkv, r, d).transpose(1, 2).reshape(P, nkv, group_size * r, d)
    s1 = torch.matmul(grouped, prefix_k.transpose(-1, -2)).float().mul_(scale).add_(prefix_bias)
    m1 = s1.amax(-1, keepdim=True)
    e1 = s1.sub_(m1).exp_()
    l1 = e1.sum(-1, keepdim=True)
    o1 = torch.matmul(e1.to(prefix_v.dtype), prefix_v).float()

    def to_rows(x: torch.Tensor) -> torch.Tensor:
        x = x.view(P, nkv, group_size, r, x.shape[-1]).transpose(1, 2).reshape(P * group_size, nkv, r, -1)
        return x.index_select(0, slot_pos)

    o1, m1, l1 = to_rows(o1), to_rows(m1), to_rows(l1)
    s2 = torch.matmul(rows_q, suffix_k.transpose(-1, -2)).float().mul_(scale)
    m2 = s2.amax(-1, keepdim=True)
    e2 = s2.sub_(m2).exp_()
    l2 = e2.sum(-1, keepdim=True)
    o2 = torch.matmul(e2.to(suffix_v.dtype), suffix_v).float()
    m = torch.maximum(m1, m2)
    a1, a2 = (m1 - m).exp_(), (m2 - m).exp_()
    out = (o1 * a1 + o2 * a2) / (l1 * a1 + l2 * a2)
    return out.reshape(n, nq, 1, d).to(q.dtype)


class SharedPrefixCache:
    """A decoding cache for many rows that share few prompts (RL groups, evaluation samples).

    Every distinct prompt's keys/values are kept once (``prefix_k, prefix_v [num_layers, P, nkv, W, d]``,
    left-padded to ``W`` with the padding masked), every row's generated tokens in its own slots
    (``k, v [num_layers, n, nkv, steps, d]``), and a decoding step attends to both with
    :func:`cascade_attention`. A plain :class:`KVCache` holds a copy of the prompt per row and reads all of
    them at every step: for 64 rows of a ~400-token prompt that is ~15 MB per layer, which is what a
    decoding step on a CPU waits for. Here a prompt's keys are read once for all of its rows. The result
    is the plain cache's up to the order of floating-point additions. Decoding only (one token per step).
    """

    def __init__(
        self,
        prefix_k: torch.Tensor,
        prefix_v: torch.Tensor,
        prompt_mask: torch.Tensor,
        source: torch.Tensor,
        steps: int,
    ) -> None:
        """``prefix_k, prefix_v [num_layers, P, nkv, W, d]``: the prompts' prefilled keys/values (a
        :class:`~reasonlab.model.decoder.KVCache`'s first ``W`` positions); ``prompt_mask [P, W]``: True on real
        tokens; ``source [n]``: each row's prompt; ``steps``: new tokens to make room for."""
        layers, _, nkv, width, d = prefix_k.shape
        self.prefix_k, self.prefix_v = prefix_k.contiguous(), prefix_v.contiguous()
        bias = torch.zeros(prompt_mask.shape, dtype=torch.float32, device=prompt_mask.device)
        self.prefix_bias = bias.masked_fill_(~prompt_mask.bool(), float("-inf"))[:, None, None, :]
        self.k = prefix_k.new_zeros((layers, source.numel(), nkv, steps, d))
        self.v = torch.zeros_like(self.k)
        self.width, self.length, self.max_len = width, width, width + steps
        self._seat(source)

    @property
    def batch_size(self) -> int:
        """Rows the cache holds."""
        return self.k.shape[1]

    def _seat(self, source: torch.Tensor) -> None:
        """Seat rows by prompt (``source [n]``, every prompt index in ``0..P-1`` used): ``slot_pos``, ``group_rows``."""
        self.source = source
        n, P = source.numel(), self.prefix_k.shape[1]
        counts = torch.bincount(source, minlength=P)
        self.group_size = int(counts.max())
        order = torch.argsort(source, stable=True)
        first = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(source)
        rank[order] = torch.arange(n, device=source.device) - first[source[order]]
        self.slot_pos = source * self.group_size + rank
        self.group_rows = torch.full((P * self.group_size,), n, dtype=torch.long, device=source.device)
        self.group_rows[self.slot_pos] = torch.arange(n, device=source.device)

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep ``rows`` (drops finished sequences); prompts left without rows are dropped too."""
        used = self.length - self.width
        k = self.k.new_zeros((self.k.shape[0], rows.numel(), *self.k.shape[2:]))
        v = torch.zeros_like(k)
        k[:, :, :, :used], v[:, :, :, :used] = self.k[:, rows, :, :used], self.v[:, rows, :, :used]
        self.k, self.v = k, v
        prompts, source = torch.unique(self.source[rows], return_inverse=True)
        if prompts.numel() < self.prefix_k.shape[1]:
            self.prefix_k, self.prefix_v = self.prefix_k[:, prompts], self.prefix_v[:, prompts]
            self.prefix_bias = self.prefix_bias[prompts]
        self._seat(source)

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Write this step's ``k, v [n, nkv, 1, d]`` and return the attention output ``[n, nq, 1, d]``."""
        if q.shape[2] != 1:
            raise ReasonlabError(f"SharedPrefixCache decodes one token per step, got {q.shape[2]}")
        t = self.length - self.width
        self.k[layer, :, :, t : t + 1] = k
        self.v[layer, :, :, t : t + 1] = v
        return cascade_attention(
            q,
            self.prefix_k[layer],
            self.prefix_v[layer],
            self.prefix_bias,
            self.k[layer, :, :, : t + 1],
            self.v[layer, :, :, : t + 1],
            self.group_rows,
            self.slot_pos,
            self.group_size,
        )
