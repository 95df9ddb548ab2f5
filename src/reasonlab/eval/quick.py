"""Greedy accuracy by bucket (e.g. by op count): the quick check a training run ends with.

This is not the evaluation harness (``reasonlab eval`` does seeds x samples, pass@k and error bars);
it answers one question cheaply: does greedy decoding solve the problems, bucket by bucket. Problems
come from small seeds, below the training data range (:mod:`reasonlab.seeds`), and the report counts
how many evaluation prompts also occur verbatim among the training prompts (``overlap``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, PrivateAttr, field_validator, model_validator

from reasonlab.config import StrictModel
from reasonlab.io import atomic_write_text
from reasonlab.model.chat import Prompter
from reasonlab.rundir import prompt_hashes_path
from reasonlab.sampling import DecodingConfig, generate
from reasonlab.seeds import TRAIN_SEED_BASE, prompt_hash
from reasonlab.tasks import get_task
from reasonlab.tasks.registry import checked_params

__all__ = ["QuickEvalConfig", "greedy_generate", "run_quick_eval"]


class QuickEvalConfig(StrictModel):
    """Buckets of problems decoded greedily after training."""

    task: str = Field("arith", description="Task family.")
    knobs: dict[str, Any] = Field(default_factory=dict, description="Knobs shared by every bucket.")
    bucket_knob: str = Field("ops", description="The knob that varies across buckets.")
    buckets: list[Any] = Field(default_factory=lambda: [2, 3, 4, 5, 6, 7, 8], description="Values of bucket_knob.")
    n_per_bucket: int = Field(100, ge=1, description="Problems per bucket.")
    seed: int = Field(0, ge=0, description=f"Problem seed (must be < {TRAIN_SEED_BASE}, the training space).")
    max_new_tokens: int = Field(320, ge=1)
    batch_size: int = Field(64, ge=1)
    style: str = Field("plain")
    _params: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve(self) -> QuickEvalConfig:
        self._params = {str(b): checked_params(self.task, {**self.knobs, self.bucket_knob: b}) for b in self.buckets}
        return self

    def bucket_params(self, value: Any) -> Any:
        """The validated task Params of bucket ``value``."""
        return self._params[str(value)]

    @field_validator("seed")
    @classmethod
    def _eval_space(cls, v: int) -> int:
        if v >= TRAIN_SEED_BASE:
            raise ValueError(f"must be below {TRAIN_SEED_BASE} (seeds at or above it generate training data)")
        return v


@torch.no_grad()
def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 64,
    add_bos: bool = True,
) -> list[str]:
    """Greedy completions (the text after each prompt, up to ``<eos>``) with the team sampler."""
    room = model.config.max_seq_len - max((len(tokenizer.encode(p)) + 1 for p in prompts), default=0)
    params = DecodingConfig(temperature=0.0).sampling_params(max_new_tokens=max(1, min(max_new_tokens, room)))
    seeds = list(range(len(prompts)))
    gens = generate(model, tokenizer, list(prompts), params, seeds=seeds, batch_size=batch_size, add_bos=add_bos)
    return [g.text for g in gens]


def run_quick_eval(
    cfg: QuickEvalConfig,
    model: Any,
    tokenizer: Any,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    train_hashes: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Greedy accuracy per bucket: ``{bucket: {n, correct, accuracy, process_accuracy, overlap}}``.

    ``process_accuracy`` counts completions whose answer is right *and* whose every step checks
    (the task's process verification; absent for tasks without one). With a small answer space (a
    modulus of 7 gives 1/7 by guessing) it is the figure that guessing cannot reach.

    With ``out_dir`` the result is also written to ``out_dir/quick_eval.json``, and training prompt
    hashes are read from ``out_dir/data/prompt_hashes.npy`` when ``train_hashes`` is not given.
    """
    task = get_task(cfg.task)
    if train_hashes is None and out_dir is not None:
        path = prompt_hashes_path(out_dir)
        if path.is_file():
            train_hashes = np.load(path)
    seen = set(train_hashes.tolist()) if train_hashes is not None else None
    prompter = Prompter(cfg.style, tokenizer)
    model.eval()
    result: dict[str, Any] = {}
    for bucket in cfg.buckets:
        problems = list(task.generate(cfg.bucket_params(bucket), cfg.n_per_bucket, cfg.seed))
        prompts = [prompter.prompt(task, p) for p in problems]
        texts = greedy_generate(model, tokenizer, prompts, cfg.max_new_tokens, cfg.batch_size, prompter.add_bos)
        verdicts = [task.verify(p, t) for p, t in zip(problems, texts, strict=True)]
        correct = sum(bool(v.correct) for v in verdicts)
        n = max(len(problems), 1)
        row: dict[str, Any] = {"n": len(problems), "correct": correct, "accuracy": correct / n}
        if verdicts and all(v.process is not None for v in verdicts):
            row["process_accuracy"] = sum(bool(v.correct and v.process and v.process.ok) for v in verdicts) / n
        if seen is not None:
            row["overlap"] = sum(prompt_hash(p.prompt) in seen for p in problems)
        result[str(bucket)] = row
        if log:
            extra = f" (overlap with training {row['overlap']})" if "overlap" in row else ""
            if "process_accuracy" in row:
                extra += f", process-verified {row['process_accuracy']:.1%}"
            log(f"quick eval {cfg.bucket_knob}={bucket}: {correct}/{len(problems)} = {row['accuracy']:.1%}{extra}")
    if out_dir is not None:
        atomic_write_text(
            Path(out_dir) / "quick_eval.json",
            json.dumps({"config": cfg.model_dump(mode="json"), "buckets": result}, indent=1),
        )
    return result
