"""``reasonlab bench train``: training throughput of the native decoder vs ``transformers``, and MFU.

Everything is measured in one process, one after the other, on the same thread count:

1. the machine's fp32 matmul peak (:func:`reasonlab.compute.measure_matmul_peak`, a large square
   ``torch.matmul``);
2. our training step: forward, summed cross-entropy, backward, global-norm clipping, AdamW step, on a
   fixed batch of random tokens (the same step :func:`reasonlab.train.loop.train_loop` runs);
3. the same step for ``transformers.Qwen2ForCausalLM`` built from an identical configuration (same
   widths, depth, heads, KV heads, FFN, vocabulary, RoPE theta, tied embeddings, q/k/v biases), random
   init, same batch, sequence length, optimizer and clipping, with SDPA attention.

Tokens/s count ``batch * seq_len`` tokens per step; MFU uses :func:`reasonlab.compute.train_flops`
(6N per token + the attention term) over the measured time, divided by the measured peak.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from reasonlab.compute import attention_shape, measure_matmul_peak, train_flops
from reasonlab.model import Decoder, ModelConfig

__all__ = ["bench_train"]


def _time_steps(step: Callable[[], None], steps: int, warmup: int) -> float:
    """Median seconds per step after ``warmup`` untimed steps."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _make_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, hf: bool) -> Callable[[], None]:
    # Same optimizer for both (torch's fused AdamW kernel, as train_loop uses).
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)

    def step() -> None:
        logits = model(input_ids=x).logits if hf else model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="mean")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def hf_twin(config: Any) -> torch.nn.Module:
    """``transformers.Qwen2ForCausalLM`` with the same shape as our ``ModelConfig`` (random init)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM  # optional (test extra): the comparison only

    hf_cfg = Qwen2Config(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=config.max_seq_len,
        rope_theta=config.rope_theta,
        rms_norm_eps=config.rms_norm_eps,
        tie_word_embeddings=config.tie_embeddings,
        use_cache=False,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(hf_cfg)


def bench_train(
    preset: str = "small",
    *,
    batch_size: int = 16,
    seq_len: int = 256,
    vocab_size: int = 1024,
    steps: int = 8,
    warmup: int = 3,
    threads: int = 0,
    compile: bool = False,
    compare_transformers: bool = True,
    peak_n: int = 1024,
) -> dict[str, Any]:
    """Measure and return the JSON-able report (see the module docstring)."""
    if threads:
        torch.set_num_threads(threads)
    config = ModelConfig.from_preset(preset, vocab_size=vocab_size, max_seq_len=max(seq_len, 64))
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab_size, (batch_size, seq_len), generator=gen)
    y = torch.randint(0, vocab_size, (batch_size, seq_len), generator=gen)
    tokens = batch_size * seq_len

    peak = measure_matmul_peak(n=peak_n)
    torch.manual_seed(0)
    ours = Decoder(config).train()
    n_params = ours.num_params()
    flops = train_flops(n_params, tokens, attn=attention_shape(config), seq_len=seq_len)
    runner: Any = torch.compile(ours) if compile else ours
    t_ours = _time_steps(_make_step(runner, x, y, hf=False), steps, warmup + (2 if compile else 0))
    report: dict[str, Any] = {
        "preset": preset,
        "params": n_params,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "vocab_size": vocab_size,
        "threads": torch.get_num_threads(),
        "compile": compile,
        "peak_fp32_flops_per_s": peak,
        "flops_per_step": flops,
        "ours_s_per_step": t_ours,
        "ours_tokens_per_s": tokens / t_ours,
        "ours_mfu": flops / t_ours / peak,
    }
    if compare_transformers:
        import transformers  # optional (test extra): only the comparison needs it

        hf = hf_twin(config).train()
        t_hf = _time_steps(_make_step(hf, x, y, hf=True), steps, warmup)
        hf_params = sum(p.numel() for p in hf.parameters())
        report.update(
            {
                "transformers_version": transformers.__version__,
                "transformers_params": hf_params,
                "transformers_s_per_step": t_hf,
                "transformers_tokens_per_s": tokens / t_hf,
                "transformers_mfu": flops / t_hf / peak,
                "speedup_vs_transformers": t_hf / t_ours,
            }
        )
    report["torch_version"] = torch.__version__
    return report
