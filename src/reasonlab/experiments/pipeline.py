"""Recipes: ``reasonlab run RECIPE`` turns a YAML recipe into a pipeline of steps in one run directory.

A recipe is an ordered list of steps, each of a registered kind (``pretrain``, ``midtrain``, ``rl``,
``eval``, ``compare``, ``report``) with its own config (a YAML path or an inline mapping, plus ``overrides``).
Every step writes into ``<out_dir>/<recipe>/<step>/`` and, when it finishes, ``step_done.json`` with
its outputs (model path, run path, seconds). Running the recipe again skips finished steps and lets an
unfinished one resume from its own checkpoints, so a killed pipeline continues where it stopped.

Strings of the form ``@step`` inside a step's config are replaced by that earlier step's main output
(a model directory for ``pretrain``/``midtrain``/``rl``, a run directory for ``eval``/``compare``); ``@step.key``
picks another output. Adding a step kind is one decorated function in :data:`STEP_KINDS`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from reasonlab.config import StrictModel, dump_config, load_yaml, validate
from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_write_text

DONE_FILE = "step_done.json"


class StepSpec(StrictModel):
    """One pipeline step."""

    name: str = Field(description="step name: its subdirectory and the handle for @references")
    kind: Literal["pretrain", "midtrain", "rl", "eval", "compare", "report"]
    config: str | dict[str, Any] = Field(default_factory=dict, description="YAML path or inline mapping")
    overrides: dict[str, Any] = Field(default_factory=dict, description="deep-merged over config")


class Recipe(StrictModel):
    """A named, ordered list of steps (see module docstring)."""

    name: str = Field(description="run directory name under out_dir")
    description: str = ""
    out_dir: str = "runs"
    threads: int = Field(2, gt=0, description="torch CPU threads for every step")
    steps: list[StepSpec] = Field(min_length=1)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


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
        return outputs[step][key]
    return obj


@dataclass
class StepContext:
    """What a step runner gets: its spec, resolved config mapping, directories and earlier outputs."""

    recipe: Recipe
    spec: StepSpec
    config: dict[str, Any]
    root: Path
    outputs: dict[str, dict[str, Any]]
    log: Callable[[str], None]
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def dir(self) -> Path:
        return self.root / self.spec.name


StepRunner = Callable[[StepContext], dict[str, Any]]
STEP_KINDS: dict[str, StepRunner] = {}


def step_kind(name: str) -> Callable[[StepRunner], StepRunner]:
    """Register a step runner ``fn(ctx) -> outputs`` (outputs must hold ``main``)."""

    def deco(fn: StepRunner) -> StepRunner:
        STEP_KINDS[name] = fn
        return fn

    return deco


def _train(ctx: StepContext, config_cls: type[Any], fn: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Run a training entry point (pretrain/midtrain/rl) with this step's config, in this step's directory."""
    data = {**ctx.config, "name": ctx.spec.name, "out_dir": str(ctx.root)}
    summary = fn(validate(config_cls, data, source=f"recipe step {ctx.spec.name!r}"), log=ctx.log)
    return {"main": str(Path(summary["model"])), "run": str(ctx.dir), "summary": summary}


@step_kind("pretrain")
def _pretrain(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.train.pretrain import PretrainConfig, pretrain

    return _train(ctx, PretrainConfig, pretrain)


@step_kind("midtrain")
def _midtrain(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.train.midtrain import MidtrainConfig, midtrain

    return _train(ctx, MidtrainConfig, midtrain)


@step_kind("rl")
def _rl(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.train.rl.trainer import RLConfig, train_rl

    out = _train(ctx, RLConfig, train_rl)
    return {**out, "prompts": out["summary"]["train_prompts"]}


@step_kind("eval")
def _eval(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.eval.protocol import EvalConfig, run_eval

    data = {"name": ctx.spec.name, **ctx.config}
    cfg = validate(EvalConfig, data, source=f"recipe step {ctx.spec.name!r}")
    summary = run_eval(cfg, ctx.dir, log=ctx.log)
    overall = summary["overall"]["outcome"]["pass@k"].get("1", {}).get("mean")
    return {"main": str(ctx.dir), "run": str(ctx.dir), "pass@1": overall}


@step_kind("compare")
def _compare(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.eval.compare import compare_runs

    cfg = dict(ctx.config)
    for key in ("baseline", "candidate"):
        if not isinstance(cfg.get(key), str):
            raise ReasonlabError(
                f"recipe step {ctx.spec.name!r}: compare needs '{key}' (an eval step, e.g. @eval_base)"
            )
    extra = sorted(set(cfg) - {"baseline", "candidate", "n_perm"})
    if extra:
        raise ReasonlabError(
            f"recipe step {ctx.spec.name!r}: unknown field {extra[0]!r} (allowed: baseline, candidate, n_perm)"
        )
    compare_runs(cfg["baseline"], cfg["candidate"], ctx.dir, n_perm=int(cfg.get("n_perm", 10000)))
    return {"main": str(ctx.dir), "run": str(ctx.dir)}


@step_kind("report")
def _report(ctx: StepContext) -> dict[str, Any]:
    from reasonlab.experiments.report import write_pipeline_report

    path = write_pipeline_report(ctx.root, ctx.recipe, ctx.config, ctx.outputs)
    return {"main": str(path), "run": str(ctx.dir)}


def load_recipe(path: str | Path) -> Recipe:
    """Load and validate a recipe YAML (one-line errors naming the field)."""
    return validate(Recipe, load_yaml(path), source=str(path))


def _step_config(spec: StepSpec, base_dir: Path, source: str) -> dict[str, Any]:
    if isinstance(spec.config, str):
        cfg_path = Path(spec.config)
        if not cfg_path.is_absolute() and not cfg_path.is_file():
            cfg_path = base_dir / cfg_path
        data = load_yaml(cfg_path)
    else:
        data = dict(spec.config)
    return deep_merge(data, spec.overrides)


def run_recipe(
    recipe: Recipe,
    *,
    base_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every step not yet done (in order); returns ``{"root", "steps": {name: outputs}, "seconds"}``.

    ``base_dir`` is where relative config paths are looked up when not found from the current directory.
    """
    import torch

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    torch.set_num_threads(recipe.threads)
    names = [s.name for s in recipe.steps]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ReasonlabError(f"recipe {recipe.name!r}: step name {dup!r} is used twice")
    root = Path(recipe.out_dir) / recipe.name
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "recipe.yaml", dump_config(recipe))
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    outputs: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    for spec in recipe.steps:
        done = root / spec.name / DONE_FILE
        if done.is_file():
            record = json.loads(done.read_text(encoding="utf-8"))
            outputs[spec.name] = record["outputs"]
            timings[spec.name] = float(record.get("seconds", 0.0))
            say(f"[run] {spec.name}: done already ({timings[spec.name]:.0f}s), skipping")
            continue
        source = f"recipe step {spec.name!r}"
        config = resolve_refs(_step_config(spec, base, source), outputs, source)
        ctx = StepContext(recipe, spec, config, root, outputs, say, base)
        say(f"[run] {spec.name} ({spec.kind}) ...")
        t0 = time.perf_counter()
        result = STEP_KINDS[spec.kind](ctx)
        seconds = time.perf_counter() - t0
        outputs[spec.name] = {k: v for k, v in result.items() if k != "summary"}
        timings[spec.name] = seconds
        ctx.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            done, json.dumps({"kind": spec.kind, "seconds": seconds, "outputs": outputs[spec.name]}, indent=1)
        )
        say(f"[run] {spec.name} done in {seconds:.0f}s")
    total = time.perf_counter() - t_all
    record = {"root": str(root), "steps": outputs, "seconds": timings, "wall_s_this_invocation": total}
    atomic_write_text(root / "pipeline.json", json.dumps(record, indent=1, default=str))
    say(f"[run] {recipe.name}: all {len(recipe.steps)} steps done; total {sum(timings.values()):.0f}s -> {root}")
    return record
