"""RunDir: layout, metrics truncation on resume, atomic checkpoints, progress line."""

from __future__ import annotations

import io

import pytest
import torch
from pydantic import BaseModel

from reasonlab.errors import ReasonlabError
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, load_model
from reasonlab.rundir import (
    ProgressLine,
    RunDir,
    capture_rng_state,
    load_checkpoint_state,
    restore_rng_state,
    resume_checkpoint,
)


class Cfg(BaseModel):
    name: str = "x"
    lr: float = 0.1


def _model_and_tok() -> tuple[Decoder, TaskTokenizer]:
    tok = TaskTokenizer.build(["<question> 1 + 2 </question> <answer> 3 </answer>"] * 5, 300)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=32,
        max_seq_len=32,
    )
    return Decoder(cfg), tok


def test_create_writes_config_and_rejects_bad_names(tmp_path) -> None:
    run = RunDir.create(tmp_path, "r1", Cfg())
    assert "lr: 0.1" in run.config_path.read_text()
    assert run.checkpoints_dir.is_dir()
    with pytest.raises(ReasonlabError):
        RunDir.create(tmp_path, "a/b")


def test_metrics_append_and_truncate(tmp_path) -> None:
    run = RunDir.create(tmp_path, "r")
    for step in range(1, 6):
        run.log_metrics(step, {"loss": torch.tensor(1.0 / step)})
    with run.metrics_path.open("a") as fh:
        fh.write('{"step": 6, "lo')  # a torn line from a crash
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3, 4, 5]
    run.truncate_metrics(3)
    rows = run.read_metrics()
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[1]["loss"] == 0.5


def test_resume_without_a_checkpoint_drops_a_killed_attempts_metrics(tmp_path) -> None:
    """A run killed before its first checkpoint starts again at step 0: its old rows must not stay in the log."""
    run = RunDir.create(tmp_path, "r")
    model, _ = _model_and_tok()
    for step in (1, 2, 3):
        run.log_metrics(step, {"loss": 1.0})
    assert resume_checkpoint(run, model, torch.optim.AdamW(model.parameters()), "cpu") is None
    assert run.read_metrics() == []


def test_checkpoints_atomic_latest_and_keep_last(tmp_path) -> None:
    run = RunDir.create(tmp_path, "r")
    model, tok = _model_and_tok()
    opt = torch.optim.AdamW(model.parameters())
    for step in (2, 4, 6):
        run.save_checkpoint(step, model, tok, optimizer=opt, trainer_state={"x": step}, keep_last=2)
    assert [s for s, _ in run.checkpoints()] == [4, 6]
    # An incomplete directory (no trainer_state.json) and a temp directory are never "latest".
    (run.checkpoints_dir / "step-9").mkdir()
    (run.checkpoints_dir / ".step-10.abcd1234.tmp").mkdir()
    assert run.latest_checkpoint() == run.checkpoint_path(6)
    assert load_checkpoint_state(run.latest_checkpoint())["x"] == 6
    loaded, _ = load_model(run.latest_checkpoint())
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # Re-creating the run clears stale temporaries.
    RunDir.create(tmp_path, "r")
    assert not (run.checkpoints_dir / ".step-10.abcd1234.tmp").exists()
    with pytest.raises(ReasonlabError):
        load_checkpoint_state(run.checkpoint_path(9))


def test_final_model_replaced_atomically(tmp_path) -> None:
    run = RunDir.create(tmp_path, "r")
    model, tok = _model_and_tok()
    run.save_final_model(model, tok, compute={"tokens_total": 5, "flops_total": 1.0})
    run.save_final_model(model, tok, compute={"tokens_total": 7, "flops_total": 2.0})
    from reasonlab.compute import read_compute

    assert read_compute(run.model_dir).tokens_total == 7
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == [".reasonlab-run.json"]


def test_rng_state_round_trip() -> None:
    state = capture_rng_state()
    a = torch.rand(3)
    restore_rng_state(state)
    assert torch.equal(a, torch.rand(3))


def test_progress_line() -> None:
    buf = io.StringIO()
    p = ProgressLine(100, stream=buf, label="pretrain")
    p.report(10, 2.5, 12345.6, 20.0, 10)
    line = buf.getvalue()
    assert "step 10/100" in line and "loss 2.5000" in line and "12,346" in line and "eta 3:00" in line
    assert ProgressLine.format_eta(3725) == "1:02:05"
