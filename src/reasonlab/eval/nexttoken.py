"""Next-token accuracy by entropy bucket in two modes, and the accuracy-against-compute curve (RPT, Tables 1 and 3).

A :class:`NextTokenEvalConfig` is an :class:`~reasonlab.eval.config.EvalConfig` of the ``nexttoken`` task
(buckets over the ``bucket`` knob: easy, medium, hard, nested by the proxy's entropy) plus the modes:

- **standard**: the model reads the bare context (``ntp`` style) and its most probable next token (argmax)
  is the prediction, counted with the same prefix rule (:func:`reasonlab.rewards.prefix_match_reward` on
  the token's bytes), as the paper counts standard next-token prediction;
- **reasoning**: the model reads the context and ``<think>``, samples a completion (reasoning, then the
  answer slot) and is scored by the task's verifier: the full evaluation protocol of
  :func:`reasonlab.eval.protocol.run_eval` (seeds x samples, held-out problems, the run record), written
  under ``reasoning/``.

Both modes see the same problems (those of the reasoning run, or generated the same way). Per-problem
scores (standard 0/1, reasoning pass@1 over the samples) and the position's kind
(:func:`~reasonlab.tasks.nexttoken.position_kind`) go to ``nexttoken/scores.jsonl`` so two models can be
compared problem by problem; ``nexttoken/summary.json`` holds each bucket's accuracy with a
bootstrap CI and what the model does with its think slot (how often it closes it, how many words it
writes there, accuracy with and without words).

``curve``: every checkpoint of a training run is evaluated in ``curve_mode`` on the same problems, with
the training FLOPs the run had spent when it saved the checkpoint (the run's own phase: RL counts from
zero, mid-training minus what its parent had spent); the report fits ``P(C) = A / C^alpha + P*`` to it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from reasonlab.compute import read_compute
from reasonlab.config import load_yaml
from reasonlab.errors import ReasonlabError
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.metrics import bootstrap_ci
from reasonlab.eval.problems import build_problems, problem_of
from reasonlab.eval.protocol import run_eval, sample_and_score
from reasonlab.eval.stats import bucket_order, problem_scores
from reasonlab.io import atomic_write_text, read_records, write_records
from reasonlab.model import load_model
from reasonlab.rewards import prefix_match_reward
from reasonlab.rundir import (
    RunDir,
    lineage_prompt_hashes,
    load_checkpoint_state,
    resolve_device,
    resolve_model_path,
)
from reasonlab.tasks import get_task
from reasonlab.tasks.nexttoken import PLAIN_CUE, position_kind
from reasonlab.tasks.nexttoken.verify import END_THINK

__all__ = [
    "NEXTTOKEN_SCHEMA",
    "NextTokenEvalConfig",
    "phase_flops",
    "run_nexttoken_eval",
    "standard_predictions",
    "think_stats",
]

NEXTTOKEN_SCHEMA = "reasonlab.nexttoken_eval/1"
Mode = Literal["standard", "reasoning"]
MODES: tuple[Mode, ...] = ("standard", "reasoning")


class NextTokenEvalConfig(EvalConfig):
    """An evaluation of the ``nexttoken`` task in standard and/or reasoning mode (see the module docstring)."""

    task: str = Field("nexttoken", description="the nexttoken task")
    reward: str = Field("prefix_match", description="reward recorded per sample")
    modes: list[Mode] = Field(default_factory=lambda: list(MODES), min_length=1, description="standard, reasoning")
    curve: str | None = Field(None, description="a training run whose every checkpoint is evaluated too")
    curve_mode: Mode = Field("reasoning", description="the mode of the curve's evaluations")
    curve_max_points: int = Field(8, ge=1, description="evaluate at most this many checkpoints (evenly spaced)")

    @model_validator(mode="after")
    def _nexttoken(self) -> NextTokenEvalConfig:
        if self.task != "nexttoken":
            raise ValueError(f"a nexttoken evaluation needs task nexttoken, got {self.task!r}")
        if len(set(self.modes)) != len(self.modes):
            raise ValueError("modes must be distinct")
        return self


def standard_predictions(model: Any, tokenizer: Any, contexts: list[str], *, batch_size: int = 32) -> list[bytes]:
    """The bytes of the model's argmax next token after ``<bos> context`` for every context (left-truncated to
    the model's context length)."""
    token_bytes = tokenizer.token_bytes()
    limit = int(model.config.max_seq_len)
    ids = [x[-limit:] for x in tokenizer.encode_batch(contexts, add_bos=True)]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[bytes] = [b""] * len(ids)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            x = torch.full((len(rows), width), tokenizer.pad_id, dtype=torch.long)
            for r, i in enumerate(rows):
                x[r, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
            hidden = model.hidden_states(x.to(device))  # right padding never reaches the last real position
            last = torch.tensor([len(ids[i]) - 1 for i in rows], device=device)
            h = hidden[torch.arange(len(rows), device=device), last]
            top = model.logits(h).argmax(-1).tolist()
            for i, t in zip(rows, top, strict=True):
                out[i] = token_bytes[int(t)]
    return out


def _standard_scores(model: Any, tokenizer: Any, problems: list[dict[str, Any]], batch_size: int) -> list[dict]:
    task = get_task("nexttoken")
    objs = [problem_of(p) for p in problems]
    preds = standard_predictions(model, tokenizer, [task.render(p, "ntp")[0] for p in objs], batch_size=batch_size)
    rows = []
    for p, pred in zip(objs, preds, strict=True):
        target = p.meta["continuation"].encode("utf-8")
        ok = prefix_match_reward(pred, target, p.meta["boundaries"]) == 1.0
        rows.append({"id": p.id, "pred": pred.decode("utf-8", errors="replace"), "correct": ok})
    return rows


def think_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What a model writes in its think slot: share closing it, words inside, accuracy with and without words."""
    closed, words = 0, []
    with_words: list[bool] = []
    without: list[bool] = []
    for r in records:
        text = r["completion"]
        cut = text.find(END_THINK)
        if cut < 0:
            continue
        closed += 1
        n = len(text[:cut].split())
        words.append(n)
        (with_words if n else without).append(bool(r["correct"]))
    n = max(len(records), 1)
    return {
        "samples": len(records),
        "closed_think": closed / n,
        "mean_think_words": float(np.mean(words)) if words else 0.0,
        "share_nonempty_think": len(with_words) / n,
        "accuracy_nonempty_think": float(np.mean(with_words)) if with_words else None,
        "accuracy_empty_think": float(np.mean(without)) if without else None,
        "mean_completion_tokens": float(np.mean([r["length"] for r in records])) if records else 0.0,
    }


def phase_flops(checkpoint: Path, run: Path) -> float:
    """Training FLOPs the run's own phase had spent at ``checkpoint`` (RL: its ledger; pre-/mid-training: the
    ledger minus the compute of the model it started from)."""
    state = load_checkpoint_state(checkpoint)
    if "ledger" in state:
        return float(state["ledger"]["flops_total"])
    total = float(state.get("compute", {}).get("flops_total", 0.0))
    parent = load_yaml(run / "config.yaml").get("init_from")
    if isinstance(parent, str) and Path(parent).exists():
        total -= read_compute(resolve_model_path(parent, "init_from")).flops_total
    return total


def _bucket_block(scores: dict[str, float], buckets: dict[str, str], cfg: EvalConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for b in bucket_order(list(dict.fromkeys(buckets.values()))):
        vals = [scores[i] for i in scores if buckets[i] == b]
        if vals:
            lo, hi = bootstrap_ci(vals, n_boot=cfg.bootstrap, ci=cfg.ci, seed=cfg.seed)
            out[b] = {"mean": float(np.mean(vals)), "ci": [lo, hi], "n": len(vals)}
    return out


def _reasoning_scores(records: list[dict[str, Any]]) -> dict[str, float]:
    return problem_scores(records, 1)


def _evaluate_mode(
    mode: Mode, cfg: NextTokenEvalConfig, model: Any, tokenizer: Any, problems: list[dict[str, Any]]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Per-problem scores of one mode (and its raw records) for a loaded model."""
    if mode == "standard":
        rows = _standard_scores(model, tokenizer, problems, cfg.batch_size)
        return {r["id"]: float(r["correct"]) for r in rows}, rows
    with torch.inference_mode():
        records, _ = sample_and_score(cfg, get_task(cfg.task), problems, model, tokenizer, progress=False)
    return _reasoning_scores(records), records


def _curve(
    cfg: NextTokenEvalConfig, problems: list[dict[str, Any]], buckets: dict[str, str], say: Callable[[str], None]
) -> list[dict[str, Any]]:
    assert cfg.curve is not None
    run = Path(cfg.curve)
    ckpts = RunDir(run).checkpoints()
    if not ckpts:
        raise ReasonlabError(f"curve {run}: a run without checkpoints (set its save/checkpoint interval)")
    if len(ckpts) > cfg.curve_max_points:
        picks = np.linspace(0, len(ckpts) - 1, cfg.curve_max_points).round().astype(int)
        ckpts = [ckpts[i] for i in sorted(set(picks.tolist()))]
    device = str(resolve_device(cfg.device))
    points = []
    for step, path in ckpts:
        model, tokenizer = load_model(path, device=device)
        scores, _ = _evaluate_mode(cfg.curve_mode, cfg, model, tokenizer, problems)
        block = _bucket_block(scores, buckets, cfg)
        points.append(
            {"step": step, "flops": phase_flops(path, run), "buckets": {b: v["mean"] for b, v in block.items()}}
        )
        say(f"curve {cfg.curve_mode} step {step}: " + ", ".join(f"{b} {v['mean']:.3f}" for b, v in block.items()))
    return points


def run_nexttoken_eval(
    cfg: NextTokenEvalConfig, out_dir: str | Path, *, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Evaluate ``cfg.model`` in every mode (and the curve) and write ``out_dir/nexttoken/``; returns the summary."""
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out = Path(out_dir)
    if cfg.model is None:
        raise ReasonlabError("nexttoken eval: field 'model' is required")
    old_threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        t0 = time.perf_counter()
        model_path = resolve_model_path(cfg.model)
        summary: dict[str, Any] = {"schema": NEXTTOKEN_SCHEMA, "name": cfg.name, "model": str(model_path)}
        if "reasoning" in cfg.modes:
            run_eval(cfg, out / "reasoning", log=say)
            problems = read_records(out / "reasoning" / "eval" / "problems.jsonl")
            records = read_records(out / "reasoning" / "eval" / "samples.jsonl")
        else:
            _, hashes = lineage_prompt_hashes(str(model_path))
            problems, _ = build_problems(cfg, get_task(cfg.task), hashes)
            records = []
        buckets = {p["id"]: str(p["bucket"]) for p in problems}
        scores: dict[str, dict[str, float]] = {}
        if records:
            scores["reasoning"] = _reasoning_scores(records)
            summary["think"] = think_stats(records)
        if "standard" in cfg.modes:
            model, tokenizer = load_model(model_path, device=str(resolve_device(cfg.device)))
            scores["standard"], rows = _evaluate_mode("standard", cfg, model, tokenizer, problems)
            write_records(out / "nexttoken" / "standard.jsonl", rows)
        summary["modes"] = {m: _bucket_block(s, buckets, cfg) for m, s in scores.items()}
        meta = {p["id"]: p["meta"] for p in problems}
        # problems generated before meta carried the kind: read it from the context in the prompt
        kinds = {
            p["id"]: p["meta"].get("kind") or position_kind(p["prompt"].removesuffix(PLAIN_CUE), p["answer"])
            for p in problems
        }
        write_records(
            out / "nexttoken" / "scores.jsonl",
            [
                {
                    "id": i,
                    "bucket": buckets[i],
                    "entropy": meta[i].get("entropy"),
                    "kind": kinds[i],
                    **{m: s.get(i) for m, s in scores.items()},
                }
                for i in buckets
            ],
        )
        if cfg.curve is not None:
            summary["curve"] = {"mode": cfg.curve_mode, "run": cfg.curve, "points": _curve(cfg, problems, buckets, say)}
        summary["config"] = cfg.model_dump(mode="json")
        summary["seconds"] = time.perf_counter() - t0
        atomic_write_text(out / "nexttoken" / "summary.json", json.dumps(summary, indent=1, allow_nan=False) + "\n")
        say(
            "nexttoken eval: "
            + "; ".join(
                f"{m} " + ", ".join(f"{b} {v['mean']:.3f}" for b, v in blk.items())
                for m, blk in summary["modes"].items()
            )
        )
        return summary
    finally:
        if cfg.threads:
            torch.set_num_threads(old_threads)
