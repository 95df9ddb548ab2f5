"""``reasonlab midtrain CONFIG``: continue training a checkpoint on a new mixture (or a problems file).

Two objectives, same loop and run directory as pre-training:

- ``sft``: supervised fine-tuning on (prompt, gold completion) pairs; the loss covers only the
  completion and ``<eos>`` (prompt tokens are context, never targets).
- ``ntp``: continued next-token training on every token of the new mixture, e.g. the CMU lab's mid-
  training: 20% replay of the pre-training op range + 80% of a harder band, written as a two-component
  mixture with weights 0.2 / 0.8.

The model and tokenizer come from ``init_from`` (a native model directory such as
``runs/<name>/model`` or a ``checkpoints/step-N`` directory); the tokenizer is reused unchanged, so the
new mixture is tokenised exactly as the model expects. Compute totals continue from the parent's
``compute.json``. Mid-training data uses its own part of the training seed space (phase offset 500),
so it never repeats the pre-training problems' seeds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from reasonlab.compute import read_compute
from reasonlab.config import Name, StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.eval.quick import QuickEvalConfig
from reasonlab.model import load_model
from reasonlab.model.chat import Prompter
from reasonlab.rundir import RunDir, lineage_prompt_hashes, resolve_model_path, write_prompt_hashes
from reasonlab.train.corpus import DataConfig, PackedCorpus, build_corpus, generate_documents, write_stats
from reasonlab.train.loop import RuntimeConfig, resolve_device, train_loop
from reasonlab.train.optim import TrainOptimConfig
from reasonlab.train.pretrain import finish_run

__all__ = ["MidtrainConfig", "build_midtrain_corpus", "midtrain"]


class MidtrainConfig(StrictModel):
    """A mid-training run: a parent model, an objective and a new mixture."""

    #: Fields a resumed run may change (the schedule's stop, the runtime, the quick evaluation).
    RESUME_MAY_CHANGE: ClassVar[tuple[str, ...]] = ("optim.stop_at", "runtime", "eval")

    name: Name = Field(description="Run name (a plain name): the run directory is out_dir/name.")
    out_dir: str = Field("runs", description="Parent directory of run directories.")
    init_from: str = Field(description="Model to start from: a model directory or a run directory (its model/).")
    objective: Literal["sft", "ntp"] = Field("ntp", description="sft = loss on completions only; ntp = all tokens.")
    seed: int = Field(0, ge=0, description="Drives data generation and batch order.")
    data: DataConfig
    optim: TrainOptimConfig = Field(default_factory=lambda: TrainOptimConfig(lr=1e-3, warmup_steps=20, max_steps=300))
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    eval: QuickEvalConfig | None = Field(None, description="Greedy accuracy by bucket after training.")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_midtrain_corpus(
    config: MidtrainConfig, tokenizer: Any, prompter: Prompter, log: Callable[[str], None] = _log
) -> tuple[PackedCorpus, dict[str, Any], np.ndarray]:
    """The run's corpus, its statistics and the prompt hashes of its problems, as :func:`midtrain` builds them
    (a pure function of the config and the parent's tokenizer, so a caller can size a run before it starts)."""
    rendered, _, hashes = generate_documents(config.data, config.seed, "midtrain", log=log, prompter=prompter)
    corpus, stats = build_corpus(
        config.data,
        config.seed,
        tokenizer,
        objective=config.objective,
        rendered=rendered,
        log=log,
        add_bos=prompter.add_bos,
    )
    return corpus, stats, hashes


def midtrain(
    config: MidtrainConfig,
    *,
    overwrite: bool = False,
    on_step: Callable[[int, dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run (or resume) a mid-training run; returns the summary (also in ``run/summary.json``)."""
    parent = resolve_model_path(config.init_from, "init_from")
    resolve_device(config.runtime)  # everything is checked before the run directory exists
    model, tokenizer = load_model(parent)
    prompter = Prompter(config.data.style, tokenizer, str(parent))  # model_chat needs the parent's template
    if config.data.seq_len > model.config.max_seq_len:
        raise ReasonlabError(
            f"data.seq_len {config.data.seq_len} exceeds the parent model's max_seq_len {model.config.max_seq_len}"
        )
    run = RunDir.create(config.out_dir, config.name, config, overwrite=overwrite, may_change=config.RESUME_MAY_CHANGE)
    if config.runtime.num_threads:
        torch.set_num_threads(config.runtime.num_threads)
    data_dir = run.path / "data"
    if (data_dir / "corpus.npz").is_file():
        log(f"using cached corpus in {data_dir}")
        corpus = PackedCorpus.load(data_dir)
    else:
        corpus, stats, hashes = build_midtrain_corpus(config, tokenizer, prompter, log)
        data_dir.mkdir(parents=True, exist_ok=True)
        corpus.save(data_dir)
        write_prompt_hashes(run.path, hashes)
        write_stats(data_dir, {**stats, "objective": config.objective, "init_from": str(parent)})
        log(f"corpus ({config.objective}): {stats['documents']} problems, {stats['rows']} rows")
    model.train()
    torch.manual_seed(config.seed)
    ledger = read_compute(parent)
    result = train_loop(
        model,
        tokenizer,
        corpus,
        config.optim,
        config.runtime,
        run,
        label=f"midtrain-{config.objective}",
        ledger=ledger,
        on_step=on_step,
        extra_state={"init_from": str(parent)},
        log=log,
    )
    _, lineage = lineage_prompt_hashes(run.path)
    lineage_hashes = np.array(sorted(lineage), dtype=np.int64) if lineage else None
    return finish_run(run, model, tokenizer, result, config.eval, config.seed, log, train_hashes=lineage_hashes)
