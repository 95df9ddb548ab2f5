"""The optimizer and learning-rate schedule shared by every training phase.

AdamW with decoupled weight decay on matrices and embeddings only (never on norms or biases), linear
warmup then cosine decay to ``min_lr_ratio * lr`` (a ratio of 1 keeps the rate constant after warmup,
RL's default), and global-norm gradient clipping. Pre-training and mid-training add their batch and
step fields (:class:`TrainOptimConfig`); RL keeps its own defaults (:class:`RLOptimConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch
from pydantic import Field

from reasonlab.config import StrictModel

__all__ = ["OptimConfig", "RLOptimConfig", "TrainOptimConfig", "lr_at", "make_optimizer"]


class OptimConfig(StrictModel):
    """AdamW and its schedule (fields every phase shares)."""

    lr: float = Field(3e-3, gt=0, description="Peak learning rate.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Final learning rate as a fraction of lr (1 = constant).")
    warmup_steps: int = Field(100, ge=0, description="Linear warmup steps.")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (matrices only).")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float = Field(1.0, ge=0, description="Clip the global gradient norm to this (0 = off).")


class TrainOptimConfig(OptimConfig):
    """Pre-/mid-training: the shared AdamW fields plus steps, batch and the training softmax."""

    max_steps: int = Field(1000, ge=1, description="Optimizer steps in the run (the schedule spans them).")
    stop_at: int | None = Field(
        None,
        ge=1,
        description="Stop after this many steps, keeping the schedule of max_steps (a budget stop: the "
        "model equals that step of the full run, and raising it later resumes the same trajectory).",
    )
    batch_size: int = Field(32, ge=1, description="Rows per micro-batch.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    softmax: Literal["vocab", "corpus"] = Field(
        "vocab",
        description="Ids the training softmax covers: the whole vocabulary, or only the ids that occur in the "
        "training corpus (ids that never occur cannot soak up probability mass; see docs/results.md).",
    )
    attention: Literal["row", "document"] = Field(
        "row",
        description="What a token of a packed row attends to: every earlier token of the row (documents see "
        "their neighbours), or only earlier tokens of its own document, with positions restarting at 0 in "
        "each, as at inference (a block-diagonal mask; documents end at <eos>).",
    )


class RLOptimConfig(OptimConfig):
    """RL: the shared AdamW fields with RL defaults (small constant rate, no decay; verl's actor optimizer)."""

    lr: float = Field(1e-4, gt=0, description="Peak learning rate.")
    min_lr_ratio: float = Field(
        1.0, ge=0, le=1, description="Final rate as a fraction of lr over the RL steps (1 = constant)."
    )
    warmup_steps: int = Field(0, ge=0, description="Linear warmup steps.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (matrices only).")
    beta2: float = Field(0.99, ge=0, lt=1)


def lr_at(step: int, max_steps: int, lr: float, warmup: int, min_ratio: float) -> float:
    """Learning rate for 0-based ``step``: linear warmup, then cosine decay.

    ``step < warmup``: ``lr * (step + 1) / warmup``; afterwards with ``p = (step - warmup) /
    max(1, max_steps - warmup)``: ``lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + cos(pi * p)))``.
    Example: lr 1, warmup 10, 110 steps, ratio 0.1: step 0 -> 0.1, step 9 -> 1.0, step 10 -> 1.0,
    step 60 -> 0.55, step 110 -> 0.1.
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, max_steps - warmup))
    return lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p)))


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on >= 2-D parameters (matrices, embeddings), none on norms and biases.

    It uses torch's fused kernel when every parameter is fp32 on CPU/CUDA (one pass over each parameter
    instead of ~10 elementwise ops, ~10% of a CPU training step for the tiny presets).
    """
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    use_fused = all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=use_fused or None)
