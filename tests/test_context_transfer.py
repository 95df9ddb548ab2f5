"""The context-transfer report: the exposure threshold on hand-built gains, and a toy recipe end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reasonlab.cli import main
from reasonlab.report.context_transfer import exposure_value, transfer_verdict
from test_pipeline import recipe_dict


def test_exposure_labels() -> None:
    assert exposure_value("1%") == pytest.approx(0.01) and exposure_value("0.1%") == pytest.approx(0.001)
    assert exposure_value("0.05") == 0.05 and exposure_value("0%") == 0.0
    with pytest.raises(ValueError, match="expected a share"):
        exposure_value("one percent")


def g(gain: float, p: float) -> dict:
    return {"gain": gain, "p": p, "corr": "process"}


def test_threshold_is_bracketed_by_the_exposures_run() -> None:
    v = transfer_verdict(
        {"0%": g(0.0, 0.9), "0.1%": g(0.01, 0.4), "1%": g(0.2, 0.001), "10%": g(0.3, 0.001)}, 0.02, 0.05
    )
    assert v["threshold"]["text"] == "between 0.1% and 1%" and v["reproduced"] is True
    assert v["threshold"]["above"] == pytest.approx(0.001) and v["threshold"]["at_most"] == pytest.approx(0.01)
    assert v["text"].startswith("Verdict: RL's process-verified pass@1 gain")
    # a significant but tiny gain is not transfer; a large gain that is not significant is not either
    v = transfer_verdict({"0%": g(0.0, 0.9), "1%": g(0.01, 0.001), "10%": g(0.3, 0.2)}, 0.02, 0.05)
    assert v["threshold"]["text"] == "above 10% (no exposure transfers)" and v["reproduced"] is False
    assert "1% and 10% transfer fails" in v["text"]
    v = transfer_verdict({"0%": g(0.1, 0.001), "1%": g(0.2, 0.001)}, 0.02, 0.05)
    assert v["threshold"]["text"] == "at most 0% (every exposure transfers)" and "0.1% gain nothing fails" in v["text"]
    v = transfer_verdict({"0%": g(0.0, 0.9), "1%": g(0.2, 0.001), "10%": g(0.0, 0.8)}, 0.02, 0.05)
    assert v["monotone"] is False and "do not transfer monotonically" in v["text"]


def test_context_transfer_recipe_end_to_end(tmp_path: Path) -> None:
    rec = recipe_dict(tmp_path / "runs")
    pre, _, rl, ev = rec["steps"][0], rec["steps"][1], rec["steps"][2], rec["steps"][3]
    rl_cfg = {k: v for k, v in rl["config"].items() if k != "init_from"}
    # RL on a 50/50 mix of the old context (width 3) and the new one (width 4), as the shipped recipe does
    rl_cfg["task"] = {**rl_cfg["task"], "mixture": [{"weight": 1, "knobs": {"width": 3}}, {"weight": 1}]}
    steps = []
    for width4 in (0, 0.1):
        tag = "e0" if width4 == 0 else "e10"
        mixture = [{"task": "pipetoy", "knobs": {"width": 3}, "dedup": False, "weight": 1 - width4}]
        if width4:
            mixture.append({"task": "pipetoy", "knobs": {"width": 4}, "dedup": False, "weight": width4})
        cfg = yaml.safe_load(yaml.safe_dump(pre["config"]))
        cfg["data"]["mixture"] = mixture
        steps += [
            {"name": f"pretrain_{tag}", "kind": "pretrain", "config": cfg},
            {
                "name": f"eval_{tag}",
                "kind": "eval",
                "config": {**ev["config"], "model": f"@pretrain_{tag}", "holdout_files": []},
            },
            {
                "name": f"arms_{tag}",
                "kind": "arms",
                "config": {
                    "init_from": f"@pretrain_{tag}",
                    "baseline": f"@eval_{tag}",
                    "arms": {"mix": {"knobs": {"width": 4}}},
                    "seeds": [0, 1],
                    "rl": rl_cfg,
                    "n_perm": 200,
                },
            },
        ]
    report = {
        "name": "report",
        "kind": "report",
        "config": {"exposures": {"0%": "@arms_e0", "10%": "@arms_e10"}, "bands": {"3": "in_range", "4": "edge"}},
    }
    rec["steps"] = [*steps, report]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(rec))
    assert main(["run", str(path)]) == 0
    root = tmp_path / "runs" / "toy"
    results = json.loads((root / "results.json").read_text())
    assert set(results["verdict"]["transfers"]) == {"0%", "10%"} and "threshold" in results["verdict"]
    assert set(results["per_op"]) == {"0%", "10%"}
    text = (root / "report.md").read_text()
    assert text.splitlines()[2].startswith("Verdict: RL's") and (root / "plots" / "context_outcome.png").is_file()
    # RL drew from both parts of its mixture
    rows = (root / "arms_e10" / "mix-s0" / "rl" / "data" / "train_prompts.jsonl").read_text().splitlines()
    assert {len(json.loads(r)["prompt"].split()[1]) for r in rows} == {3, 4}  # width = digits of the question
    # the 10% base saw width-4 problems in pre-training; the 0% base did not
    stats = json.loads((root / "pretrain_e10" / "data" / "stats.json").read_text())
    assert stats["problems_per_component"] == [180, 20]  # 10% of 200 problems
    # the study page lists it with one headline per exposure
    assert main(["report", "--study", str(tmp_path / "runs"), "--out", str(tmp_path / "page")]) == 0
    page = {r["name"]: r for r in json.loads((tmp_path / "page" / "study.json").read_text())["runs"]}["toy"]
    assert page["kind"] == "context transfer" and len(page["headline"]) == 2
    assert "exposure 0%" in page["headline"][0]["what"]


def _measured(gain: float, p: float, rate: float) -> dict:
    eff = {"diff": {"mean": gain}, "pooled": {"p_value": p}}
    hack = {"all": {"rate": {"mean": rate, "std": 0.01}, "by_kind": {"missing_step": rate}}}
    return {"effects": {"mix": {"all": {"outcome": {"pass@1": eff}}}}, "hacking": {"mix": hack}}


def test_answer_only_gains_and_hacking_are_stated_beside_a_process_verdict() -> None:
    """A model that learns the new context's answers in the old context's words: the answer-only gains go
    beside the verdict, in exposure order, and the hacking rate is tabled per exposure."""
    from reasonlab.report.context_transfer import _answer_only, _hacking_lines

    measured = {"1%": _measured(0.225, 0.0001, 0.35), "0%": _measured(0.141, 0.0001, 0.2)}
    text = _answer_only(measured)
    assert "0%: +14.1 pp (p 0.0001); 1%: +22.5 pp (p 0.0001)" in text
    lines = _hacking_lines(measured)
    assert lines[0] == "## Hacking on the new context after RL"
    assert "| 0% | all | 20.0% +- 1.0 | missing_step 20.0% |" in lines and lines.index(
        "| 0% | all | 20.0% +- 1.0 | missing_step 20.0% |"
    ) < lines.index("| 1% | all | 35.0% +- 1.0 | missing_step 35.0% |")
    assert _hacking_lines({"0%": {"hacking": {}}}) == []  # no process check: no table
