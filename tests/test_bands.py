"""Finding the edge: band classification from hand-built pass@k curves, band values, @step.edge references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reasonlab.errors import ReasonlabError
from reasonlab.eval.bands import BandConfig, band_value, classify_buckets
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
