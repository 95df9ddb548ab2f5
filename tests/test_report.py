"""Markdown reports, plots and the paired comparison on synthetic evaluation runs (no model needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reasonlab.eval.compare import compare_runs
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.record import SUMMARY_SCHEMA
from reasonlab.eval.stats import summarize
from reasonlab.io import atomic_write_text, write_records
from reasonlab.report.markdown import write_compare_report, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def _config(name: str) -> EvalConfig:
    return EvalConfig.model_validate(
        {
            "name": name,
            "task": "knights",
            "buckets": {"knob": "people", "values": [2, 3]},
            "problems_per_bucket": 20,
            "seeds": 4,
            "samples_per_seed": 1,
            "bootstrap": 200,
        }
    )


def _fake_run(d: Path, name: str, correct: np.ndarray) -> Path:
    """An evaluation run dir written from a [problems, seeds] correctness matrix."""
    cfg = _config(name)
    recs = []
    for i in range(correct.shape[0]):
        for s in range(correct.shape[1]):
            ok = bool(correct[i, s])
            recs.append(
                {
                    "id": f"p{i}",
                    "bucket": 2 if i < correct.shape[0] // 2 else 3,
                    "cluster": None,
                    "seed": s,
                    "sample": 0,
                    "sample_seed": 0,
                    "completion": "so wait" if ok else "but if then",
                    "pred": "a" if ok else "b",
                    "correct": ok,
                    "format_ok": True,
                    "process_ok": None,
                    "reward": float(ok),
                    "length": 10 + (i % 7) * 3 + (0 if ok else 5),
                    "truncated": i % 11 == 0,
                    "unparseable": False,
                }
            )
    summary = {
        "schema": SUMMARY_SCHEMA,
        "name": name,
        "record": {
            "config": cfg.model_dump(mode="json"),
            "model_path": f"/models/{name}",
            "model_params": 1000,
            "dtype": "float32",
            "prompt_template": {"id": "knights/plain", "render_hash": "0" * 16, "prompt_set_hash": "1" * 16},
            "holdout": {"namespace": "reasonlab-eval", "training_config": None, "dropped_overlapping": 0},
            "device": {"device": "cpu", "cpu": "test cpu", "torch_threads": 1},
            "versions": {"torch": "x", "reasonlab": "y"},
            "git": None,
        },
        "timing": {
            "wall_s": 1.0,
            "generate_s": 0.8,
            "score_s": 0.1,
            "generated_tokens": 100,
            "tokens_per_s": 125.0,
            "samples_per_s": 80.0,
        },
        **summarize(recs, cfg),
    }
    atomic_write_text(d / "eval" / "summary.json", json.dumps(summary))
    write_records(d / "eval" / "samples.jsonl", recs)
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("rep")
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.6, size=40)
    base = rng.random((40, 4)) < p[:, None]
    better = rng.random((40, 4)) < np.clip(p + 0.35, 0, 1)[:, None]
    tiny = base.copy()
    tiny[np.argmin(base.sum(1)), 0] = True  # one more correct sample: a "gain" of 1/160
    return {
        "base": _fake_run(tmp / "base", "base", base),
        "better": _fake_run(tmp / "better", "better", better),
        "tiny": _fake_run(tmp / "tiny", "tiny", tiny),
        "tmp": tmp,
    }


def test_report_markdown_and_plots(runs: dict[str, Path]) -> None:
    path = write_report(runs["base"], [runs["better"]])
    text = path.read_text()
    for heading in (
        "## Setup",
        "## Overall",
        "## Per bucket",
        "## Length vs correctness",
        "## Reasoning words",
        "## Seed-count stability",
        "## Plots",
        "## Conventions",
    ):
        assert heading in text
    assert "std_ddof: 1" in text
    assert "tie rule 'fractional'" in text
    for name in (
        "pass_at_k_by_bucket",
        "pass_at_k_models",
        "seed_spread",
        "length_vs_correctness",
        "seed_stability",
        "reasoning_words",
    ):
        png = runs["base"] / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG, name
        assert f"plots/{name}.png" in text
    analyses = json.loads((runs["base"] / "eval" / "analyses.json").read_text())
    assert set(analyses) == {"length", "words", "stability"}
    # rewriting gives the same text (deterministic statistics)
    assert write_report(runs["base"], [runs["better"]]).read_text() == text


def test_compare_flags_real_gain(runs: dict[str, Path]) -> None:
    res = compare_runs(runs["base"], runs["better"], runs["tmp"] / "cmp", n_perm=2000)
    write_compare_report(res, runs["tmp"] / "cmp")
    ov = res["overall"]
    assert ov["paired"]["mean_diff"] > 0.2
    assert ov["paired"]["p_value"] < 0.01 and ov["significant"]
    assert ov["gain_inside_seed_band"] is False
    assert res["warnings"] == []
    md = (runs["tmp"] / "cmp" / "compare.md").read_text()
    assert "| overall |" in md and "Diversity collapse" in md
    assert (runs["tmp"] / "cmp" / "plots" / "pass_at_k_by_bucket.png").read_bytes()[:8] == PNG


def test_compare_flags_gain_inside_seed_band(runs: dict[str, Path]) -> None:
    res = compare_runs(runs["base"], runs["tiny"], None, n_perm=2000)
    ov = res["overall"]
    assert ov["paired"]["mean_diff"] == pytest.approx(1 / 160)
    assert ov["gain_inside_seed_band"] is True
    assert ov["paired"]["p_value"] > 0.5
    assert not ov["significant"]


def test_compare_warns_on_setting_mismatch(runs: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other"
    import shutil

    shutil.copytree(runs["tiny"], other)
    s = json.loads((other / "eval" / "summary.json").read_text())
    s["record"]["config"]["decoding"]["temperature"] = 0.2
    (other / "eval" / "summary.json").write_text(json.dumps(s))
    res = compare_runs(runs["base"], other, None, n_perm=100)
    assert any("decoding" in w for w in res["warnings"])


def _summary_block(p1: float, pk: float, process: bool = True) -> dict[str, Any]:
    blk = {
        "pass@k": {
            "1": {"mean": p1, "ci": [max(0, p1 - 0.05), p1 + 0.05]},
            "8": {"mean": pk, "ci": [max(0, pk - 0.05), pk + 0.05]},
        }
    }
    return {"outcome": blk, "process": blk if process else None, "answer_space": 7}


def _paired(diff: float, p: float) -> dict[str, Any]:
    return {"mean_diff": diff, "ci_low": diff - 0.05, "ci_high": diff + 0.05, "p_value": p}


def test_verdict_corrects_for_buckets_and_flags_chance() -> None:
    from reasonlab.report.pipeline import ReportStepConfig, comparison_rows, rows_table, verdict

    base = {
        "buckets": {"4": _summary_block(0.9, 1.0), "5": _summary_block(0.1, 0.4), "7": _summary_block(0.0, 0.0)},
        "overall": _summary_block(0.3, 0.5),
    }
    cand = {
        "buckets": {"4": _summary_block(0.95, 1.0), "5": _summary_block(0.25, 0.6), "7": _summary_block(0.0, 0.0)},
        "overall": _summary_block(0.4, 0.55),
    }

    def cmp_(d: float, p: float, dk: float) -> dict[str, Any]:
        side = {"paired": _paired(d, p), "delta@k": {"8": {"mean_diff": dk, "p_value": p}}}
        return {"n_problems": 100, **side, "process": side}

    compare = {
        "k": [1, 8],
        "buckets": {"4": cmp_(0.05, 0.02, 0.0), "5": cmp_(0.15, 0.004, 0.2), "7": cmp_(0.0, 1.0, 0.0)},
        "overall": cmp_(0.07, 0.01, 0.05),
    }
    rows = comparison_rows(base, cand, compare, {"4": "in_range", "5": "edge", "7": "hard"})
    by = {r["bucket"]: r for r in rows}
    # Holm over three buckets: 0.004 -> 0.012, 0.02 -> 0.04, 1.0 -> 1.0
    assert by["5"]["process"]["diff_pass@1"]["p_holm"] == pytest.approx(0.012)
    assert by["4"]["process"]["diff_pass@1"]["p_holm"] == pytest.approx(0.04)
    assert by["7"]["process"]["base_at_chance"] and not by["5"]["process"]["base_at_chance"]
    assert by["5"]["outcome"]["chance"]["8"] == pytest.approx(1 - (6 / 7) ** 8)
    # +15 pp at the edge, but Holm p = 0.012 is not below alpha = 0.01: not a reproduction at that level
    v = verdict(rows, ReportStepConfig(baseline="a", candidate="b", compare="c"))
    assert v["reproduced"] is False and "does not reproduce" in v["text"] and "nothing to amplify" in v["text"]
    v = verdict(rows, ReportStepConfig(baseline="a", candidate="b", compare="c", alpha=0.05))
    assert v["reproduced"] is True and v["text"].startswith("Verdict: on edge op 5")
    table = rows_table(rows, "process")
    assert "(base at chance)" in table and "0.012" in table


def _row(bucket: str, band: str, d1: float, p1: float, dk: float, pk: float) -> dict:
    diff = {"mean_diff": d1, "p_value": p1, "p_holm": p1, "ci_low": d1 - 0.05, "ci_high": d1 + 0.05}
    return {
        "bucket": bucket,
        "band": band,
        "k": [1, 16],
        "process": {
            "diff_pass@1": diff,
            "delta@k": {"16": {"mean_diff": dk, "p_value": pk}},
            "base": {"1": {"mean": 0.3}},
            "rl": {"1": {"mean": 0.3 + d1}},
            "base_at_chance": False,
        },
    }


def test_verdict_judges_the_headline_band_pooled_when_given() -> None:
    """A band that gains as a whole reproduces the claim even if one of its ops does not, and vice versa."""
    from reasonlab.report.pipeline import ReportStepConfig, verdict

    cfg = ReportStepConfig(baseline="@a", candidate="@b", compare="@c")
    rows = [_row("4", "edge", 0.25, 0.001, 0.05, 0.01), _row("5", "edge", 0.0, 0.9, -0.1, 0.01)]
    assert verdict(rows, cfg)["reproduced"] is False  # per op: op 5 does not gain
    band = {
        "buckets": ["4", "5"],
        "pass@1": {"n": 200, "mean_diff": 0.125, "ci_low": 0.08, "ci_high": 0.17, "p_value": 0.0001},
        "pass@16": {"n": 200, "mean_diff": 0.02, "ci_low": 0.001, "ci_high": 0.04, "p_value": 0.03},
    }
    v = verdict(rows, cfg, band)
    assert v["reproduced"] is True and "over the whole edge band (ops 4, 5; 200 problems pooled)" in v["text"]
    band["pass@16"] = {**band["pass@16"], "mean_diff": -0.02}  # pass@1 up, pass@k down: sharpening
    assert verdict(rows, cfg, band)["reproduced"] is False
    band["pass@16"] = {**band["pass@16"], "mean_diff": 0.02}
    band["pass@1"] = {**band["pass@1"], "mean_diff": 0.05}  # below min_gain (10 pp): the direction, not the size
    v = verdict(rows, cfg, band)
    assert v["reproduced"] is False and v["status"] == "partly"
    expected = "in direction, not in size: pass@1 and pass@16 both rise significantly, pass@1 by less than the 10 pp"
    assert expected in v["text"]
    band["pass@16"] = {**band["pass@16"], "p_value": 0.2}  # pass@k up but not significantly
    assert verdict(rows, cfg, band)["status"] == "not reproduced"


def test_claim_status_by_hand() -> None:
    """The three outcomes on hand-picked pooled differences (min_gain 10 pp, alpha 0.01)."""
    from reasonlab.report.pipeline import claim_status

    def d(mean: float, p: float) -> dict:
        return {"mean_diff": mean, "p_value": p}

    assert claim_status(d(0.12, 0.001), d(0.03, 0.01), 0.10, 0.01) == "reproduced"
    assert claim_status(d(0.093, 0.0001), d(0.125, 0.0004), 0.10, 0.01) == "partly"  # the w4 main job, seed 1
    assert claim_status(d(0.12, 0.001), d(-0.067, 0.015), 0.10, 0.01) == "not reproduced"  # sharpening
    assert claim_status(d(0.12, 0.02), d(0.03, 0.01), 0.10, 0.01) == "not reproduced"  # pass@1 p above alpha
    assert claim_status(d(0.0, 0.5), d(0.10, 0.001), 0.10, 0.01) == "not reproduced"  # pass@k alone


def test_seed_study_headline_uses_the_pooled_band_test_else_combines_per_op_errors() -> None:
    """The evaluation noise of a band's headline effect is the standard error of the band's mean, not of one op:
    two ops with se 0.03 each give sqrt(0.03^2 + 0.03^2) / 2 = 0.0212; a pooled band test gives its own se."""
    from reasonlab.report.seed_study import Z95, seed_study, study_verdict

    def row(op: str, diff: float, se: float) -> dict:
        d = {"mean_diff": diff, "ci_low": diff - Z95 * se, "ci_high": diff + Z95 * se, "p_value": 0.5}
        return {"bucket": op, "band": "edge", "process": {"diff_pass@1": d, "base": {"1": {"mean": 0.3}}}}

    plain = {"verdict": {"correctness": "process"}, "rows": [row("4", 0.10, 0.03), row("5", 0.02, 0.03)]}
    pooled = {
        "verdict": {"correctness": "process"},
        "rows": [row("4", 0.2, 0.03), row("5", 0.0, 0.03)],
        "headline_band": {
            "pass@1": {"mean_diff": 0.1, "se": 0.015, "p_value": 0.001},
            "pass@4": {"mean_diff": 0.05, "se": 0.02, "p_value": 0.01},
            "pass@16": {"mean_diff": -0.04, "se": 0.02, "p_value": 0.04},
        },
    }
    study = seed_study({0: plain}, alpha=0.01)
    assert study["headline_effect_per_seed"] == {0: pytest.approx(0.06)}
    assert study["noise"]["evaluation_se"] == pytest.approx(math.sqrt(2 * 0.03**2) / 2)
    assert study["headline_significant_per_seed"] == {} and "significant gain" not in study_verdict(study)
    study = seed_study({0: pooled, 1: pooled}, alpha=0.01)
    assert study["headline_effect"]["mean"] == pytest.approx(0.1) and study["noise"]["evaluation_se"] == 0.015
    assert study["headline_significant_per_seed"] == {0: True, 1: True}
    assert study["headline_passk_per_seed"] == {0: -0.04, 1: -0.04}  # the largest k
    assert "a significant gain (pooled test, p < 0.01) in 2 of 2 seeds" in study_verdict(study)
    assert "pass@k changed by -4.0 pp" in study_verdict(study)
    assert study["partly_in"] == 0 and "in direction" not in study_verdict(study)
    partly = {**pooled, "verdict": {"correctness": "process", "reproduced": False, "status": "partly"}}
    study = seed_study({0: pooled, 1: partly}, alpha=0.01)
    assert study["reproduced_in"] == 0 and study["partly_in"] == 1
    assert "reproduced in 0 of 2 (each seed's own verdict), in direction but not in size in 1." in study_verdict(study)
