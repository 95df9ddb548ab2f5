"""``reasonlab pretrain CONFIG``: next-token pre-training of a from-scratch decoder on a task mixture.

A run: build the corpus from the mixture (:mod:`reasonlab.train.data`), build the tokenizer from it,
make the model from a size preset with the tokenizer's vocabulary, train with the shared loop
(:mod:`reasonlab.train.loop`), save ``runs/<name>/model`` and optionally run a quick greedy accuracy
check by bucket (:mod:`reasonlab.eval.quick`). A second start of the same config resumes from
the newest checkpoint, reusing the cached corpus and tokenizer in ``runs/<name>/data``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from reasonlab.config import Name, StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.eval.quick import QuickEvalConfig, run_quick_eval
from reasonlab.eval.record import device_record, versions
from reasonlab.io import atomic_write_text
from reasonlab.model import PRESETS, Decoder, ModelConfig, TaskTokenizer, load_model
from reasonlab.model.chat import Prompter
from reasonlab.rundir import RunDir, write_prompt_hashes
from reasonlab.train.corpus import (
    DataConfig,
    PackedCorpus,
    build_corpus,
    generate_documents,
    tokenizer_texts,
    write_stats,
)
from reasonlab.train.distributed import barrier, init_distributed, shutdown_distributed
from reasonlab.train.loop import RuntimeConfig, TrainResult, resolve_device, train_loop
from reasonlab.train.optim import TrainOptimConfig

__all__ = ["ModelSpec", "PretrainConfig", "build_model", "pretrain"]


class ModelSpec(StrictModel):
    """Model shape: a size preset (see ``reasonlab.model.PRESETS``) plus field overrides."""

    preset: str = Field("tiny", description="Size preset name (tiny ~1M, small ~5M, medium, qwen2-100m).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="ModelConfig fields replacing the preset's (hidden_size, num_layers...)."
    )

    @model_validator(mode="after")
    def _check_shape(self) -> ModelSpec:
        try:  # the real vocabulary comes from the tokenizer later; any size checks the rest now
            ModelConfig.from_preset(self.preset, **{**self.overrides, "vocab_size": 512})
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None
        return self


class PretrainConfig(StrictModel):
    """A pre-training run (all fields documented; see configs/*.yaml for examples)."""

    #: Fields a resumed run may change (the schedule's stop, the runtime, the quick evaluation).
    RESUME_MAY_CHANGE: ClassVar[tuple[str, ...]] = ("optim.stop_at", "runtime", "eval")

    name: Name = Field(description="Run name (a plain name): the run directory is out_dir/name.")
    out_dir: str = Field("runs", description="Parent directory of run directories.")
    seed: int = Field(0, ge=0, description="Drives data generation, initialisation and batch order.")
    objective: Literal["ntp", "sft"] = Field(
        "ntp", description="ntp = loss on every token (standard); sft = loss on completions only."
    )
    data: DataConfig
    model: ModelSpec = Field(default_factory=ModelSpec)
    optim: TrainOptimConfig = Field(default_factory=TrainOptimConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    eval: QuickEvalConfig | None = Field(None, description="Greedy accuracy by bucket after training.")


def build_model(spec: ModelSpec, vocab_size: int, seq_len: int, seed: int) -> Any:
    """A freshly initialised Decoder (seeded) from the spec; ``max_seq_len`` is at least ``seq_len``."""
    overrides = dict(spec.overrides)
    overrides["vocab_size"] = vocab_size
    if spec.preset not in PRESETS:
        raise ReasonlabError(f"model.preset: unknown preset {spec.preset!r} (allowed: {', '.join(PRESETS)})")
    base_len = overrides.get("max_seq_len", PRESETS[spec.preset]["max_seq_len"])
    overrides["max_seq_len"] = max(int(base_len), seq_len)
    config = ModelConfig.from_preset(spec.preset, **overrides)
    torch.manual_seed(seed)
    return Decoder(config)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_pretrain_data(
    config: PretrainConfig, run: RunDir, log: Callable[[str], None] = _log
) -> tuple[Any, PackedCorpus]:
    """Tokenizer and packed corpus of a run: loaded from ``run/data`` when cached, else built and cached."""
    data_dir = run.path / "data"
    if (data_dir / "corpus.npz").is_file() and (data_dir / "tokenizer.json").is_file():
        log(f"using cached corpus in {data_dir}")
        return TaskTokenizer.load(data_dir), PackedCorpus.load(data_dir)
    rendered, _, hashes = generate_documents(config.data, config.seed, "pretrain", log=log)
    texts = tokenizer_texts(config.data, config.seed, rendered)
    tokenizer = TaskTokenizer.build(
        texts, config.data.tokenizer_vocab_size, number_tokens=config.data.tokenizer_number_tokens
    )
    log(f"tokenizer: {tokenizer.vocab_size} ids")
    corpus, stats = build_corpus(
        config.data, config.seed, tokenizer, objective=config.objective, rendered=rendered, log=log
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(data_dir)
    write_prompt_hashes(run.path, hashes)
    corpus.save(data_dir)
    write_stats(data_dir, stats)
    log(
        f"corpus: {stats['documents']} problems, {stats['rows']} rows of {stats['row_len']} tokens, "
        f"{stats['mean_tokens_per_problem']:.1f} tokens/problem, packing {stats['packing_efficiency']:.1%}"
    )
    return tokenizer, corpus


def pretrain(
    config: PretrainConfig,
    *,
    overwrite: bool = False,
    on_step: Callable[[int, dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run (or resume) a pre-training run; returns a summary dict (also in ``run/summary.json``).

    Under ``torchrun`` (``WORLD_SIZE > 1``) it trains data-parallel (:mod:`reasonlab.train.distributed`):
    rank 0 creates the run directory and builds the corpus, the other ranks then read it; rank 0 alone
    writes checkpoints, metrics, the final model and the summary (the others return ``{"rank": r}``).
    """
    device, _ = resolve_device(config.runtime)  # everything is checked before the run directory exists
    Prompter(config.data.style)  # model_chat needs a model's chat template: refused before training a tokenizer
    ctx = init_distributed(device)
    if ctx is not None and config.optim.batch_size % ctx.world:
        raise ReasonlabError(f"optim.batch_size {config.optim.batch_size} does not divide over {ctx.world} processes")
    main = ctx is None or ctx.is_main
    try:
        if main:
            run = RunDir.create(
                config.out_dir, config.name, config, overwrite=overwrite, may_change=config.RESUME_MAY_CHANGE
            )
        if config.runtime.num_threads:
            torch.set_num_threads(config.runtime.num_threads)
        if main:
            tokenizer, corpus = prepare_pretrain_data(config, run, log)
        barrier(ctx)
        if not main:  # the run directory and the cached corpus exist now
            run = RunDir(Path(config.out_dir) / config.name)
            tokenizer, corpus = prepare_pretrain_data(config, run, lambda _m: None)
        model = build_model(config.model, tokenizer.vocab_size, config.data.seq_len, config.seed)
        if main:
            log(f"model: {model.num_params():,} parameters ({config.model.preset})")
        torch.manual_seed(config.seed)
        result = train_loop(
            model,
            tokenizer,
            corpus,
            config.optim,
            config.runtime,
            run,
            label="pretrain",
            on_step=on_step,
            log=log if main else None,
            dist_ctx=ctx,
        )
        if ctx is None:
            return finish_run(run, model, tokenizer, result, config.eval, config.seed, log)
        summary = {"rank": ctx.rank}
        if main:  # the final model as saved (FSDP shards the training copy)
            summary = finish_run(run, load_model(run.model_dir)[0], tokenizer, result, config.eval, config.seed, log)
        barrier(ctx)
        return summary
    finally:
        if ctx is not None:
            shutdown_distributed()


def finish_run(
    run: RunDir,
    model: Any,
    tokenizer: Any,
    result: TrainResult,
    eval_cfg: Any,
    seed: int,
    log: Callable[[str], None],
    train_hashes: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write ``summary.json`` (and the quick evaluation when configured); return the summary.

    ``train_hashes`` (prompt hashes of every corpus the model was trained on) defaults to this run's.
    """
    summary: dict[str, Any] = {
        "machine": {**device_record(str(next(model.parameters()).device)), "versions": versions()},
        "run": str(run.path),
        "model": str(run.model_dir),
        **asdict(result),
        "num_params": sum(p.numel() for p in model.parameters()),
    }
    if eval_cfg is not None:
        model.eval()
        summary["quick_eval"] = run_quick_eval(
            eval_cfg, model.to("cpu"), tokenizer, out_dir=run.path, train_hashes=train_hashes, log=log
        )
    atomic_write_text(run.path / "summary.json", json.dumps(summary, indent=1))
    log(f"done: {result.steps} steps, final loss {result.final_loss:.4f}, model in {run.model_dir}")
    return summary
