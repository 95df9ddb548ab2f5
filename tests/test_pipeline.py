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
    assert "| bucket | band |" in report and "edge" in report
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
