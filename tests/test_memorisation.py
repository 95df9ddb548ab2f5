"""SFT vs RL memorisation: the ``data.problems`` corpus, the ``memorisation`` step end to end on a tiny knights
base (shape, LiMem against :mod:`reasonlab.eval.limem` on the same records, resume after a kill, report and
study page), LiMem over a hand-built training curve, and the verdict on hand-built curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from reasonlab.config import validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.limem import limem_table
from reasonlab.experiments.memorisation import MemorisationConfig, checkpoint_steps, point_metrics
from reasonlab.experiments.pipeline import load_recipe, run_recipe
from reasonlab.experiments.seed_study import run_seed_study
from reasonlab.experiments.step_config import RecipeTask, inherit_task
from reasonlab.io import read_records, write_records
from reasonlab.model import TaskTokenizer
from reasonlab.model.chat import Prompter
from reasonlab.report.memorisation import judge
from reasonlab.report.study import read_run
from reasonlab.rundir import resolve_model_path
from reasonlab.seeds import prompt_hash
from reasonlab.tasks import get_task
from reasonlab.tasks.registry import task_params
from reasonlab.train.corpus import DataConfig
from reasonlab.train.midtrain import MidtrainConfig, build_midtrain_corpus

KINDS = ["statement", "leaf", "uncommon_name", "random_pair", "flip_role", "reorder_statement"]
TINY = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 64}


def _recipe(out: Path) -> dict[str, Any]:
    """pretrain (a few steps on 2-people knights) -> memorisation (2 checkpoints x 2 arms x 2 seeds) -> report."""
    return {
        "name": "mem",
        "out_dir": str(out),
        "threads": 1,
        "steps": [
            {
                "name": "pretrain",
                "kind": "pretrain",
                "config": {
                    "data": {
                        "mixture": [{"task": "knights", "knobs": {"people": 2}}],
                        "num_problems": 24,
                        "seq_len": 1024,
                        "val_rows": 1,
                        "tokenizer_vocab_size": 300,
                    },
                    "model": {"preset": "tiny", "overrides": TINY},
                    "optim": {"max_steps": 3, "warmup_steps": 1, "batch_size": 2},
                    "runtime": {"num_threads": 1, "device": "cpu"},
                },
            },
            {
                "name": "memorisation",
                "kind": "memorisation",
                "config": {
                    "init_from": "@pretrain",
                    "knobs": {"people": 2},
                    "n_train": 4,
                    "n_test": 2,
                    "checkpoints": [1, 2],
                    "seeds": [0, 1],
                    "sft": {
                        "data": {"seq_len": 1024},
                        "optim": {"batch_size": 1, "warmup_steps": 0, "lr": 1e-3},
                        "runtime": {"num_threads": 1, "device": "cpu"},
                    },
                    "rl": {
                        "threads": 1,
                        "device": "cpu",
                        "rollout": {"batch_size": 4, "group_size": 2, "max_new_tokens": 8},
                        "sample_every": 0,
                    },
                    "eval": {"seeds": 1, "decoding": {"temperature": 0.0, "max_new_tokens": 8}, "threads": 1},
                },
            },
            {"name": "report", "kind": "report", "config": {"memorisation": "@memorisation"}},
        ],
    }


class Killed(Exception):
    """Stands for a kill in the middle of the step."""


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recipe killed in its RL arm, then run again to the end; returns the recipe's run directory."""
    out = tmp_path_factory.mktemp("mem")
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(_recipe(out / "runs")))

    def kill(msg: str) -> None:
        if msg.startswith("[memorisation] rl seed 0: training to epoch 2"):
            raise Killed(msg)

    with pytest.raises(Killed):
        run_recipe(load_recipe(path), log=kill)
    logs: list[str] = []
    run_recipe(load_recipe(path), log=logs.append)
    assert "[memorisation] sft seed 0: done already, skipping" in logs
    assert not any(m.startswith("[memorisation] rl seed 0: training to epoch 1") for m in logs)  # point kept
    assert any(m.startswith("[memorisation] rl seed 0: training to epoch 2") for m in logs)
    return out / "runs" / "mem"


def test_memorisation_step_end_to_end(finished: Path) -> None:
    step = finished / "memorisation"
    m = json.loads((step / "memorisation.json").read_text())
    assert m["kinds"] == KINDS and m["seeds"] == [0, 1] and m["data"]["n_train"] == 4 and m["data"]["n_test"] == 2
    train = read_records(m["data"]["files"]["train"])
    test = read_records(m["data"]["files"]["test"])
    assert not {p["prompt"] for p in train} & {p["prompt"] for p in test}  # disjoint by prompt
    for arm in ("sft", "rl"):
        a = m["arms"][arm]
        assert [p["epoch"] for p in a["points"]] == [0, 1, 2]
        assert set(a["points"][0]["step"].values()) == {0}
        for p in a["points"]:
            assert set(p["seeds"]) == {"0", "1"}
            assert set(p["mean"]["limem"]) == set(KINDS) and set(p["mean"]["train_acc"]) == {"mean", "std"}
            assert p["mean"]["train_acc"]["std"] is not None  # two seeds
        # LiMem per kind equals eval/limem.py's on the very records the step wrote
        for seed in ("0", "1"):
            for i, epoch in enumerate((1, 2), start=1):
                pdir = step / f"{arm}-s{seed}" / "points" / f"epoch-{epoch}"
                orig = read_records(pdir / "train.jsonl")
                pert = [r for k in KINDS for r in read_records(pdir / f"{k}.jsonl")]
                rows = {r.kind: r for r in limem_table(orig, pert) if r.people is None}
                got = a["points"][i]["seeds"][seed]
                for kind in KINDS:
                    want = rows[kind] if kind in rows and rows[kind].n else None
                    assert got["limem"][kind] == (None if want is None else pytest.approx(want.limem))
                    assert got["cr"][kind] == (None if want is None else pytest.approx(want.cr))
                assert got["train_acc"] == pytest.approx(np.mean([r["correct"] for r in orig]))
                assert len(orig) == 4 and {r["id"] for r in orig} == {p["id"] for p in train}
    # SFT trained on exactly the training set, RL drew its prompts from exactly it
    hashes = set(np.load(step / "sft-s0" / "sft" / "data" / "prompt_hashes.npy").tolist())
    assert hashes == {prompt_hash(p["prompt"]) for p in train}
    rl_prompts = {r["prompt"] for r in read_records(step / "rl-s0" / "rl" / "data" / "train_prompts.jsonl")}
    assert rl_prompts == {p["prompt"] for p in train}
    report = (finished / "report.md").read_text().splitlines()
    assert report[2].startswith("Verdict (2 seeds") and "| arm | epoch | steps |" in "\n".join(report)
    assert (finished / "plots" / "memorisation_curves.png").is_file()
    assert (finished / "plots" / "memorisation_kinds.png").is_file()
    run = read_run(finished)
    assert run.kind == "memorisation" and not run.missing and run.seeds == 2
    assert run.reproduced in ("reproduced", "not reproduced", "not testable")
    final = {arm: m["arms"][arm]["points"][-1]["seeds"] for arm in ("sft", "rl")}
    diffs = [final["sft"][s]["limem_mean"] - final["rl"][s]["limem_mean"] for s in ("0", "1")]
    assert run.headline[0].mean == pytest.approx(np.mean(diffs))


def test_data_problems_is_exactly_the_file(finished: Path, tmp_path: Path) -> None:
    """``data.problems``: the SFT corpus holds every problem of the file once; bad configs fail in one line."""
    base = resolve_model_path(finished / "pretrain")
    problems = [p.to_dict() for p in get_task("knights").generate(task_params("knights", {"people": 2}), 3, 7)]
    path = tmp_path / "set.jsonl"
    write_records(path, problems)
    cfg = validate(
        MidtrainConfig,
        {
            "name": "x",
            "init_from": str(base),
            "objective": "sft",
            "data": {"problems": str(path), "seq_len": 1024, "val_rows": 0},
        },
    )
    tokenizer = TaskTokenizer.load(base)
    corpus, stats, hashes = build_midtrain_corpus(cfg, tokenizer, Prompter("plain", tokenizer), log=lambda _m: None)
    assert stats["documents"] == 3 and stats["problems_per_component"] == [3] and stats["dropped_too_long"] == 0
    assert sorted(hashes.tolist()) == sorted(prompt_hash(p["prompt"]) for p in problems)
    assert int((corpus.tokens == tokenizer.eos_id).sum()) == 3  # one document per problem
    mixture = [{"task": "knights", "knobs": {"people": 2}}]
    for data, message in (
        ({"problems": str(path), "mixture": mixture}, "exactly one of mixture"),
        ({}, "exactly one of mixture"),
        ({"problems": str(tmp_path / "nope.jsonl")}, "no such file"),
        ({"problems": str(tmp_path / "set.csv")}, "use a .jsonl or .parquet"),
        ({"problems": str(path), "num_problems": 5}, "num_problems: a problems file fixes the corpus"),
    ):
        with pytest.raises(ReasonlabError, match=message) as err:
            validate(DataConfig, data)
        assert "\n" not in str(err.value)


def _point(train: dict[str, bool], pert: dict[str, dict[str, bool]]) -> dict[str, list[dict[str, Any]]]:
    records = {
        "train": [{"id": i, "correct": c} for i, c in train.items()],
        "test": [{"id": "t", "correct": False}],
    }
    for kind, solved in pert.items():
        records[kind] = [{"id": f"{i}:{kind}", "correct": c} for i, c in solved.items()]
    return records


def test_limem_over_a_training_curve() -> None:
    """Three checkpoints of a model that memorises: it learns the four training items but few of their perturbed
    copies, so LiMem on flip_role climbs 0 -> 1/4 -> 3/4 (leaf: item d could not be perturbed, so N = 3 there;
    statement: every perturbation failed, so it is not measured and stays out of the mean)."""
    kinds = ["leaf", "flip_role", "statement"]
    curve = [
        _point(
            dict.fromkeys("abcd", False),
            {"leaf": dict.fromkeys("abc", False), "flip_role": dict.fromkeys("abcd", False), "statement": {}},
        ),
        _point(
            {"a": True, "b": True, "c": False, "d": False},
            {
                "leaf": dict.fromkeys("abc", False),
                "flip_role": {"a": True, "b": False, "c": False, "d": False},
                "statement": {},
            },
        ),
        _point(
            dict.fromkeys("abcd", True),
            {
                "leaf": {"a": False, "b": False, "c": True},
                "flip_role": {"a": True, "b": False, "c": False, "d": False},
                "statement": {},
            },
        ),
    ]
    got = [point_metrics(p, kinds) for p in curve]
    assert [g["train_acc"] for g in got] == [0.0, 0.5, 1.0]
    assert [g["limem"]["leaf"] for g in got] == pytest.approx([0.0, 2 / 3, 2 / 3])  # N = 3 aligned items
    assert [g["limem"]["flip_role"] for g in got] == pytest.approx([0.0, 0.25, 0.75])
    assert [g["cr"]["flip_role"] for g in got] == pytest.approx([0.0, 0.5, 0.25])
    assert all(g["limem"]["statement"] is None for g in got)  # every perturbation failed: not measured
    assert [g["limem_mean"] for g in got] == pytest.approx([0.0, (2 / 3 + 0.25) / 2, (2 / 3 + 0.75) / 2])
    assert got[2]["acc_perturbed"]["leaf"] == pytest.approx(1 / 3)


def _curves(sft: list[tuple[float, float, float]], rl: list[tuple[float, float, float]], seeds: int = 2) -> dict:
    """memorisation.json's shape from per-point (train acc, test acc, mean LiMem); seed s adds s * 0.01."""

    def arm(points: list[tuple[float, float, float]]) -> dict[str, Any]:
        return {
            "points": [
                {
                    "epoch": float(i),
                    "seeds": {
                        str(s): {
                            "train_acc": tr + s * 0.01,
                            "test_acc": te + s * 0.01,
                            "limem_mean": None if li is None else li + s * 0.01,
                        }
                        for s in range(seeds)
                    },
                }
                for i, (tr, te, li) in enumerate(points)
            ]
        }

    return {
        "seeds": list(range(seeds)),
        "checkpoints": [float(i) for i in range(1, len(sft))],
        "arms": {"sft": arm(sft), "rl": arm(rl)},
    }


def test_verdict_on_hand_built_curves() -> None:
    def verdict(sft: Any, rl: Any, seeds: int = 2) -> dict[str, Any]:
        return judge(_curves(sft, rl, seeds), limem_rise=0.05, min_accuracy=0.1)

    base = (0.0, 0.0, 0.0)
    v = verdict([base, (0.6, 0.2, 0.2), (0.9, 0.3, 0.4)], [base, (0.4, 0.3, 0.0), (0.7, 0.5, 0.01)])
    assert v["status"] == "reproduced" and v["reproduced"] is True
    assert [p["outcome"] for p in v["parts"].values()] == ["holds", "holds", "holds"]
    assert v["text"].startswith("Verdict (2 seeds") and "rise +0.400" in v["text"]
    # RL's LiMem rises as much as SFT's: the claim fails
    v = verdict([base, (0.9, 0.3, 0.4)], [base, (0.9, 0.5, 0.3)])
    assert v["status"] == "not reproduced" and v["parts"]["rl_limem_flat"]["outcome"] == "fails"
    # SFT's LiMem stays flat: fails
    v = verdict([base, (0.9, 0.3, 0.01)], [base, (0.9, 0.5, 0.0)])
    assert v["parts"]["sft_limem_rises"]["outcome"] == "fails" and v["reproduced"] is False
    # RL ends below SFT on the test set beyond the seed spread
    v = verdict([base, (0.9, 0.6, 0.4)], [base, (0.9, 0.2, 0.0)])
    assert v["parts"]["rl_test_at_least_sft"]["outcome"] == "fails"
    # RL solves nothing: its flat LiMem is a floor, not evidence; never passed
    v = verdict([base, (0.9, 0.0, 0.4)], [base, (0.01, 0.0, 0.0)])
    assert v["parts"]["rl_limem_flat"]["outcome"] == "not testable" and v["status"] == "not testable"
    assert v["reproduced"] is None and "floor" in v["text"]
    # no checkpoint beyond the base; no perturbation kind measured; both test accuracies at the floor
    v = verdict([base], [base])
    assert {p["outcome"] for p in v["parts"].values()} == {"not testable"} and v["status"] == "not testable"
    v = verdict([(0.0, 0.0, None), (0.9, 0.3, None)], [(0.0, 0.0, None), (0.9, 0.5, None)])
    assert v["parts"]["sft_limem_rises"]["outcome"] == "not testable" and v["status"] == "not testable"
    v = verdict([base, (0.9, 0.01, 0.4)], [base, (0.7, 0.0, 0.0)])
    assert v["parts"]["rl_test_at_least_sft"]["outcome"] == "not testable"
    # one seed: the mean alone decides
    v = verdict([base, (0.9, 0.3, 0.4)], [base, (0.7, 0.3, 0.0)], seeds=1)
    assert v["status"] == "reproduced" and v["text"].startswith("Verdict (1 seed,")


def test_config_errors_are_one_line() -> None:
    good = {"init_from": "m", "knobs": {"people": 2}, "checkpoints": [1, 2]}
    assert validate(MemorisationConfig, good).rl_prompts_per_step == 8  # RL's default 64 rollouts / 8
    for extra, message in (
        ({"sft": {"optim": {"max_steps": 5}}}, "sft.optim.max_steps: set by the memorisation step"),
        ({"rl": {"task": {"prompts": "x.jsonl"}}}, "rl.task.prompts: set by the memorisation step"),
        ({"eval": {"problems": "x.jsonl"}}, "eval.problems: set by the memorisation step"),
        ({"rl": {"algorithm": {"dynamic_sampling": True}}}, "dynamic_sampling"),
        ({"checkpoints": [2, 1]}, "checkpoints must be increasing"),
        ({"perturbations": ["leaf", "typo"]}, "perturbations must be distinct kinds"),
        ({"sft": {"optim": {"lr": -1}}}, "optim.lr"),
        ({"knobs": {"people": 1}}, "people"),
    ):
        with pytest.raises(ReasonlabError, match=message) as err:
            validate(MemorisationConfig, {**good, **extra})
        assert "\n" not in str(err.value)
    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "sft_vs_rl_memorisation.yaml")
    with pytest.raises(ReasonlabError, match="runs arms with seeds of their own"):
        run_seed_study(recipe, [0, 1])  # the step has seeds of its own: refused before anything runs
    knights = inherit_task("memorisation", {"knobs": {"depth": 3}}, RecipeTask(name="knights", knobs={"people": 4}))
    assert knights["knobs"] == {"people": 4, "depth": 3}
    assert checkpoint_steps("rl", 2.5, [1, 2, 4]) == [2, 5, 10]
    with pytest.raises(ReasonlabError, match="fall on steps"):
        checkpoint_steps("sft", 0.4, [1, 2])


def test_verdict_context_gap_and_kinds_out_of_reach() -> None:
    """Hand-built: the base solves none of kind "b"'s perturbed set, so b's LiMem is training accuracy."""

    def seed(train: float, test: float, limem: dict[str, float], acc_pert: dict[str, float]) -> dict[str, Any]:
        return {
            "train_acc": train,
            "test_acc": test,
            "limem_mean": sum(limem.values()) / len(limem),
            "limem": limem,
            "acc_perturbed": acc_pert,
        }

    base = {"0": seed(0.2, 0.2, {"a": 0.1, "b": 0.2}, {"a": 0.15, "b": 0.0})}
    m = {
        "seeds": [0],
        "kinds": ["a", "b"],
        "checkpoints": [8.0],
        "arms": {
            "sft": {
                "points": [
                    {"epoch": 0.0, "seeds": base},
                    {"epoch": 8.0, "seeds": {"0": seed(0.6, 0.1, {"a": 0.4, "b": 0.6}, {"a": 0.2, "b": 0.0})}},
                ]
            },
            "rl": {
                "points": [
                    {"epoch": 0.0, "seeds": base},
                    {"epoch": 8.0, "seeds": {"0": seed(0.4, 0.3, {"a": 0.15, "b": 0.4}, {"a": 0.3, "b": 0.0})}},
                ]
            },
        },
    }
    v = judge(m, limem_rise=0.05, min_accuracy=0.1)
    c = v["context"]
    assert c["out_of_reach"] == ["b"]
    assert c["arms"]["sft"]["gap"]["mean"] == pytest.approx(0.5) and c["arms"]["rl"]["gap"]["mean"] == pytest.approx(
        0.1
    )
    assert c["arms"]["sft"]["limem_end"]["mean"] == pytest.approx(0.4) and c["arms"]["rl"]["limem_end"][
        "mean"
    ] == pytest.approx(0.15)
    assert "train - test accuracy at the end SFT +0.500, RL +0.100" in v["text"]
    assert "the base solves none of the b set(s)" in v["text"] and "SFT 0.100 -> 0.400, RL 0.100 -> 0.150" in v["text"]
    # curves without per-kind numbers keep the gap and name no kind
    v = judge(_curves([(0.0, 0.0, 0.0), (0.9, 0.3, 0.4)], [(0.0, 0.0, 0.0), (0.7, 0.5, 0.01)]), 0.05, 0.1)
    assert v["context"]["out_of_reach"] == [] and "SFT +0.600 +- 0.000" in v["text"]
