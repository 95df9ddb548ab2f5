"""``reasonlab rl CONFIG`` (RL training) and ``reasonlab run RECIPE`` (a whole experiment pipeline)."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlab.cli.common import console, overwrite_option, set_option


@click.command("rl")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Override the run name (directory under out_dir).")
@click.option("--steps", type=int, default=None, help="Override the number of RL steps.")
@click.option("--init-from", default=None, help="Override the starting model (checkpoint or run dir).")
@click.option("--prompts", default=None, help="Train on the problems of this .jsonl/.parquet file (task.prompts).")
@set_option
@overwrite_option
def rl_cmd(
    config: str,
    name: str | None,
    steps: int | None,
    init_from: str | None,
    prompts: str | None,
    assignments: tuple[str, ...],
    overwrite: bool,
) -> None:
    """RL-train a model as described by CONFIG (YAML): GRPO, Dr GRPO, RLOO, REINFORCE++, PPO."""
    from reasonlab.train.rl.config import load_rl_config
    from reasonlab.train.rl.trainer import train_rl

    pairs = (("name", name), ("steps", steps), ("init_from", init_from), ("task.prompts", prompts))
    sugar = [f"{k}={v}" for k, v in pairs if v is not None]
    cfg = load_rl_config(config, (*assignments, *sugar))
    summary = train_rl(cfg, overwrite=overwrite)
    console.print(
        f"RL done: {summary['steps']} steps ({summary['stop_reason']}), {summary['totals']['rollouts']} rollouts, "
        f"{summary['seconds']:.0f}s -> {summary['model']}"
    )


@click.command("run")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--out-dir", default=None, help="Override the recipe's out_dir.")
@click.option("--fresh", is_flag=True, help="Delete this recipe's run directory first instead of resuming.")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Run the pipeline for training seeds 0..N-1.")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default=None,
    help="Run the training and evaluation steps on this device (the recipe's device:).",
)
def run_cmd(recipe: str, out_dir: str | None, fresh: bool, seeds: int | None, device: str | None) -> None:
    """Run a recipe: its steps in order, skipping those already done (resume after a kill).

    With training seeds (``--seeds N`` or the recipe's ``seeds:``) the whole pipeline runs once per seed
    (in OUT/RECIPE_seeds/seed-S) and a seed study aggregates them: is the verdict a property of the recipe
    or of a seed?
    """
    from reasonlab.experiments.pipeline import load_recipe, run_recipe
    from reasonlab.experiments.seed_study import run_seed_study, seed_study_root

    # relative config paths in a recipe resolve from the CWD, else from the repository the recipe lives in
    base_dir = Path(recipe).resolve().parent.parent
    rec = load_recipe(recipe, base_dir)
    if out_dir is not None:
        rec.out_dir = out_dir
    if device is not None:
        rec.device = device  # type: ignore[assignment]
    seed_list = list(range(seeds)) if seeds is not None else rec.seeds
    if seed_list:
        run_seed_study(rec, seed_list, base_dir=base_dir, fresh=fresh)
        root = seed_study_root(rec)
    else:
        root = Path(run_recipe(rec, base_dir=base_dir, fresh=fresh)["root"])
    report = root / "report.md"
    console.print(f"done: {root}" + (f" (report: {report})" if report.is_file() else ""))


def register(root: click.Group) -> None:
    """Attach this module's commands to the root command group."""
    root.add_command(rl_cmd)
    root.add_command(run_cmd)
