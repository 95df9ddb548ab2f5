"""The step kinds of Reinforcement Pre-Training recipes (``recipes/rpt.yaml``): data, control, evaluation, report.

- ``nexttoken_data`` (:class:`NextTokenDataConfig`): score a ``nexttoken`` corpus with a proxy model (a
  pre-trained base, ``@pretrain``) into an entropy table; later steps name it as the task's
  ``entropy_table: "@data"``, so RL, the format warm-up and the control draw entropy-filtered positions
  from the task's own generator.
- ``ntp_control`` (:class:`ComputeMatchedConfig`): a mid-training run whose step count is set so that its
  training FLOPs equal those an RL run (``match: "@rpt.run"``) spent, within ``tolerance`` (5%): the
  compute-matched next-token control.
- ``nexttoken_eval`` (:class:`~reasonlab.eval.nexttoken.NextTokenEvalConfig`): next-token accuracy by
  entropy bucket in standard and reasoning mode, optionally over a run's checkpoints (the scaling curve).
- ``rpt_report`` (:class:`~reasonlab.report.rpt.RPTReportConfig`): the report, verdict first.

Each runner takes ``(config, step directory, log)`` and returns the step's outputs; the pipeline registers
them as :class:`~reasonlab.experiments.pipeline.StepKind` entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator

from reasonlab.compute import attention_shape, read_compute, train_flops
from reasonlab.config import StrictModel, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.entropy import DEFAULT_TOP_K, entropy_table_for
from reasonlab.eval.nexttoken import NextTokenEvalConfig, run_nexttoken_eval
from reasonlab.io import atomic_write_text, read_json
from reasonlab.model import load_model
from reasonlab.rundir import resolve_model_path
from reasonlab.tasks.nexttoken import BUCKETS, NextTokenParams, build_pool
from reasonlab.train.midtrain import MidtrainConfig, midtrain

__all__ = [
    "ComputeMatchedConfig",
    "NextTokenDataConfig",
    "matched_steps",
    "run_compute_matched",
    "run_nexttoken_data",
    "run_nexttoken_eval_step",
]

#: Knobs the data step decides itself (it scores every document; filters belong to the steps that draw).
_DATA_OWN = ("entropy_table", "min_entropy", "bucket", "split")


class NextTokenDataConfig(StrictModel):
    """A ``nexttoken_data`` step: the corpus knobs, the proxy model and how it scores."""

    proxy: str = Field(description="proxy model (reasonlab model or HF dir), e.g. @pretrain")
    knobs: dict[str, Any] = Field(default_factory=dict, description="nexttoken corpus knobs (tokenizer: the proxy's)")
    min_entropy: float | None = Field(None, ge=0, description="the training filter, to report how many positions pass")
    top_k: int = Field(DEFAULT_TOP_K, ge=1, description="entropy over the proxy's top-k next tokens")
    window: int = Field(0, ge=0, description="proxy context window in tokens (0 = its max_seq_len)")
    batch_size: int = Field(16, ge=1)
    device: str = "cpu"
    threads: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> NextTokenDataConfig:
        bad = sorted(set(self.knobs) & set(_DATA_OWN))
        if bad:
            raise ValueError(f"knobs: {bad[0]!r} is set by the steps that draw positions, not by the data step")
        try:
            self.params()
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None
        return self

    def params(self, **extra: Any) -> NextTokenParams:
        """The task knobs (tokenizer defaulting to the proxy) with ``extra`` on top."""
        data = {"tokenizer": self.proxy, **self.knobs, **extra}
        return validate(NextTokenParams, data, source="nexttoken_data knobs")


def run_nexttoken_data(cfg: NextTokenDataConfig, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Score the corpus into ``out/entropy.npz``; write ``out/data.json`` (positions per split and bucket)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    params = cfg.params(split="all")
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if done[0] % 200 == 0:
            log(f"[data] proxy entropy: {done[0]} documents")

    path, info = entropy_table_for(
        params,
        cfg.proxy,
        out / "entropy.npz",
        top_k=cfg.top_k,
        window=cfg.window,
        batch_size=cfg.batch_size,
        device=cfg.device,
        progress=tick,
        log=log,
    )
    counts: dict[str, Any] = {}
    for split in ("train", "test"):
        pools = {"all": build_pool(cfg.params(split=split, entropy_table=str(path)))}
        for b in BUCKETS:
            pools[b] = build_pool(cfg.params(split=split, entropy_table=str(path), bucket=b))
        if cfg.min_entropy is not None:
            pools["min_entropy"] = build_pool(
                cfg.params(split=split, entropy_table=str(path), min_entropy=cfg.min_entropy)
            )
        counts[split] = {"documents": pools["all"].counts["documents"], **{k: len(p) for k, p in pools.items()}}
    record = {"table": str(path), "info": info, "positions": counts, "thresholds": list(params.thresholds)}
    atomic_write_text(out / "data.json", json.dumps(record, indent=1))
    log(f"[data] positions: {counts}")
    return {"main": str(path), "run": str(out), "tokenizer": str(resolve_model_path(cfg.proxy, "proxy"))}


# ----------------------------------------------------------------------------- the compute-matched control


class ComputeMatchedConfig(MidtrainConfig):
    """Mid-training for the training FLOPs another run spent: ``optim.max_steps`` is computed, not given."""

    match: str = Field(description="the run whose FLOPs to match (its summary.json flops_total), e.g. @rpt.run")
    tolerance: float = Field(0.05, gt=0, lt=1, description="largest relative FLOP difference allowed")


def matched_steps(cfg: MidtrainConfig, target_flops: float, tolerance: float) -> tuple[int, float]:
    """``(steps, FLOPs per step)`` of ``cfg`` whose total is closest to ``target_flops``.

    A step costs what the training loop counts: ``train_flops(N, rows * seq_len, attn, seq_len)`` with
    ``rows = batch_size * grad_accum`` (:mod:`reasonlab.compute`). A one-line error when the closest total
    misses the target by more than ``tolerance`` (too few steps: lower the batch size).
    """
    model, _ = load_model(resolve_model_path(cfg.init_from, "init_from"))
    n_params = sum(p.numel() for p in model.parameters())
    tokens = cfg.optim.batch_size * cfg.optim.grad_accum * cfg.data.seq_len
    per_step = train_flops(n_params, tokens, attn=attention_shape(model.config), seq_len=cfg.data.seq_len)
    steps = max(1, round(target_flops / per_step))
    gap = abs(steps * per_step - target_flops) / target_flops if target_flops > 0 else 1.0
    if gap > tolerance:
        raise ReasonlabError(
            f"compute-matched control: {steps} steps of {per_step:.3g} FLOPs miss the target {target_flops:.3g} by "
            f"{gap:.1%} (> {tolerance:.0%}); lower optim.batch_size or data.seq_len"
        )
    return steps, per_step


def run_compute_matched(cfg: ComputeMatchedConfig, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the control (in ``out``, its run directory) with the matched step count; write ``match.json``;
    return the step's outputs (model, run, the control's own FLOPs)."""
    summary_path = Path(cfg.match) / "summary.json"
    if not summary_path.is_file():
        raise ReasonlabError(f"match {cfg.match}: no summary.json (a finished RL run directory)")
    target = float(read_json(summary_path, "run summary")["flops_total"])
    steps, per_step = matched_steps(cfg, target, cfg.tolerance)
    optim = cfg.optim.model_copy(update={"max_steps": steps, "warmup_steps": min(cfg.optim.warmup_steps, steps // 5)})
    run_cfg = cfg.model_copy(update={"optim": optim})
    log(f"[control] {steps} steps x {per_step:.3g} FLOPs to match {target:.3g} FLOPs of {cfg.match}")
    summary = midtrain(run_cfg, log=log)
    own = float(summary["flops_total"]) - read_compute(resolve_model_path(cfg.init_from, "init_from")).flops_total
    match = {"target_flops": target, "control_flops": own, "ratio": own / target, "steps": steps, "per_step": per_step}
    atomic_write_text(Path(summary["run"]) / "match.json", json.dumps(match, indent=1))
    return {"main": str(summary["model"]), "run": str(summary["run"]), "flops": own}


def run_nexttoken_eval_step(cfg: NextTokenEvalConfig, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """A ``nexttoken_eval`` step's outputs: its directory, and each mode's accuracy per bucket."""
    summary = run_nexttoken_eval(cfg, out, log=log)
    outputs: dict[str, Any] = {"main": str(out), "run": str(out)}
    for mode, blocks in summary["modes"].items():
        for bucket, block in blocks.items():
            outputs[f"{mode}/{bucket}"] = block["mean"]
    return outputs
