"""Data-parallel pre-/mid-training: DistributedDataParallel, or FSDP (FSDP2 ``fully_shard``) for big models.

Launch with ``torchrun --nproc_per_node N -m reasonlab pretrain CONFIG`` (or ``reasonlab pretrain CONFIG
--nproc N``, which runs torchrun). Each process reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from the
environment; the backend is NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``) and gloo on the CPU.
A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) never touches this module's collectives, so
single-process training is exactly what it was.

How the numbers stay those of one process at the same global batch:

- the batch of step ``s`` is still ``corpus.batch(s, batch_size)`` (a pure function of the step); rank
  ``r`` of ``W`` takes rows ``[r B/W, (r+1) B/W)`` of it, so the W processes together see exactly the
  rows one process would (``batch_size`` must divide by ``W``);
- each rank's loss is its summed token loss divided by the *global* target count, times ``W``; DDP and
  FSDP average gradients over ranks, which gives ``sum over ranks / global count``: the single-process
  gradient up to the order of floating-point additions;
- rank 0 alone writes checkpoints, metrics and the final model (FSDP gathers the full weights and
  optimizer state to it first), in the single-process checkpoint format, so a distributed run resumes
  single-process and the other way round; every rank resumes from the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from reasonlab.errors import ReasonlabError

__all__ = [
    "DistContext",
    "all_sum",
    "barrier",
    "gather_for_save",
    "init_distributed",
    "shard_for_training",
    "shutdown_distributed",
]

#: Models at least this large use FSDP under ``runtime.parallel: auto`` (the ~100M ``qwen2-100m`` preset).
FSDP_MIN_PARAMS = 50_000_000


@dataclass
class DistContext:
    """This process's place in a data-parallel job."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    mode: str = "ddp"

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that writes)."""
        return self.rank == 0


def world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ReasonlabError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer") from None


def init_distributed(device: torch.device) -> DistContext | None:
    """Join the job torchrun started (None for a single process): NCCL on CUDA, gloo on the CPU."""
    world = world_size()
    if world <= 1:
        return None
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank=rank, world=world, local_rank=local_rank, device=device)


def shutdown_distributed() -> None:
    """Leave the process group (end of a distributed run)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext | None) -> None:
    """Wait for every rank (no-op for a single process)."""
    if ctx is not None:
        dist.barrier()


def all_sum(ctx: DistContext | None, value: float) -> float:
    """``value`` summed over ranks (itself for a single process)."""
    if ctx is None:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item())


def shard_for_training(model: torch.nn.Module, ctx: DistContext, parallel: str) -> torch.nn.Module:
    """The model to train with: ``DistributedDataParallel(model)``, or ``model`` sharded in place with FSDP2.

    ``parallel``: ``ddp``, ``fsdp``, or ``auto`` (FSDP from :data:`FSDP_MIN_PARAMS` parameters up).
    """
    n_params = sum(p.numel() for p in model.parameters())
    mode = parallel if parallel != "auto" else ("fsdp" if n_params >= FSDP_MIN_PARAMS else "ddp")
    ctx.mode = mode
    if mode == "ddp":
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    from torch.distributed.fsdp import fully_shard  # heavy: FSDP only for big models

    for layer in model.layers:  # type: ignore[union-attr]
        fully_shard(layer)
    fully_shard(model)
    return model


def optimizer_state_by_name(model: torch.nn.Module, optimizer: Any, all_ranks: bool = False) -> dict[str, Any]:
    """The optimizer state keyed by parameter names, full tensors (collective under FSDP); on rank 0
    only unless ``all_ranks`` (for an unsharded model every rank holds the same state anyway)."""
    import torch.distributed.checkpoint.state_dict as dsd  # heavy: only distributed runs need it

    options = dsd.StateDictOptions(full_state_dict=True, cpu_offload=not all_ranks)
    return dsd.get_optimizer_state_dict(model, optimizer, options=options)


def load_optimizer_state_by_name(model: torch.nn.Module, optimizer: Any, state: dict[str, Any]) -> None:
    """Inverse of :func:`optimizer_state_by_name` (every rank passes the same full state)."""
    import torch.distributed.checkpoint.state_dict as dsd  # heavy: only distributed runs need it

    dsd.set_optimizer_state_dict(model, optimizer, state, options=dsd.StateDictOptions(full_state_dict=True))


def gather_for_save(model: torch.nn.Module, optimizer: Any, ctx: DistContext, make_plain: Any) -> tuple[Any, Any]:
    """``(plain model, plain optimizer)`` holding the full weights and optimizer state, on rank 0 only
    (``(None, None)`` elsewhere); every rank must call it. ``make_plain(state_dict) -> (model, optimizer)``
    builds the single-process objects the checkpoint format is written from."""
    if ctx.mode == "ddp":
        return (model, optimizer) if ctx.is_main else (None, None)
    import torch.distributed.checkpoint.state_dict as dsd  # heavy: only distributed runs need it

    full = dsd.get_model_state_dict(model, options=dsd.StateDictOptions(full_state_dict=True, cpu_offload=True))
    osd = optimizer_state_by_name(model, optimizer)
    if not ctx.is_main:
        return None, None
    plain, plain_opt = make_plain(full)
    load_optimizer_state_by_name(plain, plain_opt, osd)
    return plain, plain_opt
