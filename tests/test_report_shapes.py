"""The report's solution-shape section: the headline band's largest shape, the shapes that fell, the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reasonlab.report.shapes import shape_finding, shape_section
from reasonlab.tasks import get_task
from reasonlab.tasks.arith import solution_shape
from test_eval_analyses import _fake_eval_run, _shape_records


def _runs(tmp_path: Path) -> tuple[Path, Path, dict[str, str], str, str]:
    """Ops 4 (in range) and 5 (edge): RL solves every problem of one op-5 shape and fails every problem of the
    most common op-4 shape; every other problem keeps its base score (half its samples right)."""
    task = get_task("arith")
    probs = [p.to_dict() for p in task.generate(task.params(ops="4-5"), 60, seed=1)]
    shapes = {p["id"]: solution_shape(p["meta"]) for p in probs}

    def commonest(op: int) -> str:
        names = [shapes[p["id"]] for p in probs if p["meta"]["ops"] == op]
        return max(set(names), key=names.count)

    up, down = commonest(5), commonest(4)
    base: list[dict[str, Any]] = []
    model: list[dict[str, Any]] = []
    for p in probs:
        op, shape = p["meta"]["ops"], shapes[p["id"]]
        before = [True, False, True, False]
        after = [True] * 4 if shape == up and op == 5 else [False] * 4 if shape == down and op == 4 else before
        b, m = _shape_records(op, p["id"], before, after)
        base += b
        model += m
    return (
        _fake_eval_run(tmp_path / "a", probs, base),
        _fake_eval_run(tmp_path / "b", probs, model),
        {
            "4": "in_range",
            "5": "edge",
        },
        up,
        down,
    )


def test_shape_finding_names_the_carrying_shape_and_the_fallen_one(tmp_path: Path) -> None:
    a, b, bands, up, down = _runs(tmp_path)
    f = shape_finding(a, b, bands, "edge", process=True, alpha=0.05, n_perm=200)
    assert f is not None
    big = f["largest"]
    assert (big["bucket"], big["shape"]) == ("5", up)
    assert big["share"] == 1.0  # the only op-5 shape that moved carries all of the band's change
    assert big["band_gain"] > 0 and big["model"] == 1.0 and big["base"] == 0.5
    assert [(r["bucket"], r["shape"]) for r in f["fell"]] == [("4", down)]
    assert {r["band"] for r in f["rows"]} == {"in_range", "edge"}
    text = "\n".join(shape_section(f))
    assert f"`{up}` at bucket 5" in text and "(100%)" in text
    assert f"Fell: `{down}` at bucket 4" in text


def test_shape_finding_is_none_without_shapes_or_bands(tmp_path: Path) -> None:
    a, b, _, _, _ = _runs(tmp_path)
    assert shape_finding(a, b, {"4": "hard", "5": "hard"}, "edge", process=True, alpha=0.05) is None
    assert shape_section(None) == []
    knights = get_task("knights")
    kp = [p.to_dict() for p in knights.generate(knights.params(people="2"), 2, seed=0)]
    k = _fake_eval_run(tmp_path / "k", kp, [])
    assert shape_finding(k, k, {"2": "edge"}, "edge", process=True, alpha=0.05) is None


def test_no_change_means_no_carrying_shape_and_nothing_fell(tmp_path: Path) -> None:
    a, _, bands, _, _ = _runs(tmp_path)
    f = shape_finding(a, a, bands, "edge", process=True, alpha=0.05, n_perm=200)
    assert f is not None and f["fell"] == [] and f["largest"]["share"] is None
    text = "\n".join(shape_section(f))
    assert "No in-range or edge shape fell" in text and "largest shape" not in text


def test_arms_shape_lines(tmp_path: Path) -> None:
    from reasonlab.report.shapes import arms_shape_lines

    a, b, bands, up, down = _runs(tmp_path)
    f = shape_finding(a, b, bands, "edge", process=True, alpha=0.05, n_perm=200)
    same = shape_finding(a, a, bands, "edge", process=True, alpha=0.05, n_perm=200)
    text = "\n".join(arms_shape_lines({"edge": {"0": f, "1": same}, "knights": {"0": None}}))
    assert f"| edge | 0 | +{100 * f['largest']['band_gain']:.1f} | `{up}` at 5: 0.500 -> 1.000 (100%) |" in text
    assert f"`{down}` at 4 -50.0 pp" in text  # 0.5 -> 0
    assert "| edge | 1 | +0.0 |" in text and text.rstrip().endswith("| none |")
    assert "knights" not in text
    assert arms_shape_lines({"knights": {"0": None}}) == []
