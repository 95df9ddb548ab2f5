"""Metric sinks: metrics.jsonl always, TensorBoard event files and W&B offline runs read back.

Regression (#15): metrics went only to metrics.jsonl.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from reasonlab.errors import ReasonlabError
from reasonlab.rundir import RunDir
from reasonlab.train.pretrain import pretrain
from test_train import _config


def tensorboard_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files under ``log_dir``, as TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def wandb_history(run_file: Path) -> list[dict[str, float]]:
    """History rows of a W&B ``.wandb`` file: a 7-byte header (``:W&B``, magic, version), then LevelDB-log
    records (32 KiB blocks; 4-byte CRC, 2-byte length, 1-byte type: full/first/middle/last) of protobufs."""
    import json

    from wandb.proto import wandb_internal_pb2 as pb

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, chunks, rows = 7, 32768, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer: padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunks += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full or last: a whole record
            record = pb.Record()
            record.ParseFromString(chunks)
            chunks = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item})
    return rows


@pytest.mark.slow
def test_pretrain_logs_to_tensorboard_and_wandb_offline(tmp_path, monkeypatch) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = _config(tmp_path, "tracked", steps=4, checkpoint_every=0)
    cfg = cfg.model_copy(
        update={"runtime": cfg.runtime.model_copy(update={"logging": ["jsonl", "tensorboard", "wandb"]})}
    )
    pretrain(cfg, log=lambda m: None)
    rows = RunDir(tmp_path / "tracked").read_metrics()
    losses = [(r["step"], r["loss"]) for r in rows]
    tb = tensorboard_scalars(tmp_path / "tracked" / "tensorboard")
    assert [(s, pytest.approx(v, rel=1e-6)) for s, v in losses] == tb["loss"]
    assert {"lr", "grad_norm", "perf/tokens_total"} <= set(tb)
    files = list((tmp_path / "tracked" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1  # offline: nothing left the machine
    history = wandb_history(files[0])
    assert [(h["_step"], h["loss"]) for h in history] == [(s, pytest.approx(v)) for s, v in losses]


def test_logging_sinks_are_checked_at_load(tmp_path) -> None:
    with pytest.raises(ReasonlabError, match="unknown logging sink 'mlflow'"):
        _with_logging(tmp_path, ["jsonl", "mlflow"])
    with pytest.raises(ReasonlabError, match="twice"):
        _with_logging(tmp_path, ["tensorboard", "tensorboard"])


def _with_logging(tmp_path: Path, sinks: list[str]) -> None:
    from reasonlab.config import validate
    from reasonlab.train.pretrain import PretrainConfig

    data = _config(tmp_path, "x").model_dump(mode="json")
    data["runtime"]["logging"] = sinks
    validate(PretrainConfig, data)
