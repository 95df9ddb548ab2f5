"""Reinforcement Pre-Training end to end: the shipped smoke recipe shrunk to seconds (every RPT step kind), the
compute-matched control's FLOPs, the standard mode against a brute-force argmax, the scaling fit, the reports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from reasonlab.errors import ReasonlabError
from reasonlab.eval.nexttoken import standard_predictions, think_stats
from reasonlab.experiments.pipeline import Recipe, run_recipe
from reasonlab.experiments.rpt import ComputeMatchedConfig, matched_steps
from reasonlab.io import read_json, read_records
from reasonlab.model import load_model
from reasonlab.report.rpt import COMPARISONS, RPT_SCHEMA, fit_scaling, kind_table, verdict
from reasonlab.report.rpt_seeds import judge_claim, write_rpt_seed_study

REPO = Path(__file__).resolve().parent.parent


def _shrink(recipe: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """recipes/rpt_smoke.yaml at a few seconds per step (one seed)."""
    recipe = {**recipe, "out_dir": str(out_dir), "seeds": None}
    steps = {s["name"]: s for s in recipe["steps"]}
    pre = steps["pretrain"]["config"]
    pre["data"].update(num_problems=300, seq_len=160)
    pre["model"]["overrides"].update(hidden_size=32, intermediate_size=64)
    pre["optim"].update(max_steps=30, batch_size=8)
    steps["data"]["config"]["knobs"].update(corpus_docs=60)  # anchored: every step's corpus knobs follow
    warm = steps["warmup"]["config"]
    warm["data"].update(num_problems=200, seq_len=160)
    warm["optim"].update(max_steps=10)
    rpt = steps["rpt"]["config"]
    rpt.update(steps=4, save_every=2)
    rpt["rollout"].update(batch_size=16)
    ctl = steps["control"]["config"]
    ctl["data"].update(num_problems=300, seq_len=160)
    ctl["optim"].update(batch_size=2)
    ctl["runtime"].update(checkpoint_every=4)
    for name in ("eval_base", "eval_warmup", "eval_rpt", "eval_control"):
        steps[name]["config"].update(problems_per_bucket=4, seeds=1, samples_per_seed=2, k=[1, 2])
    for name in ("rlvr_rpt", "rlvr_control"):
        steps[name]["config"].update(steps=2)
    for name in ("before_control", "before_rpt", "eval_rlvr_control", "eval_rlvr_rpt"):
        steps[name]["config"].update(problems_per_bucket=4, decoding={"temperature": 1.0, "max_new_tokens": 24})
    return recipe


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    data = _shrink(yaml.safe_load((REPO / "recipes" / "rpt_smoke.yaml").read_text()), tmp_path_factory.mktemp("rpt"))
    recipe = Recipe.model_validate(data)
    return Path(run_recipe(recipe, base_dir=REPO, log=lambda _m: None)["root"])


def test_recipe_runs_end_to_end_and_reports(smoke: Path) -> None:
    results = read_json(smoke / "results.json")
    assert results["schema"] == RPT_SCHEMA
    assert results["verdict"]["text"].startswith("**Verdict.**")
    report = (smoke / "report.md").read_text()
    assert report.splitlines()[2].startswith("**Verdict.**")  # verdict first
    for m, modes in (("base", {"standard"}), ("warmup", {"standard", "reasoning"}), ("rpt", {"standard", "reasoning"})):
        assert set(results["table1"][m]) == modes
        for block in results["table1"][m].values():
            assert set(block) <= {"easy", "medium", "hard"}
    assert (smoke / "plots" / "rpt_accuracy.png").is_file()
    assert results["rlvr"]["before_rpt"] is not None
    pts = results["scaling"]["rpt"]["points"]
    assert [p["step"] for p in pts] == [2, 4] and pts[0]["flops"] < pts[1]["flops"]
    # what the buckets hold: every evaluated problem has a kind; the arith corpus is tagged, so regions show
    counts = results["kinds"]["counts"]
    assert sum(counts["easy"].values()) == results["table1"]["base"]["standard"]["easy"]["n"]
    assert any(k.startswith("question") for c in counts.values() for k in c)
    assert "## What the buckets hold" in report and "What the hard bucket holds" in results["verdict"]["text"]


def test_control_flops_equal_rpt_flops_within_5_percent(smoke: Path) -> None:
    match = read_json(smoke / "control" / "match.json")
    rpt = read_json(smoke / "rpt" / "summary.json")
    assert match["target_flops"] == rpt["flops_total"]
    assert abs(match["control_flops"] / rpt["flops_total"] - 1) <= 0.05
    # the control's own FLOPs are what its training loop logged
    metrics = [r for r in read_records(smoke / "control" / "metrics.jsonl")]
    logged = sum(r["perf/flops"] for r in metrics)
    assert logged == pytest.approx(match["control_flops"], rel=1e-9)
    cfg = ComputeMatchedConfig.model_validate(yaml.safe_load((smoke / "control" / "config.yaml").read_text()))
    with pytest.raises(ReasonlabError, match="miss the target"):
        matched_steps(cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"batch_size": 512})}), 1e9, 0.05)


def test_rl_prompts_are_entropy_filtered_training_positions(smoke: Path) -> None:
    prompts = read_records(smoke / "rpt" / "data" / "train_prompts.jsonl")
    assert prompts and all(p["prompt"].endswith("<think>") for p in prompts)
    problems = read_records(smoke / "eval_rpt" / "reasoning" / "eval" / "problems.jsonl")
    assert {p["meta"]["split"] for p in problems} == {"test"}
    assert not {p["prompt"] for p in problems} & {p["prompt"] for p in prompts}
    for p in problems:  # the bucket's entropy condition holds (nested thresholds)
        thr = {"easy": 0.5, "medium": 1.0, "hard": 1.5}[p["bucket"]]
        assert p["meta"]["entropy"] > thr


def test_standard_mode_is_the_argmax_token(smoke: Path) -> None:
    model, tok = load_model(smoke / "warmup" / "model")
    contexts = ["<question> The number of adult", "<question>", "<question> The number of adult lions in"]
    got = standard_predictions(model, tok, contexts, batch_size=2)
    tb = tok.token_bytes()
    for ctx, pred in zip(contexts, got, strict=True):
        with torch.inference_mode():
            logits = model(torch.tensor([tok.encode(ctx, add_bos=True)]))[0, -1]
        assert pred == tb[int(logits.argmax())]
    rows = read_records(smoke / "eval_rpt" / "nexttoken" / "scores.jsonl")
    assert rows and all(set(r) >= {"id", "bucket", "standard", "reasoning"} for r in rows)


def test_think_stats() -> None:
    recs = [
        {"completion": " </think> <answer> 3</answer>", "correct": True, "length": 5},
        {"completion": " a b c </think> <answer> 4</answer>", "correct": False, "length": 8},
        {"completion": " no close", "correct": False, "length": 3},
    ]
    s = think_stats(recs)
    assert s["closed_think"] == pytest.approx(2 / 3)
    assert s["mean_think_words"] == pytest.approx(1.5)
    assert s["accuracy_empty_think"] == 1.0 and s["accuracy_nonempty_think"] == 0.0


def test_fit_scaling_recovers_a_power_law() -> None:
    flops = np.geomspace(1e9, 1e12, 8)
    acc = -50 / flops**0.3 + 0.6
    fit = fit_scaling(flops, acc)
    assert fit is not None and fit["determined"]
    assert fit["A"] == pytest.approx(-50, rel=1e-3)
    assert fit["alpha"] == pytest.approx(0.3, rel=1e-3)
    assert fit["P_star"] == pytest.approx(0.6, abs=1e-4)
    assert fit_scaling(flops[:3], acc[:3]) is None  # three parameters need four points
    assert fit_scaling([0, 0, 0, 0, 0], [0.1] * 5) is None  # C = 0 points are not on a power law
    flat = fit_scaling(flops, np.full(8, 0.25))
    assert flat is None or flat["P_star"] == pytest.approx(0.25, abs=1e-3) or not flat["determined"]
    # a curve still rising like a logarithm: a power law with alpha ~ 0 fits it with P* far above 100%
    log_like = fit_scaling(flops, 0.1 + 0.02 * np.log10(flops / 1e9))
    assert log_like is None or 0 <= log_like["P_star"] <= 1 or not log_like["determined"]


def test_seed_study_aggregates_per_seed_results(tmp_path: Path) -> None:
    def result(diff: float, p: float) -> dict[str, Any]:
        row = {"mean_diff": diff, "p_holm": p, "p_value": p, "ci_low": diff - 0.1, "ci_high": diff + 0.1, "n": 50}
        pts = [{"step": s, "flops": 1e9 * s, "buckets": {"hard": 0.6 - 0.5 / math.sqrt(s)}} for s in (1, 2, 4, 8)]
        return {
            "schema": RPT_SCHEMA,
            "alpha": 0.05,
            "headline_bucket": "hard",
            "tests": {"rpt_reasoning_vs_control_standard": {"hard": row}},
            "table1": {"rpt": {"reasoning": {"hard": {"mean": 0.3 + diff, "ci": [0, 1], "n": 50}}}},
            "rlvr": {"paired": {"mean_diff": diff / 2, "p_value": p}},
            "scaling": {"rpt": {"mode": "reasoning", "points": pts}},
        }

    study = write_rpt_seed_study(tmp_path, "x", {0: result(0.1, 0.01), 1: result(0.2, 0.2), 2: result(0.0, 0.9)})
    head = study["tests"]["rpt_reasoning_vs_control_standard"]["hard"]
    assert head["mean"] == pytest.approx(0.1) and head["std"] == pytest.approx(0.1)
    assert head["share_significant"] == pytest.approx(1 / 3)
    assert study["rlvr"]["mean"] == pytest.approx(0.05)
    assert study["table1"]["rpt/reasoning"]["hard"]["mean"] == pytest.approx(0.4)
    assert study["scaling"]["rpt"]["fits"]["hard"]["alpha"] == pytest.approx(0.5, rel=1e-3)
    assert study["tests"]["rpt_reasoning_vs_control_standard"]["hard"]["per_seed_p_holm"] == [0.01, 0.2, 0.9]
    # significantly better in one seed of three, positive on average: partly
    assert study["claims"]["next_token"]["status"] == "partly"
    assert study["claims"]["rlvr_start"] == {
        "status": "partly",
        "seeds": 3,
        "significant_positive": 1,
        "significant_negative": 0,
    }
    text = (tmp_path / "report.md").read_text()
    assert "Verdict over 3 training seeds" in text.splitlines()[2]
    assert "better than the control: **partly** (significantly better in 1 of 3 seeds" in text
    assert "computed_share" not in study  # the seeds' results say nothing of what the bucket holds
    with_kinds = {s: {**result(0.1, 0.01), "verdict": {"computed_share": c}} for s, c in enumerate([0.0, 0.1])}
    assert write_rpt_seed_study(tmp_path, "x", with_kinds)["computed_share"]["mean"] == pytest.approx(0.05)
    assert "make 5% of the hard bucket's positions" in (tmp_path / "report.md").read_text()
    lost = {s: {**result(0.1, 0.01), "verdict": {"control_lost_format": s == 0}} for s in range(3)}
    assert write_rpt_seed_study(tmp_path, "x", lost)["control_lost_format"] == 1
    assert "In 1 of 3 seeds the control had lost the answer format" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    ("diffs", "ps", "status"),
    [
        ([0.1, 0.2, 0.05], [0.01, 0.001, 0.04], "reproduced"),  # significant and positive in every seed
        ([0.1, 0.2, 0.05], [0.01, 0.001, 0.06], "partly"),  # one seed misses alpha
        ([0.1, -0.3, -0.2], [0.01, 0.001, 0.001], "contradicted"),  # two of three significantly negative
        ([0.1, -0.3, 0.01], [0.01, 0.001, 0.5], "not reproduced"),  # one each way and negative on average
        ([0.02, -0.01, 0.0], [0.5, 0.7, 1.0], "not reproduced"),  # noise
        ([0.3, -0.1], [0.001, 0.001], "partly"),  # one each way, positive on average, not a majority against
    ],
)
def test_judge_claim_by_hand(diffs: list[float], ps: list[float], status: str) -> None:
    got = judge_claim(diffs, ps, 0.05)
    assert got["seeds"] == len(diffs)
    assert got["significant_positive"] == sum(d > 0 and p < 0.05 for d, p in zip(diffs, ps, strict=True))
    assert got["status"] == status


def _minimal_result() -> dict[str, Any]:
    return {"schema": RPT_SCHEMA, "alpha": 0.05, "headline_bucket": "hard", "tests": {}, "table1": {}}


def test_kind_table_and_what_the_verdict_says_the_bucket_holds(tmp_path: Path) -> None:
    def row(bucket: str, kind: str | None, std: float | None, reas: float | None = None) -> dict[str, Any]:
        return {"bucket": bucket, "kind": kind, "standard": std, "reasoning": reas}

    scores = {
        "rpt": {
            "a": row("hard", "question number", 1.0, 0.5),
            "b": row("hard", "solution number", 0.0),
            "c": row("hard", "question word", 0.0, 0.25),
            "d": row("hard", "solution word", 1.0, 1.0),
        },
        "control": {"a": row("hard", "question number", 0.0), "e": row("easy", None, 1.0)},  # e: no kind, skipped
    }
    t = kind_table(scores)
    assert t["counts"] == {"hard": {"question number": 1, "question word": 1, "solution number": 1, "solution word": 1}}
    assert t["accuracy"]["rpt"]["standard"]["hard"]["question number"] == {"mean": 1.0, "n": 1}
    assert t["accuracy"]["rpt"]["reasoning"]["hard"]["question word"] == {"mean": 0.25, "n": 1}
    assert "solution number" not in t["accuracy"]["rpt"]["reasoning"]["hard"]  # no reasoning score there
    assert t["accuracy"]["control"]["standard"] == {"hard": {"question number": {"mean": 0.0, "n": 1}}}
    v = verdict({"headline_bucket": "hard", "alpha": 0.05, "tests": {}, "kinds": t})
    assert v["computed_share"] == pytest.approx(0.25)
    assert "What the hard bucket holds (4 positions): 25% numbers of a solution" in v["text"]
    assert "25% other solution tokens, 50% question tokens" in v["text"]
    row12 = {"n": 12, "mean_diff": 0.1, "ci_low": 0.02, "ci_high": 0.18, "p_value": 0.01, "p_holm": 0.02}
    v = verdict(
        {
            "headline_bucket": "hard",
            "alpha": 0.05,
            "kinds": t,
            "tests": {f"{COMPARISONS[0][0]} (solution numbers)": {"hard": row12}},
        }
    )
    assert "On those 12 computable positions, RPT (reasoning) - control (standard): +10.0 pp" in v["text"]
    assert v["computable_n"] == 12 and v["computable_p_holm"] == 0.02
    seeds = {
        s: {**_minimal_result(), "verdict": {"computable_diff": d, "computable_p_holm": 0.01}}
        for s, d in enumerate([0.1, 0.2])
    }
    study = write_rpt_seed_study(tmp_path, "x", seeds)
    assert study["claims"]["computable"]["status"] == "reproduced"
    assert "computable positions, RPT is better: **reproduced**" in (tmp_path / "report.md").read_text()
    # an untagged corpus: kinds are all "text ...", so the verdict says nothing about regions
    plain = kind_table({"rpt": {"a": row("hard", "text word", 1.0)}})
    assert "computed_share" not in verdict({"headline_bucket": "hard", "alpha": 0.05, "tests": {}, "kinds": plain})


def test_verdict_names_the_winner_and_a_control_that_lost_the_answer_format() -> None:
    head = {"n": 190, "mean_diff": -0.2, "ci_low": -0.27, "ci_high": -0.14, "p_value": 0.0001, "p_holm": 0.0003}
    paired = {"mean_diff": 0.33, "p_value": 0.0001}
    rl = {"after_control": 0.19, "after_rpt": 0.52, "paired": paired, "before_control": 0.02, "before_rpt": 0.46}
    res = {"headline_bucket": "hard", "alpha": 0.05, "tests": {COMPARISONS[0][0]: {"hard": head}}}
    v = verdict({**res, "rlvr": {**rl, "truncated_before_control": 0.998, "truncated_before_rpt": 0.0}})
    assert "the control beats RPT." in v["text"] and "beats the control" not in v["text"]
    assert "Before RLVR 100% of the control's arith completions run to the length limit (RPT's: 0%)" in v["text"]
    assert v["control_lost_format"] is True
    # both starts keep the format: no such sentence
    v = verdict({**res, "rlvr": {**rl, "truncated_before_control": 0.05, "truncated_before_rpt": 0.02}})
    assert "length limit" not in v["text"] and "control_lost_format" not in v
    up = {**head, "mean_diff": 0.1, "ci_low": 0.05, "ci_high": 0.15}
    assert "RPT beats the control." in verdict({**res, "tests": {COMPARISONS[0][0]: {"hard": up}}})["text"]
