"""The one training loop shared by pre-training and mid-training.

The optimizer and schedule of :mod:`reasonlab.train.optim`, optional gradient accumulation, bf16
autocast on CUDA, a progress line and one ``metrics.jsonl`` row per step, atomic checkpoints every
``checkpoint_every`` steps and exact resume from the newest complete one.

Exact resume: the batch for step N is a pure function of N (:meth:`PackedCorpus.batch`), the
checkpoint holds model weights, the optimizer state, every RNG state and the step/compute counters, so
on CPU a run killed and resumed ends with bit-identical weights and loss to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from reasonlab.compute import ComputeLedger, attention_shape, train_flops
from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.model import Decoder
from reasonlab.model.decoder import segment_ids_after_eos
from reasonlab.rundir import ProgressLine, RunDir, load_checkpoint_state, resume_checkpoint
from reasonlab.rundir import resolve_device as resolve_device_name
from reasonlab.tracking import check_sinks
from reasonlab.train.corpus import IGNORE, PackedCorpus
from reasonlab.train.distributed import (
    DistContext,
    all_sum,
    barrier,
    gather_for_save,
    load_optimizer_state_by_name,
    optimizer_state_by_name,
    shard_for_training,
)
from reasonlab.train.optim import TrainOptimConfig, lr_at, make_optimizer

__all__ = ["RuntimeConfig", "TrainResult", "resolve_device", "train_loop"]


class RuntimeConfig(StrictModel):
    """Where and how the loop runs, and how often it reports and checkpoints."""

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when available, else cpu.")
    dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto = bf16 autocast on cuda, fp32 on cpu.")
    num_threads: int = Field(0, ge=0, description="torch CPU threads (0 = leave torch's default).")
    compile: bool = Field(False, description="torch.compile the model for training.")
    log_every: int = Field(10, ge=1, description="Steps between progress lines.")
    eval_every: int = Field(0, ge=0, description="Steps between validation losses (0 = only at the end).")
    checkpoint_every: int = Field(0, ge=0, description="Steps between checkpoints (0 = only at the end).")
    keep_last: int = Field(2, ge=0, description="Checkpoints kept (0 = all).")
    parallel: Literal["auto", "ddp", "fsdp"] = Field(
        "auto", description="under torchrun: ddp, fsdp, or auto (FSDP from 50M parameters, i.e. the 100M preset)"
    )
    logging: list[str] = Field(
        default_factory=lambda: ["jsonl"],
        description="metric sinks: jsonl (metrics.jsonl, always written), tensorboard, wandb (offline)",
    )

    @field_validator("logging")
    @classmethod
    def _check_logging(cls, value: list[str]) -> list[str]:
        return check_sinks(value)


def resolve_device(runtime: RuntimeConfig) -> tuple[torch.device, torch.dtype | None]:
    """``(device, autocast dtype or None)`` from the runtime config (bf16 autocast on CUDA by default)."""
    device = resolve_device_name(runtime.device)
    if runtime.dtype == "bf16" or (runtime.dtype == "auto" and device.type == "cuda"):
        return device, torch.bfloat16
    return device, None


def corpus_ids(corpus: PackedCorpus, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(keep, remap)``: the sorted ids that occur in the corpus (training and held-out rows), and a
    ``[vocab_size]`` table sending each kept id to its position in ``keep`` (other ids to ``-100``)."""
    ids = np.unique(np.concatenate([corpus.tokens.ravel(), corpus.val_tokens.ravel()]))
    if ids.size and int(ids[-1]) >= vocab_size:
        raise ReasonlabError(f"corpus holds id {int(ids[-1])}, beyond the model's vocabulary of {vocab_size}")
    keep = torch.from_numpy(ids.astype(np.int64))
    remap = torch.full((vocab_size,), IGNORE, dtype=torch.long)
    remap[keep] = torch.arange(len(keep))
    return keep, remap


def loss_fn(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    restrict: tuple[torch.Tensor, torch.Tensor] | None = None,
    document_eos: int | None = None,
) -> torch.Tensor:
    """Summed cross-entropy over target positions (labels ``-100`` are ignored).

    With ``restrict = (keep, remap)`` (:func:`corpus_ids`) the softmax runs over the ``keep`` ids only:
    ``-log(exp(z_y) / sum_{j in keep} exp(z_j))``. With ``document_eos`` (``optim.attention: document``) each
    document of a packed row, closed by that id, attends only to itself (:func:`segment_ids_after_eos`).
    """
    segments = None if document_eos is None else segment_ids_after_eos(x, document_eos)
    logits = model(x) if segments is None else model(x, segment_ids=segments)
    if restrict is not None:
        keep, remap = restrict
        logits = logits.index_select(-1, keep)
        y = torch.where(y == IGNORE, y, remap[y.clamp(min=0)])
    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


@dataclass
class TrainResult:
    """What a finished (or resumed-and-finished) loop reports."""

    steps: int
    final_loss: float
    val_loss: float | None
    tokens_total: int
    flops_total: float
    seconds: float
    tokens_per_s: float
    resumed_from: int | None


def evaluate_loss(
    model: torch.nn.Module,
    corpus: PackedCorpus,
    batch_size: int,
    device: torch.device,
    amp: torch.dtype | None,
    restrict: tuple[torch.Tensor, torch.Tensor] | None = None,
    document_eos: int | None = None,
) -> float | None:
    """Mean per-target-token loss on the held-out rows (None when there are none)."""
    batches = corpus.val_batches(batch_size)
    if not batches:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y, n in batches:
            with _autocast(device, amp):
                total += float(loss_fn(model, x.to(device), y.to(device), restrict, document_eos))
            count += n
    model.train(was_training)
    return total / max(count, 1)


def _sync_on_last(train_model: Any, ctx: DistContext | None, last: bool) -> Any:
    """DDP with gradient accumulation: synchronise gradients on the last micro-batch only."""
    if ctx is None or last or not hasattr(train_model, "no_sync"):
        return contextlib.nullcontext()
    return train_model.no_sync()


def _autocast(device: torch.device, amp: torch.dtype | None) -> Any:
    if amp is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=amp)


def train_loop(
    model: Decoder,
    tokenizer: Any,
    corpus: PackedCorpus,
    optim: TrainOptimConfig,
    runtime: RuntimeConfig,
    run: RunDir,
    *,
    label: str = "train",
    ledger: ComputeLedger | None = None,
    on_step: Callable[[int, dict[str, Any]], None] | None = None,
    extra_state: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    dist_ctx: DistContext | None = None,
) -> TrainResult:
    """Train ``model`` on ``corpus`` for ``optim.max_steps`` steps (``optim.stop_at`` if earlier: the
    schedule still spans ``max_steps``), resuming from ``run``'s newest checkpoint.

    ``ledger`` carries compute already spent by earlier phases (its totals continue). ``on_step(step,
    metrics)`` is called after every step (tests use it to interrupt a run). ``extra_state`` is stored
    in every checkpoint's trainer state. Writes ``run.model_dir`` and a final checkpoint at the end.

    ``dist_ctx`` (:func:`reasonlab.train.distributed.init_distributed`) trains data-parallel: this rank's
    share of every batch, DDP or FSDP (``runtime.parallel``), rank 0 writing (see that module).
    """
    device, amp = resolve_device(runtime)
    if dist_ctx is not None:
        device = dist_ctx.device
        if optim.batch_size % dist_ctx.world:
            raise ReasonlabError(f"optim.batch_size {optim.batch_size} does not divide over {dist_ctx.world} processes")
    if runtime.num_threads:
        torch.set_num_threads(runtime.num_threads)
    model.to(device)
    model.train()
    optimizer = make_optimizer(model.parameters(), optim)
    ledger = ledger or ComputeLedger()
    start_step = 0
    resumed_from = None
    state = resume_checkpoint(run, model, optimizer, device)
    if state is not None:
        start_step = int(state["step"])
        resumed_from = start_step
        ledger.load_state_dict(state["compute"])
        if optim.stop_at is not None and start_step > optim.stop_at:
            raise ReasonlabError(
                f"{run.checkpoint_path(start_step)}: the run is at step {start_step}, past "
                f"optim.stop_at {optim.stop_at}; raise stop_at or start a new run"
            )
        if log:
            log(f"resumed from {run.checkpoint_path(start_step)} (step {start_step})")
    train_model: Any = model
    if dist_ctx is not None:
        # the optimizer state moves by parameter name: FSDP replaces the parameters with sharded ones
        by_name = optimizer_state_by_name(model, optimizer, all_ranks=True) if state is not None else None
        train_model = shard_for_training(model, dist_ctx, runtime.parallel)
        if dist_ctx.mode == "fsdp":
            optimizer = make_optimizer(model.parameters(), optim)
            if by_name is not None:
                load_optimizer_state_by_name(model, optimizer, by_name)
        if log:
            log(f"data-parallel over {dist_ctx.world} processes ({dist_ctx.mode}, {device.type})")
    if runtime.compile:
        train_model = torch.compile(train_model)
    restrict = None
    if optim.softmax == "corpus":
        vocab_size = model.config.vocab_size
        keep, remap = corpus_ids(corpus, vocab_size)
        restrict = (keep.to(device), remap.to(device))
        if log:
            log(f"training softmax over the {len(keep)} ids that occur in the corpus (of {vocab_size})")
    document_eos = tokenizer.eos_id if optim.attention == "document" else None

    n_params = sum(p.numel() for p in model.parameters())
    attn = attention_shape(model.config) if hasattr(model, "config") else None
    seq_len = corpus.row_len - 1
    end = min(optim.max_steps, optim.stop_at or optim.max_steps)
    progress = ProgressLine(end, label=label)
    rows_per_step = optim.batch_size * optim.grad_accum
    t0 = time.perf_counter()
    window_t, window_tokens = t0, 0
    loss_value = float("nan")
    val_loss: float | None = None
    state_extra = dict(extra_state or {})

    def make_plain(full: dict[str, torch.Tensor]) -> tuple[Decoder, Any]:
        plain = Decoder(model.config)
        plain.load_state_dict(full)
        return plain, make_optimizer(plain.parameters(), optim)

    def checkpoint(step: int, final: bool = False) -> None:
        save_model, save_opt = model, optimizer
        if dist_ctx is not None:
            save_model, save_opt = gather_for_save(model, optimizer, dist_ctx, make_plain)
        if save_model is not None:
            run.save_checkpoint(
                step,
                save_model,
                tokenizer,
                optimizer=save_opt,
                keep_last=runtime.keep_last,
                trainer_state={"compute": ledger.state_dict(), "loss": loss_value, **state_extra},
            )
            if final:
                run.save_final_model(save_model, tokenizer, compute=ledger.state_dict())
        barrier(dist_ctx)

    writer = dist_ctx is None or dist_ctx.is_main

    if writer:
        run.open_tracker(runtime.logging, resume_step=start_step)
    try:
        for steps_done, step in enumerate(range(start_step, end), start=1):
            lr = lr_at(step, optim.max_steps, optim.lr, optim.warmup_steps, optim.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            micro = [corpus.batch(step * optim.grad_accum + k, optim.batch_size) for k in range(optim.grad_accum)]
            n_targets = sum(m[2] for m in micro)
            loss_sum = 0.0
            for k, (x, y, _) in enumerate(micro):
                if dist_ctx is not None:  # this rank's rows of the global batch
                    rows = slice(
                        dist_ctx.rank * len(x) // dist_ctx.world, (dist_ctx.rank + 1) * len(x) // dist_ctx.world
                    )
                    x, y = x[rows], y[rows]
                with _autocast(device, amp), _sync_on_last(train_model, dist_ctx, k == len(micro) - 1):
                    loss = loss_fn(
                        train_model,
                        x.to(device, non_blocking=True),
                        y.to(device, non_blocking=True),
                        restrict,
                        document_eos,
                    )
                    if dist_ctx is None:
                        (loss / max(n_targets, 1)).backward()
                    else:  # gradients are averaged over ranks: scale back to the global sum / global count
                        (loss * dist_ctx.world / max(n_targets, 1)).backward()
                loss_sum += float(loss.detach())
            loss_sum = all_sum(dist_ctx, loss_sum)
            grad_norm = (
                torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
                if optim.grad_clip > 0
                else torch.zeros(())
            )
            if hasattr(grad_norm, "full_tensor"):  # FSDP: a DTensor
                grad_norm = grad_norm.full_tensor()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss_sum / max(n_targets, 1)
            if not math.isfinite(loss_value):
                raise ReasonlabError(f"{label}: loss became {loss_value} at step {step + 1}; lower optim.lr")
            tokens = rows_per_step * seq_len
            flops = train_flops(n_params, tokens, attn=attn, seq_len=seq_len)
            metrics: dict[str, Any] = {
                "loss": loss_value,
                "lr": lr,
                "grad_norm": float(grad_norm),
                "target_tokens": n_targets,
                "epoch": corpus.epoch_of((step + 1) * optim.grad_accum, optim.batch_size),
                **ledger.add(tokens, flops),
            }
            window_tokens += tokens
            now = time.perf_counter()
            done = step + 1
            if runtime.eval_every and done % runtime.eval_every == 0 and done < end:
                val_loss = evaluate_loss(model, corpus, optim.batch_size, device, amp, restrict, document_eos)
                if val_loss is not None:
                    metrics["val/loss"] = val_loss
            if done % runtime.log_every == 0 or done == end:
                tps = window_tokens / max(now - window_t, 1e-9)
                metrics["perf/tokens_per_s"] = tps
                if writer:
                    progress.report(done, loss_value, tps, now - t0, steps_done)
                window_t, window_tokens = now, 0
            if done == end:
                val_loss = evaluate_loss(model, corpus, optim.batch_size, device, amp, restrict, document_eos)
                if val_loss is not None:
                    metrics["val/loss"] = val_loss
            if writer:
                run.log_metrics(done, metrics)
            if runtime.checkpoint_every and done % runtime.checkpoint_every == 0 and done < end:
                checkpoint(done)
            if on_step is not None:
                on_step(done, metrics)
    finally:
        if writer:
            run.close_tracker()

    seconds = time.perf_counter() - t0
    if resumed_from is None or resumed_from < end:
        checkpoint(end, final=True)
    else:
        if log:
            log(f"run already finished at step {end}; nothing to do")
        last = run.latest_checkpoint()
        assert last is not None  # the run resumed from it
        loss_value = float(load_checkpoint_state(last).get("loss", float("nan")))
        final_model: Any = model
        if dist_ctx is not None:
            final_model, _ = gather_for_save(model, optimizer, dist_ctx, make_plain)
        if final_model is not None:
            run.save_final_model(final_model, tokenizer, compute=ledger.state_dict())
        barrier(dist_ctx)
    trained = max(0, end - (resumed_from or 0)) * rows_per_step * seq_len
    return TrainResult(
        steps=end,
        final_loss=loss_value,
        val_loss=val_loss,
        tokens_total=ledger.tokens_total,
        flops_total=ledger.flops_total,
        seconds=seconds,
        tokens_per_s=trained / max(seconds, 1e-9),
        resumed_from=resumed_from,
    )
