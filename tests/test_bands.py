"""Finding the edge: band classification from hand-built pass@k curves, band values, @step.edge references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reasonlab.errors import ReasonlabError
from reasonlab.eval.bands import BandConfig, ProfileBars, band_value, classify_buckets, profile_check
from reasonlab.experiments.pipeline import load_recipe, resolve_refs


def _blk(mean: float, half: float = 0.03) -> dict[str, Any]:
    return {"mean": mean, "se": half / 2, "ci": [max(0.0, mean - half), min(1.0, mean + half)]}


def summary(curve: dict[int, tuple[float, float]], process: bool = True) -> dict[str, Any]:
    """An eval summary with (pass@1, pass@16) per op, the same for outcome and process correctness."""
    buckets = {}
    for op, (p1, p16) in curve.items():
        block = {"pass@k": {"1": _blk(p1), "16": _blk(p16)}}
        buckets[str(op)] = {"outcome": block, "process": block if process else None}
    return {"buckets": buckets}


# a profile shaped like the CMU base: mastered 2-4, an edge at 5-6, hard beyond
CURVE = {
    2: (0.99, 1.0),
    3: (0.95, 1.0),
    4: (0.85, 0.99),
    5: (0.25, 0.7),
    6: (0.08, 0.35),
    7: (0.01, 0.05),
    8: (0.0, 0.0),
}


def test_cmu_shaped_curve_gives_three_bands() -> None:
    res = classify_buckets(summary(CURVE), BandConfig())
    assert (res["in_range"], res["edge"], res["hard"]) == (["2", "3", "4"], ["5", "6"], ["7", "8"])
    assert res["k"] == 16
    assert res["buckets"]["5"]["band"] == "edge" and res["buckets"]["5"]["clear"]
    assert band_value(res["edge"], "edge") == "5-6"
    assert band_value(res["in_range"], "in_range") == "2-4"


def test_thresholds_are_settable_and_borderline_is_flagged() -> None:
    res = classify_buckets(summary(CURVE), BandConfig(in_range_min_pass1=0.9, edge_min_passk=0.5))
    assert (res["in_range"], res["edge"], res["hard"]) == (["2", "3"], ["4", "5"], ["6", "7", "8"])
    near = classify_buckets(summary({4: (0.81, 1.0)}), BandConfig())  # CI [0.78, 0.84] straddles 0.8
    assert near["buckets"]["4"]["band"] == "in_range" and not near["buckets"]["4"]["clear"]


def test_outcome_bands_respect_the_chance_level() -> None:
    """Mod-7 answers: pass@16 of guessing is 1 - (6/7)^16 = 0.915, so a 0.9 pass@16 is no edge."""
    curve = {5: (0.2, 0.9), 6: (0.3, 0.99)}
    res = classify_buckets(summary(curve), BandConfig(correctness="outcome"), answers={"5": 7, "6": 7})
    assert res["buckets"]["5"]["band"] == "hard" and res["buckets"]["5"]["chance"] == pytest.approx(1 - (6 / 7) ** 16)
    assert res["buckets"]["6"]["band"] == "edge"
    with pytest.raises(ReasonlabError, match="no such verdict"):
        classify_buckets(summary(curve, process=False), BandConfig())
    with pytest.raises(ReasonlabError, match="pass@32 was not evaluated"):
        classify_buckets(summary(curve), BandConfig(k=32))


def _profile(curve: dict[int, tuple[float, float]], bars: ProfileBars | None = None) -> dict[str, Any]:
    return profile_check(classify_buckets(summary(curve), BandConfig()), bars)


def test_profile_of_a_base_with_an_edge() -> None:
    res = _profile(CURVE)
    assert res["met"] and res["failures"] == []
    assert (res["in_range"], res["edge"], res["hard"]) == (["2", "3", "4"], ["5", "6"], ["7", "8"])


@pytest.mark.parametrize(
    ("curve", "reason"),
    [
        # the w5 base, seed 1: op 4 is neither mastered nor an edge (0.724 > 0.30)
        ({3: (0.997, 1.0), 4: (0.724, 0.92), 5: (0.083, 0.36), 6: (0.002, 0.02)}, "bucket 4 (edge) has pass@1 0.724"),
        # the w4 base, seed 1: ops 3-4 mastered, op 5 too strong for an edge
        ({3: (0.998, 1.0), 4: (0.839, 1.0), 5: (0.348, 0.68), 6: (0.079, 0.26), 7: (0.0, 0.0)}, "bucket 5"),
        # an edge whose pass@16 is too low to count
        ({3: (0.99, 1.0), 4: (0.05, 0.15), 5: (0.0, 0.0)}, "bucket 4 (edge) has pass@16 0.150 < 0.2"),
        # nothing mastered
        ({3: (0.5, 0.9), 4: (0.1, 0.3), 5: (0.0, 0.0)}, "no bucket in range"),
        # no hard band: every op beyond the edge is still solved sometimes
        ({3: (0.99, 1.0), 4: (0.2, 0.6), 5: (0.05, 0.3), 6: (0.02, 0.12)}, "no hard band"),
    ],
)
def test_profile_failures_say_which_bar(curve: dict[int, tuple[float, float]], reason: str) -> None:
    res = _profile(curve)
    assert not res["met"]
    assert any(reason in f for f in res["failures"]), res["failures"]


def test_profile_edge_is_one_or_two_buckets_and_bars_are_settable() -> None:
    """w5 seed 0: op 6's pass@16 0.19 sits below the edge threshold, so the edge is op 5 alone."""
    curve = {3: (0.998, 1.0), 4: (0.804, 0.96), 5: (0.261, 0.5), 6: (0.046, 0.19), 7: (0.002, 0.02), 8: (0.0, 0.0)}
    res = _profile(curve)
    assert res["met"] and res["edge"] == ["5"] and res["hard"] == ["6", "7", "8"]
    strict = _profile(curve, ProfileBars(edge_max_pass1=0.25, hard_max_passk=0.0))
    assert not strict["met"] and len(strict["failures"]) == 1 and "0.261 > 0.25" in strict["failures"][0]
    assert _profile(curve, ProfileBars(hard_max_passk=0.0))["met"]  # op 8's 0.0 is <= 0.0
    assert not _profile({**curve, 8: (0.0, 0.01)}, ProfileBars(hard_max_passk=0.0))["met"]


def test_band_values() -> None:
    assert band_value(["7"], "edge") == "7"
    assert band_value(["zoo"], "edge") == "zoo"
    with pytest.raises(ReasonlabError, match="found no edge bucket"):
        band_value([], "edge")
    with pytest.raises(ReasonlabError, match="not contiguous"):
        band_value(["5", "7"], "edge")


def test_band_references_resolve_or_say_why() -> None:
    outs = {"eval_base": {"main": "/e", "edge": "5-6", "hard": {"error": "the evaluation found no hard bucket"}}}
    assert resolve_refs({"ops": "@eval_base.edge"}, outs, "s") == {"ops": "5-6"}
    with pytest.raises(ReasonlabError, match="found no hard bucket"):
        resolve_refs({"ops": "@eval_base.hard"}, outs, "s")


def test_recipe_with_an_edge_reference_validates_at_load(tmp_path: Path) -> None:
    ev = {
        "model": "@pretrain",
        "task": "arith",
        "buckets": {"knob": "ops", "values": [2, 3, 4, 5]},
        "bands": {"edge_min_passk": 0.2},
    }
    rl = {
        "init_from": "@pretrain",
        "holdout": ["@eval_base"],
        "task": {"name": "arith", "knobs": {"ops": "@eval_base.edge"}},
    }
    recipe = {
        "name": "x",
        "out_dir": str(tmp_path),
        "task": {"name": "arith", "knobs": {"modulus": 7, "distractors": 0}},
        "steps": [
            {"name": "pretrain", "kind": "pretrain", "config": "configs/pretrain_smoke.yaml"},
            {"name": "eval_base", "kind": "eval", "config": ev},
            {"name": "rl", "kind": "rl", "config": rl},
        ],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    load_recipe(path, Path(__file__).resolve().parent.parent)
    rl["task"]["knobs"]["ops"] = "@eval_base.edgy"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(ReasonlabError, match="has no output 'edgy'"):
        load_recipe(path, Path(__file__).resolve().parent.parent)


def test_profile_cli_reads_runs_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`reasonlab eval profile`: a run's stored bands, or the default classification when it has none."""
    import json

    from reasonlab.cli import main
    from reasonlab.eval.record import SUMMARY_SCHEMA

    good, bad = summary(CURVE), summary({3: (0.997, 1.0), 4: (0.724, 0.92), 5: (0.083, 0.36), 6: (0.0, 0.0)})
    good["bands"] = classify_buckets(good, BandConfig(in_range_min_pass1=0.9))  # stored: ops 2-3 in range
    for name, s in (("good", good), ("bad", bad)):
        (tmp_path / name / "eval").mkdir(parents=True)
        (tmp_path / name / "eval" / "summary.json").write_text(json.dumps({"schema": SUMMARY_SCHEMA, **s}))
    out = tmp_path / "profile.json"
    assert main(["eval", "profile", str(tmp_path / "good"), str(tmp_path / "bad"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "bad: bucket 4 (edge) has pass@1 0.724 > 0.3" in err
    res = json.loads(out.read_text())
    assert res["bars"] == {"edge_max_pass1": 0.3, "hard_max_passk": 0.05}
    g, b = res["runs"][str(tmp_path / "good")], res["runs"][str(tmp_path / "bad")]
    assert not g["profile"]["met"] and g["profile"]["edge"] == ["4", "5"]  # the stored 0.9 threshold: op 4 edge
    assert b["bands"]["in_range"] == ["3"] and not b["profile"]["met"]
    assert main(["eval", "profile", str(tmp_path / "none")]) != 0
