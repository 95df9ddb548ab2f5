"""Batched generation with a preallocated KV cache: the hot path of RL and evaluation.

How it works:
- Prompts are sorted by length and cut into batches; each batch is left-padded, with an attention mask
  over the padding and per-row position ids, so a row's numbers do not depend on its neighbours.
- One prefill forward fills a :class:`~reasonlab.model.decoder.KVCache` preallocated for the whole
  generation; each decoding step then feeds one token per row and writes into the cache in place.
  A prompt that occurs several times in a batch (an RL group, eval samples) is prefilled once, and
  decoding keeps its keys/values once for all of its rows (:class:`~reasonlab.model.shared_prefix.SharedPrefixCache`):
  every step reads a prompt's cache once, not once per row (the RL trainer passes ``shared_prefix=False``).
- Rows that finish (EOS, a stop token, a stop string, or their length budget) are dropped from the
  batch once enough of them accumulate, so finished rows stop costing compute.
- Randomness is counter-based: the uniform number used for row ``r``'s ``t``-th token is a hash of
  ``(seed_r, t)`` (SplitMix64), turned into a token by inverse-CDF sampling. The same seed therefore
  gives the same sample whatever the batch composition, padding or batch size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.model.decoder import Decoder, KVCache
from reasonlab.model.shared_prefix import SharedPrefixCache
from reasonlab.model.tokenizer import TaskTokenizer

FinishReason = Literal["stop", "length"]
#: Compute precision of a runtime: ``auto`` = bf16 autocast on CUDA, fp32 elsewhere; ``fp32``; ``bf16``.
Precision = Literal["auto", "fp32", "bf16"]


def amp_dtype(device: torch.device | str, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32).

    ``auto`` is bf16 on CUDA and fp32 on the CPU (bf16 is slower than fp32 on most CPUs, and exact
    CPU results stay what they were); ``bf16`` forces autocast anywhere (a CPU run then exercises the
    GPU code path).
    """
    kind = torch.device(device).type
    if precision == "bf16" or (precision == "auto" and kind == "cuda"):
        return torch.bfloat16
    if precision not in ("auto", "fp32", "bf16"):
        raise ReasonlabError(f"precision {precision!r}: use auto, fp32 or bf16")
    return None


def autocast(device: torch.device | str, amp: torch.dtype | None) -> Any:
    """``torch.autocast`` for ``amp`` on ``device``'s type (disabled when ``amp`` is None)."""
    kind = torch.device(device).type
    if amp is None:
        return torch.autocast(kind, enabled=False)
    return torch.autocast(kind, dtype=amp)


@dataclass
class SamplingParams:
    """Decoding settings.

    ``temperature=0`` is greedy decoding. ``top_k=0`` and ``top_p=1`` disable those filters. Generation
    of a row ends at EOS (always), at any id in ``stop_token_ids``, when the generated text contains any
    string in ``stop`` (the text is cut right after it; the stop string is kept, since verifiers read
    closing tags such as ``</answer>``), or after ``max_new_tokens``. ``ignore_eos=True`` (benchmarks
    only) lets rows run past EOS.
    """

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ReasonlabError(f"sampling: max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ReasonlabError(f"sampling: temperature must be >= 0 (0 = greedy), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ReasonlabError(f"sampling: top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise ReasonlabError(f"sampling: top_k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ReasonlabError(f"sampling: stop strings must be non-empty strings, got {self.stop!r}")


class DecodingConfig(StrictModel):
    """Decoding settings as a config section (evaluation ``decoding``, RL ``rollout``): the one place
    they are declared and turned into :class:`SamplingParams`."""

    temperature: float = Field(1.0, ge=0.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 = no top-k filter")
    max_new_tokens: int = Field(256, ge=1)
    stop: list[str] = Field(default_factory=list, description="extra stop strings (EOS always stops)")

    def sampling_params(self, stop_token_ids: Sequence[int] = (), max_new_tokens: int | None = None) -> SamplingParams:
        """These settings as :class:`SamplingParams` (``max_new_tokens`` overrides the configured budget)."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens if max_new_tokens is None else max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            stop=list(self.stop),
            stop_token_ids=list(stop_token_ids),
        )


@dataclass
class Generation:
    """One sampled continuation.

    ``token_ids`` are the generated ids (including the final EOS/stop token); ``text`` is their decoded
    text without <bos>/<eos>/<pad>, cut after the first stop string. ``logprobs`` (when requested) are
    the log-probabilities of each sampled token under ``softmax(logits / temperature)`` (plain softmax
    for greedy), before top-k/top-p truncation: the quantity a policy-gradient trainer recomputes.
    """

    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: FinishReason
    logprobs: list[float] | None = None


_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrap-around arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_keys(seeds: Sequence[int]) -> np.ndarray:
    """Per-row 64-bit keys from integer seeds (any size; reduced mod 2**64, then mixed)."""
    return _splitmix64(np.array([s & _MASK64 for s in seeds], dtype=np.uint64) + _GOLDEN)


def uniforms(keys: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Counter-based U[0, 1): ``splitmix64(key + (step + 1) * golden) >> 11`` scaled by ``2**-53``."""
    with np.errstate(over="ignore"):
        z = _splitmix64(keys + (steps.astype(np.uint64) + np.uint64(1)) * _GOLDEN)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _kth_largest(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th largest value of each row of ``x[B, V]`` (shape ``[B, 1]``).

    On CPU this uses ``numpy.partition`` (linear time), several times faster than ``torch.topk`` on a
    batch of rows; on accelerators ``topk``.
    """
    if x.device.type == "cpu":
        v = x.shape[-1]
        part = np.partition(x.detach().numpy(), v - k, axis=-1)[:, v - k : v - k + 1]
        return torch.from_numpy(np.ascontiguousarray(part))
    return x.topk(k, dim=-1).values[:, -1:]


def _sorted_desc(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` sorted in descending order (numpy's sort is much faster than torch's on CPU)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.ascontiguousarray(np.sort(x.detach().numpy(), axis=-1)[:, ::-1]))
    return x.sort(dim=-1, descending=True).values


def sample_tokens(logits: torch.Tensor, u: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Pick one token per row of ``logits[B, V]`` using ``u[B]`` in [0, 1) (inverse-CDF sampling).

    ``temperature == 0``: the argmax. Otherwise, with ``p = softmax(logits / temperature)``:
    top-k keeps tokens whose logit is >= the k-th largest; top-p keeps tokens whose probability is >=
    that of the last token of the smallest descending-probability prefix with mass >= ``top_p`` (the
    top token always survives; ties at either threshold are kept); the kept probabilities are
    renormalised and the token returned is the first, in vocabulary order, whose cumulative
    probability exceeds ``u`` times the kept mass.
    """
    if params.temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits.float() / params.temperature
    if 0 < params.top_k < scaled.shape[-1]:
        scaled = scaled.masked_fill(scaled < _kth_largest(scaled, params.top_k).to(scaled.device), float("-inf"))
    probs = scaled.softmax(dim=-1)
    if params.top_p < 1.0:
        desc = _sorted_desc(probs).to(probs.device)
        keep = ((desc.cumsum(dim=-1) - desc) < params.top_p).sum(dim=-1, keepdim=True)  # >= 1
        threshold = desc.gather(-1, keep - 1)
        probs = probs.masked_fill(probs < threshold, 0.0)
    cdf = probs.double().cumsum(dim=-1)
    target = u.to(cdf.device, torch.float64).unsqueeze(-1) * cdf[:, -1:]
    return torch.searchsorted(cdf, target, right=True).clamp_(max=cdf.shape[-1] - 1).squeeze(-1)


class _StopMatcher:
    """Incremental stop-string detection on the byte stream of each row (UTF-8 is self-synchronising,
    so a byte match is a character match)."""

    def __init__(self, stops: Sequence[str], tokenizer: TaskTokenizer) -> None:
        self.stops = [s.encode() for s in stops]
        self.longest = max((len(s) for s in self.stops), default=0)
        self.table = tokenizer.token_bytes() if self.stops else []
        for tid in (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id):
            if tid is not None and tid < len(self.table):
                self.table[tid] = b""

    def hit(self, buf: bytearray, token: int) -> bool:
        piece = self.table[token] if token < len(self.table) else b""
        buf += piece
        tail = bytes(buf[-(self.longest + len(piece)) :])
        return any(s in tail for s in self.stops)


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
    return text[: min(ends)] if ends else text


@torch.inference_mode()
def generate_ids(
    model: Decoder,
    tokenizer: TaskTokenizer,
    prompt_ids: Sequence[Sequence[int]],
    params: SamplingParams,
    seeds: Sequence[int],
    *,
    batch_size: int = 64,
    return_logprobs: bool = False,
    amp: torch.dtype | None = None,
    shared_prefix: bool = True,
) -> list[Generation]:
    """:func:`generate` for already tokenised prompts (each a non-empty list of ids); ``amp`` runs the
    forward passes under that autocast dtype (bf16 on CUDA: :func:`amp_dtype`); ``shared_prefix=False``
    decodes rows that share a prompt with a copy of its cache each (the sampler before
    :class:`~reasonlab.model.shared_prefix.SharedPrefixCache`: the same samples up to float rounding, slower)."""
    if len(seeds) != len(prompt_ids):
        raise ReasonlabError(f"generate: {len(prompt_ids)} prompts but {len(seeds)} seeds")
    if batch_size < 1:
        raise ReasonlabError(f"generate: batch_size must be >= 1, got {batch_size}")
    limit = model.config.max_seq_len
    for i, ids in enumerate(prompt_ids):
        if not ids:
            raise ReasonlabError(f"generate: prompt {i} is empty")
        if len(ids) >= limit:
            raise ReasonlabError(f"generate: prompt {i} has {len(ids)} tokens; the model's max_seq_len is {limit}")
    was_training = model.training
    model.eval()
    # longest first (less padding per batch); identical prompts adjacent so their prefill is shared
    order = sorted(range(len(prompt_ids)), key=lambda i: (-len(prompt_ids[i]), tuple(prompt_ids[i])))
    results: list[Generation | None] = [None] * len(prompt_ids)
    matcher = _StopMatcher(params.stop, tokenizer)
    try:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            with autocast(model.embed.weight.device, amp):
                outs = _generate_batch(
                    model,
                    tokenizer,
                    [list(prompt_ids[i]) for i in rows],
                    params,
                    [int(seeds[i]) for i in rows],
                    matcher,
                    return_logprobs,
                    shared_prefix,
                )
            for i, out in zip(rows, outs, strict=True):
                results[i] = out
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]


def _generate_batch(
    model: Decoder,
    tokenizer: TaskTokenizer,
    prompts: list[list[int]],
    params: SamplingParams,
    seeds: list[int],
    matcher: _StopMatcher,
    return_logprobs: bool,
    shared_prefix: bool = True,
) -> list[Generation]:
    device = model.embed.weight.device
    n = len(prompts)
    lens = [len(p) for p in prompts]
    width = max(lens)
    budgets = [min(params.max_new_tokens, model.config.max_seq_len - n_i) for n_i in lens]
    steps = max(budgets)
    stop_ids = set(params.stop_token_ids) if params.ignore_eos else {tokenizer.eos_id, *params.stop_token_ids}

    # Prefill each distinct prompt once (RL groups and eval samples repeat prompts), then share or copy its cache.
    first: dict[tuple[int, ...], int] = {}
    unique_rows: list[int] = []  # first row of each distinct prompt
    source: list[int] = []  # row -> its distinct prompt
    for r, p in enumerate(prompts):
        if tuple(p) not in first:
            first[tuple(p)] = len(unique_rows)
            unique_rows.append(r)
        source.append(first[tuple(p)])
    unique = [prompts[r] for r in unique_rows]
    ids = torch.full((len(unique), width), tokenizer.pad_id, dtype=torch.long)
    mask = torch.ones((n, width + steps), dtype=torch.bool)
    for r, p in enumerate(unique):
        ids[r, width - len(p) :] = torch.tensor(p)
    for r, p in enumerate(prompts):
        mask[r, : width - len(p)] = False
    ids, mask = ids.to(device), mask.to(device)
    padded = min(lens) < width  # without padding, attention needs no mask (faster causal kernels)
    shared = shared_prefix and len(unique) < n  # then decoding reads each prompt's keys once for all its rows
    prefill = model.new_cache(len(unique), width if shared else width + steps)
    unique_mask = mask[unique_rows, :width] if padded else None
    hidden = model.hidden_states(ids, attention_mask=unique_mask, kv_cache=prefill)
    logits = model.logits(hidden[:, -1]).float()
    cache: KVCache | SharedPrefixCache = prefill
    if len(unique) < n:
        index = torch.tensor(source, dtype=torch.long, device=device)
        if shared:
            k, v = prefill.k[:, :, :, :width], prefill.v[:, :, :, :width]
            cache = SharedPrefixCache(k, v, mask[unique_rows, :width], index, steps)
        else:
            prefill.select_rows(index)
        logits = logits[index]

    keys = row_keys(seeds)
    tokens: list[list[int]] = [[] for _ in range(n)]
    logps: list[list[float]] = [[] for _ in range(n)]
    finish: list[FinishReason | None] = [None] * n
    buffers = [bytearray() for _ in range(n)]
    alive = list(range(n))  # batch slot -> original row; finished rows linger until compaction
    positions = torch.tensor(lens, dtype=torch.long, device=device)
    for t in range(steps):
        u = torch.from_numpy(uniforms(keys[alive], np.full(len(alive), t)))
        chosen = sample_tokens(logits, u, params)
        if return_logprobs:
            scale = params.temperature if params.temperature > 0 else 1.0
            lp = (logits / scale).log_softmax(-1).gather(-1, chosen[:, None]).squeeze(-1).tolist()
        chosen_list = chosen.tolist()
        n_live = 0
        for slot, row in enumerate(alive):
            if finish[row] is not None:
                continue
            tok = chosen_list[slot]
            tokens[row].append(tok)
            if return_logprobs:
                logps[row].append(lp[slot])
            if tok in stop_ids or (matcher.stops and matcher.hit(buffers[row], tok)):
                finish[row] = "stop"
            elif len(tokens[row]) >= budgets[row]:
                finish[row] = "length"
            else:
                n_live += 1
        if n_live == 0:
            break
        dead = len(alive) - n_live
        if dead and dead * 4 >= len(alive):
            keep = [slot for slot, row in enumerate(alive) if finish[row] is None]
            index = torch.tensor(keep, dtype=torch.long, device=device)
            cache.select_rows(index)
            mask, positions, chosen = mask[index], positions[index], chosen[index]
            alive = [alive[s] for s in keep]
        hidden = model.hidden_states(
            chosen[:, None],
            position_ids=(positions + t)[:, None],
            attention_mask=mask[:, : cache.length + 1] if padded and not shared else None,
            kv_cache=cache,
        )
        logits = model.logits(hidden[:, -1]).float()

    out = []
    for r in range(n):
        toks = tokens[r]
        text = tokenizer.decode(toks, skip_special=True)
        if finish[r] == "stop" and params.stop:
            text = _cut_at_stop(text, params.stop)
        out.append(
            Generation(
                prompt_ids=prompts[r],
                token_ids=toks,
                text=text,
                finish_reason=finish[r] or "length",
                logprobs=logps[r] if return_logprobs else None,
            )
        )
    return out


def generate(
    model: Decoder,
    tokenizer: TaskTokenizer,
    prompts: Sequence[str],
    params: SamplingParams,
    seeds: Sequence[int],
    *,
    add_bos: bool = True,
    batch_size: int = 64,
    return_logprobs: bool = False,
    amp: torch.dtype | None = None,
    shared_prefix: bool = True,
) -> list[Generation]:
    """Sample one continuation per prompt; ``seeds[i]`` drives prompt ``i`` (same seed -> same sample).

    Prompts are encoded with a leading <bos> (training texts are ``<bos> prompt completion <eos>``).
    For several samples of one prompt, repeat the prompt with different seeds.
    """
    ids = tokenizer.encode_batch(list(prompts), add_bos=add_bos)
    return generate_ids(
        model,
        tokenizer,
        ids,
        params,
        seeds,
        batch_size=batch_size,
        return_logprobs=return_logprobs,
        amp=amp,
        shared_prefix=shared_prefix,
    )
