"""The evaluation protocol: held-out buckets, S seeds x n samples per problem, full run record.

:func:`run_eval` generates the evaluation problems (one bucket per value of a difficulty knob, from a
seed namespace that training never uses), samples ``seeds x samples_per_seed`` completions per
problem with the native sampler, verifies them, and writes into ``out_dir``::

    eval/config.yaml      the resolved EvalConfig
    eval/problems.jsonl   the evaluation problems (with bucket and cluster labels)
    eval/samples.jsonl    one record per sample (see SAMPLE_FIELDS)
    eval/summary.json     run record + statistics per bucket and overall

The report (``report.md``, ``plots/``) is written by :mod:`reasonlab.report` from these files. The
pieces: :mod:`~reasonlab.eval.config` (what to evaluate), :mod:`~reasonlab.eval.problems` (held-out
problems), :mod:`~reasonlab.eval.stats` (the Sober Look statistics), :mod:`~reasonlab.eval.record`
(the run record). :func:`run_eval` is callable in-process (the RL trainer passes its live model) and
deterministic: the same config gives the same problems, samples and numbers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from reasonlab.config import dump_config
from reasonlab.errors import ReasonlabError
from reasonlab.eval.bands import classify_buckets
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.engines import native_engine, transformers_engine
from reasonlab.eval.problems import build_problems, problem_of
from reasonlab.eval.record import SUMMARY_SCHEMA, device_record, git_commit, prompt_template_record, versions
from reasonlab.eval.stats import summarize
from reasonlab.io import atomic_write_text, write_records
from reasonlab.model import load_model
from reasonlab.model.chat import Prompter
from reasonlab.rewards import compute_reward
from reasonlab.rundir import lineage_prompt_hashes, lineage_seeds, resolve_device, resolve_model_path, training_lineage
from reasonlab.sampling import Generation, amp_dtype
from reasonlab.seeds import eval_sample_seed
from reasonlab.tasks import Task, get_task

__all__ = ["SAMPLE_FIELDS", "run_eval", "sample_and_score"]

#: Fields of every per-sample record in ``eval/samples.jsonl``.
SAMPLE_FIELDS = (
    "id",
    "bucket",
    "cluster",
    "seed",
    "sample",
    "sample_seed",
    "completion",
    "pred",
    "correct",
    "format_ok",
    "process_ok",
    "failure",
    "reward",
    "prompt_tokens",
    "length",
    "truncated",
    "unparseable",
)


class _Progress:
    """A periodic progress line: samples done, samples/s, generated tokens/s, ETA."""

    def __init__(self, total: int, enabled: bool, every_s: float = 5.0) -> None:
        self.total, self.enabled, self.every_s = total, enabled, every_s
        self.start = self.last = time.perf_counter()
        self.done = self.tokens = 0

    def update(self, samples: int, tokens: int) -> None:
        self.done += samples
        self.tokens += tokens
        now = time.perf_counter()
        if self.enabled and (now - self.last >= self.every_s or self.done == self.total):
            self.last = now
            el = max(now - self.start, 1e-9)
            rate = self.done / el
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(
                f"eval {self.done}/{self.total} samples | {rate:.1f} samples/s | {self.tokens / el:.0f} tok/s "
                f"| elapsed {el:.0f}s | eta {eta:.0f}s",
                file=sys.stderr,
                flush=True,
            )


def sample_and_score(
    config: EvalConfig,
    task: Task,
    problems: list[dict[str, Any]],
    model: Any,
    tokenizer: Any,
    *,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Generate ``seeds x samples_per_seed`` completions per problem (with ``config.engine``) and verify each.

    Returns the per-sample records (sorted by problem order, seed, sample) and timing figures.
    Every sample has its own stable seed (:func:`reasonlab.seeds.eval_sample_seed`), so the records do
    not depend on ``batch_size`` or on the order the sampler sees the prompts in.
    """
    params = config.decoding.sampling_params([tokenizer.eos_id])
    prompter = Prompter(config.prompt_style, tokenizer, config.model or "model")
    if config.engine == "transformers":
        engine = transformers_engine(model, tokenizer)
    else:
        engine = native_engine(model, tokenizer, amp_dtype(next(model.parameters()).device, config.precision))
    objs = [problem_of(row) for row in problems]
    # encoded once per problem as the sampler would (<bos> + prompt, or as the chat template wrote it), shared by S*n
    prompt_ids = prompter.encode(tokenizer, [prompter.prompt(task, p) for p in objs])
    limit = int(getattr(getattr(model, "config", None), "max_seq_len", 1 << 30))
    jobs = []
    for pi, row in enumerate(problems):
        for s in range(config.seeds):
            for j in range(config.samples_per_seed):
                jobs.append((pi, s, j, eval_sample_seed(config.seed, row["id"], s, j)))
    # long prompts together: less padding per batch (results do not depend on the order)
    jobs.sort(key=lambda job: (len(prompt_ids[job[0]]), job[0], job[1], job[2]))
    bar = _Progress(len(jobs), progress)
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    order = {
        (pi, s, j): i
        for i, (pi, s, j) in enumerate(
            (pi, s, j)
            for pi in range(len(problems))
            for s in range(config.seeds)
            for j in range(config.samples_per_seed)
        )
    }
    gen_time = score_time = 0.0
    n_tokens = 0
    for start in range(0, len(jobs), config.batch_size):
        batch = jobs[start : start + config.batch_size]
        fits = [b for b in batch if len(prompt_ids[b[0]]) < limit]
        t0 = time.perf_counter()
        gens = engine([prompt_ids[b[0]] for b in fits], params, [b[3] for b in fits], config.batch_size) if fits else []
        by_job = dict(zip([(b[0], b[1], b[2]) for b in fits], gens, strict=True))
        t1 = time.perf_counter()
        toks = 0
        for pi, s, j, sseed in batch:
            # a prompt that fills the model's context leaves no room to answer: an empty, truncated sample
            g = by_job.get((pi, s, j)) or Generation(prompt_ids[pi], [], "", "length")
            problem, row = objs[pi], problems[pi]
            v = task.verify(problem, g.text)
            reward = compute_reward(config.reward, v, **config.reward_args)
            toks += len(g.token_ids)
            records[order[(pi, s, j)]] = {
                "id": problem.id,
                "bucket": row["bucket"],
                "cluster": row.get("cluster"),
                "seed": s,
                "sample": j,
                "sample_seed": sseed,
                "completion": g.text,
                "pred": v.pred,
                "correct": bool(v.correct),
                "format_ok": bool(v.format_ok),
                "process_ok": None if v.process is None else bool(v.process.ok),
                "failure": task.failure_kind(v),
                "reward": reward,
                "prompt_tokens": len(prompt_ids[pi]),
                "length": len(g.token_ids),
                "truncated": g.finish_reason == "length",
                "unparseable": v.answer_status == "unparseable",
            }
        t2 = time.perf_counter()
        gen_time += t1 - t0
        score_time += t2 - t1
        n_tokens += toks
        bar.update(len(batch), toks)
    timing = {
        "generate_s": gen_time,
        "score_s": score_time,
        "generated_tokens": n_tokens,
        "prompt_tokens": sum(len(prompt_ids[b[0]]) for b in jobs),
        "samples": len(jobs),
        "prompts_over_context": sum(len(ids) >= limit for ids in prompt_ids),
        "tokens_per_s": n_tokens / gen_time if gen_time > 0 else 0.0,
        "samples_per_s": len(jobs) / (gen_time + score_time) if gen_time + score_time > 0 else 0.0,
    }
    return [r for r in records if r is not None], timing


def run_eval(
    config: EvalConfig,
    out_dir: str | os.PathLike[str],
    model: Any = None,
    tokenizer: Any = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the evaluation described by ``config`` and write it under ``out_dir``; return the summary.

    Pass a live ``model`` and ``tokenizer`` to evaluate in-process (the RL trainer does this for its
    periodic evaluations); otherwise ``config.model`` (a checkpoint or run dir) is loaded.
    """
    if not isinstance(config, EvalConfig):
        raise ReasonlabError(f"run_eval needs an EvalConfig, got {type(config).__name__}")
    out = Path(out_dir)
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True) if progress else None)
    old_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        task = get_task(config.task)
        model_path: str | None = None
        if model is None:
            if config.model is None:
                raise ReasonlabError("eval config: field 'model' is required unless a live model is passed")
            resolved = resolve_model_path(config.model)
            model_path = str(resolved)
            device = str(resolve_device(config.device))
            model, tokenizer = load_model(resolved, device=device)
        else:
            if tokenizer is None:
                raise ReasonlabError("run_eval: a live model needs its tokenizer too")
            model_path = config.model
            device = str(next(model.parameters()).device)
        train_cfg, train_seeds = lineage_seeds(model_path)
        hash_file, train_hashes = lineage_prompt_hashes(model_path)
        problems, holdout = build_problems(config, task, train_hashes)
        clash = sorted(set(holdout["problem_seeds"].values()) & set(train_seeds))
        if clash:
            raise ReasonlabError(f"evaluation problem seed {clash[0]} also appears in the training config {train_cfg}")
        holdout.update(
            {
                "training_config": train_cfg,
                "training_seeds": train_seeds,
                "seed_overlap": False,
                "training_runs": [str(r) for r in training_lineage(model_path)],
                "training_prompt_hashes": hash_file,
                "training_prompts_checked": len(train_hashes),
            }
        )
        prompter = Prompter(config.prompt_style, tokenizer, config.model or "model")
        prompts = [prompter.prompt(task, problem_of(p)) for p in problems]
        say(
            f"eval {task.name}: {len(config.buckets.values)} buckets x {config.problems_per_bucket} problems x "
            f"{config.seeds} seeds x {config.samples_per_seed} samples on {device}"
        )
        was_training = bool(getattr(model, "training", False))
        model.eval()
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():
                records, timing = sample_and_score(config, task, problems, model, tokenizer, progress=progress)
        finally:
            if was_training:
                model.train()
        timing["wall_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        stats = summarize(records, config)
        timing["statistics_s"] = time.perf_counter() - t1
        n_params = sum(p.numel() for p in model.parameters())
        dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        summary = {
            "schema": SUMMARY_SCHEMA,
            "name": config.name,
            "record": {
                "config": config.model_dump(mode="json"),
                "model_path": model_path,
                "model_params": n_params,
                "dtype": dtype,
                "max_seq_len": getattr(getattr(model, "config", None), "max_seq_len", None),
                "prompt_template": prompt_template_record(task, config.prompt_style, prompts),
                "holdout": holdout,
                "versions": versions(),
                "device": device_record(device),
                "git": git_commit(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            "timing": timing,
            **stats,
        }
        answers: dict[str, int | None] = {}
        for p in problems:  # the answer space of a bucket (its chance level), when all its problems share one
            m = task.answer_space(problem_of(p))
            answers[str(p["bucket"])] = m if answers.get(str(p["bucket"]), m) == m else None
        for b, block in summary["buckets"].items():
            block["answer_space"] = answers.get(b)
        if config.bands is not None:
            summary["bands"] = classify_buckets(summary, config.bands, answers)
        ev = out / "eval"
        atomic_write_text(ev / "config.yaml", dump_config(config))
        write_records(ev / "problems.jsonl", problems)
        write_records(ev / "samples.jsonl", records)
        atomic_write_text(ev / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
        o = summary["overall"]["outcome"]
        say(
            f"eval done in {timing['wall_s']:.1f}s: pass@1 {o['pass@k']['1']['mean']:.3f} "
            f"(seed std {o['pass@1_seeds']['std']:.3f}), {timing['tokens_per_s']:.0f} tok/s -> {ev / 'summary.json'}"
        )
        return summary
    finally:
        if config.threads:
            torch.set_num_threads(old_threads)
