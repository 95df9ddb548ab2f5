"""`reasonlab eval CONFIG`, `reasonlab eval compare A B` and `reasonlab report RUN` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasonlab.cli import main
from reasonlab.eval.config import load_eval_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _model(tmp: Path, seed: int) -> Path:
    from test_eval_protocol import _tiny_model  # shared helper: a random-init tiny model on disk

    return _tiny_model(tmp, seed)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    for seed in (0, 1):
        model = _model(tmp, seed)
        rc = main(
            [
                "eval",
                str(CONFIGS / "eval_smoke.yaml"),
                "--model",
                str(model),
                "--out",
                str(tmp / f"r{seed}"),
                "--threads",
                "1",
                "--quiet",
            ]
        )
        assert rc == 0
    return tmp


def test_eval_cli_writes_run(runs: Path) -> None:
    s = json.loads((runs / "r0" / "eval" / "summary.json").read_text())
    assert s["name"] == "eval-smoke"
    assert s["record"]["config"]["threads"] == 1
    assert (runs / "r0" / "report.md").is_file()


def test_compare_cli(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["eval", "compare", str(runs / "r0"), str(runs / "r1"), "--out", str(runs / "cmp"), "--n-perm", "200"])
    assert rc == 0
    res = json.loads((runs / "cmp" / "compare.json").read_text())
    assert res["overall"]["n_problems"] == 8
    assert "delta@k" in (runs / "cmp" / "compare.md").read_text()


def test_report_cli_with_other_models(runs: Path) -> None:
    (runs / "r0" / "report.md").unlink()
    rc = main(["report", str(runs / "r0"), "--with", str(runs / "r1")])
    assert rc == 0
    assert (runs / "r0" / "plots" / "pass_at_k_models.png").is_file()
    assert "pass_at_k_models" in (runs / "r0" / "report.md").read_text()


def test_seed_study_cli(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = runs / "study.json"
    assert main(["eval", "seed-study", str(runs / "r0"), "--sizes", "4", "--sizes", "8", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert [r["problems"] for r in rows] == [4, 8]
    assert rows[0]["blocks"] == 2 and rows[0]["seeds"] == 2
    assert main(["eval", "seed-study", str(runs / "r0"), "--sizes", "9"]) == 2


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "missing.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: knights\nbuckets: {knob: people, values: [2]}\nseeds: 0\n")
    assert main(["eval", str(bad)]) == 2
    assert "seeds" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path), str(tmp_path)]) == 2
    assert "not an evaluation run" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2


def test_shipped_eval_configs_validate() -> None:
    for path in sorted(CONFIGS.glob("eval_*.yaml")):
        cfg = load_eval_config(path)
        assert cfg.samples_per_problem >= max(cfg.k)
