"""Markdown reports, plots and the paired comparison on synthetic evaluation runs (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

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
