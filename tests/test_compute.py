"""FLOP formulas against hand-computed numbers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reasonlab.compute import (
    AttentionShape,
    ComputeLedger,
    attention_shape,
    inference_flops,
    measure_matmul_peak,
    mfu,
    train_flops,
)


def test_train_flops_dense_only() -> None:
    assert train_flops(1_000_000, 1000) == 6e9


def test_train_flops_with_attention_term() -> None:
    attn = AttentionShape(n_layers=2, d_attn=64)
    # 6*1e6*1000 + 12*2*64*128*1000
    assert train_flops(1_000_000, 1000, attn=attn, seq_len=128) == pytest.approx(6.196608e9)


def test_inference_flops_with_and_without_attention() -> None:
    attn = AttentionShape(n_layers=2, d_attn=64)
    assert inference_flops(1_000_000, 100) == 2e8
    assert inference_flops(1_000_000, 100, attn=attn, mean_context=50) == pytest.approx(2.0256e8)


def test_training_is_three_forward_passes() -> None:
    assert train_flops(12345, 77) == pytest.approx(3 * inference_flops(12345, 77))


def test_attention_shape_from_config() -> None:
    cfg = SimpleNamespace(num_layers=4, hidden_size=256, num_heads=8)
    assert attention_shape(cfg) == AttentionShape(4, 256)
    cfg = SimpleNamespace(num_layers=3, hidden_size=256, num_heads=4, head_dim=32)
    assert attention_shape(cfg) == AttentionShape(3, 128)


def test_mfu() -> None:
    assert mfu(1e9, 2.0, 1e9) == 0.5
    assert mfu(1e9, 0.0, 1e9) == 0.0


def test_ledger_accumulates_and_round_trips() -> None:
    ledger = ComputeLedger()
    ledger.add(10, 100.0)
    m = ledger.add(5, 50.0)
    assert m == {"perf/tokens": 5, "perf/flops": 50.0, "perf/tokens_total": 15, "perf/flops_total": 150.0}
    other = ComputeLedger()
    other.load_state_dict(ledger.state_dict())
    assert other == ledger


def test_matmul_peak_is_positive() -> None:
    assert measure_matmul_peak(n=64, min_seconds=0.01, repeats=1) > 0
