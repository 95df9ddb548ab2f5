"""Training-seed studies of a recipe (``seeds:`` or ``reasonlab run RECIPE --seeds N``): the whole pipeline once
per training seed in ``ROOT/seed-S/`` (pre-training, mid-training and RL seeds set to S; evaluations unchanged,
so every seed is scored on the same problems), then the seed study (:mod:`reasonlab.report.seed_study`).
``ROOT`` is ``OUT/RECIPE_seeds``, beside the recipe's plain run ``OUT/RECIPE``, which a study never touches."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reasonlab.config import deep_merge
from reasonlab.errors import ReasonlabError
from reasonlab.experiments.pipeline import SHARED_DIR, Recipe, check_recipe, open_recipe_root, run_recipe
from reasonlab.report.seed_study import write_seed_study

__all__ = ["SEEDED_KINDS", "run_seed_study", "seed_recipe", "seed_study_root"]


#: Step kinds whose config carries the training seed a seed study varies.
SEEDED_KINDS = ("pretrain", "midtrain", "rl", "ntp_control")


def seed_study_root(recipe: Recipe) -> Path:
    """Where a seed study of ``recipe`` lives: ``OUT/RECIPE_seeds``."""
    return Path(recipe.out_dir) / f"{recipe.name}_seeds"


def seed_recipe(recipe: Recipe, seed: int) -> Recipe:
    """The recipe for one training seed: ``seed-S`` under the seed study's directory, every training step's
    ``seed`` set to ``S`` (evaluations keep theirs, so every seed is scored on the same problems); shared steps
    stay in the recipe's shared directory, so seed 0 reuses what a plain run of the recipe made."""
    steps = [
        spec.model_copy(update={"overrides": deep_merge(spec.overrides, {"seed": seed})})
        if spec.kind in SEEDED_KINDS
        else spec
        for spec in recipe.steps
    ]
    return recipe.model_copy(
        update={
            "name": f"seed-{seed}",
            "out_dir": str(seed_study_root(recipe)),
            "shared_dir": recipe.shared_dir or str(Path(recipe.out_dir) / SHARED_DIR),
            "seeds": None,
            "steps": steps,
        }
    )


def run_seed_study(
    recipe: Recipe,
    seeds: list[int],
    *,
    base_dir: str | Path | None = None,
    fresh: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline once per training seed (``ROOT/seed-S``) and aggregate the seed study into
    ``ROOT/seed_study.json`` and ``ROOT/report.md`` (``ROOT`` = :func:`seed_study_root`); returns the study."""
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    arms = [s for s in recipe.steps if s.kind in ("arms", "memorisation")]
    if arms:
        raise ReasonlabError(
            f"recipe {recipe.name}: a training-seed study repeats one pipeline, but step {arms[0].name!r} runs "
            f"arms with seeds of their own ({arms[0].kind}.seeds); give the arms more seeds instead"
        )
    for seed in seeds:
        check_recipe(seed_recipe(recipe, seed), base)
    root = open_recipe_root(recipe, fresh, seed_study_root(recipe))
    for seed in seeds:
        say(f"[run] {recipe.name}: training seed {seed} ({seeds.index(seed) + 1} of {len(seeds)})")
        run_recipe(seed_recipe(recipe, seed), base_dir=base, log=say)
    study = write_seed_study(root, recipe, seeds)
    say(f"[run] {recipe.name}: seed study of {len(seeds)} seeds -> {root / 'report.md'}")
    return study
