"""``reasonlab report --study RUNS_DIR``: tiny recipes actually run (a pipeline, a seed study, RL arms), a
Reinforcement Pre-Training result and its seed study written by hand, a killed run and a folder that is no
recipe run; the page must carry each recipe's numbers exactly as its results say."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reasonlab.cli import main
from reasonlab.errors import ReasonlabError
from reasonlab.report.rpt import RPT_SCHEMA
from reasonlab.report.rpt_seeds import write_rpt_seed_study
from reasonlab.report.study import seed_ci, write_study_report
from test_pipeline import recipe_dict  # registers the pipetoy task the recipes train on

BANDS = {"3": "edge", "4": "hard"}


def _run(tmp: Path, recipe: dict[str, Any], *args: str) -> Path:
    path = tmp / f"{recipe['name']}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["run", str(path), *args]) == 0
    return Path(recipe["out_dir"]) / recipe["name"]


def _stamp(path: Path, edit: Any) -> None:
    """Give a results file distinctive numbers (the tiny models score 0 everywhere), so the page must copy them."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _corr(row: dict[str, Any]) -> str:
    return "process" if "process" in row else "outcome"


def _plain_numbers(res: dict[str, Any]) -> None:
    row = next(r for r in res["rows"] if r["band"] == "edge")
    row[_corr(row)]["diff_pass@1"].update(mean_diff=0.123, ci_low=0.031, ci_high=0.215, p_value=0.0042, p_holm=0.0084)


def _arms_numbers(res: dict[str, Any]) -> None:
    m = res["measured"]
    eff = m["effects"]["edge"]["edge"][m["corr"]]["pass@1"]
    eff["diff"].update(mean=0.25, std=0.05)
    eff["pooled"].update(ci_low=0.1, ci_high=0.4, p_value=0.003)


def _rpt_results(diff: float, p: float) -> dict[str, Any]:
    """The parts of an ``rpt_report`` step's results.json the study reads."""
    row = {"mean_diff": diff, "p_holm": p, "p_value": p / 2, "ci_low": diff - 0.1, "ci_high": diff + 0.1, "n": 40}
    return {
        "schema": RPT_SCHEMA,
        "alpha": 0.05,
        "headline_bucket": "hard",
        "tests": {"rpt_reasoning_vs_control_standard": {"hard": row}},
        "table1": {"rpt": {"reasoning": {"hard": {"mean": 0.3 + diff, "ci": [0.2, 0.5], "n": 40}}}},
        "scaling": {},
        "verdict": {"bucket": "hard", "rpt_better": p < 0.05, "text": f"**Verdict.** RPT by {diff:+.3f}."},
    }


def _rpt_run(root: Path, diff: float, p: float) -> dict[str, Any]:
    """A finished RPT recipe run, its report step and machine record included, without training anything."""
    recipe = {"name": root.name, "steps": [{"name": "report", "kind": "rpt_report", "config": {}}]}
    (root / "report").mkdir(parents=True)
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    (root / "report" / "step_done.json").write_text(json.dumps({"seconds": 30.0, "config": {"title": "RPT by hand"}}))
    (root / "machine.json").write_text(json.dumps({"cpu": "Test CPU", "threads": 2, "matmul_peak_gflops": 50.0}))
    res = _rpt_results(diff, p)
    (root / "results.json").write_text(json.dumps(res))
    return res


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:  # the machine's matmul peak: a fixed 50 GFLOP/s, not 2 s per run
        mp.setattr("reasonlab.experiments.pipeline.measure_matmul_peak", lambda **_: 50e9)
        return _build(tmp_path_factory.mktemp("study"))


def _build(tmp: Path) -> Path:
    out = tmp / "runs"
    plain = {**recipe_dict(out), "name": "plain"}
    plain["steps"][-1]["config"].update(bands=BANDS, title="Plain toy", claim="RL lifts the edge op.")
    _run(tmp, plain)
    seeds = {**recipe_dict(out), "name": "seeds"}  # the report step's bands: 3 in-range, 4 edge
    seeds["steps"] = [s for s in seeds["steps"] if s["name"] != "midtrain"]
    seeds["steps"][1]["config"]["init_from"] = "@pretrain"
    _run(tmp, seeds, "--seeds", "2")
    arms = {**recipe_dict(out), "name": "arms"}
    pre, ev, rl = arms["steps"][0], arms["steps"][3], arms["steps"][2]
    arms_step = {
        "name": "arms",
        "kind": "arms",
        "config": {
            "init_from": "@pretrain",
            "baseline": "@eval_base",
            "arms": {"edge": {"knobs": {"width": 3}}, "hard": {"knobs": {"width": 4}}},
            "seeds": [0, 1],
            "rl": {k: v for k, v in rl["config"].items() if k != "init_from"},
            "n_perm": 200,
        },
    }
    report = {"name": "report", "kind": "report", "config": {"arms": "@arms", "bands": BANDS}}
    arms["steps"] = [pre, {**ev, "config": {**ev["config"], "holdout_files": []}}, arms_step, report]
    _run(tmp, arms)
    _stamp(out / "plain" / "results.json", _plain_numbers)
    _stamp(out / "arms" / "results.json", _arms_numbers)
    _stamp(out / "seeds_seeds" / "seed_study.json", lambda st: st["headline_effect"].update(mean=0.15, std=0.03))
    # a run killed before its report step: copied from the plain one, the last step undone
    killed = out / "killed"
    shutil.copytree(out / "plain", killed)
    (killed / "recipe.yaml").write_text((killed / "recipe.yaml").read_text().replace("name: plain", "name: killed"))
    (killed / "report" / "step_done.json").unlink()
    (killed / "results.json").unlink()
    _rpt_run(out / "rpt", 0.2, 0.01)
    seeds = {s: _rpt_run(out / "rpt_seeds" / f"seed-{s}", d, p) for s, (d, p) in enumerate([(0.1, 0.01), (0.3, 0.2)])}
    recipe = yaml.safe_load((out / "rpt_seeds" / "seed-0" / "recipe.yaml").read_text())
    (out / "rpt_seeds" / "recipe.yaml").write_text(yaml.safe_dump({**recipe, "name": "rpt_seeds"}))
    write_rpt_seed_study(out / "rpt_seeds", "rpt_seeds", seeds)
    (out / "scratch").mkdir()
    (out / "scratch" / "config.yaml").write_text("name: scratch\n")  # a plain training run, not a recipe run
    assert main(["report", "--study", str(out), "--out", str(tmp / "page")]) == 0
    return out


def _page(runs: Path) -> tuple[str, str, dict[str, dict[str, Any]]]:
    page = runs.parent / "page"
    data = json.loads((page / "study.json").read_text())
    return (page / "study.md").read_text(), (page / "study.html").read_text(), {r["name"]: r for r in data["runs"]}


def _row(md: str, name: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {name} |"))
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def test_pipeline_row_carries_the_results_numbers(runs: Path) -> None:
    md, _, data = _page(runs)
    res = json.loads((runs / "plain" / "results.json").read_text())
    machine = json.loads((runs / "plain" / "machine.json").read_text())
    corr = res["verdict"]["correctness"]
    head = [r for r in res["rows"] if r["band"] == "edge" and corr in r]
    assert [r["bucket"] for r in head] == ["3"]
    d = head[0][corr]["diff_pass@1"]
    row = _row(md, "plain")
    verdict = {True: "reproduced", False: "not reproduced", None: "no headline test"}[res["verdict"]["reproduced"]]
    assert row[1] == verdict
    assert f"{_pp(d['mean_diff'])} pp [95% CI {_pp(d['ci_low'])}, {_pp(d['ci_high'])}]" in row[2]
    assert row[3] == f"p = {d['p_value']:.2g} (Holm {d['p_holm']:.2g})" == "p = 0.0042 (Holm 0.0084)"
    assert "+12.3 pp [95% CI +3.1, +21.5]" in row[2]
    assert row[4] == "1" and row[7] == "`reasonlab run recipes/plain.yaml`"
    assert row[6] == f"{machine['cpu']}, 1 thread, fp32 matmul peak 50 GFLOP/s"
    steps = [json.loads(p.read_text())["seconds"] for p in (runs / "plain").glob("*/step_done.json")]
    rec = data["plain"]
    assert rec["headline"][0]["mean"] == d["mean_diff"] and rec["wall_s"] == pytest.approx(sum(steps))
    # the section: title, claim, the verdict line as the run wrote it, the key table, the plots
    assert re.search(r"^## \d+\. Plain toy$", md, re.M) and "**The claim.** RL lifts the edge op." in md
    assert f"> {res['verdict']['text']}" in md and "| op | band | problems |" in md
    for plot in (runs / "plain" / "plots").glob("*.png"):
        assert f"(<../runs/plain/plots/{plot.name}>)" in md


def test_seed_study_row_gives_mean_ci_and_the_seeds_flag(runs: Path) -> None:
    md, _, data = _page(runs)
    study = json.loads((runs / "seeds_seeds" / "seed_study.json").read_text())
    h = study["headline_effect"]
    row = _row(md, "seeds")
    assert row[1] == f"reproduced in {study['reproduced_in']} of 2 seeds" and row[4] == "2"
    assert row[7] == "`reasonlab run recipes/seeds.yaml --seeds 2`"  # the seeds came from the command line
    lo, hi = seed_ci(h["mean"], h["std"], 2) or (0.0, 0.0)
    assert f"{_pp(h['mean'])} +- {100 * h['std']:.1f} pp [95% CI {_pp(lo)}, {_pp(hi)}]" in row[2]
    assert "+15.0 +- 3.0 pp [95% CI -12.0, +42.0]" in row[2]  # mean +- t(0.975, 1) * std / sqrt(2)
    assert row[3].startswith("band p per seed: ") and len(row[3].split(",")) == 2
    assert data["seeds"]["headline"][0]["mean"] == h["mean"] and data["seeds"]["kind"] == "seed study"
    assert "Verdict: over 2 training seeds" in md


def test_arms_row_leads_with_the_edge_arm(runs: Path) -> None:
    md, _, data = _page(runs)
    res = json.loads((runs / "arms" / "results.json").read_text())
    m = res["measured"]
    eff = m["effects"]["edge"]["edge"][m["corr"]]["pass@1"]
    d, pooled = eff["diff"], eff["pooled"]
    row = _row(md, "arms")
    assert row[2].startswith("edge arm - base, edge ops")
    ci = f"[95% CI {_pp(pooled['ci_low'])}, {_pp(pooled['ci_high'])}]"
    assert (
        f"{_pp(d['mean'])} +- {100 * d['std']:.1f} pp {ci}" in row[2]
        and "+25.0 +- 5.0 pp [95% CI +10.0, +40.0]" in row[2]
    )
    assert row[3] == f"p = {pooled['p_value']:.2g} (pooled over 2 seeds)" == "p = 0.003 (pooled over 2 seeds)"
    assert row[4] == "2" and row[7] == "`reasonlab run recipes/arms.yaml`"
    assert data["arms"]["headline"][0]["mean"] == d["mean"]
    assert res["verdict"]["text"] in md and res["verdict"]["claim"] in md and "| arm | band | pass@1 |" in md


def test_rpt_and_its_seed_study(runs: Path) -> None:
    md, _, data = _page(runs)
    row = _row(md, "rpt")
    assert row[1] == "reproduced" and "RPT (reasoning) - control (standard): +20.0 pp [95% CI +10.0, +30.0]" in row[2]
    assert row[3] == "p = 0.005 (Holm 0.01)" and row[5] == "30 s" and row[6].startswith("Test CPU, 2 threads")
    seeds = _row(md, "rpt_seeds")
    assert seeds[1] == "partly: better in 1 of 2 seeds" and "+20.0 +- 14.1 pp" in seeds[2]
    assert seeds[3] == "Holm p < 0.05 in 1 of 2 seeds" and seeds[5] == "60 s"
    assert data["rpt_seeds"]["kind"] == "rpt seed study" and "Reinforcement Pre-Training" in data["rpt"]["claim"]


def test_incomplete_and_foreign_directories_are_listed_not_fatal(runs: Path) -> None:
    md, _, data = _page(runs)
    row = _row(md, "killed")
    assert row[1] == "incomplete" and "steps not finished" in row[2] and "report" in row[2]
    assert data["killed"]["missing"] and data["killed"]["headline"] == []
    assert "## Incomplete runs" in md and "Not recipe runs, skipped: `scratch`." in md
    assert "scratch" not in data


def test_html_is_one_self_contained_page(runs: Path) -> None:
    _, page, data = _page(runs)
    srcs = re.findall(r'<img src="([^"]*)"', page)
    plots = [p for r in data.values() for p in r["plots"]]
    assert len(srcs) == len(plots) > 0
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert base64.b64decode(srcs[0].split(",", 1)[1]).startswith(b"\x89PNG")
    assert "<table>" in page and "<script" not in page and "<link" not in page


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--study", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such directory" in err
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReasonlabError, match="no recipe runs"):
        write_study_report(tmp_path / "empty")
    assert main(["report"]) == 2 and main(["report", "x", "--study", str(tmp_path)]) == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{not json")
    write_study_report(tmp_path)
    assert "corrupt results" in (tmp_path / "study.md").read_text()
