"""arith through the CLI: generate/score round trip, bad input as one-line errors, the demo verb."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reasonlab.cli import main
from reasonlab.io import read_records, write_records


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_generate_and_score_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    probs = tmp_path / "p.jsonl"
    rc, _, err = run(
        capsys,
        "data", "generate", "arith", "--ops", "2-10", "--context", "zoo=0.99,school=0.01", "--mode", "mix",
        "-n", "60", "--seed", "0", "--out", str(probs),
    )  # fmt: skip
    assert rc == 0, err
    rows = read_records(probs)
    assert len(rows) == 60 and len({r["prompt"] for r in rows}) == 60
    assert {r["meta"]["mode"] for r in rows} == {"forward", "reverse"}
    comps = tmp_path / "c.jsonl"
    write_records(comps, [{"id": r["id"], "completion": r["solution"]} for r in rows])
    scores = tmp_path / "s.jsonl"
    rc, _, err = run(
        capsys, "score", "--problems", str(probs), "--completions", str(comps), "--reward", "strict",
        "--out", str(scores), "--by", "ops",
    )  # fmt: skip
    assert rc == 0, err
    assert all(s["reward"] == 1.0 and s["process_ok"] for s in read_records(scores))


def test_generate_parquet_is_identical_to_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in ("jsonl", "parquet"):
        rc, _, err = run(
            capsys, "data", "generate", "arith", "--depth", "3", "-n", "15", "--out", str(tmp_path / f"a.{suffix}")
        )
        assert rc == 0, err
    assert read_records(tmp_path / "a.jsonl") == read_records(tmp_path / "a.parquet")


@pytest.mark.parametrize(
    ("knobs", "needle"),
    [
        (["--context", "zo"], "known contexts: library, movie_festival, school, wildlife, zoo"),
        (["--context", "zoo=0.99,school"], "malformed"),
        (["--context", "zoo=x"], "not a number"),
        (["--ops", "1"], "impossible"),
        (["--ops", "2-99"], "impossible"),
        (["--ops", "ten"], "not an integer"),
        (["--mode", "both"], "mode"),
        (["--num-mode", "mod23"], "num_mode"),
        (["--depth", "5"], "depth"),
        (["--distractors", "-2"], "distractors"),
        (["--colour", "red"], "unknown field 'colour'"),
    ],
)
def test_bad_knobs_one_line_error_exit_2_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], knobs: list[str], needle: str
) -> None:
    out = tmp_path / "never.jsonl"
    rc, stdout, err = run(capsys, "data", "generate", "arith", "-n", "5", "--out", str(out), *knobs)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in err + stdout
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unreadable_problem_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"\n')
    comps = tmp_path / "c.jsonl"
    comps.write_text(json.dumps({"id": "x", "completion": "Answer: 1."}) + "\n")
    for problems in (bad, tmp_path / "missing.jsonl"):
        rc, _, err = run(
            capsys,
            "score",
            "--problems",
            str(problems),
            "--completions",
            str(comps),
            "--out",
            str(tmp_path / "s.jsonl"),
        )
        assert rc == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
        assert not (tmp_path / "s.jsonl").exists()


def test_demo_prints_per_op_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "demo", "--ops", "2-4", "-n", "4", "--out", str(tmp_path / "demo"))
    text = out + err
    assert rc == 0, text
    for needle in (
        "reward=strict",
        "reward=process",
        "reward=outcome",
        "gold solutions perfect: True",
        "with full strict reward",
    ):
        assert needle in text
    assert "(extra steps excepted, which the metric tolerates): 0" in " ".join(text.split())
    scores = read_records(tmp_path / "demo" / "scores.jsonl")
    assert len(scores) == 3 * 4 * 11
    assert all(s["strict"] == 1.0 for s in scores if s["kind"] == "gold")


def test_demo_bad_knob(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "demo", "--context", "mars")
    assert rc == 2 and err.startswith("error: ") and "known contexts" in err


def test_tasks_lists_arith_knobs() -> None:
    """`reasonlab tasks` in a subprocess (the console entry point), arith knobs with defaults."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from reasonlab.cli import main; sys.exit(main(['tasks']))"],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    for knob in ("--ops", "--context", "--mode", "--distractors", "--num-mode", "--depth"):
        assert knob in text
    assert "strict" in text and "process" in text
