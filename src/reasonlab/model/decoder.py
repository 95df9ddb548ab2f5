"""A Llama/Qwen2-style decoder-only transformer in one file.

Architecture (identical to Hugging Face ``Qwen2ForCausalLM`` so checkpoints export without conversion
loss): token embedding -> N x [RMSNorm -> grouped-query attention with rotary position embeddings
(optional q/k/v biases, Qwen2 style) -> residual -> RMSNorm -> SwiGLU MLP -> residual] -> RMSNorm ->
tied output projection.

Speed notes, since this runs on 2 CPU cores: q/k/v are one fused projection and gate/up another (the
exporter splits them); attention is ``torch.nn.functional.scaled_dot_product_attention`` over all heads
at once with native grouped-query support; the KV cache is preallocated (:class:`KVCache`) so decoding
never reallocates or concatenates, and rows that share a prompt read its keys once (:class:`SharedPrefixCache`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from reasonlab.errors import ReasonlabError
from reasonlab.model.shared_prefix import SharedPrefixCache


@dataclass
class ModelConfig:
    """Shape of a :class:`Decoder`. ``qkv_bias=True`` is Qwen2's choice and what the HF exporter writes."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    max_seq_len: int
    rope_theta: float = 1e6
    rms_norm_eps: float = 1e-6
    tie_embeddings: bool = True
    qkv_bias: bool = True
    init_std: float = 0.02

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "num_kv_heads",
            "intermediate_size",
            "max_seq_len",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ReasonlabError(f"model config: field {name!r} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ReasonlabError(
                f"model config: hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )
        if self.num_heads % self.num_kv_heads:
            raise ReasonlabError(
                f"model config: num_heads {self.num_heads} is not divisible by num_kv_heads {self.num_kv_heads}"
            )
        if self.head_dim % 2:
            raise ReasonlabError(f"model config: head_dim {self.head_dim} must be even for rotary embeddings")

    @property
    def head_dim(self) -> int:
        """Width of one attention head (``hidden_size / num_heads``)."""
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-serialisable dict (``config.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model config") -> ModelConfig:
        """Build from a mapping; unknown or missing fields are one-line errors naming them."""
        if not isinstance(data, dict):
            raise ReasonlabError(f"{source}: expected a mapping, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise ReasonlabError(f"{source}: unknown field {key!r} (allowed: {', '.join(known)})")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ReasonlabError(f"{source}: {exc}") from None

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A preset from :data:`PRESETS` with fields overridden (typically ``vocab_size=tok.vocab_size``)."""
        if name not in PRESETS:
            raise ReasonlabError(f"unknown model preset {name!r} (allowed: {', '.join(PRESETS)})")
        return cls.from_dict({**PRESETS[name], **overrides}, source=f"model preset {name!r}")


#: Size presets. ``vocab_size`` is a placeholder: set it to the tokenizer's vocabulary size.
#: Parameter counts below are at vocab 2200 (tied embeddings counted once). ``max_seq_len`` only sizes
#: the rotary tables; 1024 fits an arith problem with 20 operations (~600 tokens, see docs/benchmarks.md).
PRESETS: dict[str, dict[str, Any]] = {
    # ~1.3M parameters
    "tiny": dict(
        vocab_size=2200,
        hidden_size=128,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=512,
        max_seq_len=1024,
    ),
    # ~5.3M parameters
    "small": dict(
        vocab_size=2200,
        hidden_size=256,
        num_layers=6,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=768,
        max_seq_len=1024,
    ),
    # ~18M parameters
    "medium": dict(
        vocab_size=2200,
        hidden_size=384,
        num_layers=8,
        num_heads=6,
        num_kv_heads=2,
        intermediate_size=1536,
        max_seq_len=1024,
    ),
    # ~103M parameters: the published lab's Qwen2 configuration
    "qwen2-100m": dict(
        vocab_size=2200,
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        num_kv_heads=2,
        intermediate_size=3072,
        max_seq_len=2048,
    ),
}


def rope_cos_sin(head_dim: int, max_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables ``cos, sin`` of shape ``[max_len, head_dim]`` (float32).

    Angle for position ``p`` and frequency index ``i < head_dim/2``: ``p * theta ** (-2i / head_dim)``;
    each angle is repeated for the two halves of the head (the "rotate half" layout Llama/Qwen2 use).
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x[B, H, T, D]`` by per-position ``cos/sin[B, 1, T, D]``: ``x*cos + rotate_half(x)*sin``,
    where ``rotate_half([a, b]) = [-b, a]`` on the two halves of the head dimension."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class KVCache:
    """Preallocated keys/values for every layer: ``k, v[num_layers, B, num_kv_heads, max_len, head_dim]``.

    ``length`` is how many positions are filled (shared by all rows; rows of different prompt lengths
    are left-padded and the padding is masked by ``attention_mask``). :meth:`Decoder.forward` writes
    the new keys/values at ``[length, length + T)`` and then advances ``length``.
    """

    def __init__(
        self,
        config: ModelConfig,
        batch_size: int,
        max_len: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (config.num_layers, batch_size, config.num_kv_heads, max_len, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self.length = 0

    @property
    def batch_size(self) -> int:
        """Rows the cache holds."""
        return self.k.shape[1]

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep ``rows`` (a 1-D index tensor, repeats allowed) in that order: drops finished sequences
        from a batch, or copies a shared prompt's prefill to every row that uses it."""
        n = self.length
        self.k = self.k[:, rows, :, :].contiguous() if n == self.max_len else self._gather(self.k, rows, n)
        self.v = self.v[:, rows, :, :].contiguous() if n == self.max_len else self._gather(self.v, rows, n)

    def _gather(self, t: torch.Tensor, rows: torch.Tensor, n: int) -> torch.Tensor:
        out = t.new_zeros((t.shape[0], rows.numel(), *t.shape[2:]))
        out[:, :, :, :n] = t[:, rows, :, :n]
        return out


class Attention(nn.Module):
    """Grouped-query self-attention with rotary embeddings; one fused q/k/v projection."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.num_kv_heads = config.num_kv_heads
        self.head_dim = config.head_dim
        q_dim = config.num_heads * config.head_dim
        kv_dim = config.num_kv_heads * config.head_dim
        self.qkv_proj = nn.Linear(config.hidden_size, q_dim + 2 * kv_dim, bias=config.qkv_bias)
        self.o_proj = nn.Linear(q_dim, config.hidden_size, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        is_causal: bool,
        cache: KVCache | SharedPrefixCache | None,
        layer: int,
    ) -> torch.Tensor:
        """Causal self-attention with RoPE and grouped KV heads (optionally writing a KV cache)."""
        bsz, seq, _ = x.shape
        nq, nkv = self.num_heads, self.num_kv_heads
        qkv = self.qkv_proj(x).view(bsz, seq, nq + 2 * nkv, self.head_dim).transpose(1, 2)
        qk = apply_rope(qkv[:, : nq + nkv], cos, sin)  # queries and keys rotated in one go
        q, k, v = qk[:, :nq], qk[:, nq:], qkv[:, nq + nkv :]
        if isinstance(cache, SharedPrefixCache):
            return self.o_proj(cache.attend(layer, q, k, v).transpose(1, 2).reshape(bsz, seq, -1))
        if cache is not None:
            start = cache.length
            cache.k[layer, :, :, start : start + seq] = k
            cache.v[layer, :, :, start : start + seq] = v
            k = cache.k[layer, :, :, : start + seq]
            v = cache.v[layer, :, :, : start + seq]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=self.num_kv_heads != self.num_heads
        )
        return self.o_proj(out.transpose(1, 2).reshape(bsz, seq, -1))


class MLP(nn.Module):
    """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))`` with gate and up fused in one matmul."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate_up_proj = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))``."""
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dimension."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x / rms(x) * weight``."""
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Block(nn.Module):
    """One pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn = Attention(config)
        self.post_attn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        is_causal: bool,
        cache: KVCache | SharedPrefixCache | None,
        layer: int,
    ) -> torch.Tensor:
        """Attention then MLP, each as a pre-norm residual."""
        x = x + self.attn(self.input_norm(x), cos, sin, mask, is_causal, cache, layer)
        return x + self.mlp(self.post_attn_norm(x))


class Decoder(nn.Module):
    """Decoder-only language model. ``forward(input_ids) -> logits[B, T, vocab]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = None if config.tie_embeddings else nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        cos, sin = rope_cos_sin(config.head_dim, config.max_seq_len, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, init_std) weights; residual output projections (attention out, MLP down) scaled by
        ``1/sqrt(2 * num_layers)`` so the residual stream's variance does not grow with depth (GPT-2)."""
        std = self.config.init_std
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.config.num_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def num_params(self) -> int:
        """Number of parameters (tied embeddings counted once)."""
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """A preallocated :class:`KVCache` on this model's device and dtype."""
        p = self.embed.weight
        return KVCache(self.config, batch_size, max_len or self.config.max_seq_len, device=p.device, dtype=p.dtype)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        *,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        kv_cache: KVCache | SharedPrefixCache | None = None,
        segment_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final-norm hidden states ``[B, T, hidden]``; see :meth:`forward` for the arguments."""
        bsz, seq = input_ids.shape
        if segment_ids is not None:
            if kv_cache is not None or attention_mask is not None or position_ids is not None:
                raise ValueError("segment_ids replace attention_mask and position_ids and take no kv_cache")
            if segment_ids.shape != (bsz, seq):
                raise ValueError(f"segment_ids must have shape {(bsz, seq)}, got {tuple(segment_ids.shape)}")
            position_ids = segment_positions(segment_ids)
        start = kv_cache.length if kv_cache is not None else 0
        total = start + seq
        if kv_cache is not None and total > kv_cache.max_len:
            raise ReasonlabError(f"KV cache holds {kv_cache.max_len} positions; {total} requested")
        if attention_mask is not None and attention_mask.shape != (bsz, total):
            raise ValueError(f"attention_mask must have shape {(bsz, total)}, got {tuple(attention_mask.shape)}")
        if position_ids is None:
            if attention_mask is None:
                position_ids = torch.arange(start, total, device=input_ids.device).expand(bsz, seq)
            else:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_(min=0)[:, start:]
        if int(position_ids.max()) >= self.config.max_seq_len:
            raise ReasonlabError(
                f"position {int(position_ids.max())} is beyond the model's max_seq_len {self.config.max_seq_len}"
            )
        rope_cos, rope_sin = cast(torch.Tensor, self.rope_cos), cast(torch.Tensor, self.rope_sin)  # buffers
        cos = rope_cos[position_ids].unsqueeze(1).to(self.embed.weight.dtype)
        sin = rope_sin[position_ids].unsqueeze(1).to(self.embed.weight.dtype)
        mask: torch.Tensor | None
        if segment_ids is not None:
            mask, is_causal = segment_mask(segment_ids), False
        else:
            mask, is_causal = self._attention_mask(attention_mask, bsz, seq, start, input_ids.device)
        if mask is not None:  # additive float mask, built once per forward instead of once per layer
            mask = torch.zeros(mask.shape, dtype=self.embed.weight.dtype, device=mask.device).masked_fill_(
                ~mask, float("-inf")
            )
        x = self.embed(input_ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, is_causal, kv_cache, i)
        if kv_cache is not None:
            kv_cache.length = total
        return self.norm(x)

    @staticmethod
    def _attention_mask(
        attention_mask: torch.Tensor | None, bsz: int, seq: int, start: int, device: torch.device
    ) -> tuple[torch.Tensor | None, bool]:
        """Boolean mask ``[B, 1, T, start+T]`` (True = may attend), or ``None`` + ``is_causal`` flag.

        Query ``i`` (absolute position ``start+i``) sees key ``j`` iff ``j <= start+i`` and key ``j`` is not
        padding. Every query also sees itself, so a padding query never has an empty row (which would
        make softmax NaN); its output is ignored anyway.
        """
        if attention_mask is None:
            if seq == 1 or start == 0:
                return None, seq > 1
            causal = torch.ones(seq, start + seq, dtype=torch.bool, device=device).tril(start)
            return causal, False
        keys = attention_mask.bool()[:, None, None, :]
        if seq == 1:
            return keys, False
        q_pos = torch.arange(start, start + seq, device=device)[:, None]
        k_pos = torch.arange(start + seq, device=device)[None, :]
        causal = k_pos <= q_pos
        return (causal & keys) | (k_pos == q_pos), False

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Project hidden states to vocabulary logits (tied to the embedding when configured)."""
        if self.lm_head is None:
            return F.linear(hidden, self.embed.weight)
        return self.lm_head(hidden)

    def forward(
        self,
        input_ids: torch.Tensor,
        *,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        kv_cache: KVCache | SharedPrefixCache | None = None,
        segment_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, T, vocab]`` for ``input_ids[B, T]``.

        ``attention_mask[B, past+T]`` (1 = token, 0 = padding) covers the cached positions and the new
        ones, as in Hugging Face; ``position_ids[B, T]`` default to ``cumsum(mask) - 1`` (so left padding
        does not shift positions) or to ``past .. past+T-1``. With ``kv_cache`` the new keys/values are
        appended to the cache and attention covers everything cached so far.

        ``segment_ids[B, T]`` (training on packed rows, :func:`segment_ids_after_eos`) make every document of a
        row its own sequence: a token attends only to earlier tokens of its own segment and positions restart
        at 0 in each segment, so a packed document is computed exactly as if it stood alone.
        """
        return self.logits(
            self.hidden_states(
                input_ids,
                position_ids=position_ids,
                attention_mask=attention_mask,
                kv_cache=kv_cache,
                segment_ids=segment_ids,
            )
        )


def segment_ids_after_eos(input_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Document index of every token of packed rows ``[B, T]``: the number of ``eos_id`` tokens strictly before it.

    A packed row is ``doc_1 <eos> doc_2 <eos> ...``, so each ``<eos>`` belongs to the document it closes and the
    next token opens a new segment. Example, eos = 9: ``[5, 6, 9, 7, 9, 0]`` -> ``[0, 0, 0, 1, 1, 2]``.
    """
    is_eos = (input_ids == eos_id).long()
    return is_eos.cumsum(-1) - is_eos


def segment_positions(segment_ids: torch.Tensor) -> torch.Tensor:
    """Position of each token within its segment: ``j - (first index of j's segment)``.

    Example: segments ``[0, 0, 0, 1, 1, 2]`` -> positions ``[0, 1, 2, 0, 1, 0]``.
    """
    idx = torch.arange(segment_ids.shape[-1], device=segment_ids.device).expand_as(segment_ids)
    opens = torch.ones_like(segment_ids, dtype=torch.bool)
    opens[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
    return idx - torch.cummax(torch.where(opens, idx, torch.zeros_like(idx)), dim=-1).values


def segment_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Block-diagonal causal mask ``[B, 1, T, T]`` (True = may attend): key ``j`` is visible to query ``i``
    iff ``j <= i`` and both lie in the same segment."""
    seq = segment_ids.shape[-1]
    causal = torch.ones(seq, seq, dtype=torch.bool, device=segment_ids.device).tril()
    return (segment_ids[:, :, None] == segment_ids[:, None, :])[:, None] & causal
