"""Recipes: ``reasonlab run RECIPE`` turns a YAML recipe into a pipeline of steps in one run directory.

A recipe is an ordered list of steps, each of a registered kind (``pretrain``, ``midtrain``, ``rl``,
``eval``, ``compare``, ``report``, ``arms``, ``memorisation`` (:mod:`reasonlab.experiments.memorisation`);
Reinforcement Pre-Training's ``nexttoken_data``, ``ntp_control``, ``nexttoken_eval``, ``rpt_report`` from
:mod:`reasonlab.experiments.rpt`) with its own config (a YAML
path or an inline mapping, plus ``overrides``). Every step writes into ``<out_dir>/<recipe>/<step>/``
and, when it finishes, ``step_done.json`` with its outputs (model path, run path, seconds). Running the
recipe again skips finished steps and lets an unfinished one resume from its own checkpoints, so a
killed pipeline continues where it stopped.

Strings of the form ``@step`` inside a step's config are replaced by that earlier step's main output
(a model directory for ``pretrain``/``midtrain``/``rl``, a run directory for ``eval``/``compare``);
``@step.key`` picks another output (:data:`STEP_OUTPUTS` lists them).

A recipe may state ``task: {name, knobs}`` once; every step inherits those knobs as defaults (mixture
components, the quick evaluation, RL prompts, evaluation buckets), so a knob such as ``modulus: 7`` is
written once. :func:`load_recipe` validates every step's config when the recipe loads, with ``@``
references standing in for the outputs they will name, so a typo in the last step fails before the
first one runs. Adding a step kind is one :class:`StepKind` in :data:`STEP_KINDS`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, field_validator

from reasonlab.compute import measure_matmul_peak
from reasonlab.config import Name, StrictModel, deep_merge, dump_config, load_yaml, validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.bands import BAND_NAMES, band_value
from reasonlab.eval.compare import compare_runs
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.nexttoken import NextTokenEvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.record import device_record
from reasonlab.experiments.arms import ArmsConfig, run_arms
from reasonlab.experiments.memorisation import MemorisationConfig, run_memorisation
from reasonlab.experiments.rpt import (
    ComputeMatchedConfig,
    NextTokenDataConfig,
    run_compute_matched,
    run_nexttoken_data,
    run_nexttoken_eval_step,
)
from reasonlab.experiments.step_config import RecipeTask, inherit_task, with_device
from reasonlab.io import atomic_write_text, read_json
from reasonlab.report.arms import write_arms_report
from reasonlab.report.context_transfer import write_context_report
from reasonlab.report.markdown import write_compare_report, write_report
from reasonlab.report.memorisation import write_memorisation_report
from reasonlab.report.pipeline import ReportStepConfig, report_bands, write_pipeline_report
from reasonlab.report.rpt import RPTReportConfig, write_rpt_report
from reasonlab.rundir import RunDir, config_differences, mark_run_dir
from reasonlab.train.midtrain import MidtrainConfig, midtrain
from reasonlab.train.pretrain import PretrainConfig, pretrain
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.trainer import train_rl

__all__ = [
    "STEP_KINDS",
    "STEP_OUTPUTS",
    "Recipe",
    "StepSpec",
    "deep_merge",
    "load_recipe",
    "resolve_refs",
    "run_recipe",
]

DONE_FILE = "step_done.json"
#: Reinforcement Pre-Training's step kinds (:mod:`reasonlab.experiments.rpt`).
RPTKind = Literal["nexttoken_data", "ntp_control", "nexttoken_eval", "rpt_report"]


class StepSpec(StrictModel):
    """One pipeline step."""

    name: Name = Field(description="step name (a plain name): its subdirectory and the handle for @references")
    kind: Literal["pretrain", "midtrain", "rl", "eval", "compare", "report", "arms", "memorisation"] | RPTKind
    config: str | dict[str, Any] = Field(default_factory=dict, description="YAML path or inline mapping")
    overrides: dict[str, Any] = Field(default_factory=dict, description="deep-merged over config")
    share: bool = Field(
        False,
        description="run once per identical config in OUT_DIR/_shared/ and reuse it from every recipe that has the "
        "same step (e.g. one base model for several studies)",
    )


class Recipe(StrictModel):
    """A named, ordered list of steps (see module docstring)."""

    name: Name = Field(description="run directory name under out_dir (a plain name)")
    description: str = ""
    out_dir: str = "runs"
    shared_dir: str | None = Field(
        None,
        description="where shared steps live (default OUT_DIR/_shared); a seed study keeps its recipe's, so "
        "seed 0 reuses the base a plain run of the recipe made",
    )
    threads: int = Field(2, gt=0, description="torch CPU threads for every step")
    device: Literal["cpu", "cuda", "auto"] | None = Field(
        None,
        description="run the pretrain, midtrain, rl, eval and arms steps on this device (over their own settings; "
        "cuda trains and samples under bf16 autocast); None keeps each step's setting",
    )
    task: RecipeTask | None = Field(None, description="task and knobs every step inherits (written once)")
    seeds: list[int] | None = Field(
        None,
        description="training seeds: the whole pipeline runs once per seed (pre-training, mid-training and RL "
        "seeds set to it; evaluations unchanged) into seed-S/, then a seed study aggregates them",
    )
    steps: list[StepSpec] = Field(min_length=1)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or len(set(v)) != len(v) or min(v) < 0):
            raise ValueError("seeds must be distinct integers >= 0 (at least one)")
        return v


class CompareStepConfig(StrictModel):
    """A ``compare`` step: the two eval steps and the permutation count of the paired test."""

    baseline: str = Field(description="baseline eval step, e.g. @eval_base")
    candidate: str = Field(description="candidate eval step, e.g. @eval_rl")
    n_perm: int = Field(10000, ge=100, description="sign-flip permutations")


def resolve_refs(obj: Any, outputs: dict[str, dict[str, Any]], where: str) -> Any:
    """Replace ``@step`` / ``@step.key`` strings with earlier steps' outputs (one-line error if unknown)."""
    if isinstance(obj, dict):
        return {k: resolve_refs(v, outputs, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_refs(v, outputs, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, str) and obj.startswith("@"):
        step, _, key = obj[1:].partition(".")
        if step not in outputs:
            known = ", ".join(outputs) or "none yet"
            raise ReasonlabError(f"{where}: {obj!r} refers to no earlier step (earlier steps: {known})")
        key = key or "main"
        if key not in outputs[step]:
            raise ReasonlabError(f"{where}: step {step!r} has no output {key!r} (has: {', '.join(outputs[step])})")
        value = outputs[step][key]
        if isinstance(value, dict) and "error" in value:
            raise ReasonlabError(f"{where}: {obj!r}: {value['error']}")
        return value
    return obj


# ----------------------------------------------------------------------------- step kinds


@dataclass
class StepContext:
    """What a step runner gets: its spec, resolved config, directories and earlier outputs."""

    recipe: Recipe
    spec: StepSpec
    config: BaseModel
    root: Path
    outputs: dict[str, dict[str, Any]]
    log: Callable[[str], None]
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def dir(self) -> Path:
        """This step's directory (``RECIPE_RUN/STEP``)."""
        return self.root / self.spec.name


@dataclass(frozen=True)
class StepKind:
    """A step kind: how its config mapping becomes a validated config, how it runs, what it outputs.

    ``placeholders(config, name)`` gives the stand-ins of its outputs while a recipe is checked (by
    default the reference text itself, ``@name.key``).
    """

    config: Callable[[dict[str, Any], StepSpec, Path], BaseModel]
    run: Callable[[StepContext], dict[str, Any]]
    outputs: tuple[str, ...]
    placeholders: Callable[[BaseModel, str], dict[str, Any]] | None = None


def _named(cls: type[BaseModel]) -> Callable[[dict[str, Any], StepSpec, Path], BaseModel]:
    """Validate a training/eval config with the step's name and directory filled in.

    Training runs are always named after the step and live in the recipe's directory; an evaluation
    keeps a ``name`` of its own as its label (it writes into the step's directory either way).
    """

    def make(data: dict[str, Any], spec: StepSpec, root: Path) -> BaseModel:
        if "out_dir" in cls.model_fields:
            data = {**data, "name": spec.name, "out_dir": str(root)}
        else:
            data = {"name": spec.name, **data}
        return validate(cls, data, source=f"recipe step {spec.name!r}")

    return make


def _plain(cls: type[BaseModel]) -> Callable[[dict[str, Any], StepSpec, Path], BaseModel]:
    def make(data: dict[str, Any], spec: StepSpec, root: Path) -> BaseModel:
        return validate(cls, data, source=f"recipe step {spec.name!r}")

    return make


def _train_outputs(summary: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"main": str(Path(summary["model"])), "run": str(ctx.dir)}


def _run_pretrain(ctx: StepContext) -> dict[str, Any]:
    return _train_outputs(pretrain(ctx.config, log=ctx.log), ctx)  # type: ignore[arg-type]


def _run_midtrain(ctx: StepContext) -> dict[str, Any]:
    return _train_outputs(midtrain(ctx.config, log=ctx.log), ctx)  # type: ignore[arg-type]


def _run_rl(ctx: StepContext) -> dict[str, Any]:
    summary = train_rl(ctx.config, log=ctx.log)  # type: ignore[arg-type]
    return {**_train_outputs(summary, ctx), "prompts": summary["train_prompts"]}


def _run_eval(ctx: StepContext) -> dict[str, Any]:
    cfg: EvalConfig = ctx.config  # type: ignore[assignment]
    summary = run_eval(cfg, ctx.dir, log=ctx.log)
    if cfg.report:
        write_report(ctx.dir)
    overall = summary["overall"]["outcome"]["pass@k"].get("1", {}).get("mean")
    out: dict[str, Any] = {"main": str(ctx.dir), "run": str(ctx.dir), "pass@1": overall}
    if "bands" in summary:
        for band in BAND_NAMES:
            buckets = summary["bands"][band]
            try:
                out[band] = band_value(buckets, band)
            except ReasonlabError as exc:
                out[band] = {"error": str(exc)}  # raised if a later step refers to it
        ctx.log(f"[run] {ctx.spec.name}: bands " + ", ".join(f"{b} {summary['bands'][b]}" for b in BAND_NAMES))
    return out


def _eval_placeholders(config: BaseModel, name: str) -> dict[str, Any]:
    """Stand-ins for an eval step's outputs while a recipe is checked: a band stands as its first bucket."""
    cfg: EvalConfig = config  # type: ignore[assignment]
    first = str(cfg.buckets.values[0])
    return {"main": f"@{name}", "run": f"@{name}.run", "pass@1": 0.0, **dict.fromkeys(BAND_NAMES, first)}


def _run_compare(ctx: StepContext) -> dict[str, Any]:
    cfg: CompareStepConfig = ctx.config  # type: ignore[assignment]
    result = compare_runs(cfg.baseline, cfg.candidate, ctx.dir, n_perm=cfg.n_perm)
    write_compare_report(result, ctx.dir)
    return {"main": str(ctx.dir), "run": str(ctx.dir)}


def _run_report(ctx: StepContext) -> dict[str, Any]:
    cfg: ReportStepConfig = ctx.config  # type: ignore[assignment]
    if cfg.exposures is not None:
        path = write_context_report(
            ctx.root, ctx.recipe, cfg.title, cfg.exposures, report_bands(cfg), cfg.min_gain, cfg.alpha
        )
    elif cfg.arms is not None:
        path = write_arms_report(
            ctx.root, ctx.recipe, cfg.title, Path(cfg.arms), report_bands(cfg), cfg.study, cfg.rewards
        )
    elif cfg.memorisation is not None:
        path = write_memorisation_report(ctx.root, ctx.recipe, cfg)
    else:
        path = write_pipeline_report(ctx.root, ctx.recipe, cfg, ctx.outputs)
    return {"main": str(path), "run": str(ctx.dir)}


def _run_arms(ctx: StepContext) -> dict[str, Any]:
    run_arms(ctx.config, ctx.dir, ctx.log)  # type: ignore[arg-type]
    return {"main": str(ctx.dir / "arms.json"), "run": str(ctx.dir)}


def _run_memorisation(ctx: StepContext) -> dict[str, Any]:
    run_memorisation(ctx.config, ctx.dir, ctx.log)  # type: ignore[arg-type]
    return {"main": str(ctx.dir / "memorisation.json"), "run": str(ctx.dir)}


def _rpt(fn: Callable[[Any, Path, Callable[[str], None]], dict[str, Any]]) -> Callable[[StepContext], dict[str, Any]]:
    """A runner of :mod:`reasonlab.experiments.rpt` (``config, step directory, log -> outputs``) as a step runner."""
    return lambda ctx: fn(ctx.config, ctx.dir, ctx.log)


def _run_rpt_report(ctx: StepContext) -> dict[str, Any]:
    return {"main": str(write_rpt_report(ctx.root, ctx.recipe, ctx.config)), "run": str(ctx.dir)}  # type: ignore[arg-type]


STEP_KINDS: dict[str, StepKind] = {
    "pretrain": StepKind(_named(PretrainConfig), _run_pretrain, ("main", "run")),
    "midtrain": StepKind(_named(MidtrainConfig), _run_midtrain, ("main", "run")),
    "rl": StepKind(_named(RLConfig), _run_rl, ("main", "run", "prompts")),
    "eval": StepKind(_named(EvalConfig), _run_eval, ("main", "run", "pass@1", *BAND_NAMES), _eval_placeholders),
    "compare": StepKind(_plain(CompareStepConfig), _run_compare, ("main", "run")),
    "report": StepKind(_plain(ReportStepConfig), _run_report, ("main", "run")),
    "arms": StepKind(_plain(ArmsConfig), _run_arms, ("main", "run")),
    "memorisation": StepKind(_plain(MemorisationConfig), _run_memorisation, ("main", "run")),
    # Reinforcement Pre-Training (recipes/rpt.yaml; experiments/rpt.py)
    "nexttoken_data": StepKind(_plain(NextTokenDataConfig), _rpt(run_nexttoken_data), ("main", "run", "tokenizer")),
    "ntp_control": StepKind(_named(ComputeMatchedConfig), _rpt(run_compute_matched), ("main", "run", "flops")),
    "nexttoken_eval": StepKind(_named(NextTokenEvalConfig), _rpt(run_nexttoken_eval_step), ("main", "run")),
    "rpt_report": StepKind(_plain(RPTReportConfig), _run_rpt_report, ("main", "run")),
}
#: The outputs each step kind provides to ``@step.key`` references.
STEP_OUTPUTS = {kind: k.outputs for kind, k in STEP_KINDS.items()}


# ----------------------------------------------------------------------------- loading and running


def _step_config(recipe: Recipe, spec: StepSpec, base_dir: Path) -> dict[str, Any]:
    """The step's raw config mapping: file or inline, overrides merged, the recipe task inherited."""
    if isinstance(spec.config, str):
        cfg_path = Path(spec.config)
        if not cfg_path.is_absolute() and not cfg_path.is_file():
            cfg_path = base_dir / cfg_path
        data = load_yaml(cfg_path)
    else:
        data = dict(spec.config)
    data = inherit_task(spec.kind, deep_merge(data, spec.overrides), recipe.task)
    return data if recipe.device is None else with_device(spec.kind, data, recipe.device)


#: Where shared steps live, under a recipe's out_dir (not a plain name, so no recipe can be called that).
SHARED_DIR = "_shared"


def step_home(recipe: Recipe, spec: StepSpec, data: dict[str, Any]) -> tuple[Path, StepSpec]:
    """The directory a step runs in and the spec it runs under: the recipe's own ``OUT/RECIPE/STEP``, or for a
    shared step ``OUT/_shared/STEP-HASH`` (or ``shared_dir/STEP-HASH``), HASH being the first 12 hex digits of
    the SHA-256 of its kind and resolved config (so two recipes with the same step, seeds and inputs included,
    share one run)."""
    if not spec.share:
        return Path(recipe.out_dir) / recipe.name, spec
    digest = hashlib.sha256(json.dumps({"kind": spec.kind, "config": data}, sort_keys=True, default=str).encode())
    name = f"{spec.name}-{digest.hexdigest()[:12]}"
    home = Path(recipe.shared_dir) if recipe.shared_dir is not None else Path(recipe.out_dir) / SHARED_DIR
    return home, spec.model_copy(update={"name": name})


def check_recipe(recipe: Recipe, base_dir: Path) -> None:
    """Validate every step's config now, with each ``@ref`` standing for the output it will name."""
    names = [s.name for s in recipe.steps]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ReasonlabError(f"recipe {recipe.name!r}: step name {dup!r} is used twice")
    root = Path(recipe.out_dir) / recipe.name
    placeholders: dict[str, dict[str, Any]] = {}
    for spec in recipe.steps:
        source = f"recipe step {spec.name!r}"
        data = resolve_refs(_step_config(recipe, spec, base_dir), placeholders, source)
        kind = STEP_KINDS[spec.kind]
        config = kind.config(data, spec, root)
        if kind.placeholders is not None:
            placeholders[spec.name] = kind.placeholders(config, spec.name)
        else:
            placeholders[spec.name] = {key: f"@{spec.name}.{key}" for key in kind.outputs}


def load_recipe(path: str | Path, base_dir: str | Path | None = None) -> Recipe:
    """Load a recipe YAML and validate it and every step's config (one-line errors naming the field).

    ``base_dir`` is where relative config paths are looked up when not found from the current
    directory (default: the repository the recipe lives in, i.e. the recipe file's grandparent).
    """
    recipe = validate(Recipe, load_yaml(path), source=str(path))
    check_recipe(recipe, Path(base_dir) if base_dir is not None else Path(path).resolve().parent.parent)
    return recipe


def open_recipe_root(recipe: Recipe, fresh: bool, root: Path | None = None) -> Path:
    """``OUT/RECIPE`` (or ``root``) marked as a run directory with the recipe in it (``fresh`` empties it first);
    a non-empty directory this pipeline did not make is refused, never deleted."""
    root = root if root is not None else Path(recipe.out_dir) / recipe.name
    if root.exists() and not RunDir(root).is_run and (not root.is_dir() or any(root.iterdir())):
        raise ReasonlabError(f"{root}: exists and is not a reasonlab run directory; rename the recipe or its out_dir")
    if fresh and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    mark_run_dir(root)
    atomic_write_text(root / "recipe.yaml", dump_config(recipe))
    return root


def run_recipe(
    recipe: Recipe,
    *,
    base_dir: str | Path | None = None,
    fresh: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every step not yet done (in order); returns ``{"root", "steps": {name: outputs}, "seconds"}``.

    ``base_dir`` is where relative config paths are looked up when not found from the current directory.
    ``fresh`` deletes the recipe's run directory first (only a directory this pipeline made).
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    check_recipe(recipe, base)
    torch.set_num_threads(recipe.threads)
    root = open_recipe_root(recipe, fresh)
    machine = {
        **device_record("cpu"),
        "threads": recipe.threads,
        "matmul_peak_gflops": measure_matmul_peak(n=1024, min_seconds=0.5, repeats=3) / 1e9,
    }
    atomic_write_text(root / "machine.json", _json(machine))
    say(
        f"[run] machine: {machine['cpu']}, {recipe.threads} threads, fp32 matmul peak "
        f"{machine['matmul_peak_gflops']:.0f} GFLOP/s (budgets are in FLOPs and tokens; wall times scale with it)"
    )
    outputs: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    for spec in recipe.steps:
        source = f"recipe step {spec.name!r}"
        data = resolve_refs(_step_config(recipe, spec, base), outputs, source)
        kind = STEP_KINDS[spec.kind]
        home, here = step_home(recipe, spec, data)
        config = kind.config(data, here, home)
        done = root / spec.name / DONE_FILE
        shared_done = home / here.name / DONE_FILE
        if spec.share and not done.is_file() and shared_done.is_file():
            record = read_json(shared_done, "shared step record")
            (root / spec.name).mkdir(parents=True, exist_ok=True)
            atomic_write_text(done, _json({**record, "shared": str(home / here.name)}))
            say(f"[run] {spec.name}: reusing the shared run {home / here.name}")
        if done.is_file():
            record = read_json(done, "step record")
            diff = config_differences(record.get("config"), config.model_dump(mode="json"))
            if diff:
                raise ReasonlabError(
                    f"recipe step {spec.name!r} finished with a different config ({', '.join(diff[:6])}); "
                    "run with --fresh, or give the changed recipe another name"
                )
            outputs[spec.name] = record["outputs"]
            timings[spec.name] = float(record.get("seconds", 0.0))
            say(f"[run] {spec.name}: done already ({timings[spec.name]:.0f}s), skipping")
            continue
        ctx = StepContext(recipe, here, config, home, outputs, say, base)
        say(f"[run] {spec.name} ({spec.kind}{', shared: ' + str(ctx.dir) if spec.share else ''}) ...")
        t0 = time.perf_counter()
        outputs[spec.name] = kind.run(ctx)
        seconds = time.perf_counter() - t0
        timings[spec.name] = seconds
        ctx.dir.mkdir(parents=True, exist_ok=True)
        record = {
            "kind": spec.kind,
            "seconds": seconds,
            "outputs": outputs[spec.name],
            "config": config.model_dump(mode="json"),
        }
        if spec.share:
            atomic_write_text(shared_done, _json(record))
            record["shared"] = str(ctx.dir)
        atomic_write_text(done, _json(record))
        say(f"[run] {spec.name} done in {seconds:.0f}s")
    total = time.perf_counter() - t_all
    record = {"root": str(root), "steps": outputs, "seconds": timings, "wall_s_this_invocation": total}
    atomic_write_text(root / "pipeline.json", _json(record))
    say(f"[run] {recipe.name}: all {len(recipe.steps)} steps done; total {sum(timings.values()):.0f}s -> {root}")
    return record


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)
