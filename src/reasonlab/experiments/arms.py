"""RL arms from one base: the ``arms`` step of a recipe (the CMU edge-of-competence experiment).

Each arm is a set of task knobs for RL (e.g. the in-range ops, the edge ops, the hard ops, taken from
an evaluation's band classification with ``@eval_base.edge``); every arm runs RL under each seed from
the same base, with the same RL settings and steps (equal rollouts; the FLOPs of each run are
recorded), never training on the baseline evaluation's problems. Each RL model is evaluated with the
baseline evaluation's own config (so the problems are the same and the comparison is paired) and
compared with the baseline. Sub-runs live in ``STEP/<arm>-s<seed>/`` and resume after a kill.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from reasonlab.config import StrictModel, deep_merge, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.compare import compare_runs
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.record import load_run
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.markdown import write_compare_report
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.trainer import train_rl

__all__ = ["ArmSpec", "ArmsConfig", "run_arms"]


class ArmSpec(StrictModel):
    """One arm: the task knobs of its RL prompts and any RL settings of its own (merged over the shared ones)."""

    knobs: dict[str, Any] = Field(default_factory=dict, description="task knobs, e.g. {ops: '@eval_base.edge'}")
    rl: dict[str, Any] = Field(default_factory=dict, description="RL config overrides, e.g. {task: {reward: strict}}")


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
    _rl: dict[tuple[str, int], RLConfig] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ArmsConfig:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        for arm in self.arms:
            for seed in self.seeds:
                self._rl[(arm, seed)] = self.rl_config(arm, seed, Path("<step>"))
        return self

    def rl_config(self, arm: str, seed: int, step_dir: Path) -> RLConfig:
        """The validated RL config of one arm and seed (its run in ``step_dir/<arm>-s<seed>/rl``)."""
        spec = self.arms[arm]
        shared = deep_merge(self.rl, spec.rl)
        task = dict(shared.get("task") or {})
        task["knobs"] = {**(task.get("knobs") or {}), **spec.knobs}
        data = deep_merge(
            shared,
            {
                "name": "rl",
                "out_dir": str(step_dir / f"{arm}-s{seed}"),
                "init_from": self.init_from,
                "seed": seed,
                "task": task,
                "holdout": [*shared.get("holdout", []), self.baseline],
            },
        )
        try:
            return validate(RLConfig, data, source=f"arms: arm {arm!r} seed {seed}")
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None


def run_arms(config: ArmsConfig, step_dir: Path, log: Any) -> dict[str, Any]:
    """Run every (arm, seed) not yet done; write and return ``step_dir/arms.json``."""
    base_summary, _ = load_run(config.baseline)
    base_eval = base_summary["record"]["config"]
    results: dict[str, dict[str, Any]] = {}
    for arm in config.arms:
        for seed in config.seeds:
            sub = step_dir / f"{arm}-s{seed}"
            done = sub / "done.json"
            if done.is_file():
                results.setdefault(arm, {})[str(seed)] = read_json(done, "arm record")
                log(f"[arms] {arm} seed {seed}: done already, skipping")
                continue
            log(f"[arms] {arm} seed {seed}: RL on {config.arms[arm].knobs} {config.arms[arm].rl or ''}")
            rl = train_rl(config.rl_config(arm, seed, step_dir), log=log)
            ev_cfg = validate(
                EvalConfig,
                {
                    **base_eval,
                    "name": f"{arm}-s{seed}",
                    "model": rl["model"],
                    "report": False,
                    "holdout_files": [*base_eval.get("holdout_files", []), rl["train_prompts"]],
                },
                source=f"arms: evaluation of {arm} seed {seed}",
            )
            run_eval(ev_cfg, sub / "eval", log=log)
            result = compare_runs(config.baseline, sub / "eval", sub / "compare", n_perm=config.n_perm)
            write_compare_report(result, sub / "compare")
            record = {
                "arm": arm,
                "seed": seed,
                "knobs": config.arms[arm].knobs,
                "rl_overrides": config.arms[arm].rl,
                "rl": {k: rl[k] for k in ("steps", "totals", "flops_total", "seconds", "stop_reason")},
                "eval": str(sub / "eval"),
                "compare": str(sub / "compare"),
            }
            atomic_write_text(done, json.dumps(record, indent=1))
            results.setdefault(arm, {})[str(seed)] = record
    out = {"baseline": config.baseline, "seeds": config.seeds, "arms": results}
    atomic_write_text(step_dir / "arms.json", json.dumps(out, indent=1))
    return out
