"""Evaluation configs: which buckets of which task, how many problems, seeds x samples, decoding.

An :class:`EvalConfig` is validated completely when it loads: the task, every bucket's knobs (the
fixed knobs plus the bucket value), the prompt style and the reward, so a typo fails before any model
is loaded.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from reasonlab.config import Name, StrictModel, load_config
from reasonlab.errors import ReasonlabError
from reasonlab.eval.bands import BandConfig
from reasonlab.rewards import check_reward
from reasonlab.sampling import DecodingConfig
from reasonlab.tasks import get_task
from reasonlab.tasks.registry import checked_params

__all__ = ["BucketSpec", "DecodingConfig", "EvalConfig", "load_eval_config"]


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


class EvalConfig(StrictModel):
    """Everything that defines an evaluation; recorded verbatim in the run record."""

    name: Name = Field(
        "eval", description="run name (a plain name); `reasonlab eval` writes to runs/<name>/ by default"
    )
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
    prompt_style: str = Field(
        "plain", description="plain (from-scratch models), chat, or model_chat (the chat turns in the model's template)"
    )
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
    engine: Literal["native", "transformers"] = Field(
        "native", description="generation framework: the native sampler, or transformers' generate (exported model)"
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto = bf16 autocast on cuda, fp32 on cpu; bf16 forces autocast"
    )
    threads: int | None = Field(None, ge=1, description="torch.set_num_threads for this evaluation")
    report: bool = Field(True, description="write report.md and plots/")
    bands: BandConfig | None = Field(
        None, description="classify buckets as in-range / edge / hard (eval/bands.json; a recipe can use @step.edge)"
    )
    _bucket_params: dict[str, Any] = PrivateAttr(default_factory=dict)

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

    @model_validator(mode="after")
    def _check_task(self) -> EvalConfig:
        try:
            task = get_task(self.task)
            check_reward(self.reward, self.reward_args)
        except ReasonlabError as exc:
            raise ValueError(str(exc)) from None
        if self.prompt_style not in task.prompt_styles():
            raise ValueError(
                f"prompt_style {self.prompt_style!r}: task {self.task!r} supports {', '.join(task.prompt_styles())}"
            )
        if self.problems is None:  # generated buckets: every bucket's knobs must be valid now
            self._bucket_params = {
                str(v): checked_params(self.task, {**self.fixed, self.buckets.knob: v}) for v in self.buckets.values
            }
        return self

    def bucket_params(self, value: int | str) -> Any:
        """The validated task Params of bucket ``value`` (fixed knobs plus the bucket knob)."""
        return self._bucket_params[str(value)]

    @property
    def samples_per_problem(self) -> int:
        """S x n: samples drawn per problem."""
        return self.seeds * self.samples_per_seed


def load_eval_config(path: str | os.PathLike[str], assignments: tuple[str, ...] = ()) -> EvalConfig:
    """Read a YAML eval config with ``--set`` assignments (one-line errors naming the field)."""
    return load_config(path, EvalConfig, assignments)
