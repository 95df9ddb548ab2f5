"""Analyses over sample records: length vs correctness, reasoning words, delta@k, seed stability, LiMem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reasonlab.errors import ReasonlabError
from reasonlab.eval import analyses as A
from reasonlab.eval.problems import build_problems
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.stats import per_seed_pass1
from reasonlab.io import read_records, write_records
from reasonlab.tasks import get_task


def _r(pid: str, correct: bool, seed: int = 0, sample: int = 0, **kw: Any) -> dict[str, Any]:
    row = {
        "id": pid,
        "bucket": 1,
        "cluster": None,
        "seed": seed,
        "sample": sample,
        "completion": "",
        "pred": "1",
        "correct": correct,
        "process_ok": None,
        "reward": float(correct),
        "length": 3,
        "truncated": False,
        "unparseable": False,
        "format_ok": True,
    }
    row.update(kw)
    return row


def test_length_vs_correctness_hand_counts() -> None:
    recs = [
        _r("a", True, length=2),
        _r("b", False, length=5),
        _r("c", False, length=9, truncated=True),
        _r("d", True, length=9),
    ]
    out = A.length_vs_correctness(recs, edges=[0, 5, 10])
    assert out["all"] == {"correct": [1, 1], "wrong": [0, 2], "accuracy": [1.0, 1 / 3]}
    assert out["complete"] == {"correct": [1, 1], "wrong": [0, 1], "accuracy": [1.0, 0.5]}
    assert out["mean_length_correct"] == 5.5
    assert out["mean_length_wrong"] == 7.0
    assert out["mean_length_wrong_complete"] == 5.0
    assert out["truncation_rate"] == 0.25
    default = A.length_vs_correctness(recs, n_bins=3)
    assert sum(default["all"]["correct"]) + sum(default["all"]["wrong"]) == 4
    with pytest.raises(ReasonlabError):
        A.length_vs_correctness([])


def test_reasoning_words_hand_values() -> None:
    recs = [
        _r("a", True, completion="Wait, so... wait."),
        _r("b", False, completion="so it is"),
        _r("c", False, completion="nothing"),
    ]
    rows = {r["word"]: r for r in A.reasoning_words(recs, words=["wait", "so", "check"])}
    assert rows["wait"]["rate_correct"] == 2.0 and rows["wait"]["rate_wrong"] == 0.0
    assert rows["wait"]["acc_with"] == 1.0 and rows["wait"]["acc_without"] == 0.0
    assert rows["so"]["rate_correct"] == 1.0 and rows["so"]["rate_wrong"] == 0.5
    assert rows["so"]["share_with"] == pytest.approx(2 / 3)
    assert rows["check"]["acc_with"] is None
    # whole words only: "wait" inside "awaiting" does not count
    assert A.reasoning_words([_r("x", True, completion="awaiting")], words=["wait"])[0]["rate_correct"] == 0.0


def _four(pid: str, n_correct: int) -> list[dict[str, Any]]:
    return [_r(pid, i < n_correct, seed=i % 2, sample=i // 2) for i in range(4)]


def test_delta_at_k_and_collapse_flag() -> None:
    base = [r for i in range(4) for r in _four(f"p{i}", 1)]
    better = [r for i in range(4) for r in _four(f"p{i}", 2)]
    d = A.delta_at_k(better, base, [1, 4], n_perm=200)
    assert d["1"]["mean_diff"] == pytest.approx(0.25)
    assert d["4"]["mean_diff"] == pytest.approx(0.0)
    assert d["1"]["base"] == pytest.approx(0.25) and d["1"]["model"] == pytest.approx(0.5)
    assert not A.collapse_flag(d)
    # collapse: sharper on half the problems, never right on the rest
    collapsed = [r for i in range(4) for r in _four(f"p{i}", 4 if i < 2 else 0)]
    d2 = A.delta_at_k(collapsed, base, [1, 4], n_perm=200)
    assert d2["1"]["mean_diff"] == pytest.approx(0.25)
    assert d2["4"]["mean_diff"] == pytest.approx(-0.5)
    assert A.collapse_flag(d2)
    # k beyond the samples per problem is skipped
    assert set(A.delta_at_k(better, base, [1, 8], n_perm=50)) == {"1"}


def test_seed_stability_curve_from_records() -> None:
    recs = [_r(f"p{i}", (i + s) % 3 == 0, seed=s) for i in range(6) for s in range(4)]
    curve = A.seed_stability_curve(recs, n_resamples=200)
    assert [c["k"] for c in curve] == [1, 2, 3, 4]
    per_seed = per_seed_pass1(recs)
    assert len(per_seed) == 4


def test_seed_variance_study_hand_values() -> None:
    # 4 problems x 2 seeds; seed 0 solves p0, p1; seed 1 solves p0 only
    recs = [_r(f"p{i}", ok, seed=s) for i in range(4) for s, ok in ((0, i < 2), (1, i == 0))]
    rows = {r["problems"]: r for r in A.seed_variance_study(recs, [2, 4])}
    small, full = rows[2], rows[4]
    assert small["blocks"] == 2 and small["per_seed"] == [1.0, 0.5]
    assert small["std"] == pytest.approx(0.35355339)  # sd of [1, 0.5] with ddof=1 = 0.5 / sqrt(2)
    # block 2 (p2, p3): both seeds 0 -> std 0; mean seed std (0.35355 + 0) / 2
    assert small["mean_seed_std"] == pytest.approx(0.35355339 / 2)
    assert small["mean_seed_range"] == pytest.approx(0.25)
    assert small["std_of_block_means"] == pytest.approx(0.53033009)  # sd of [0.75, 0]
    assert full["per_seed"] == [0.5, 0.25] and full["std_of_block_means"] is None
    assert full["question_weight"] == 0.25
    with pytest.raises(ReasonlabError, match="block size"):
        A.seed_variance_study(recs, [5])


def test_limem_from_eval_runs(tmp_path: Path) -> None:
    from reasonlab.tasks.knights.perturb import perturb_problems
    from test_eval_protocol import _cfg, _tiny_model

    task = get_task("knights")
    originals = list(task.generate(task.params(people="2-3"), 6, seed=5))
    orig_file = tmp_path / "orig.jsonl"
    write_records(orig_file, [p.to_dict() for p in originals])
    res = perturb_problems(originals, "flip_role", seed=0)
    pert_file = tmp_path / "flip.jsonl"
    write_records(pert_file, [p.to_dict() for p in res.problems])
    model = _tiny_model(tmp_path, 0)
    for name, f in (("orig", orig_file), ("flip", pert_file)):
        cfg = _cfg(model=str(model), problems=str(f), problems_per_bucket=10, report=False, name=name)
        run_eval(cfg, tmp_path / name, progress=False)
    rows = A.limem_analysis(tmp_path / "orig", [tmp_path / "flip"])
    overall = [r for r in rows if r["people"] is None]
    assert len(overall) == 1 and overall[0]["kind"] == "flip_role"
    assert overall[0]["n"] == len(res.problems)
    assert 0.0 <= overall[0]["limem"] <= overall[0]["acc"] <= 1.0
    assert {r["people"] for r in rows} == {None, 2, 3}


def test_problems_file_errors(tmp_path: Path) -> None:
    from test_eval_protocol import _cfg

    task = get_task("knights")
    f = tmp_path / "p.jsonl"
    write_records(f, [p.to_dict() for p in task.generate(task.params(people="2"), 3, seed=1)])
    rows, rec = build_problems(_cfg(problems=str(f), buckets={"knob": "people", "values": [2]}))
    assert len(rows) == 3 and rec["namespace"] == "file"
    with pytest.raises(ReasonlabError, match="no problems with people=3"):
        build_problems(_cfg(problems=str(f)))
    with pytest.raises(ReasonlabError, match="but the config says"):
        build_problems(_cfg(problems=str(f), task="arith", buckets={"knob": "people", "values": [2]}))


def test_length_finding_is_judged_within_problems() -> None:
    """Problem a: right answers 10 tokens, wrong 20; problem b (harder, longer): right 50, wrong 60. The
    within-problem gap is +10 on both; an easy problem with only right answers does not count."""
    from reasonlab.eval.findings import length_finding

    def rec(pid: str, correct: bool, length: int, truncated: bool = False) -> dict:
        return {"id": pid, "correct": correct, "length": length, "truncated": truncated}

    recs = [rec("a", True, 10), rec("a", False, 20), rec("b", True, 50), rec("b", False, 60), rec("c", True, 5)]
    f = length_finding([*recs, rec("a", False, 200, truncated=True)], n_boot=200)
    assert f["complete"]["within_problem_gap"] == pytest.approx(10.0)
    assert f["complete"]["problems_with_both"] == 2
    assert f["complete"]["pooled_gap"] == pytest.approx(40.0 - 65 / 3)
    assert f["all"]["within_problem_gap"] == pytest.approx(((20 + 200) / 2 - 10 + 10) / 2)
    assert f["truncation_rate"] == pytest.approx(1 / 6)


# ----------------------------------------------------------------------------- change by shape


def test_solution_shape_hand_built_and_generated() -> None:
    from reasonlab.tasks.arith import solution_shape

    meta = {
        "graph": {
            "nodes": [
                {"op": "const", "parents": []},
                {"op": "add", "parents": [0]},
                {"op": "sum", "parents": [1]},
            ]
        }
    }
    assert solution_shape(meta) == "const add(a) sum(b)"
    meta["graph"]["nodes"][2]["parents"] = [0, 1]
    assert solution_shape(meta) == "const add(a) sum(a,b)"
    task = get_task("arith")
    for prob in task.generate(task.params(ops="2-8", letters="random"), 40, seed=3):
        shape = solution_shape(prob.meta)
        steps = prob.meta["graph"]["nodes"]
        assert len(shape.split(" ")) == len(steps)  # one token per gold step, names left out
        assert shape.startswith("const")  # the first step is a stated number
        letters = {n["letter"] for n in steps}
        assert not any(f"({x}" in shape for x in letters if x > chr(ord("a") + len(steps) - 1))


def _shape_records(bucket: int, pid: str, base: list[bool], model: list[bool]) -> tuple[list, list]:
    b = [_r(pid, c, sample=i, bucket=bucket, process_ok=c) for i, c in enumerate(base)]
    m = [_r(pid, c, sample=i, bucket=bucket, process_ok=c) for i, c in enumerate(model)]
    return b, m


def test_change_by_shape_hand_values() -> None:
    base: list[dict[str, Any]] = []
    model: list[dict[str, Any]] = []
    # bucket 4: shape X loses 1.0 and 0.5 on two problems, shape Y gains 0.5 on one; bucket 5: one shape, +0.25
    for bucket, pid, sb, sm in [
        (4, "p1", [True, True], [False, False]),
        (4, "p2", [True, True], [True, False]),
        (4, "p3", [False, False], [True, False]),
        (5, "q1", [False] * 4, [True, False, False, False]),
    ]:
        b, m = _shape_records(bucket, pid, sb, sm)
        base += b
        model += m
    shapes = {"p1": "X", "p2": "X", "p3": "Y", "q1": "Z"}
    rows = A.change_by_shape(model, base, shapes, n_perm=100)
    assert [(r["bucket"], r["shape"], r["n"]) for r in rows] == [("4", "X", 2), ("4", "Y", 1), ("5", "Z", 1)]
    x, y, z = rows
    assert x["base"] == 1.0 and x["model"] == 0.25 and x["mean_diff"] == pytest.approx(-0.75)
    assert x["contribution"] == pytest.approx(2 / 3 * -0.75)
    assert y["contribution"] == pytest.approx(1 / 3 * 0.5)
    # a bucket's contributions sum to its mean paired difference: (-1 - 0.5 + 0.5) / 3
    assert x["contribution"] + y["contribution"] == pytest.approx(-1 / 3)
    assert z["mean_diff"] == pytest.approx(0.25) and z["contribution"] == pytest.approx(0.25)
    # outcome correctness reads "correct", process correctness "process_ok"
    for r in model:
        r["process_ok"] = False
    assert A.change_by_shape(model, base, shapes, n_perm=100)[0]["model"] == 0.0
    assert A.change_by_shape(model, base, shapes, process=False, n_perm=100)[0]["model"] == 0.25
    with pytest.raises(ReasonlabError, match="no shape for problem 'q1'"):
        A.change_by_shape(model, base, {"p1": "X", "p2": "X", "p3": "Y"})
    with pytest.raises(ReasonlabError, match="share no problem ids"):
        A.change_by_shape(model, [dict(r, id="other") for r in base], shapes)


def _fake_eval_run(run: Path, problems: list[dict[str, Any]], records: list[dict[str, Any]]) -> Path:
    from reasonlab.eval.record import SUMMARY_SCHEMA
    from reasonlab.io import atomic_write_text

    (run / "eval").mkdir(parents=True)
    atomic_write_text(run / "eval" / "summary.json", json.dumps({"schema": SUMMARY_SCHEMA}))
    write_records(run / "eval" / "problems.jsonl", problems)
    write_records(run / "eval" / "samples.jsonl", records)
    return run


def test_shape_analysis_and_cli_from_eval_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reasonlab.cli import main
    from reasonlab.tasks.arith import solution_shape

    task = get_task("arith")
    probs = [p.to_dict() for p in task.generate(task.params(ops="4-5"), 12, seed=0)]
    base, model = [], []
    for i, p in enumerate(probs):
        b, m = _shape_records(p["meta"]["ops"], p["id"], [i % 2 == 0] * 2, [True, True])
        base += b
        model += m
    a = _fake_eval_run(tmp_path / "a", probs, base)
    b = _fake_eval_run(tmp_path / "b", probs, model)
    rows = A.shape_analysis(a, b, n_perm=100)
    assert {r["shape"] for r in rows} == {solution_shape(p["meta"]) for p in probs}
    assert sum(r["n"] for r in rows) == 12
    for bucket in {r["bucket"] for r in rows}:
        n = sum(1 for r in base if str(r["bucket"]) == bucket) // 2
        mean = sum(float(i % 2 != 0) for i, p in enumerate(probs) if str(p["meta"]["ops"]) == bucket) / n
        assert sum(r["contribution"] for r in rows if r["bucket"] == bucket) == pytest.approx(mean)
    only4 = A.shape_analysis(a, b, buckets=["4"], n_perm=100)
    assert {r["bucket"] for r in only4} == {"4"}
    with pytest.raises(ReasonlabError, match="no bucket '9'"):
        A.shape_analysis(a, b, buckets=["9"])
    out = tmp_path / "rows.jsonl"
    assert main(["eval", "shapes", str(a), str(b), "--bucket", "4", "--out", str(out)]) == 0
    assert "pass@1 by solution shape (process-verified)" in capsys.readouterr().err
    assert {r["bucket"] for r in read_records(out)} == {"4"}
    knights = get_task("knights")
    kp = [p.to_dict() for p in knights.generate(knights.params(people="2"), 2, seed=0)]
    kr = [_r(p["id"], True) for p in kp]
    k = _fake_eval_run(tmp_path / "k", kp, kr)
    with pytest.raises(ReasonlabError, match="has no dependency graph in its meta"):
        A.shape_analysis(k, k)
