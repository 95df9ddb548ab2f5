"""Configuration of ``reasonlab rl``: task and reward, rollouts, algorithm, KL, optimizer, budget, curriculum.

Every field is documented and validated when the config loads (the task's knobs and the reward
scheme included), so a typo fails before a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from reasonlab.config import Name, StrictModel, load_config, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.config import EvalConfig
from reasonlab.rewards import check_reward
from reasonlab.sampling import DecodingConfig
from reasonlab.tasks import TaskSpec
from reasonlab.tasks.registry import checked_params, task_params
from reasonlab.tracking import check_sinks
from reasonlab.train.corpus import MixtureComponent, check_stated_settings
from reasonlab.train.optim import RLOptimConfig
from reasonlab.train.rl import algorithms as alg
from reasonlab.train.rl.curriculum import CurriculumConfig

__all__ = [
    "AlgorithmConfig",
    "BudgetConfig",
    "EvalHook",
    "KLConfig",
    "MixturePart",
    "RLConfig",
    "RLTaskSpec",
    "RolloutConfig",
    "load_rl_config",
]


class MixturePart(StrictModel):
    """One part of an RL prompt mixture: its share of the prompts and the knobs it sets over the task's own."""

    weight: float = Field(gt=0, description="relative share of the prompts (normalised over the mixture)")
    knobs: dict[str, Any] = Field(default_factory=dict, description="knobs over task.knobs, e.g. {context: school}")


class RLTaskSpec(TaskSpec):
    """Which task the prompts come from (knobs validated at load), the prompt style and the reward scheme."""

    reward: str = Field("outcome", description="reward scheme (outcome, process, strict, logic_rl, partial, ...)")
    reward_kwargs: dict[str, float] = Field(default_factory=dict, description="reward scheme arguments, e.g. w_a")
    prompts: str | None = Field(
        None,
        description="problems file (.jsonl/.parquet, records of this task) to train on instead of drawing from "
        "the knobs; the file's problems are read in order (see prompt_order), so another engine can share them",
    )
    mixture: list[MixturePart] | None = Field(
        None,
        min_length=2,
        description="draw each step's prompts from these parts (each its knobs over task.knobs) in proportion to "
        "their weights, e.g. a 50/50 mix of two contexts; the counts per step are an unbiased rounding of the "
        "shares (prompts.mixture_counts)",
    )
    prompt_order: Literal["in_order", "shuffle"] = Field(
        "in_order",
        description="prompts file: 'in_order' takes the file's problems in file order, epoch after epoch; "
        "'shuffle' takes them in a fresh seeded permutation each epoch (stable_seed('rl-prompts', seed, epoch))",
    )

    @model_validator(mode="after")
    def _check_reward(self) -> RLTaskSpec:
        try:
            check_reward(self.reward, self.reward_kwargs)
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None
        if self.mixture is not None:
            if self.prompts is not None:
                raise ValueError(
                    "give either prompts (a problems file) or mixture (parts drawn from the task), not both"
                )
            parts = [{**self.knobs, **part.knobs} for part in self.mixture]
            for knobs in parts:
                checked_params(self.name, knobs)
            check_stated_settings([MixtureComponent(task=self.name, knobs=k) for k in parts])
        if self.prompts is not None:
            if not self.prompts.endswith((".jsonl", ".parquet")):
                raise ValueError(f"prompts {self.prompts!r}: use a .jsonl or .parquet problems file")
            if not Path(self.prompts).is_file():
                raise ValueError(f"prompts {self.prompts!r}: no such file")
        return self

    def weighted_params(self, extra: dict[str, Any]) -> list[tuple[float, Any]]:
        """``[(weight, Params)]`` of the prompts a step draws: one part (the task's knobs, updated with ``extra``,
        e.g. a curriculum stage's) or, with a mixture, every part's knobs over the task's, then ``extra``."""
        if self.mixture is None:
            return [(1.0, self.params_with(extra))]
        return [(p.weight, task_params(self.name, {**self.knobs, **p.knobs, **extra})) for p in self.mixture]


class RolloutConfig(DecodingConfig):
    """Sampling settings for rollouts: the decoding fields plus batch and group size."""

    batch_size: int = Field(64, gt=0, description="rollouts per step (prompts per step x group_size)")
    group_size: int = Field(8, gt=0, description="completions per prompt (GRPO's n)")
    workers: int | None = Field(
        None,
        ge=1,
        description="CPU processes decoding each step's rollouts, this one included (train/rl/workers.py); each "
        "gets threads // workers torch threads; None: decode in this process",
    )


class KLConfig(StrictModel):
    """KL regularisation against the frozen reference model."""

    placement: Literal["none", "reward", "loss"] = Field(
        "none", description="'reward': r_t -= beta*KL_t (PPO/REINFORCE++ style); 'loss': loss += coef*KL (GRPO)"
    )
    estimator: Literal["k1", "k2", "k3"] = Field("k3", description="k1 for in-reward, k3 (low_var_kl) in-loss")
    coef: float = Field(0.001, ge=0.0, description="beta (in reward) or KL loss coefficient (in loss)")
    adaptive: bool = Field(False, description="adaptive beta controller (in-reward only)")
    target: float = Field(6.0, gt=0.0, description="adaptive: target sequence KL")
    horizon: int = Field(10000, gt=0, description="adaptive: horizon in samples")


class AlgorithmConfig(StrictModel):
    """Advantage estimator, policy/value loss and DAPO knobs."""

    name: str = Field("grpo", description="advantage estimator: grpo, dr_grpo, rloo, reinforce_pp, ...")
    std_scaling: Literal["group", "batch", "none"] = Field("group", description="GRPO std scaling")
    eps: float = Field(1e-6, gt=0.0, description="GRPO denominator epsilon (verl 1e-6, TRL 1e-4)")
    gamma: float = Field(1.0, ge=0.0, le=1.0)
    lam: float = Field(1.0, ge=0.0, le=1.0, description="GAE lambda (verl 1.0, TRL 0.95)")
    clip_eps_low: float = Field(0.2, ge=0.0)
    clip_eps_high: float = Field(0.2, ge=0.0, description="0.28 = DAPO clip-higher")
    dual_clip: float | None = Field(None, description="dual-clip constant c (> 1, typically 3) or null")
    loss_agg: str = Field(
        "token-mean", description="token-mean | seq-mean-token-mean | seq-mean-token-sum | seq-mean-token-sum-norm"
    )
    entropy_coef: float = Field(0.0, ge=0.0, description="entropy bonus coefficient")
    kl: KLConfig = Field(default_factory=KLConfig)
    vf_coef: float = Field(0.5, ge=0.0, description="value loss weight (critic estimators)")
    value_clip: float | None = Field(0.2, description="value clipping range or null")
    ppo_epochs: int = Field(1, gt=0)
    mini_batches: int = Field(1, gt=0, description="mini-batches per epoch (batch_size must divide)")
    dynamic_sampling: bool = Field(False, description="DAPO: drop zero-variance groups and refill the batch")
    max_refill_rounds: int = Field(4, ge=0, description="dynamic sampling: extra generation rounds at most")
    overlong_buffer: int | None = Field(None, description="DAPO overlong shaping buffer (tokens) or null")
    overlong_factor: float = Field(1.0, ge=0.0)


class BudgetConfig(StrictModel):
    """Stop when any limit is reached (RL phase only; null = no limit)."""

    prompts: int | None = None
    rollouts: int | None = None
    generated_tokens: int | None = None
    flops: float | None = None


class EvalHook(StrictModel):
    """Periodic evaluation through the harness (``reasonlab.eval.protocol.run_eval``)."""

    every: int = Field(0, ge=0, description="evaluate every N steps (0 = never); also at the end when > 0")
    config: dict[str, Any] = Field(default_factory=dict, description="an EvalConfig mapping (model is filled in)")
    _eval: EvalConfig | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_eval(self) -> EvalHook:
        if self.every:
            # the policy's run dir is filled in as the model when the hook runs; it only labels the record
            data = {"model": "<the policy>", "report": False, **self.config}
            try:
                self._eval = validate(EvalConfig, data, source="eval.config")
            except ReasonlabError as exc:
                raise ValueError(str(exc)) from None
        return self

    def eval_config(self, model_path: str) -> EvalConfig:
        """The validated evaluation config with ``model_path`` as its model (unless the config names one)."""
        assert self._eval is not None, "eval hook is off (every: 0)"
        model = self.config.get("model", model_path)
        return self._eval.model_copy(update={"model": model})


class RLConfig(StrictModel):
    """Everything ``reasonlab rl`` needs. Unknown fields are errors."""

    #: Fields a resumed run may change: how long it runs and how it logs, never what it learns from.
    RESUME_MAY_CHANGE: ClassVar[tuple[str, ...]] = (
        "steps",
        "budget",
        "threads",
        "device",
        "precision",
        "eval",
        "log_every",
        "logging",
        "sample_every",
        "samples_logged",
        "save_every",
        "keep_checkpoints",
    )

    name: Name = Field("rl", description="run name (a plain name): the directory under out_dir")
    out_dir: str = Field("runs", description="parent directory of the run")
    init_from: str = Field(description="model the policy starts from: a checkpoint, run dir or HF dir")
    holdout: list[str] = Field(
        default_factory=list,
        description="problem files (.jsonl/.parquet) or evaluation run dirs whose prompts RL never trains on",
    )
    reference: Literal["init", "none"] = Field(
        "init", description="frozen reference model for KL: the initial policy, or none"
    )
    seed: int = 0
    device: str = Field("auto", description="auto | cpu | cuda")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto = bf16 autocast on cuda (rollouts and updates), fp32 on cpu; bf16 forces autocast"
    )
    threads: int = Field(2, gt=0, description="torch CPU threads")
    steps: int = Field(100, gt=0, description="RL steps (a budget may stop earlier)")
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    task: RLTaskSpec = Field(default_factory=RLTaskSpec)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    optim: RLOptimConfig = Field(default_factory=RLOptimConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    eval: EvalHook = Field(default_factory=EvalHook)
    log_every: int = Field(1, gt=0)
    logging: list[str] = Field(
        default_factory=lambda: ["jsonl"],
        description="metric sinks: jsonl (metrics.jsonl, always written), tensorboard, wandb (offline)",
    )
    sample_every: int = Field(10, ge=0, description="log sample completions every N steps (0 = never)")
    samples_logged: int = Field(4, ge=0, description="how many completions to log each time")
    save_every: int = Field(0, ge=0, description="checkpoint every N steps (0 = only at the end)")
    keep_checkpoints: int = Field(2, ge=0)

    @field_validator("logging")
    @classmethod
    def _check_logging(cls, value: list[str]) -> list[str]:
        return check_sinks(value)

    @model_validator(mode="after")
    def _check(self) -> RLConfig:
        r, a = self.rollout, self.algorithm
        if r.batch_size % r.group_size:
            raise ValueError(
                f"rollout.batch_size {r.batch_size} is not divisible into groups of group_size {r.group_size}"
            )
        if r.batch_size % a.mini_batches:
            raise ValueError(f"rollout.batch_size {r.batch_size} is not divisible into {a.mini_batches} mini_batches")
        if a.name not in alg.ADV_ESTIMATORS:
            raise ValueError(f"unknown algorithm {a.name!r}; allowed: {', '.join(sorted(alg.ADV_ESTIMATORS))}")
        if a.loss_agg not in alg.LOSS_AGG:
            raise ValueError(f"unknown loss_agg {a.loss_agg!r}; allowed: {', '.join(alg.LOSS_AGG)}")
        if a.kl.placement != "none" and self.reference == "none":
            raise ValueError(f"algorithm.kl.placement {a.kl.placement!r} needs a reference model (set reference: init)")
        if a.kl.adaptive and a.kl.placement != "reward":
            raise ValueError("algorithm.kl.adaptive needs kl.placement 'reward'")
        if a.dual_clip is not None and a.dual_clip <= 1.0:
            raise ValueError(f"algorithm.dual_clip must be > 1 (typically 3), got {a.dual_clip}")
        if a.overlong_buffer is not None and not 0 < a.overlong_buffer <= r.max_new_tokens:
            raise ValueError(f"algorithm.overlong_buffer must be in 1..max_new_tokens ({r.max_new_tokens})")
        if self.task.prompts is not None and self.curriculum.kind != "none":
            raise ValueError(
                "task.prompts: a prompts file fixes the problems, so a curriculum (its knobs) cannot apply"
            )
        return self


def load_rl_config(path: str | Path, assignments: tuple[str, ...] = ()) -> RLConfig:
    """Load and validate an RL config file with ``--set`` assignments (one-line errors naming the field)."""
    return load_config(path, RLConfig, assignments)
