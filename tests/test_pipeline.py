"""``reasonlab run RECIPE``: a whole pretrain -> rl -> eval -> eval -> compare -> report pipeline on a toy task."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reasonlab.cli import main
from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.experiments.pipeline import Recipe, deep_merge, load_recipe, resolve_refs, run_recipe
from reasonlab.experiments.step_config import RecipeTask, inherit_task, with_device
from reasonlab.tasks import Problem, Task, Verification, register

ANSWER = re.compile(r"<answer>\s*(\S+)\s*</answer>")


class PipeParams(StrictModel):
    width: int = 2


@register
class PipeToyTask(Task):
    """Echo a number of ``width`` digits inside answer tags."""

    name = "pipetoy"
    description = "echo a number"
    Params = PipeParams

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        n = str(rng.randrange(10 ** (params.width - 1) if params.width > 1 else 0, 10**params.width))
        return Problem(
            "", self.name, f"<question> {n} </question>", n, f" <answer> {n} </answer>", {"width": params.width}
        )

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        return problem.prompt, problem.solution

    def verify(self, problem: Problem, completion: str) -> Verification:
        found = ANSWER.findall(completion)
        if not found:
            return Verification(False, False, None, "unparseable")
        ok = found[-1] == problem.answer
        return Verification(ok, True, found[-1], "exact" if ok else "mismatch")


def recipe_dict(out_dir: Path) -> dict[str, Any]:
    eval_cfg = {
        "task": "pipetoy",
        "buckets": {"knob": "width", "values": [3, 4]},
        "problems_per_bucket": 6,
        "seeds": 2,
        "samples_per_seed": 2,
        "k": [1, 4],
        "decoding": {"temperature": 1.0, "max_new_tokens": 8},
        "bootstrap": 100,
        "report": False,
        "threads": 1,
    }
    return {
        "name": "toy",
        "out_dir": str(out_dir),
        "threads": 1,
        "steps": [
            {
                "name": "pretrain",
                "kind": "pretrain",
                "config": {
                    "data": {
                        "mixture": [{"task": "pipetoy", "knobs": {"width": 3}, "dedup": False}],
                        "num_problems": 200,
                        "seq_len": 32,
                        "val_rows": 2,
                        "tokenizer_vocab_size": 300,
                    },
                    "model": {
                        "preset": "tiny",
                        "overrides": {
                            "hidden_size": 32,
                            "num_layers": 1,
                            "num_heads": 2,
                            "num_kv_heads": 1,
                            "intermediate_size": 64,
                        },
                    },
                    "optim": {"max_steps": 10, "warmup_steps": 2, "batch_size": 8},
                    "runtime": {"num_threads": 1, "device": "cpu"},
                },
            },
            {
                "name": "midtrain",
                "kind": "midtrain",
                "config": {
                    "init_from": "@pretrain",
                    "objective": "sft",
                    "data": {
                        "mixture": [{"task": "pipetoy", "knobs": {"width": 3}, "dedup": False}],
                        "num_problems": 50,
                        "seq_len": 32,
                        "val_rows": 2,
                    },
                    "optim": {"max_steps": 3, "warmup_steps": 1, "batch_size": 8},
                    "runtime": {"num_threads": 1, "device": "cpu"},
                },
            },
            {
                "name": "rl",
                "kind": "rl",
                "config": {
                    "init_from": "@midtrain",
                    "steps": 2,
                    "threads": 1,
                    "task": {"name": "pipetoy", "knobs": {"width": 4}},
                    "rollout": {"batch_size": 8, "group_size": 4, "max_new_tokens": 8},
                },
            },
            {
                "name": "eval_base",
                "kind": "eval",
                "config": {**eval_cfg, "model": "@pretrain", "holdout_files": ["@rl.prompts"]},
            },
            {
                "name": "eval_rl",
                "kind": "eval",
                "config": {**eval_cfg, "model": "@rl", "holdout_files": ["@rl.prompts"]},
            },
            {
                "name": "compare",
                "kind": "compare",
                "config": {"baseline": "@eval_base", "candidate": "@eval_rl", "n_perm": 200},
            },
            {
                "name": "report",
                "kind": "report",
                "config": {
                    "baseline": "@eval_base",
                    "candidate": "@eval_rl",
                    "compare": "@compare",
                    "pretrain": "@pretrain.run",
                    "rl": "@rl.run",
                    "bands": {"3": "in-range", "4": "edge"},
                },
            },
        ],
    }


def test_pipeline_end_to_end_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(tmp_path / "runs")))
    assert main(["run", str(path)]) == 0
    root = tmp_path / "runs" / "toy"
    for step in ("pretrain", "midtrain", "rl", "eval_base", "eval_rl", "compare", "report"):
        assert (root / step / "step_done.json").is_file(), step
    report = (root / "report.md").read_text()
    assert "| op | band |" in report and "edge" in report and report.splitlines()[2].startswith("Verdict:")
    assert (root / "plots" / "rl_curve.png").is_file()
    rows = json.loads((root / "results.json").read_text())["rows"]
    assert [r["bucket"] for r in rows] == ["3", "4", "all"]
    # a second run skips every finished step
    logs: list[str] = []
    run_recipe(load_recipe(path), log=logs.append)
    assert sum("skipping" in m for m in logs) == 7


def test_refs_and_merge() -> None:
    outs = {"pretrain": {"main": "/m", "run": "/r"}}
    assert resolve_refs({"a": ["@pretrain", "@pretrain.run", "x"]}, outs, "s") == {"a": ["/m", "/r", "x"]}
    with pytest.raises(ReasonlabError, match="refers to no earlier step"):
        resolve_refs("@rl", outs, "s")
    with pytest.raises(ReasonlabError, match="has no output 'nope'"):
        resolve_refs("@pretrain.nope", outs, "s")
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3}, "d": 4}) == {"a": {"b": 3, "c": 2}, "d": 4}


def test_bad_recipes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "steps": [{"name": "a", "kind": "train"}]}))
    with pytest.raises(ReasonlabError, match="kind"):
        load_recipe(bad)
    rec = Recipe.model_validate(
        {
            "name": "x",
            "out_dir": str(tmp_path),
            "steps": [{"name": "a", "kind": "report"}, {"name": "a", "kind": "report"}],
        }
    )
    with pytest.raises(ReasonlabError, match="used twice"):
        run_recipe(rec)


def test_recipe_validates_every_step_at_load(tmp_path: Path) -> None:
    """A typo in the last step fails when the recipe loads, before any step runs or any directory exists."""
    rec = recipe_dict(tmp_path / "runs")
    rec["steps"][4]["config"]["decoding"] = {"temprature": 0.7}  # eval_rl, the fifth of seven steps
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    with pytest.raises(ReasonlabError, match=r"recipe step 'eval_rl'.*unknown field 'decoding.temprature'"):
        load_recipe(path)
    rec = recipe_dict(tmp_path / "runs")
    rec["steps"][2]["config"]["task"]["knobs"]["width"] = "wide"  # a bad task knob in the RL step
    path.write_text(yaml.safe_dump(rec))
    with pytest.raises(ReasonlabError, match=r"recipe step 'rl'.*width"):
        load_recipe(path)
    rec = recipe_dict(tmp_path / "runs")
    rec["steps"][3]["config"]["model"] = "@rl.nope"  # a reference to an output the step does not have
    path.write_text(yaml.safe_dump(rec))
    with pytest.raises(ReasonlabError, match="has no output 'nope'"):
        load_recipe(path)
    assert main(["run", str(path)]) == 2
    assert not (tmp_path / "runs").exists()


def test_recipe_task_is_inherited_by_every_step(tmp_path: Path) -> None:
    """``task: {name, knobs}`` at recipe level: written once, every step's knobs default to it."""
    rec = recipe_dict(tmp_path / "runs")
    rec["task"] = {"name": "pipetoy", "knobs": {"width": 3}}
    for i in (0, 1):
        rec["steps"][i]["config"]["data"]["mixture"][0]["knobs"] = {}
    rec["steps"][2]["config"]["task"] = {"knobs": {"width": 4}}  # the step's own knob wins
    for i in (3, 4):
        rec["steps"][i]["config"].pop("task")
    recipe = Recipe.model_validate(rec)
    steps = {s.name: s for s in recipe.steps}
    pre = inherit_task("pretrain", steps["pretrain"].config, recipe.task)
    assert pre["data"]["mixture"][0]["knobs"] == {"width": 3}
    rl = inherit_task("rl", steps["rl"].config, recipe.task)
    assert rl["task"] == {"name": "pipetoy", "knobs": {"width": 4}}
    ev = inherit_task("eval", steps["eval_base"].config, recipe.task)
    assert ev["task"] == "pipetoy" and ev["fixed"] == {}  # the bucket knob is never fixed
    other = inherit_task("rl", {"task": {"name": "arith", "knobs": {"ops": 3}}}, recipe.task)
    assert other["task"]["knobs"] == {"ops": 3}  # another task does not inherit pipetoy's knobs
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    load_recipe(path)


@pytest.mark.parametrize("recipe", sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*.yaml")))
def test_shipped_recipes_validate(recipe: Path) -> None:
    load_recipe(recipe)


@pytest.mark.parametrize("config", sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml")))
def test_shipped_configs_validate(config: Path) -> None:
    from reasonlab.config import load_config
    from reasonlab.eval.config import EvalConfig
    from reasonlab.eval.sensitivity import SensitivityConfig
    from reasonlab.train.midtrain import MidtrainConfig
    from reasonlab.train.pretrain import PretrainConfig
    from reasonlab.train.rl.config import RLConfig

    prefixes = {"eval": EvalConfig, "rl": RLConfig, "midtrain": MidtrainConfig, "sensitivity": SensitivityConfig}
    cls = next((c for p, c in prefixes.items() if config.name.startswith(p)), PretrainConfig)
    load_config(config, cls)  # paths are checked when a run starts; fields and task knobs now


def test_seed_study_runs_the_pipeline_per_training_seed(tmp_path: Path) -> None:
    rec = recipe_dict(tmp_path / "runs")
    rec["steps"][-1]["config"]["bands"] = {"3": "edge", "4": "hard"}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    assert main(["run", str(path)]) == 0  # the plain run first: the seed study must leave it as it is
    plain = (tmp_path / "runs" / "toy" / "report.md").read_text()
    assert main(["run", str(path), "--seeds", "2"]) == 0
    assert (tmp_path / "runs" / "toy" / "report.md").read_text() == plain
    assert not (tmp_path / "runs" / "toy" / "seed_study.json").exists()
    root = tmp_path / "runs" / "toy_seeds"
    for seed in (0, 1):
        cfg = yaml.safe_load((root / f"seed-{seed}" / "pretrain" / "config.yaml").read_text())
        assert cfg["seed"] == seed
        assert yaml.safe_load((root / f"seed-{seed}" / "rl" / "config.yaml").read_text())["seed"] == seed
        assert (root / f"seed-{seed}" / "results.json").is_file()
    study = json.loads((root / "seed_study.json").read_text())
    assert study["seeds"] == [0, 1] and set(study["headline_effect_per_seed"]) == {"0", "1"}
    assert study["buckets"]["3"]["bands"] == {"0": "edge", "1": "edge"}
    assert study["noise"]["evaluation_se"] is not None
    assert (root / "report.md").read_text().splitlines()[2].startswith("Verdict: over 2 training seeds")
    assert (root / "plots" / "seed_effects.png").is_file()
    # the evaluation seeds are not varied: every seed draws the same problems (minus its own RL prompts)
    seeds = [
        json.loads((root / f"seed-{s}" / "eval_base" / "eval" / "summary.json").read_text())["record"]["holdout"]
        for s in (0, 1)
    ]
    assert seeds[0]["problem_seeds"] == seeds[1]["problem_seeds"]


def test_seed_study_keeps_the_recipes_shared_directory(tmp_path: Path) -> None:
    """Seed S runs in OUT/RECIPE/seed-S, but its shared steps stay in OUT/_shared: seed 0 of a seed study reuses
    the base a plain run of the recipe made (same config hash, same directory)."""
    from reasonlab.experiments.pipeline import Recipe, step_home
    from reasonlab.experiments.seed_study import seed_recipe

    rec = Recipe.model_validate(recipe_dict(tmp_path / "runs"))
    spec = rec.steps[0].model_copy(update={"share": True})
    seeded = seed_recipe(rec, 0)
    assert Path(seeded.out_dir) == tmp_path / "runs" / "toy_seeds" and seeded.name == "seed-0"
    data = {"seed": 0}
    assert step_home(seeded, spec, data) == step_home(rec, spec, data)
    assert step_home(rec, spec, data)[0] == tmp_path / "runs" / "_shared"
    elsewhere = rec.model_copy(update={"shared_dir": str(tmp_path / "bases")})
    assert step_home(seed_recipe(elsewhere, 3), spec, data)[0] == tmp_path / "bases"


def arms_recipe(out_dir: Path, jobs: int = 1) -> dict[str, Any]:
    """The toy recipe with an arms step (two arms x two seeds, ``jobs`` units at a time) and its report."""
    rec = recipe_dict(out_dir)
    pre, _, rl, ev = rec["steps"][0], rec["steps"][1], rec["steps"][2], rec["steps"][3]
    ev = {**ev, "config": {**ev["config"], "holdout_files": []}}
    rl_cfg = {k: v for k, v in rl["config"].items() if k != "init_from"}
    arms = {
        "name": "arms",
        "kind": "arms",
        "config": {
            "init_from": "@pretrain",
            "baseline": "@eval_base",
            "arms": {
                "in_range": {"knobs": {"width": 3}},
                "hard": {"knobs": {"width": 4}, "rl": {"optim": {"lr": 2e-3}}},
            },
            "seeds": [0, 1],
            "rl": rl_cfg,
            "n_perm": 200,
            "jobs": jobs,
        },
    }
    report = {"name": "report", "kind": "report", "config": {"arms": "@arms", "bands": {"3": "in_range", "4": "hard"}}}
    rec["steps"] = [pre, ev, arms, report]
    rec["threads"] = 1
    return rec


def test_arms_step_runs_every_arm_and_seed_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(arms_recipe(tmp_path / "runs")))
    assert main(["run", str(path)]) == 0
    root = tmp_path / "runs" / "toy"
    for arm in ("in_range", "hard"):
        for seed in (0, 1):
            sub = root / "arms" / f"{arm}-s{seed}"
            assert (sub / "done.json").is_file() and (sub / "compare" / "compare.json").is_file()
            cfg = yaml.safe_load((sub / "rl" / "config.yaml").read_text())
            assert cfg["seed"] == seed and cfg["task"]["knobs"]["width"] == (3 if arm == "in_range" else 4)
            assert cfg["holdout"] == [str(root / "eval_base")]
            assert cfg["optim"]["lr"] == (2e-3 if arm == "hard" else 1e-4)  # an arm's own RL settings
    results = json.loads((root / "results.json").read_text())
    assert set(results["arms"]) == {"in_range", "hard"}
    row = results["arms"]["in_range"][0]
    assert row["outcome"]["seeds"] == 2 and row["outcome"]["diff_pass@1"]["std"] is not None
    text = (root / "report.md").read_text()
    assert text.splitlines()[2].startswith("Verdict") and (root / "plots" / "arms_outcome.png").is_file()
    # the same units two at a time, each in its own process (one thread each, as the sequential run): same numbers
    par = tmp_path / "par.yaml"
    par.write_text(yaml.safe_dump(arms_recipe(tmp_path / "par", jobs=2)))
    assert main(["run", str(par)]) == 0
    assert json.loads((tmp_path / "par" / "toy" / "results.json").read_text())["arms"] == results["arms"]


def test_arms_split_one_compute_budget_between_midtraining_and_rl(tmp_path: Path) -> None:
    rec = recipe_dict(tmp_path / "runs")
    pre, mid, ev, rl = rec["steps"][0], rec["steps"][1], rec["steps"][3], rec["steps"][2]
    ev = {**ev, "config": {**ev["config"], "holdout_files": []}}
    mid_cfg = {k: v for k, v in mid["config"].items() if k != "init_from"}
    rl_cfg = {k: v for k, v in rl["config"].items() if k != "init_from"}
    rl_cfg["steps"] = 1000  # the FLOP budget, not the step count, ends RL
    budget = 2e8
    arms = {
        "name": "arms",
        "kind": "arms",
        "config": {
            "init_from": "@pretrain",
            "baseline": "@eval_base",
            "arms": {
                "rl_only": {},
                "half": {"midtrain": mid_cfg, "midtrain_share": 0.5},
                "mid_only": {"midtrain": mid_cfg, "midtrain_share": 1.0},
            },
            "rl": rl_cfg,
            "compute_budget": budget,
            "reference": "rl_only",
            "n_perm": 200,
        },
    }
    report = {"name": "report", "kind": "report", "config": {"arms": "@arms", "study": "midtrain_vs_rl"}}
    rec["steps"] = [pre, ev, arms, report]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    assert main(["run", str(path)]) == 0
    root = tmp_path / "runs" / "toy" / "arms"
    done = {a: json.loads((root / f"{a}-s0" / "done.json").read_text()) for a in ("rl_only", "half", "mid_only")}
    assert "midtrain" not in done["rl_only"] and "rl" not in done["mid_only"]
    assert done["rl_only"]["rl"]["stop_reason"] == "budget:flops"
    assert done["half"]["rl"]["stop_reason"] == "budget:flops"
    mid_steps = {a: done[a]["midtrain"]["steps"] for a in ("half", "mid_only")}
    assert mid_steps["mid_only"] == pytest.approx(2 * mid_steps["half"], abs=1)
    # each phase's own FLOPs: mid-training spends its share of the budget to the nearest whole step
    for arm, share in (("mid_only", 1.0), ("half", 0.5)):
        mid = done[arm]["midtrain"]
        assert abs(mid["flops"] - share * budget) <= 0.5 * mid["flops"] / mid["steps"]
    # RL overshoots its share by at most one step's FLOPs; the half arm's RL gets half the budget
    rl_flops = {a: done[a]["rl"]["flops_total"] for a in ("rl_only", "half")}
    assert budget / 2 <= rl_flops["half"] < rl_flops["rl_only"] and rl_flops["rl_only"] >= budget
    cfg = yaml.safe_load((root / "half-s0" / "rl" / "config.yaml").read_text())
    assert cfg["budget"]["flops"] == budget / 2 and cfg["init_from"].endswith("half-s0/mid/model")
    # every arm is also compared with the reference arm under the same seed; the report judges the split
    assert (root / "half-s0" / "vs_rl_only" / "compare.json").is_file()
    results = json.loads((root.parent / "results.json").read_text())
    m = results["measured"]
    assert set(m["vs_reference"]) == {"half", "mid_only"} and m["shares"] == {
        "rl_only": None,
        "half": 0.5,
        "mid_only": 1.0,
    }
    assert results["verdict"]["study"] == "midtrain_vs_rl"
    assert (root.parent / "plots" / "arms_bands.png").is_file()


def test_arms_midtrain_share_needs_a_budget_and_a_midtrain_config(tmp_path: Path) -> None:
    from reasonlab.experiments.arms import ArmsConfig

    base = {"init_from": "x", "baseline": "y", "rl": {"task": {"name": "pipetoy"}}}
    with pytest.raises(ValueError, match="midtrain_share needs compute_budget"):
        ArmsConfig.model_validate({**base, "arms": {"a": {"midtrain_share": 0.5}}})


def test_seed_study_of_an_arms_recipe_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = recipe_dict(tmp_path / "runs")
    rl_cfg = {k: v for k, v in rec["steps"][2]["config"].items() if k != "init_from"}
    arms = {"init_from": "@pretrain", "baseline": "@eval_base", "arms": {"a": {}}, "rl": rl_cfg}
    ev = {**rec["steps"][3], "config": {**rec["steps"][3]["config"], "holdout_files": []}}
    rec["steps"] = [rec["steps"][0], ev, {"name": "arms", "kind": "arms", "config": arms}]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    assert main(["run", str(path), "--seeds", "2"]) == 2
    assert "give the arms more seeds instead" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_shared_steps_run_once_for_every_recipe_with_the_same_config(tmp_path: Path) -> None:
    rec = recipe_dict(tmp_path / "runs")
    rec["steps"][0]["share"] = True  # the base model
    for name in ("first", "second"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**rec, "name": name, "steps": rec["steps"][:1]}))
        assert main(["run", str(path)]) == 0
    shared = list((tmp_path / "runs" / "_shared").iterdir())
    assert len(shared) == 1 and shared[0].name.startswith("pretrain-")
    rec_a = json.loads((tmp_path / "runs" / "first" / "pretrain" / "step_done.json").read_text())
    rec_b = json.loads((tmp_path / "runs" / "second" / "pretrain" / "step_done.json").read_text())
    assert rec_a["outputs"] == rec_b["outputs"] and rec_b["shared"] == str(shared[0])
    assert not (tmp_path / "runs" / "second" / "pretrain" / "model").exists()  # reused, not retrained
    # another config (here another seed) is another shared run
    rec["steps"][0]["overrides"] = {"seed": 1}
    path = tmp_path / "third.yaml"
    path.write_text(yaml.safe_dump({**rec, "name": "third", "steps": rec["steps"][:1]}))
    assert main(["run", str(path)]) == 0
    assert len(list((tmp_path / "runs" / "_shared").iterdir())) == 2


def test_recipe_device_places_every_training_and_eval_step() -> None:
    assert with_device("pretrain", {"runtime": {"num_threads": 2}}, "cuda") == {
        "runtime": {"num_threads": 2, "device": "cuda"}
    }
    assert with_device("rl", {"steps": 3, "device": "cpu"}, "cuda") == {"steps": 3, "device": "cuda"}
    assert with_device("eval", {}, "auto") == {"device": "auto"}
    arms = {"rl": {"steps": 2}, "arms": {"a": {"knobs": {}}, "b": {"midtrain": {"optim": {}}}}}
    got = with_device("arms", arms, "cuda")
    assert got["rl"]["device"] == "cuda" and got["arms"]["a"] == {"knobs": {}}
    assert got["arms"]["b"]["midtrain"]["runtime"] == {"device": "cuda"}
    assert with_device("compare", {"baseline": "@x"}, "cuda") == {"baseline": "@x"}
    with pytest.raises(ValueError, match="device"):
        Recipe.model_validate({"name": "r", "device": "tpu", "steps": [{"name": "s", "kind": "eval"}]})


def test_arms_inherit_the_recipe_task_in_rl_and_midtraining() -> None:
    """An arms step's shared RL config and each arm's mid-training mixture get the recipe's knobs."""
    task = RecipeTask.model_validate({"name": "arith", "knobs": {"modulus": 7, "context": "wildlife"}})
    mid = {"data": {"mixture": [{"task": "arith", "knobs": {"ops": "4"}}]}}
    cfg = inherit_task("arms", {"rl": {"task": {"reward": "process"}}, "arms": {"a": {}, "b": {"midtrain": mid}}}, task)
    assert cfg["rl"]["task"] == {"name": "arith", "reward": "process", "knobs": {"modulus": 7, "context": "wildlife"}}
    assert cfg["arms"]["a"] == {}
    assert cfg["arms"]["b"]["midtrain"]["data"]["mixture"][0]["knobs"] == {
        "modulus": 7,
        "context": "wildlife",
        "ops": "4",
    }
