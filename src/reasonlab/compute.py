"""FLOP accounting shared by every phase (pre-training, mid-training, RL, evaluation).

All phases count compute in the same unit (floating-point operations, a multiply-add = 2 FLOPs) so a
study can split one budget between pre-training, mid-training and RL and compare them on one axis.

Conventions (documented here once, used everywhere):

* ``n_params`` is the number of parameters that take part in matrix multiplies, counting tied
  input/output embeddings once (the LM head matmul is real compute; the embedding lookup is not). For
  the native decoder with tied embeddings this is, up to the negligible RMSNorm weights, its
  ``num_params()``.
* Dense term (Kaplan et al. 2020, "Scaling Laws", sec. 2.1): a forward pass costs ``2 * N`` FLOPs per
  token, a backward pass twice that, so training costs ``6 * N`` per token and inference ``2 * N``.
* Attention term (PaLM appendix B convention): per layer and token the score matmul ``Q K^T`` and the
  value matmul ``A V`` each cost ``2 * d_attn * ctx`` FLOPs forward, where ``d_attn = num_heads *
  head_dim`` and ``ctx`` the number of attended positions. Training counts the full sequence length
  (``ctx = seq_len``, ignoring causal masking, as PaLM and nanoGPT do, so MFU figures are comparable
  with theirs): ``12 * n_layers * d_attn * seq_len`` per token (forward + backward = 3x forward).
  Inference with a KV cache attends to the actual context, so it takes the mean context length per
  generated token: ``4 * n_layers * d_attn * mean_ctx`` per token.

Metric names logged by every phase (same units): ``perf/tokens`` and ``perf/flops`` for the step,
``perf/tokens_total`` and ``perf/flops_total`` accumulated over the run (including what the run
started from when it is resumed), ``perf/tokens_per_s`` and ``perf/mfu`` when a peak is known.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.io import read_json

__all__ = [
    "COMPUTE_FILE",
    "AttentionShape",
    "ComputeLedger",
    "attention_shape",
    "inference_flops",
    "measure_matmul_peak",
    "mfu",
    "read_compute",
    "train_flops",
]


@dataclass(frozen=True)
class AttentionShape:
    """What the attention FLOP term needs: layer count and attention width (``heads * head_dim``)."""

    n_layers: int
    d_attn: int


def attention_shape(config: Any) -> AttentionShape:
    """Attention shape of a model config (anything with ``num_layers``, ``hidden_size``, ``num_heads``).

    ``head_dim`` is taken from the config when it has one, else ``hidden_size // num_heads``.
    """
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_heads
    return AttentionShape(n_layers=int(config.num_layers), d_attn=int(config.num_heads * head_dim))


def train_flops(n_params: int, tokens: int, *, attn: AttentionShape | None = None, seq_len: int = 0) -> float:
    """Training FLOPs for ``tokens`` tokens: ``6 * N * tokens + 12 * L * d_attn * seq_len * tokens``.

    The second term is dropped when ``attn`` is None or ``seq_len`` is 0. Example: N = 1e6,
    1000 tokens, 2 layers of width 64 at seq_len 128 -> 6e9 + 12*2*64*128*1000 = 6.196608e9.
    """
    dense = 6.0 * n_params * tokens
    if attn is None or seq_len <= 0:
        return dense
    return dense + 12.0 * attn.n_layers * attn.d_attn * seq_len * tokens


def inference_flops(
    n_params: int, tokens: int, *, attn: AttentionShape | None = None, mean_context: float = 0.0
) -> float:
    """Inference (forward-only) FLOPs: ``2 * N * tokens + 4 * L * d_attn * mean_context * tokens``.

    ``tokens`` counts every token pushed through the model (prompt prefill and generated tokens);
    ``mean_context`` is the mean number of positions each of them attends to (for a prompt of length
    P followed by G generated tokens, (P + G + 1) / 2 up to rounding). Example: N = 1e6, 100 tokens,
    2 layers of width 64, mean context 50 -> 2e8 + 4*2*64*50*100 = 2.0256e8.
    """
    dense = 2.0 * n_params * tokens
    if attn is None or mean_context <= 0:
        return dense
    return dense + 4.0 * attn.n_layers * attn.d_attn * mean_context * tokens


def mfu(flops: float, seconds: float, peak_flops_per_s: float) -> float:
    """Model FLOPs utilisation: achieved ``flops / seconds`` as a fraction of ``peak_flops_per_s``."""
    if seconds <= 0 or peak_flops_per_s <= 0:
        return 0.0
    return flops / seconds / peak_flops_per_s


def measure_matmul_peak(
    n: int = 1024, dtype: Any = None, device: str = "cpu", min_seconds: float = 1.0, repeats: int = 3
) -> float:
    """This machine's matmul throughput in FLOP/s: best of ``repeats`` timings of ``n x n @ n x n``.

    Each timing repeats the product until ``min_seconds`` have passed and counts ``2 * n^3`` FLOPs per
    product. It uses torch's current thread count, so call it under the same ``torch.set_num_threads``
    as the workload it is compared with.
    """
    import torch  # heavy: the FLOP formulas above stay importable without it

    dtype = dtype or torch.float32
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    out = torch.empty(n, n, dtype=dtype, device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(2):  # warm-up
        torch.matmul(a, b, out=out)
    sync()
    best = 0.0
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        while True:
            torch.matmul(a, b, out=out)
            count += 1
            if count % 4 == 0:
                sync()
                elapsed = time.perf_counter() - start
                if elapsed >= min_seconds:
                    break
        best = max(best, 2.0 * n**3 * count / elapsed)
    return best


#: File beside a saved model holding the tokens/FLOPs spent to produce it (ComputeLedger state).
COMPUTE_FILE = "compute.json"


@dataclass
class ComputeLedger:
    """Running totals of tokens and FLOPs for one run, in the shared metric names.

    ``tokens_total``/``flops_total`` start from what a resumed run or a parent checkpoint already spent,
    so the logged totals of a pipeline (pretrain -> midtrain -> RL) add up across phases when each
    phase is started with the previous phase's totals.
    """

    tokens_total: int = 0
    flops_total: float = 0.0

    def add(self, tokens: int, flops: float) -> dict[str, float]:
        """Record one step; return its ``perf/*`` metrics."""
        self.tokens_total += int(tokens)
        self.flops_total += float(flops)
        return {
            "perf/tokens": int(tokens),
            "perf/flops": float(flops),
            "perf/tokens_total": self.tokens_total,
            "perf/flops_total": self.flops_total,
        }

    def state_dict(self) -> dict[str, float]:
        """The ledger as plain numbers (stored in checkpoints and ``compute.json``)."""
        return {"tokens_total": self.tokens_total, "flops_total": self.flops_total}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore the totals written by :meth:`state_dict`."""
        self.tokens_total = int(state["tokens_total"])
        self.flops_total = float(state["flops_total"])


def read_compute(model_dir: str | os.PathLike[str]) -> ComputeLedger:
    """The compute spent to produce the model in ``model_dir`` (zeros when it records none).

    Pre-training and mid-training write ``compute.json`` beside their final model; a later phase
    starts its ledger from it so ``perf/flops_total`` keeps adding up across the pipeline.
    """
    path = Path(model_dir) / COMPUTE_FILE
    ledger = ComputeLedger()
    if path.is_file():
        data = read_json(path, "compute record")
        try:
            ledger.load_state_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ReasonlabError(f"{path}: corrupt compute record") from None
    return ledger
