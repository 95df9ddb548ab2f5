"""CLI of the training phases: pretrain/midtrain verbs, --set overrides, one-line config errors, configs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import toytask_train  # noqa: F401  (registers the "toyadd" task)
from reasonlab.cli import main
from reasonlab.config import apply_assignments as apply_overrides
from reasonlab.config import load_config
from reasonlab.errors import ReasonlabError
from reasonlab.train.midtrain import MidtrainConfig
from reasonlab.train.pretrain import PretrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_apply_overrides() -> None:
    data = {"optim": {"lr": 1.0}}
    apply_overrides(data, ("optim.lr=0.5", "optim.max_steps=7", "runtime.device=cpu", "name=x"))
    assert data == {"optim": {"lr": 0.5, "max_steps": 7}, "runtime": {"device": "cpu"}, "name": "x"}
    with pytest.raises(ReasonlabError):
        apply_overrides(data, ("novalue",))
    with pytest.raises(ReasonlabError):
        apply_overrides(data, ("name.sub=1",))


def test_apply_overrides_indexes_lists() -> None:
    """A numeric part indexes a list: one mixture component's knob, or a whole list element."""
    data = {"data": {"mixture": [{"knobs": {"ops": "2-3"}}, {"knobs": {"ops": "4"}}]}, "k": [1, 2]}
    apply_overrides(data, ("data.mixture.1.knobs.order=topo", "data.mixture.0.weight=0.3", "k.1=5"))
    assert data["data"]["mixture"] == [
        {"knobs": {"ops": "2-3"}, "weight": 0.3},
        {"knobs": {"ops": "4", "order": "topo"}},
    ]
    assert data["k"] == [1, 5]
    for bad, msg in (("data.mixture.2.weight=1", "indexes a list of 2; use 0..1"), ("k.x=1", "'x' indexes a list")):
        with pytest.raises(ReasonlabError, match=msg):
            apply_overrides(data, (bad,))
    cfg = load_config(CONFIGS / "pretrain_arith_edge_w5.yaml", PretrainConfig, ["data.mixture.0.knobs.distractors=1"])
    assert cfg.data.mixture[0].knobs["distractors"] == 1 and cfg.data.mixture[1].knobs["distractors"] == 0


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("pretrain_*.yaml")))
def test_shipped_pretrain_configs_validate(name: str) -> None:
    load_config(CONFIGS / name, PretrainConfig)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("midtrain_*.yaml")))
def test_shipped_midtrain_configs_validate(name: str) -> None:
    load_config(CONFIGS / name, MidtrainConfig)


def _write_config(tmp_path: Path) -> Path:
    cfg = {
        "name": "cli",
        "out_dir": str(tmp_path / "runs"),
        "seed": 0,
        "data": {
            "mixture": [{"task": "toyadd", "knobs": {"ops": 4}}],
            "num_problems": 200,
            "seq_len": 32,
            "tokenizer_vocab_size": 300,
            "val_rows": 2,
        },
        "model": {
            "preset": "tiny",
            "overrides": {
                "hidden_size": 32,
                "num_layers": 1,
                "num_heads": 2,
                "num_kv_heads": 1,
                "intermediate_size": 64,
            },
        },
        "optim": {"max_steps": 3, "batch_size": 4, "warmup_steps": 1},
        "runtime": {"device": "cpu"},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_pretrain_then_midtrain_cli(tmp_path, capsys) -> None:
    path = _write_config(tmp_path)
    assert main(["pretrain", str(path), "--set", "optim.max_steps=2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] == 2 and Path(out["model"]).is_dir()
    mid = {
        "name": "mid",
        "out_dir": str(tmp_path / "runs"),
        "init_from": out["model"],
        "objective": "sft",
        "data": {
            "mixture": [{"task": "toyadd", "knobs": {"ops": 5}}],
            "num_problems": 50,
            "seq_len": 32,
            "val_rows": 0,
        },
        "optim": {"max_steps": 2, "batch_size": 4, "warmup_steps": 1},
        "runtime": {"device": "cpu"},
    }
    mpath = tmp_path / "mid.yaml"
    mpath.write_text(yaml.safe_dump(mid))
    assert main(["midtrain", str(mpath)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 2


def test_bad_config_is_one_line_error(tmp_path, capsys) -> None:
    path = _write_config(tmp_path)
    assert main(["pretrain", str(path), "--set", "optim.lr=-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "optim.lr" in err and "\n" not in err
    assert main(["pretrain", str(path), "--set", "model.preset=huge"]) == 2
    assert "unknown model preset 'huge'" in capsys.readouterr().err
    assert main(["pretrain", str(tmp_path / "missing.yaml")]) == 2
    mid = tmp_path / "mid.yaml"
    mid.write_text(
        yaml.safe_dump({"name": "m", "init_from": str(tmp_path / "nope"), "data": {"mixture": [{"task": "toyadd"}]}})
    )
    assert main(["midtrain", str(mid)]) == 2
    assert "init_from" in capsys.readouterr().err


def test_bench_train_prints_json(capsys) -> None:
    args = [
        "bench",
        "train",
        "--preset",
        "tiny",
        "--batch-size",
        "2",
        "--seq-len",
        "16",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--vocab-size",
        "300",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params"] == report["transformers_params"]  # identical configurations
    for key in ("ours_tokens_per_s", "transformers_tokens_per_s", "ours_mfu", "peak_fp32_flops_per_s"):
        assert report[key] > 0
    assert report["speedup_vs_transformers"] == pytest.approx(
        report["transformers_s_per_step"] / report["ours_s_per_step"]
    )
    assert main(["bench", "train", "--preset", "nope"]) == 2
