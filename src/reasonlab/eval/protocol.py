"""The evaluation protocol: held-out buckets, S seeds x n samples per problem, full run record.

:func:`run_eval` generates the evaluation problems (one bucket per value of a difficulty knob, from a
seed namespace that training never uses), samples ``seeds x samples_per_seed`` completions per
problem with the native sampler, verifies them, and writes into ``out_dir``::

    eval/config.yaml      the resolved EvalConfig
    eval/problems.jsonl   the evaluation problems (with bucket and cluster labels)
    eval/samples.jsonl    one record per sample (see SAMPLE_FIELDS)
    eval/summary.json     run record + statistics per bucket and overall
    report.md, plots/     (unless ``report: false``) see :mod:`reasonlab.report`

The statistics follow "A Sober Look at Progress in LM Reasoning" (arXiv 2504.07086): unbiased pass@k
over all ``S*n`` samples of a problem, maj@k over canonical answers, the mean +- std (ddof=1) of
pass@1 across seeds, SE over problems, a seeded percentile bootstrap CI and, when problems come in
groups, a clustered SE; all of them also for process-verified correctness where the task checks the
process. It is callable in-process (the RL trainer passes its live model) and deterministic: the same
config gives the same problems, samples and numbers.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from reasonlab import __version__
from reasonlab.config import StrictModel, dump_config, load_yaml
from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M
from reasonlab.io import atomic_write_text, read_records, write_records
from reasonlab.tasks import Problem, Task, get_task
from reasonlab.tasks.base import stable_seed

#: Fields of every per-sample record in ``eval/samples.jsonl``.
SAMPLE_FIELDS = (
    "id", "bucket", "cluster", "seed", "sample", "sample_seed", "completion", "pred", "correct", "format_ok",
    "process_ok", "reward", "prompt_tokens", "length", "truncated", "unparseable",
)
SUMMARY_SCHEMA = "reasonlab.eval.summary/1"
#: Evaluation problem seeds live in [2^62, 2^63): training seeds are small integers, so the two seed
#: spaces cannot meet by construction (and run_eval checks any seeds a training run dir records).
EVAL_SEED_BASE = 2**62


class BucketSpec(StrictModel):
    """The difficulty (or context) knob that defines the buckets, and its values."""

    knob: str = Field(description="task knob varied across buckets, e.g. ops, people, context")
    values: list[int | str] = Field(min_length=1, description="one bucket per value, e.g. [2, 3, ..., 20]")

    @field_validator("values")
    @classmethod
    def _distinct(cls, v: list[int | str]) -> list[int | str]:
        if len({str(x) for x in v}) != len(v):
            raise ValueError("bucket values must be distinct")
        return v


class DecodingConfig(StrictModel):
    """Sampling settings, fixed per model and kept across tasks (the protocol's advice)."""

    temperature: float = Field(1.0, ge=0.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 = no top-k filter")
    max_new_tokens: int = Field(256, ge=1)
    stop: list[str] = Field(default_factory=list, description="extra stop strings (EOS always stops)")


class EvalConfig(StrictModel):
    """Everything that defines an evaluation; recorded verbatim in the run record."""

    name: str = Field("eval", description="run name; `reasonlab eval` writes to runs/<name>/ by default")
    model: str | None = Field(
        None, description="native checkpoint dir, run dir (uses model/ or the latest checkpoint) or HF dir"
    )
    task: str = Field(description="task family, e.g. arith or knights")
    buckets: BucketSpec
    fixed: dict[str, Any] = Field(default_factory=dict, description="task knobs held fixed in every bucket")
    problems_per_bucket: int = Field(50, ge=1, description="problems per bucket (a cap when `problems` is given)")
    problems: str | None = Field(
        None, description="evaluate this problem file (.jsonl/.parquet, e.g. a perturbed set) instead of generating"
    )
    seed: int = Field(0, ge=0, description="drives problem generation (in the eval namespace) and sampling")
    seeds: int = Field(4, ge=1, description="S: independent sampling seeds per problem")
    samples_per_seed: int = Field(1, ge=1, description="n: samples per problem and seed")
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    prompt_style: str = Field("plain", description="task.render style: plain (from-scratch models) or chat")
    reward: str = Field("outcome", description="reward scheme recorded per sample (see reasonlab.rewards)")
    reward_args: dict[str, float] = Field(default_factory=dict)
    k: list[int] = Field(
        default_factory=lambda: [1], description="k values for pass@k and maj@k (default: 1, 2, 4, ... and S*n)"
    )
    maj_tie_rule: Literal["fractional", "wrong"] = "fractional"
    maj_subsamples: int = Field(1000, ge=1, description="k-subsets per problem when C(n,k) is larger")
    bootstrap: int = Field(2000, ge=100, description="bootstrap resamples over problems")
    ci: float = Field(0.95, gt=0.0, lt=1.0)
    cluster_by: str | None = Field(None, description="meta key grouping problems (clustered SE), e.g. context")
    holdout_files: list[str] = Field(
        default_factory=list, description="training problem files; evaluation problems with the same prompt are dropped"
    )
    batch_size: int = Field(64, ge=1, description="sequences per sampler call")
    device: str = Field("cpu", description="cpu, cuda or auto")
    threads: int | None = Field(None, ge=1, description="torch.set_num_threads for this evaluation")
    report: bool = Field(True, description="write report.md and plots/")

    @model_validator(mode="before")
    @classmethod
    def _default_k(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("k") is None:
            seeds, per = data.get("seeds", 4), data.get("samples_per_seed", 1)
            if isinstance(seeds, int) and isinstance(per, int) and seeds >= 1 and per >= 1:
                total = seeds * per
                data = {**data, "k": sorted({2**i for i in range(total.bit_length()) if 2**i <= total} | {total})}
        return data

    @field_validator("k")
    @classmethod
    def _k_positive(cls, v: list[int]) -> list[int]:
        if not v or any(x < 1 for x in v):
            raise ValueError("k values must be positive integers")
        return sorted(set(v))

    @model_validator(mode="after")
    def _k_fits(self) -> EvalConfig:
        total = self.seeds * self.samples_per_seed
        if max(self.k) > total:
            raise ValueError(f"largest k ({max(self.k)}) exceeds seeds * samples_per_seed = {total}")
        if self.buckets.knob in self.fixed:
            raise ValueError(f"knob {self.buckets.knob!r} is both the bucket knob and fixed")
        return self

    @property
    def samples_per_problem(self) -> int:
        return self.seeds * self.samples_per_seed


def load_eval_config(path: str | os.PathLike[str]) -> EvalConfig:
    """Read a YAML eval config (one-line errors naming the field)."""
    from reasonlab.config import validate

    return validate(EvalConfig, load_yaml(path), source=str(path))


# ----------------------------------------------------------------------------- seeds and problems


def eval_problem_seed(config_seed: int, task: str, knob: str, value: int | str) -> int:
    """Seed of one bucket's problems: ``2^62 + stable_seed("reasonlab-eval", ...) mod 2^62``."""
    return EVAL_SEED_BASE + stable_seed("reasonlab-eval", config_seed, task, knob, value) % EVAL_SEED_BASE


def sample_seed(config_seed: int, problem_id: str, seed_index: int, sample_index: int) -> int:
    """Sampler seed of one (problem, seed, sample): a stable 63-bit hash, independent of batching."""
    return stable_seed("reasonlab-eval-sample", config_seed, problem_id, seed_index, sample_index) % 2**63


def _collect_seeds(obj: Any, out: set[int]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and (key == "seed" or key.endswith("_seed") or key == "seeds"):
                for v in value if isinstance(value, list) else [value]:
                    if isinstance(v, int) and not isinstance(v, bool):
                        out.add(v)
            _collect_seeds(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _collect_seeds(item, out)


def _run_dir_of(model_path: str | None) -> Path | None:
    """The run dir a checkpoint belongs to: the checkpoint itself or up to three parents with config.yaml."""
    if model_path is None:
        return None
    p = Path(model_path).resolve()
    for cand in [p, *list(p.parents)[:3]]:
        if (cand / "config.yaml").is_file():
            return cand
    return None


#: Config keys that name the checkpoint a training phase started from (midtrain, RL).
LINEAGE_KEYS = ("init_from", "base_model")


def training_lineage(model_path: str | None, max_depth: int = 4) -> list[Path]:
    """Run dirs that trained ``model_path``: its own, then those its config's ``init_from`` points at.

    So an RL model's check covers the RL run, the mid-training run and the pre-training corpus.
    """
    runs: list[Path] = []
    current = _run_dir_of(model_path)
    while current is not None and current not in runs and len(runs) < max_depth:
        runs.append(current)
        try:
            cfg = load_yaml(current / "config.yaml")
        except ReasonlabError:
            break
        nxt = None
        for key in LINEAGE_KEYS:
            value = cfg.get(key)
            if isinstance(value, str) and Path(value).exists():
                nxt = _run_dir_of(value)
                break
        current = nxt
    return runs


def training_seeds(model_path: str | None) -> tuple[str | None, list[int]]:
    """Seeds recorded by the training runs that produced ``model_path`` (their config.yaml files).

    Returns ``(path of the model's own run config, sorted seeds over its whole lineage)``, or
    ``(None, [])`` when the model has no run dir (see :func:`training_lineage`).
    """
    runs = training_lineage(model_path)
    if not runs:
        return None, []
    seeds: set[int] = set()
    for run in runs:
        try:
            _collect_seeds(load_yaml(run / "config.yaml"), seeds)
        except ReasonlabError:
            continue
    return str(runs[0] / "config.yaml"), sorted(seeds)


def training_prompt_hashes(model_path: str | None) -> tuple[list[str], set[int]]:
    """Prompt hashes of the training corpora (``data/prompt_hashes.npy``) over the model's lineage."""
    files: list[str] = []
    hashes: set[int] = set()
    for run in training_lineage(model_path):
        path = run / "data" / "prompt_hashes.npy"
        if not path.is_file():
            continue
        try:
            arr = np.load(path)
        except (OSError, ValueError):
            raise ReasonlabError(f"{path}: unreadable training prompt hashes") from None
        files.append(str(path))
        hashes.update(int(h) for h in arr.tolist())
    return files, hashes


def _prompt_key(prompt: str) -> int:
    """64-bit prompt hash, the same function training runs use for ``data/prompt_hashes.npy``."""
    from reasonlab.train.quick_eval import prompt_hash

    return prompt_hash(prompt)


def task_params(task: Task, knobs: dict[str, Any]) -> Any:
    """Validate knobs into the task's Params; scalars are retried as strings (as the CLI passes them).

    Range knobs such as knights ``people: "3-7"`` are strings, so a bucket value ``3`` from YAML is
    accepted as ``"3"``; numeric fields accept numeric strings.
    """
    try:
        return task.params(**knobs)
    except ReasonlabError:
        as_text = {k: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in knobs.items()}
        return task.params(**as_text)


def _bucket_rows(config: EvalConfig, p: Problem, value: Any) -> dict[str, Any]:
    row = p.to_dict()
    row["bucket"] = value
    cl = p.meta.get(config.cluster_by) if config.cluster_by else None
    if config.cluster_by and cl is None:
        raise ReasonlabError(
            f"cluster_by {config.cluster_by!r}: problem {p.id} has no such meta key "
            f"(meta keys: {', '.join(sorted(p.meta))})"
        )
    row["cluster"] = None if cl is None else json.dumps(cl, sort_keys=True)
    return row


def _problems_from_file(config: EvalConfig, task: Task, banned: set[int]) -> tuple[list[dict[str, Any]], dict]:
    """Problems of ``config.problems`` grouped by ``meta[knob]``, the first ``problems_per_bucket`` of each."""
    assert config.problems is not None
    knob = config.buckets.knob
    wanted = {str(v): v for v in config.buckets.values}
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    dropped = 0
    for i, raw in enumerate(read_records(config.problems)):
        p = Problem.from_dict(raw, source=f"{config.problems} record {i + 1}")
        if p.task != task.name:
            raise ReasonlabError(
                f"{config.problems} record {i + 1}: task {p.task!r}, but the config says {task.name!r}"
            )
        if knob not in p.meta:
            raise ReasonlabError(f"{config.problems} record {i + 1}: meta has no bucket knob {knob!r}")
        key = str(p.meta[knob])
        if key not in wanted or len(per[key]) >= config.problems_per_bucket:
            continue
        if _prompt_key(p.prompt) in banned:
            dropped += 1
            continue
        per[key].append(_bucket_rows(config, p, wanted[key]))
    missing = [k for k in wanted if not per[k]]
    if missing:
        raise ReasonlabError(f"{config.problems}: no problems with {knob}={missing[0]} (bucket values {list(wanted)})")
    rows = [r for k in wanted for r in per[k]]
    return rows, {"namespace": "file", "problems_file": config.problems, "problem_seeds": {},
                  "holdout_files": list(config.holdout_files), "dropped_overlapping": dropped}


def build_problems(
    config: EvalConfig, task: Task | None = None, banned_hashes: set[int] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate each bucket's held-out problems; returns ``(problem rows, holdout record)``.

    Rows are problem records plus ``bucket`` and ``cluster``. Problems whose prompt appears in a
    ``holdout_files`` set or among ``banned_hashes`` (the training corpus' prompt hashes) are dropped
    and replaced by further draws (counted in the record).
    """
    task = task or get_task(config.task)
    banned: set[int] = set(banned_hashes or ())
    for f in config.holdout_files:
        for row in read_records(f):
            if isinstance(row.get("prompt"), str):
                banned.add(_prompt_key(row["prompt"]))
    if config.problems is not None:
        return _problems_from_file(config, task, banned)
    rows: list[dict[str, Any]] = []
    dropped = 0
    seeds = {}
    for value in config.buckets.values:
        params = task_params(task, {**config.fixed, config.buckets.knob: value})
        seed = eval_problem_seed(config.seed, task.name, config.buckets.knob, value)
        seeds[str(value)] = seed
        want = n_draw = config.problems_per_bucket
        while True:
            # generation is prefix-stable, so drawing more only appends problems
            batch = list(task.generate(params, n_draw, seed))
            keep = [_prompt_key(p.prompt) not in banned for p in batch]
            if sum(keep) >= want:
                break
            n_draw += 2 * (want - sum(keep)) + 1
            if n_draw > 20 * want:
                raise ReasonlabError(
                    f"bucket {config.buckets.knob}={value}: {len(keep) - sum(keep)} of {len(keep)} drawn problems "
                    f"appear among the training/holdout prompts; this bucket cannot be held out"
                )
        kept = [i for i, k in enumerate(keep) if k][:want]
        got = [batch[i] for i in kept]
        dropped += sum(not k for k in keep[: kept[-1] + 1])
        rows.extend(_bucket_rows(config, p, value) for p in got)
    record = {
        "namespace": "reasonlab-eval",
        "problem_seeds": seeds,
        "holdout_files": list(config.holdout_files),
        "dropped_overlapping": dropped,
    }
    return rows, record


# ----------------------------------------------------------------------------- run record


def _git_commit() -> dict[str, Any] | None:
    src = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)} if commit else None


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version(), "reasonlab": __version__}
    for pkg in ("torch", "numpy", "tokenizers", "transformers", "safetensors", "scipy", "pydantic"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_record(device: str) -> dict[str, Any]:
    """Device name, thread count and platform, as the protocol asks every run to record."""
    import torch

    rec: dict[str, Any] = {
        "device": device,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        rec["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return rec


def prompt_template_record(task: Task, style: str, prompts: Sequence[str]) -> dict[str, str]:
    """Template id and hashes: the render code of the task and the exact prompt set evaluated."""
    try:
        source = inspect.getsource(type(task).render)
    except (OSError, TypeError):
        source = repr(type(task).render)
    return {
        "id": f"{task.name}/{style}",
        "render_hash": hashlib.sha256(source.encode()).hexdigest()[:16],
        "prompt_set_hash": hashlib.sha256("\x00".join(prompts).encode()).hexdigest()[:16],
    }


# ----------------------------------------------------------------------------- sampling


def _resolve_model_path(path: str) -> Path:
    from reasonlab.model import is_checkpoint

    p = Path(path)
    if is_checkpoint(p):
        return p
    if is_checkpoint(p / "model"):
        return p / "model"
    ckpts = p / "checkpoints"
    if ckpts.is_dir():
        steps = []
        for d in ckpts.iterdir():
            if d.name.startswith("step-") and d.name[5:].isdigit() and is_checkpoint(d):
                steps.append((int(d.name[5:]), d))
        if steps:
            return max(steps)[1]
    raise ReasonlabError(f"model {path}: not a checkpoint dir, nor a run dir with model/ or checkpoints/step-N/")


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReasonlabError(f"device {device!r}: CUDA is not available on this machine (use cpu or auto)")
    if device != "cpu" and not device.startswith("cuda"):
        raise ReasonlabError(f"device {device!r}: use cpu, cuda, cuda:N or auto")
    return device


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
    """Generate ``seeds x samples_per_seed`` completions per problem and verify each one.

    Returns the per-sample records (sorted by problem order, seed, sample) and timing figures.
    Every sample has its own stable seed (:func:`sample_seed`), so the records do not depend on
    ``batch_size`` or on the order the sampler sees the prompts in.
    """
    from reasonlab.rewards import compute_reward
    from reasonlab.sampling import Generation, SamplingParams, generate_ids

    d = config.decoding
    params = SamplingParams(
        max_new_tokens=d.max_new_tokens,
        temperature=d.temperature,
        top_p=d.top_p,
        top_k=d.top_k,
        stop=list(d.stop),
        stop_token_ids=[tokenizer.eos_id],
    )
    objs = [Problem.from_dict({k: row[k] for k in ("id", "task", "prompt", "answer", "solution", "meta")})
            for row in problems]
    # encoded once per problem, as the sampler would (<bos> + prompt), shared by its S*n samples
    prompt_ids = tokenizer.encode_batch([task.render(p, config.prompt_style)[0] for p in objs], add_bos=True)
    limit = int(getattr(getattr(model, "config", None), "max_seq_len", 1 << 30))
    jobs = []
    for pi, row in enumerate(problems):
        for s in range(config.seeds):
            for j in range(config.samples_per_seed):
                jobs.append((pi, s, j, sample_seed(config.seed, row["id"], s, j)))
    # long prompts together: less padding per batch (results do not depend on the order)
    jobs.sort(key=lambda job: (len(prompt_ids[job[0]]), job[0], job[1], job[2]))
    bar = _Progress(len(jobs), progress)
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    order = {(pi, s, j): i for i, (pi, s, j) in enumerate(
        (pi, s, j) for pi in range(len(problems)) for s in range(config.seeds) for j in range(config.samples_per_seed)
    )}
    gen_time = score_time = 0.0
    n_tokens = 0
    for start in range(0, len(jobs), config.batch_size):
        batch = jobs[start: start + config.batch_size]
        fits = [b for b in batch if len(prompt_ids[b[0]]) < limit]
        t0 = time.perf_counter()
        gens = generate_ids(model, tokenizer, [prompt_ids[b[0]] for b in fits], params, [b[3] for b in fits],
                            batch_size=config.batch_size) if fits else []
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


# ----------------------------------------------------------------------------- statistics


def _vote_key(rec: dict[str, Any]) -> str | None:
    """Canonical answer a sample votes for in maj@k.

    A correct sample votes for the gold answer whatever its surface form (the verifier has judged
    it equivalent); a wrong one votes for its extracted answer with whitespace collapsed and case
    folded; an unparseable one does not vote.
    """
    if rec["correct"]:
        return "\x00gold"
    pred = rec.get("pred")
    if pred is None or rec.get("unparseable"):
        return None
    return " ".join(str(pred).split()).casefold()


def _per_problem(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["id"]].append(r)
    for rows in groups.values():
        rows.sort(key=lambda r: (r["seed"], r["sample"]))
    return groups


def problem_scores(
    records: Sequence[dict[str, Any]],
    k: int,
    *,
    process: bool = False,
    metric: Literal["pass", "maj"] = "pass",
    tie_rule: str = "fractional",
    maj_subsamples: int = 1000,
) -> dict[str, float]:
    """Per-problem pass@k (unbiased, over all samples) or maj@k, keyed by problem id.

    ``process=True`` uses process-verified correctness (``process_ok``) instead of ``correct``. The
    maj@k subsampling seed of a problem is derived from its id and k, so it is reproducible.
    """
    out = {}
    for pid, rows in _per_problem(records).items():
        vals = [float(bool(r["process_ok"]) if process else bool(r["correct"])) for r in rows]
        if metric == "pass":
            out[pid] = M.pass_at_k(len(vals), int(sum(vals)), k)
        else:
            out[pid] = M.maj_at_k(
                [_vote_key(r) for r in rows], vals, k, n_subsamples=maj_subsamples,
                seed=stable_seed("maj", pid, k) % 2**32, tie_rule=tie_rule,
            )
    return out


def per_seed_pass1(records: Sequence[dict[str, Any]], process: bool = False) -> list[float]:
    """pass@1 of each seed run: mean over problems of the mean correctness of that seed's samples."""
    by_seed: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        v = bool(r["process_ok"]) if process else bool(r["correct"])
        by_seed[int(r["seed"])][r["id"]].append(float(v))
    return [float(np.mean([np.mean(v) for v in by_seed[s].values()])) for s in sorted(by_seed)]


def _score_block(
    scores: dict[str, float], clusters: dict[str, Any], *, n_boot: int, ci: float, seed: int
) -> dict[str, Any]:
    ids = sorted(scores)
    vals = [scores[i] for i in ids]
    lo, hi = M.bootstrap_ci(vals, n_boot=n_boot, ci=ci, seed=seed)
    out: dict[str, Any] = {"mean": float(np.mean(vals)), "se": M.standard_error(vals), "ci": [lo, hi]}
    labels = [clusters.get(i) for i in ids]
    if all(lab is not None for lab in labels) and labels:
        out["clustered_se"] = M.clustered_standard_error(vals, labels)
        out["n_clusters"] = len(set(labels))
    return out


def summarize_records(
    records: Sequence[dict[str, Any]],
    k_list: Sequence[int],
    *,
    tie_rule: str = "fractional",
    maj_subsamples: int = 1000,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Statistics of one set of sample records (a bucket or everything).

    ``pass@k``/``maj@k`` blocks hold the mean over problems, SE over problems (ddof=1), the seeded
    percentile bootstrap CI, and the clustered SE when every record carries a ``cluster`` label.
    ``pass@1_seeds`` is the seed-to-seed spread of pass@1 (mean, std with ddof=1, min, max, per seed).
    Process blocks are present when every sample has a process verdict.
    """
    if not records:
        raise ReasonlabError("no sample records to summarise")
    groups = _per_problem(records)
    n_per = {len(rows) for rows in groups.values()}
    n_min = min(n_per)
    clusters = {pid: rows[0].get("cluster") for pid, rows in groups.items()}
    boot = {"n_boot": n_boot, "ci": ci}
    has_process = all(r.get("process_ok") is not None for r in records)

    def blocks(process: bool) -> dict[str, Any]:
        res: dict[str, Any] = {"pass@k": {}, "maj@k": {}}
        for k in k_list:
            if k > n_min:
                continue
            for metric, key in (("pass", "pass@k"), ("maj", "maj@k")):
                sc = problem_scores(records, k, process=process, metric=metric, tie_rule=tie_rule,
                                    maj_subsamples=maj_subsamples)
                res[key][str(k)] = _score_block(sc, clusters, seed=seed + k, **boot)
        band = M.seed_band(per_seed_pass1(records, process))
        band["per_seed"] = per_seed_pass1(records, process)
        band["ddof"] = M.DDOF
        res["pass@1_seeds"] = band
        return res

    n_rec = len(records)
    out: dict[str, Any] = {
        "n_problems": len(groups),
        "n_samples": n_rec,
        "samples_per_problem": n_min if len(n_per) == 1 else sorted(n_per),
        "outcome": blocks(False),
        "process": blocks(True) if has_process else None,
        "truncation_rate": sum(bool(r["truncated"]) for r in records) / n_rec,
        "unparseable_rate": sum(bool(r["unparseable"]) for r in records) / n_rec,
        "format_ok_rate": sum(bool(r.get("format_ok")) for r in records) / n_rec,
        "mean_reward": float(np.mean([r["reward"] for r in records])),
        "mean_length": float(np.mean([r["length"] for r in records])),
    }
    return out


def bucket_order(values: Sequence[Any]) -> list[str]:
    """Bucket labels in a natural order (numbers numerically, then strings)."""
    def key(v: Any) -> tuple[int, float, str]:
        try:
            return (0, float(v), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(v))

    return [str(v) for v in sorted(dict.fromkeys(values), key=key)]


def summarize(records: Sequence[dict[str, Any]], config: EvalConfig) -> dict[str, Any]:
    """Per-bucket and overall statistics of an evaluation, with the conventions used."""
    kw = dict(
        tie_rule=config.maj_tie_rule, maj_subsamples=config.maj_subsamples, n_boot=config.bootstrap,
        ci=config.ci, seed=config.seed,
    )
    by_bucket: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_bucket[str(r["bucket"])].append(r)
    buckets = {b: summarize_records(by_bucket[b], config.k, **kw) for b in bucket_order(list(by_bucket))}
    return {
        "buckets": buckets,
        "overall": summarize_records(records, config.k, **kw),
        "conventions": {
            "std_ddof": M.DDOF,
            "se": "sd over problems (ddof=1) / sqrt(problems); problems are the units",
            "ci": f"percentile bootstrap over problems, {config.bootstrap} resamples, level {config.ci}, seeded",
            "pass@k": "unbiased 1 - C(n-c,k)/C(n,k) over all seeds x samples of a problem",
            "maj@k": (
                f"vote over canonical answers of a random k-subset (exact when C(n,k) <= {config.maj_subsamples}); "
                f"correct samples vote for the gold answer, unparseable ones abstain; tie rule {config.maj_tie_rule!r}"
            ),
            "maj_tie_rule": config.maj_tie_rule,
            "process": "same statistics with process_ok (step-by-step verified) in place of correct",
            "clustered_se": (
                f"clusters = meta[{config.cluster_by!r}], C/(C-1) correction" if config.cluster_by else None
            ),
            "seed_spread": "pass@1 per seed run = mean over problems of that seed's sample mean; std ddof=1",
        },
    }


# ----------------------------------------------------------------------------- entry point


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
    periodic evaluations); otherwise ``config.model`` is loaded with :func:`reasonlab.model.load_model`.
    """
    import torch

    if not isinstance(config, EvalConfig):
        raise ReasonlabError(f"run_eval needs an EvalConfig, got {type(config).__name__}")
    out = Path(out_dir)
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True) if progress else None)
    old_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        task = get_task(config.task)
        if config.prompt_style not in task.styles:
            raise ReasonlabError(
                f"prompt_style {config.prompt_style!r}: task {task.name!r} supports {', '.join(task.styles)}"
            )
        model_path: str | None = None
        if model is None:
            if config.model is None:
                raise ReasonlabError("eval config: field 'model' is required unless a live model is passed")
            from reasonlab.model import load_model

            resolved = _resolve_model_path(config.model)
            model_path = str(resolved)
            device = _resolve_device(config.device)
            model, tokenizer = load_model(resolved, device=device)
        else:
            if tokenizer is None:
                raise ReasonlabError("run_eval: a live model needs its tokenizer too")
            model_path = config.model
            device = str(next(model.parameters()).device)
        train_cfg, train_seeds = training_seeds(model_path)
        hash_file, train_hashes = training_prompt_hashes(model_path)
        problems, holdout = build_problems(config, task, train_hashes)
        clash = sorted(set(holdout["problem_seeds"].values()) & set(train_seeds))
        if clash:
            raise ReasonlabError(f"evaluation problem seed {clash[0]} also appears in the training config {train_cfg}")
        holdout.update({
            "training_config": train_cfg, "training_seeds": train_seeds, "seed_overlap": False,
            "training_runs": [str(r) for r in training_lineage(model_path)],
            "training_prompt_hashes": hash_file, "training_prompts_checked": len(train_hashes),
        })
        prompts = [task.render(Problem.from_dict({k: p[k] for k in ("id", "task", "prompt", "answer", "solution",
                                                                       "meta")}), config.prompt_style)[0]
                   for p in problems]
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
                "versions": _versions(),
                "device": device_record(device),
                "git": _git_commit(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            "timing": timing,
            **stats,
        }
        ev = out / "eval"
        atomic_write_text(ev / "config.yaml", dump_config(config))
        write_records(ev / "problems.jsonl", problems)
        write_records(ev / "samples.jsonl", records)
        atomic_write_text(ev / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
        if config.report:
            from reasonlab.report.markdown import write_report

            write_report(out)
        o = summary["overall"]["outcome"]
        say(
            f"eval done in {timing['wall_s']:.1f}s: pass@1 {o['pass@k']['1']['mean']:.3f} "
            f"(seed std {o['pass@1_seeds']['std']:.3f}), {timing['tokens_per_s']:.0f} tok/s -> {ev / 'summary.json'}"
        )
        return summary
    finally:
        if config.threads:
            torch.set_num_threads(old_threads)


def load_run(run_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(summary, sample records)`` of an evaluation run directory, with one-line errors."""
    d = Path(run_dir)
    path = d / "eval" / "summary.json"
    if not path.is_file():
        raise ReasonlabError(f"{d}: not an evaluation run (no eval/summary.json)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ReasonlabError(f"{path}: corrupt summary (not JSON)") from None
    if not isinstance(summary, dict) or summary.get("schema") != SUMMARY_SCHEMA:
        raise ReasonlabError(f"{path}: not a reasonlab eval summary (schema {SUMMARY_SCHEMA})")
    return summary, read_records(d / "eval" / "samples.jsonl")

