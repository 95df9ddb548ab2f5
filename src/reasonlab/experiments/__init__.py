"""Experiments: recipes (YAML pipelines of pretrain -> rl -> eval -> compare -> report) and their reports."""

from reasonlab.experiments.pipeline import STEP_KINDS, Recipe, StepSpec, load_recipe, run_recipe

__all__ = ["STEP_KINDS", "Recipe", "StepSpec", "load_recipe", "run_recipe"]
