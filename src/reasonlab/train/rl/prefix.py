"""The update's forward pass with each group's prompt computed once (shared-prefix attention).

A GRPO batch holds ``G`` responses to each prompt, and the plain pass (``policy_forward``) runs the
prompt ``G`` times, once per row. Here every distinct prompt runs once (the *prefix* pass, ``P`` rows)
and every response runs once (the *suffix* pass, ``B`` rows) attending to its prompt's keys and
values, layer by layer; gradients reach the prompt's activations through those keys and values, so
the loss and its gradient are the plain pass's (the same operations on the same numbers, summed in
another order). Response rows are also cut into length-sorted chunks (:func:`length_chunks`), so
right padding is not computed either. Attention within the prompt is causal; a response token sees
its prompt's real tokens (not the prompt padding) and the response tokens up to itself; RoPE positions
continue from the prompt's length.

The logit that predicts response token ``t`` is the hidden state at ``len(prompt) - 1 + t``: for
``t = 0`` the prompt's last position (prefix pass), for ``t >= 1`` response position ``t - 1``
(suffix pass).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reasonlab.model.decoder import apply_rope
from reasonlab.train.rl import rollout

__all__ = ["policy_forward_shared", "shared_prefix_hidden"]


def _attention(layer: Any, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(q, k, v)`` of a block's attention on ``x`` (pre-norm input), rotary applied to q and k."""
    attn = layer.attn
    bsz, seq, _ = x.shape
    nq, nkv = attn.num_heads, attn.num_kv_heads
    qkv = attn.qkv_proj(layer.input_norm(x)).view(bsz, seq, nq + 2 * nkv, attn.head_dim).transpose(1, 2)
    qk = apply_rope(qkv[:, : nq + nkv], cos, sin)
    return qk[:, :nq], qk[:, nq:], qkv[:, nq + nkv :]


def _finish(layer: Any, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The rest of a block after attention: output projection, residual, MLP residual."""
    bsz, seq = x.shape[:2]
    x = x + layer.attn.o_proj(out.transpose(1, 2).reshape(bsz, seq, -1))
    return x + layer.mlp(layer.post_attn_norm(x))


def shared_prefix_hidden(
    model: Any,
    prompts: torch.Tensor,
    prompt_len: torch.Tensor,
    group: torch.Tensor,
    suffixes: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Final hidden states of the prompts' last tokens ``[P, H]`` and of each suffix chunk ``[b, Ts, H]``.

    ``prompts [P, Lp]`` right-padded with lengths ``prompt_len [P]``; ``group [B]`` maps a response row
    to its prompt; ``suffixes`` are ``(rows, tokens [b, Ts])`` chunks of response rows (their input
    tokens, i.e. the responses without their last token).
    """
    device = prompts.device
    rope_cos, rope_sin = model.rope_cos, model.rope_sin
    dtype = model.embed.weight.dtype
    P, Lp = prompts.shape
    pos_p = torch.arange(Lp, device=device).expand(P, Lp)
    cos_p, sin_p = rope_cos[pos_p].unsqueeze(1).to(dtype), rope_sin[pos_p].unsqueeze(1).to(dtype)
    x_p = model.embed(prompts)
    chunks = []
    for rows, tokens in suffixes:
        b, Ts = tokens.shape
        g = group[rows]
        pos = prompt_len[g][:, None] + torch.arange(Ts, device=device)[None, :]
        keys_prefix = torch.arange(Lp, device=device)[None, None, :] < prompt_len[g][:, None, None]  # [b, 1, Lp]
        causal = torch.ones(Ts, Ts, dtype=torch.bool, device=device).tril()
        allowed = torch.cat([keys_prefix.expand(b, Ts, Lp), causal.expand(b, Ts, Ts)], dim=-1)[:, None]
        mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(~allowed, float("-inf"))
        cos, sin = rope_cos[pos].unsqueeze(1).to(dtype), rope_sin[pos].unsqueeze(1).to(dtype)
        chunks.append({"g": g, "x": model.embed(tokens), "cos": cos, "sin": sin, "mask": mask})
    for layer in model.layers:
        gqa = layer.attn.num_kv_heads != layer.attn.num_heads
        q, k_p, v_p = _attention(layer, x_p, cos_p, sin_p)
        out = F.scaled_dot_product_attention(q, k_p, v_p, is_causal=True, enable_gqa=gqa)
        for c in chunks:
            qs, ks, vs = _attention(layer, c["x"], c["cos"], c["sin"])
            keys = torch.cat([k_p.index_select(0, c["g"]), ks], dim=2)
            values = torch.cat([v_p.index_select(0, c["g"]), vs], dim=2)
            att = F.scaled_dot_product_attention(qs, keys, values, attn_mask=c["mask"], enable_gqa=gqa)
            c["x"] = _finish(layer, c["x"], att)
        x_p = _finish(layer, x_p, out)
    last = model.norm(x_p)[torch.arange(P, device=device), prompt_len - 1]
    return last, [model.norm(c["x"]) for c in chunks]


def policy_forward_shared(
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
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """:func:`reasonlab.train.rl.rollout.policy_forward` with every distinct prompt computed once.

    Same arguments and outputs (``[B, T]`` log-probs, entropy, values). A batch whose prompts are all
    distinct goes through :func:`~reasonlab.train.rl.rollout.policy_forward_chunked` instead.
    """
    device = input_ids.device
    B, T = responses.shape
    lp = (positions[:, 0] + 1).tolist()
    keys = [tuple(input_ids[b, : lp[b]].tolist()) for b in range(B)]
    index: dict[tuple[int, ...], int] = {}
    group_list = [index.setdefault(k, len(index)) for k in keys]
    if len(index) == B:
        return rollout.policy_forward_chunked(
            model,
            input_ids,
            positions,
            responses,
            mask,
            temperature=temperature,
            value_head=value_head,
            with_entropy=with_entropy,
            entropy_grad=entropy_grad,
        )
    uniq = list(index)
    P, Lp = len(uniq), max(len(u) for u in uniq)
    prompts = torch.zeros(P, Lp, dtype=torch.long, device=device)
    for i, u in enumerate(uniq):
        prompts[i, : len(u)] = torch.tensor(u, dtype=torch.long)
    prompt_len = torch.tensor([len(u) for u in uniq], dtype=torch.long, device=device)
    group = torch.tensor(group_list, dtype=torch.long, device=device)
    resp_len = [int(n) for n in mask.sum(-1).tolist()]
    runs = rollout.length_chunks(resp_len, overhead=rollout.CHUNK_OVERHEAD_TOKENS)
    suffixes = []
    for rows in runs:
        Ts = max(resp_len[r] for r in rows) - 1  # the last response token is never an input
        if Ts > 0:
            idx = torch.tensor(rows, dtype=torch.long, device=device)
            suffixes.append((idx, responses[idx, :Ts]))
    last, hidden = shared_prefix_hidden(model, prompts, prompt_len, group, suffixes)
    H = last.shape[-1]
    parts, order = [], []
    by_run = iter(hidden)
    for rows in runs:
        idx = torch.tensor(rows, dtype=torch.long, device=device)
        first = last.index_select(0, group[idx]).unsqueeze(1)
        Ts = max(resp_len[r] for r in rows) - 1
        h = torch.cat([first, next(by_run)], dim=1) if Ts > 0 else first
        parts.append(F.pad(h, (0, 0, 0, T - h.shape[1])) if h.shape[1] < T else h[:, :T])
        order += rows
    inverse = torch.empty(B, dtype=torch.long, device=device)
    inverse[torch.tensor(order, device=device)] = torch.arange(B, device=device)
    h_all = torch.cat(parts, dim=0).index_select(0, inverse)
    assert h_all.shape == (B, T, H)
    return rollout.score_hidden(
        model,
        h_all,
        responses,
        temperature=temperature,
        value_head=value_head,
        with_entropy=with_entropy,
        entropy_grad=entropy_grad,
    )
