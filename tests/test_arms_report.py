"""The arms report's measurements and verdicts on hand-built records (no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reasonlab.io import write_records
from reasonlab.report.arms import bucket_label, length_words_lines, reward_rules_lines
from reasonlab.report.arms_data import (
    band_effect,
    band_map,
    early_late,
    hacking_by_band,
    length_and_words,
    reward_rules,
    score_rules,
    training_by_arm,
)
from reasonlab.report.arms_studies import judge
from reasonlab.report.pipeline import ReportStepConfig
from reasonlab.rundir import RunDir
from reasonlab.tasks.base import Problem
from reasonlab.tasks.registry import get_task


def rec(pid: str, bucket: int, correct: bool, process: bool | None = None, failure: str | None = None) -> dict:
    return {
        "id": pid,
        "bucket": bucket,
        "correct": correct,
        "process_ok": process,
        "failure": failure,
        "seed": 0,
        "sample": 0,
    }


def test_band_map_orders_bands_and_adds_all() -> None:
    out = band_map(["3", "4", "5", "6"], {"3": "in_range", "4": "edge", "5": "edge", "6": "hard"})
    assert out == {"in_range": ["3"], "edge": ["4", "5"], "hard": ["6"], "all": ["3", "4", "5", "6"]}


def test_band_effect_by_hand() -> None:
    # base: problem a 0/2, b 1/2 (pass@1 0 and 0.5); seed 0: a 2/2, b 1/2; seed 1: a 1/2, b 1/2
    base = [rec("a", 4, False), rec("a", 4, False), rec("b", 4, True), rec("b", 4, False)]
    cand = {
        "0": [rec("a", 4, True), rec("a", 4, True), rec("b", 4, True), rec("b", 4, False)],
        "1": [rec("a", 4, True), rec("a", 4, False), rec("b", 4, False), rec("b", 4, True)],
    }
    eff = band_effect(cand, base, ["4"], 1, process=False, n_perm=100)
    # per seed value: (1 + 0.5)/2 = 0.75 and (0.5 + 0.5)/2 = 0.5; diff: 0.75 - 0.25 = 0.5 and 0.25
    assert eff["value"]["mean"] == pytest.approx(0.625) and eff["per_seed_diff"] == pytest.approx([0.5, 0.25])
    assert eff["diff"]["std"] == pytest.approx(0.1767767, abs=1e-6)
    # pooled: per problem mean diff over seeds: a (1 + 0.5)/2 = 0.75, b 0 -> mean 0.375
    assert eff["pooled"]["mean_diff"] == pytest.approx(0.375) and eff["pooled"]["n"] == 2
    # a reference per seed (another arm) pairs seed with seed
    same = band_effect(cand, cand, ["4"], 1, process=False, n_perm=100)
    assert same["diff"]["mean"] == 0.0 and same["pooled"]["p_value"] == 1.0
    assert band_effect(cand, base, ["9"], 1, process=False)["seeds"] == 0  # a band without problems


def test_hacking_by_band_by_hand() -> None:
    records = {
        "0": [
            rec("a", 4, True, False, "missing_step"),
            rec("b", 4, True, True),
            rec("c", 5, False, False, "wrong_value"),
        ],
        "1": [rec("a", 4, True, True), rec("b", 4, True, True), rec("c", 5, True, False, "wrong_value")],
    }
    out = hacking_by_band(records, {"edge": ["4"], "hard": ["5"], "all": ["4", "5"]})
    assert out["edge"]["rate"] == {"mean": pytest.approx(0.25), "std": pytest.approx(0.3535534, abs=1e-6)}
    assert out["edge"]["by_kind"] == {"missing_step": pytest.approx(0.25)}
    assert out["hard"]["rate"]["mean"] == pytest.approx(0.5)
    assert out["all"]["by_kind"] == pytest.approx({"missing_step": 1 / 6, "wrong_value": 1 / 6})


def eff(value: float, diff: float = 0.0, p: float = 0.5) -> dict[str, Any]:
    return {
        "value": {"mean": value, "std": 0.01},
        "diff": {"mean": diff, "std": 0.01},
        "pooled": {"p_value": p},
        "seeds": 3,
    }


def measured(values: dict[str, dict[str, tuple[float, float]]], ref: dict | None = None, **extra: Any) -> dict:
    """values: arm -> band -> (pass@1, pass@16), the same numbers as the difference against the base."""
    effects = {
        arm: {
            band: {"process": {"pass@1": eff(v1, v1, 0.01), "pass@16": eff(vk, vk, 0.01)}}
            for band, (v1, vk) in b.items()
        }
        for arm, b in values.items()
    }
    bands = {b: [] for arm in values.values() for b in arm}
    return {
        "corr": "process",
        "kmax": 16,
        "n_seeds": 3,
        "bands": bands,
        "base": {},
        "effects": effects,
        "reference": extra.get("reference"),
        "vs_reference": ref,
        "hacking": extra.get("hacking", {}),
        "training": extra.get("training", {}),
        "shares": extra.get("shares", {}),
    }


def test_edge_verdict_reproduces_the_cmu_pattern_and_names_what_fails() -> None:
    good = measured(
        {
            "in_range": {"in_range": (0.1, 0.0), "edge": (0.0, 0.0), "hard": (0.0, 0.0)},
            "edge": {"in_range": (0.0, 0.0), "edge": (0.2, 0.15), "hard": (0.05, 0.05)},
            "hard": {"in_range": (0.0, 0.0), "edge": (0.0, 0.0), "hard": (0.01, 0.0)},
        }
    )
    v = judge("edge", good)
    assert v["reproduced"] is True and v["text"].startswith("Verdict (process-verified")
    good["effects"]["edge"]["edge"]["process"]["pass@16"] = eff(0.0, 0.0)
    v = judge("edge", good)
    assert v["reproduced"] is False and "Fails: edge RL raises edge pass@1 and pass@k." in v["text"]
    assert "Holds: " in v["text"]  # the parts that held are named too


def test_midtrain_verdict_reads_the_split() -> None:
    vals = {
        "all_rl": {"edge": (0.30, 0.6), "hard": (0.05, 0.2)},
        "mid20": {"edge": (0.35, 0.6), "hard": (0.12, 0.3)},
        "mid80": {"edge": (0.45, 0.7), "hard": (0.08, 0.3)},
        "all_mid": {"edge": (0.40, 0.8), "hard": (0.06, 0.3)},
    }
    ref = {
        a: {b: {"process": {"pass@1": eff(0, 0.03), "pass@16": eff(0, 0.1)}} for b in ("edge", "hard")}
        for a in vals
        if a != "all_rl"
    }
    shares = {"all_rl": None, "mid20": 0.2, "mid80": 0.8, "all_mid": 1.0}
    v = judge("midtrain_vs_rl", measured(vals, ref, reference="all_rl", shares=shares))
    assert v["checks"] == {
        "light RL best on edge pass@1": True,
        "all mid-training best on edge pass@k": True,
        "heavy RL best on hard pass@1": True,
        "every mix beats all-RL (edge, hard pass@1)": True,
    }
    ref["mid20"]["hard"]["process"]["pass@1"] = eff(0, -0.02)
    v = judge("midtrain_vs_rl", measured(vals, ref, reference="all_rl", shares=shares))
    assert v["reproduced"] is False and "Fails: every mix beats all-RL (edge, hard pass@1)." in v["text"]
    # a hard band where every arm is at 0 (the base cannot do it) ranks nothing: not testable, not passed
    flat = {a: {"edge": b["edge"], "hard": (0.0005 * i, 0.0)} for i, (a, b) in enumerate(vals.items())}
    v = judge("midtrain_vs_rl", measured(flat, ref, reference="all_rl", shares=shares))
    assert v["checks"]["heavy RL best on hard pass@1"] is None
    assert v["checks"]["every mix beats all-RL (edge pass@1)"] is True
    assert "Not testable here: heavy RL best on hard pass@1" in v["text"]


def test_process_reward_verdict_needs_gains_and_less_hacking() -> None:
    vals = {a: {"edge": (0.3, 0.6), "hard": (0.1, 0.3)} for a in ("outcome", "process", "strict")}
    ref = {a: {"hard": {"process": {"pass@1": eff(0, 0.04), "pass@16": eff(0, 0.02)}}} for a in ("process", "strict")}
    hacking = {
        "outcome": {"edge": {"rate": {"mean": 0.2}, "by_kind": {}}},
        "process": {"edge": {"rate": {"mean": 0.05}, "by_kind": {}}},
        "strict": {"edge": {"rate": {"mean": 0.01}, "by_kind": {}}},
    }
    v = judge("process_reward", measured(vals, ref, reference="outcome", hacking=hacking))
    assert v["reproduced"] is True and "outcome: hacking on the edge ops 20.0%" in v["text"]
    hacking["strict"]["edge"]["rate"]["mean"] = 0.3
    v = judge("process_reward", measured(vals, ref, reference="outcome", hacking=hacking))
    assert v["checks"]["process rewards hack less than outcome"] is False


def test_a_claim_without_its_arms_is_not_testable_rather_than_passed() -> None:
    v = judge("algorithms", measured({"grpo": {"all": (0.3, 0.5)}}))
    assert v["reproduced"] is None and "Not testable here" in v["text"]


def test_algorithms_verdict_needs_a_paired_significant_difference() -> None:
    vals = {"grpo": {"all": (0.30, 0.5)}, "reinforce_pp": {"all": (0.34, 0.5)}, "ppo": {"all": (0.40, 0.6)}}
    ref = {
        "reinforce_pp": {"all": {"process": {"pass@1": eff(0.34, 0.04, 0.01)}}},
        "ppo": {"all": {"process": {"pass@1": eff(0.40, 0.10, 0.001)}}},
    }
    training = {
        "grpo": {"seconds_per_step": {"mean": 5.0}},
        "reinforce_pp": {"seconds_per_step": {"mean": 4.8}},
        "ppo": {"seconds_per_step": {"mean": 7.5}},
    }
    v = judge("algorithms", measured(vals, ref, reference="grpo", training=training))
    assert v["reproduced"] is True and "reinforce_pp: pass@1 0.340 +- 0.010, vs grpo +4.0 pp (p = 0.01)" in v["text"]
    # a higher mean that the paired test does not support is not a win
    ref["reinforce_pp"]["all"]["process"]["pass@1"] = eff(0.34, 0.04, 0.3)
    v = judge("algorithms", measured(vals, ref, reference="grpo", training=training))
    assert v["checks"]["REINFORCE++ beats GRPO (paired, p < 0.05)"] is False and v["reproduced"] is False
    # the reference may be either arm of the pair: GRPO measured against REINFORCE++ reads with the sign flipped
    flipped = {"grpo": {"all": {"process": {"pass@1": eff(0.30, -0.04, 0.01)}}}}
    v = judge("algorithms", measured(vals, flipped, reference="reinforce_pp", training=training))
    assert v["checks"]["REINFORCE++ beats GRPO (paired, p < 0.05)"] is True
    # without a paired comparison of the two the claim is not testable
    v = judge("algorithms", measured(vals, training=training))
    assert v["checks"]["REINFORCE++ beats GRPO (paired, p < 0.05)"] is None
    assert v["checks"]["PPO slowest per step"] is True
    # PPO without the highest mean fails even where no paired test exists
    low = {**vals, "ppo": {"all": (0.20, 0.4)}}
    assert (
        judge("algorithms", measured(low, training=training))["checks"][
            "PPO most accurate (highest mean, significantly above GRPO)"
        ]
        is False
    )


def test_curriculum_verdict_needs_significance() -> None:
    vals = {"shuffled": {"all": (0.30, 0.5)}, "curriculum": {"all": (0.33, 0.5)}}
    ref = {"curriculum": {"all": {"process": {"pass@1": eff(0.33, 0.03, 0.2)}}}}
    v = judge("curriculum", measured(vals, ref, reference="shuffled"))
    assert v["reproduced"] is False and "curriculum vs shuffled: +3.0 pp (p = 0.2)" in v["text"]
    ref["curriculum"]["all"]["process"]["pass@1"] = eff(0.33, 0.03, 0.004)
    assert judge("curriculum", measured(vals, ref, reference="shuffled"))["reproduced"] is True


def test_bucket_label_names_what_the_buckets_count() -> None:
    def summary(knob: str) -> dict[str, Any]:
        return {"record": {"config": {"buckets": {"knob": knob, "values": [2, 3]}}}}

    assert bucket_label(summary("ops")) == "op"
    assert bucket_label(summary("people")) == "people"


def test_early_late_means_the_first_and_last_third_by_hand() -> None:
    assert early_late({str(s): float(s) for s in range(1, 7)}) == (1.5, 5.5)
    # steps are ordered as numbers, not strings; one step per end at minimum
    assert early_late({"10": 4.0, "2": 1.0}) == (1.0, 4.0)
    assert early_late({}) == (None, None)


def _metrics_run(root: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """An arms seed record whose RL run directory holds ``rows`` as its metrics."""
    run = RunDir(root / "rl")
    run.path.mkdir(parents=True)
    for row in rows:
        run.log_metrics(row.pop("step"), row)
    totals = {"rollouts": 64, "generated_tokens": 6400}
    return {"eval": str(root / "eval"), "rl": {"steps": 2, "seconds": 4.0, "flops_total": 1e9, "totals": totals}}


def test_length_and_words_from_rl_metrics_by_hand(tmp_path: Path) -> None:
    # seed 0 writes "wait" at step 1 only; seed 1 never writes it: a step where no rollout uses a word logs
    # nothing for it, which counts as share 0 (not as a missing point)
    s0 = [
        {
            "step": 1,
            "acc/mean": 0.5,
            "response_length/mean": 100.0,
            "response_length/correct_mean": 80.0,
            "response_length/wrong_mean": 120.0,
            "words/wait/freq": 0.5,
            "words/wait/reward_gap": 1.0,
        },
        {
            "step": 2,
            "acc/mean": 0.5,
            "response_length/mean": 60.0,
            "response_length/correct_mean": 50.0,
            "response_length/wrong_mean": 70.0,
        },
    ]
    s1 = [
        {"step": 1, "acc/mean": 0.0, "response_length/mean": 140.0, "response_length/wrong_mean": 140.0},
        {"step": 2, "acc/mean": 1.0, "response_length/mean": 40.0, "response_length/correct_mean": 40.0},
    ]
    arms = {"arms": {"grpo": {"0": _metrics_run(tmp_path / "a", s0), "1": _metrics_run(tmp_path / "b", s1)}}}
    training = training_by_arm(arms)
    curves = training["grpo"]["curves"]
    assert curves["words/wait/freq"] == {"1": 0.25, "2": 0.0}
    assert curves["words/wait/reward_gap"] == {"1": 1.0}
    assert "words/verify/freq" in curves and set(curves["words/verify/freq"].values()) == {0.0}
    lw = length_and_words(training, fraction=0.5)["grpo"]
    assert lw["length"] == {"all": (120.0, 50.0), "right": (80.0, 45.0), "wrong": (130.0, 70.0)}
    assert lw["words"]["wait"] == {"freq": 0.125, "reward_gap": 1.0}
    assert lw["words"]["verify"] == {"freq": 0.0, "reward_gap": None}
    text = "\n".join(length_words_lines({"grpo": lw}))
    assert "| grpo | 120 -> 50 | 80 -> 45 | 130 -> 70 |" in text
    assert "| grpo | wait | 0.125 | +1.000 |" in text
    assert "verify |" not in text


def test_length_words_lines_say_when_no_rollout_wrote_a_reflection_word() -> None:
    lw = {"ppo": {"length": {"all": (9.0, None), "right": (None, None), "wrong": (9.0, 9.0)}, "words": {}}}
    text = "\n".join(length_words_lines(lw))
    assert "| ppo | 9 -> - | - -> - | 9 -> 9 |" in text
    assert "No rollout of any arm wrote a reflection word" in text


def _knights_problem() -> Problem:
    task = get_task("knights")
    return next(iter(task.generate(task.params(people=2), 1, seed=3)))


def test_score_rules_published_vs_strict_by_hand() -> None:
    p = _knights_problem()
    gold = p.solution
    answer = gold[gold.index("</think>") :]
    filler = " Let us reason. " + answer  # +3 under the published rule, -3 under the strict one (no reasoning)
    samples = [{"id": p.id, "completion": c} for c in (gold, filler, "no tags at all")]
    out = score_rules([p.to_dict()], samples, ["logic_rl", "logic_rl_strict"])
    assert out["n"] == 3
    assert out["mean"] == {"logic_rl": pytest.approx((3 + 3 - 3) / 3), "logic_rl_strict": pytest.approx(-3 / 3)}
    assert out["differs"] == {"logic_rl_strict": pytest.approx(1 / 3)}
    [(reason, share)] = out["reasons"]["logic_rl_strict"].items()
    assert reason.startswith("strict format") and share == pytest.approx(1 / 3)


def test_reward_rules_pool_seeds_and_render(tmp_path: Path) -> None:
    p = _knights_problem()
    gold = p.solution
    filler = " ok " + gold[gold.index("</think>") :]

    def run(name: str, completions: list[str]) -> str:
        ev = tmp_path / name / "eval"
        ev.mkdir(parents=True)
        write_records(ev / "problems.jsonl", [p.to_dict()])
        write_records(ev / "samples.jsonl", [{"id": p.id, "completion": c} for c in completions])
        return str(tmp_path / name)

    arms = {
        "baseline": run("base", [gold, gold]),
        "arms": {"grpo": {"0": {"eval": run("g0", [gold, filler])}, "1": {"eval": run("g1", [gold, gold])}}},
    }
    rr = reward_rules(arms, ["logic_rl", "logic_rl_strict"])
    assert rr["base"]["differs"]["logic_rl_strict"] == {"mean": 0.0, "std": None}
    assert rr["grpo"]["mean"]["logic_rl"]["mean"] == pytest.approx(3.0)
    assert rr["grpo"]["mean"]["logic_rl_strict"]["mean"] == pytest.approx((0.0 + 3.0) / 2)  # seeds: (3-3)/2, 3
    assert rr["grpo"]["differs"]["logic_rl_strict"]["mean"] == pytest.approx(0.25)
    assert sum(rr["grpo"]["reasons"]["logic_rl_strict"].values()) == pytest.approx(1 / 4)
    text = "\n".join(reward_rules_lines(rr, ["logic_rl", "logic_rl_strict"]))
    assert "| base | 3.000 | 3.000 | 0.0% | - |" in text
    assert "| grpo | 3.000 +- 0.000 | 1.500 +- 2.121 | 25.0% +- 35.4 | strict format" in text


def test_report_config_rewards_must_be_known_schemes_and_at_least_two() -> None:
    assert ReportStepConfig(arms="@arms", rewards=["logic_rl", "logic_rl_strict"]).rewards[1] == "logic_rl_strict"
    with pytest.raises(ValidationError, match="unknown reward 'logic_rl_stric'"):
        ReportStepConfig(arms="@arms", rewards=["logic_rl", "logic_rl_stric"])
    with pytest.raises(ValidationError, match="two or more"):
        ReportStepConfig(arms="@arms", rewards=["logic_rl"])
