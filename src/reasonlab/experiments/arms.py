"""Arms from one base: the ``arms`` step of a recipe (the CMU edge-of-competence, mid-training vs RL and
process-reward experiments).

Each arm is a set of task knobs for RL (e.g. the in-range ops, the edge ops, the hard ops, taken from
an evaluation's band classification with ``@eval_base.edge``) and RL settings of its own; every arm
runs under each seed from the same base, never training on the baseline evaluation's problems. An arm
may first mid-train (continued next-token training or SFT on a mixture of its own) and then run RL
from the mid-trained model; with ``compute_budget`` and an arm's ``midtrain_share`` the two phases
split one budget of training FLOPs (:mod:`reasonlab.compute`): mid-training gets as many steps as its
share buys, RL stops when the rest is spent (``budget.flops``). Each final model is evaluated with the
baseline evaluation's own config (so the problems are the same and the comparison is paired) and
compared with the baseline. Sub-runs live in ``STEP/<arm>-s<seed>/`` and resume after a kill.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, PrivateAttr, model_validator

from reasonlab.compute import attention_shape, read_compute, train_flops
from reasonlab.config import StrictModel, deep_merge, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.compare import compare_runs
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.record import load_run
from reasonlab.io import atomic_write_text, read_json
from reasonlab.model import load_model
from reasonlab.report.markdown import write_compare_report
from reasonlab.rundir import resolve_model_path
from reasonlab.tasks.registry import task_modules
from reasonlab.train.midtrain import MidtrainConfig, midtrain
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.trainer import train_rl

__all__ = ["ArmSpec", "ArmsConfig", "run_arms"]


class ArmSpec(StrictModel):
    """One arm: the task knobs of its RL prompts, RL settings of its own (merged over the shared ones), and
    optionally a mid-training phase before RL."""

    knobs: dict[str, Any] = Field(default_factory=dict, description="task knobs, e.g. {ops: '@eval_base.edge'}")
    rl: dict[str, Any] = Field(default_factory=dict, description="RL config overrides, e.g. {task: {reward: strict}}")
    midtrain: dict[str, Any] | None = Field(None, description="a mid-training config mapping run before RL")
    midtrain_share: float | None = Field(
        None, ge=0, le=1, description="share of the arms' compute_budget for mid-training (RL gets the rest; 1 = no RL)"
    )


class ArmsConfig(StrictModel):
    """RL arms x seeds from one base, each evaluated and compared with the baseline evaluation."""

    init_from: str = Field(description="the base model every arm starts from, e.g. @pretrain")
    baseline: str = Field(description="the base model's evaluation run, e.g. @eval_base (its config is reused)")
    arms: dict[str, ArmSpec] = Field(
        min_length=1, description="arm name -> its prompts' knobs and RL overrides, e.g. {edge: {knobs: {ops: 5}}}"
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="RL seeds of every arm")
    rl: dict[str, Any] = Field(description="an RL config mapping shared by the arms (name, init_from, seed set here)")
    n_perm: int = Field(10000, ge=100, description="sign-flip permutations of the paired tests")
    compute_budget: float | None = Field(
        None, gt=0, description="training FLOPs each arm spends in mid-training + RL (split by midtrain_share)"
    )
    reference: str | None = Field(
        None, description="an arm every other arm is also compared with, seed by seed (e.g. the outcome reward)"
    )
    jobs: int = Field(
        1, ge=1, le=64, description="(arm, seed) units run at once, each in its own process with threads // jobs"
    )
    _rl: dict[tuple[str, int], RLConfig] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ArmsConfig:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        if self.reference is not None and self.reference not in self.arms:
            raise ValueError(f"reference {self.reference!r} is not an arm; arms: {', '.join(self.arms)}")
        for arm, spec in self.arms.items():
            if spec.midtrain_share is not None and (self.compute_budget is None or spec.midtrain is None):
                raise ValueError(f"arm {arm!r}: midtrain_share needs compute_budget and a midtrain config")
            for seed in self.seeds:
                if spec.midtrain is not None:
                    self.midtrain_config(arm, seed, Path("<step>"), steps=1)
                if spec.midtrain_share != 1.0:
                    self._rl[(arm, seed)] = self.rl_config(arm, seed, Path("<step>"))
        return self

    def midtrain_config(self, arm: str, seed: int, step_dir: Path, steps: int | None = None) -> MidtrainConfig:
        """The validated mid-training config of one arm and seed (``steps`` overrides its max_steps)."""
        spec = self.arms[arm]
        assert spec.midtrain is not None
        data = deep_merge(
            spec.midtrain,
            {"name": "mid", "out_dir": str(step_dir / f"{arm}-s{seed}"), "init_from": self.init_from, "seed": seed},
        )
        if steps is not None:
            data = deep_merge(data, {"optim": {"max_steps": steps}})
        try:
            return validate(MidtrainConfig, data, source=f"arms: arm {arm!r} mid-training, seed {seed}")
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None

    def rl_config(self, arm: str, seed: int, step_dir: Path, init_from: str | None = None) -> RLConfig:
        """The validated RL config of one arm and seed (its run in ``step_dir/<arm>-s<seed>/rl``)."""
        spec = self.arms[arm]
        shared = deep_merge(self.rl, spec.rl)
        if self.compute_budget is not None:
            share = spec.midtrain_share or 0.0
            shared = deep_merge(shared, {"budget": {"flops": (1 - share) * self.compute_budget}})
        task = dict(shared.get("task") or {})
        task["knobs"] = {**(task.get("knobs") or {}), **spec.knobs}
        data = deep_merge(
            shared,
            {
                "name": "rl",
                "out_dir": str(step_dir / f"{arm}-s{seed}"),
                "init_from": init_from or self.init_from,
                "seed": seed,
                "task": task,
                "holdout": [*shared.get("holdout", []), self.baseline],
            },
        )
        try:
            return validate(RLConfig, data, source=f"arms: arm {arm!r} seed {seed}")
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None


def midtrain_steps(config: ArmsConfig, arm: str, seed: int, step_dir: Path, flops: float) -> int:
    """Mid-training steps that spend ``flops`` training FLOPs on the base model's shape (rounded)."""
    cfg = config.midtrain_config(arm, seed, step_dir, steps=1)
    model, _ = load_model(resolve_model_path(config.init_from, "init_from"))
    tokens = cfg.optim.batch_size * cfg.optim.grad_accum * cfg.data.seq_len
    per_step = train_flops(model.num_params(), tokens, attn=attention_shape(model.config), seq_len=cfg.data.seq_len)
    return round(flops / per_step)


def run_unit(
    config: ArmsConfig, arm: str, seed: int, step_dir: Path, log: Any, threads: int | None = None
) -> dict[str, Any]:
    """One (arm, seed): optional mid-training, RL, evaluation and the paired comparison with the baseline.

    ``threads`` (a parallel unit's share of the cores) replaces the thread counts of its configs. Writes
    ``step_dir/<arm>-s<seed>/done.json`` last, so a killed unit restarts from its sub-runs' own resume.
    """
    base_eval = load_run(config.baseline)[0]["record"]["config"]
    sub = step_dir / f"{arm}-s{seed}"
    spec = config.arms[arm]
    record: dict[str, Any] = {
        "arm": arm,
        "seed": seed,
        "knobs": spec.knobs,
        "rl_overrides": spec.rl,
        "midtrain_share": spec.midtrain_share,
    }
    model, holdout = config.init_from, list(base_eval.get("holdout_files", []))
    if spec.midtrain is not None:
        model_dir = resolve_model_path(config.init_from, "init_from")
        steps = None
        if config.compute_budget is not None and spec.midtrain_share is not None:
            steps = midtrain_steps(config, arm, seed, step_dir, spec.midtrain_share * config.compute_budget)
        log(f"[arms] {arm} seed {seed}: mid-training" + (f" ({steps} steps)" if steps is not None else ""))
        if steps != 0:
            mid_cfg = config.midtrain_config(arm, seed, step_dir, steps)
            if threads is not None:
                mid_cfg.runtime.num_threads = threads
            mid = midtrain(mid_cfg, log=log)
            model = mid["model"]
            record["midtrain"] = {k: mid[k] for k in ("steps", "tokens_total", "flops_total", "seconds")}
            # the ledger continues the base model's totals: this phase's own FLOPs are the difference
            record["midtrain"]["flops"] = mid["flops_total"] - read_compute(model_dir).flops_total
    if spec.midtrain_share != 1.0:
        log(f"[arms] {arm} seed {seed}: RL on {spec.knobs} {spec.rl or ''}")
        rl_cfg = config.rl_config(arm, seed, step_dir, init_from=model)
        if threads is not None:
            rl_cfg = rl_cfg.model_copy(update={"threads": threads})
        rl = train_rl(rl_cfg, log=log)
        model = rl["model"]
        holdout.append(rl["train_prompts"])
        record["rl"] = {k: rl[k] for k in ("steps", "totals", "flops_total", "seconds", "stop_reason")}
    ev_cfg = validate(
        EvalConfig,
        {
            **base_eval,
            "name": f"{arm}-s{seed}",
            "model": model,
            "report": False,
            "holdout_files": holdout,
            **({"threads": threads} if threads is not None else {}),
        },
        source=f"arms: evaluation of {arm} seed {seed}",
    )
    run_eval(ev_cfg, sub / "eval", log=log)
    result = compare_runs(config.baseline, sub / "eval", sub / "compare", n_perm=config.n_perm)
    write_compare_report(result, sub / "compare")
    record.update({"eval": str(sub / "eval"), "compare": str(sub / "compare")})
    atomic_write_text(sub / "done.json", json.dumps(record, indent=1))
    return record


def _init_worker(modules: list[str], threads: int) -> None:
    """A unit process: the parent's task modules registered (a spawned process starts bare), its threads set."""
    torch.set_num_threads(threads)
    for name in modules:
        importlib.import_module(name)


def _unit_job(config: ArmsConfig, arm: str, seed: int, step_dir: str, threads: int) -> dict[str, Any]:
    def log(msg: str) -> None:
        print(f"[{arm}-s{seed}] {msg}", flush=True)

    return run_unit(config, arm, seed, Path(step_dir), log, threads=threads)


def run_arms(config: ArmsConfig, step_dir: Path, log: Any) -> dict[str, Any]:
    """Run every (arm, seed) not yet done, ``config.jobs`` at a time; write and return ``step_dir/arms.json``.

    With ``jobs > 1`` each unit runs in its own (spawned) process with ``max(1, threads // jobs)`` torch
    threads, so two units on a 2-core machine take one core each; the results do not depend on ``jobs``
    except through floating point of the thread count.
    """
    results: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, int]] = []
    for arm in config.arms:
        for seed in config.seeds:
            done = step_dir / f"{arm}-s{seed}" / "done.json"
            if done.is_file():
                results.setdefault(arm, {})[str(seed)] = read_json(done, "arm record")
                log(f"[arms] {arm} seed {seed}: done already, skipping")
            else:
                todo.append((arm, seed))
    if config.jobs == 1 or len(todo) <= 1:
        for arm, seed in todo:
            results.setdefault(arm, {})[str(seed)] = run_unit(config, arm, seed, step_dir, log)
    else:
        threads = max(1, torch.get_num_threads() // config.jobs)
        log(f"[arms] {len(todo)} units, {config.jobs} at a time, {threads} thread(s) each")
        ctx = multiprocessing.get_context("spawn")  # fork is unsafe after CUDA or OpenMP use in this process
        with ProcessPoolExecutor(
            config.jobs, mp_context=ctx, initializer=_init_worker, initargs=(task_modules(), threads)
        ) as pool:
            futures = {
                pool.submit(_unit_job, config, arm, seed, str(step_dir), threads): (arm, seed) for arm, seed in todo
            }
            for fut in as_completed(futures):
                arm, seed = futures[fut]
                results.setdefault(arm, {})[str(seed)] = fut.result()
                log(f"[arms] {arm} seed {seed}: done")
    results = {arm: {str(s): results[arm][str(s)] for s in config.seeds} for arm in config.arms}
    out = {"baseline": config.baseline, "seeds": config.seeds, "arms": results, "reference": config.reference}
    if config.reference is not None:
        out["vs_reference"] = compare_with_reference(config, results, step_dir, log)
    atomic_write_text(step_dir / "arms.json", json.dumps(out, indent=1))
    return out


def compare_with_reference(
    config: ArmsConfig, results: dict[str, dict[str, Any]], step_dir: Path, log: Any
) -> dict[str, dict[str, str]]:
    """Paired comparison of every arm with the reference arm under the same seed (same problems):
    ``{arm: {seed: compare dir}}``, each in ``STEP/<arm>-s<seed>/vs_<reference>/`` (kept when done)."""
    ref = str(config.reference)
    out: dict[str, dict[str, str]] = {}
    for arm in config.arms:
        if arm == ref:
            continue
        for seed in config.seeds:
            target = step_dir / f"{arm}-s{seed}" / f"vs_{ref}"
            if not (target / "compare.json").is_file():
                log(f"[arms] {arm} seed {seed}: paired comparison with {ref}")
                result = compare_runs(
                    results[ref][str(seed)]["eval"], results[arm][str(seed)]["eval"], target, n_perm=config.n_perm
                )
                write_compare_report(result, target)
            out.setdefault(arm, {})[str(seed)] = str(target)
    return out
