"""``reasonlab eval sensitivity``: a sweep over settings, two models, the framework comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from reasonlab.cli import main
from reasonlab.config import validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.config import EvalConfig
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.sensitivity import SensitivityConfig, settings_of
from reasonlab.io import read_json, read_records
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model
from reasonlab.tasks import get_task

EVAL = {
    "task": "arith",
    "buckets": {"knob": "ops", "values": [2, 3]},
    "fixed": {"modulus": 7, "distractors": 0},
    "problems_per_bucket": 3,
    "seeds": 2,
    "samples_per_seed": 2,
    "k": [1, 4],
    "decoding": {"temperature": 1.0, "max_new_tokens": 12},
    "bootstrap": 200,
    "threads": 1,
}


def _model(tmp: Path, seed: int) -> Path:
    task = get_task("arith")
    texts = [p.prompt + p.solution for p in task.generate(task.params(ops="2-3", modulus=7), 30, 1)]
    tok = TaskTokenizer.build(texts, 400)
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        max_seq_len=256,
    )
    return save_model(tmp / f"m{seed}", Decoder(cfg), tok)


def test_settings_are_one_factor_at_a_time_and_validated() -> None:
    cfg = SensitivityConfig(
        eval=EVAL,
        models={"a": "x"},
        sweep={"temperature": [0.6, 1.0], "prompt_style": ["chat"], "engine": ["transformers"]},
    )
    names = [s[0] for s in settings_of(cfg)]
    assert names == ["base", "temperature=0.6", "prompt_style=chat", "engine=transformers"]  # 1.0 is the base value
    bad = SensitivityConfig(eval=EVAL, models={"a": "x"}, sweep={"top_p": [1.5]})
    with pytest.raises(ReasonlabError, match=r"top_p=1\.5"):
        settings_of(bad)
    with pytest.raises(ReasonlabError, match="unknown factor 'seed'"):
        validate(SensitivityConfig, {"eval": EVAL, "models": {"a": "x"}, "sweep": {"seed": [1]}})


def test_framework_engines_agree_on_greedy_decoding(tmp_path: Path) -> None:
    """Same model, greedy: the native sampler and transformers' generate give the same completions."""
    model = _model(tmp_path, 0)
    greedy = {
        **EVAL,
        "decoding": {"temperature": 0.0, "max_new_tokens": 12},
        "seeds": 1,
        "samples_per_seed": 1,
        "k": [1],
        "model": str(model),
        "report": False,
    }
    a = run_eval(validate(EvalConfig, greedy), tmp_path / "native", progress=False)
    b = run_eval(validate(EvalConfig, {**greedy, "engine": "transformers"}), tmp_path / "hf", progress=False)
    ra = read_records(tmp_path / "native" / "eval" / "samples.jsonl")
    rb = read_records(tmp_path / "hf" / "eval" / "samples.jsonl")
    same = sum(x["completion"] == y["completion"] for x, y in zip(ra, rb, strict=True))
    assert same >= len(ra) - 1  # fp32 kernels may differ in the last bit, rarely flipping an argmax
    assert a["overall"]["outcome"]["pass@k"]["1"]["mean"] == pytest.approx(
        b["overall"]["outcome"]["pass@k"]["1"]["mean"], abs=1 / len(ra)
    )


def test_sensitivity_sweep_two_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg: dict[str, Any] = {
        "name": "sens",
        "eval": EVAL,
        "models": {"base": str(_model(tmp_path, 0)), "other": str(_model(tmp_path, 1))},
        "sweep": {"temperature": [0.6], "engine": ["transformers"]},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["eval", "sensitivity", str(path), "--out", str(tmp_path / "out")]) == 0
    res = read_json(tmp_path / "out" / "sensitivity.json")
    rows = {r["setting"]: r for r in res["rows"]}
    assert res["rows"][0]["setting"] == "base" and set(rows) == {"base", "temperature=0.6", "engine=transformers"}
    row = rows["engine=transformers"]
    assert set(row["models"]) == {"base", "other"} and "vs_base" in row["models"]["base"]
    assert row["pair"]["outcome"]["p_value"] <= 1.0
    assert set(res["spread"]["base"]) == {"outcome", "process"}
    assert set(res["flips"]["outcome"]) == {"base_verdict", "ranking_flips", "verdict_flips"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.splitlines()[2].startswith("Verdict:") and "framework effect" in report
    assert (tmp_path / "out" / "plots" / "sensitivity.png").is_file()
    # a second call reads the finished evaluations back
    assert main(["eval", "sensitivity", str(path), "--out", str(tmp_path / "out")]) == 0
