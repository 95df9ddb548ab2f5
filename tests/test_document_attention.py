"""Document-masked attention on packed rows (``optim.attention: document``): each packed document is computed
exactly as if it stood alone, and the default row attention does let documents see their neighbours."""

from __future__ import annotations

import pytest
import torch

from reasonlab.model import Decoder, ModelConfig
from reasonlab.model.decoder import segment_ids_after_eos, segment_mask, segment_positions
from reasonlab.rundir import RunDir
from reasonlab.train.loop import loss_fn
from reasonlab.train.pretrain import pretrain
from test_train import _config

EOS = 2


def _model() -> Decoder:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=40, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64, max_seq_len=64
    )
    return Decoder(cfg).eval()


def test_segments_and_positions_by_hand() -> None:
    x = torch.tensor([[5, 6, EOS, 7, EOS, 0], [EOS, EOS, 3, 4, 4, 4]])
    seg = segment_ids_after_eos(x, EOS)
    assert seg.tolist() == [[0, 0, 0, 1, 1, 2], [0, 1, 2, 2, 2, 2]]
    assert segment_positions(seg).tolist() == [[0, 1, 2, 0, 1, 0], [0, 0, 0, 1, 2, 3]]
    mask = segment_mask(seg[:1])[0, 0].int().tolist()
    assert mask == [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 1],
    ]


def test_packed_documents_equal_separate_forwards() -> None:
    model = _model()
    a = [1, 7, 8, 9, 10, EOS]
    b = [1, 11, 12, 13, EOS]
    pad = [0, 0, 0]
    row = torch.tensor([a + b + pad])
    with torch.no_grad():
        packed = model(row, segment_ids=segment_ids_after_eos(row, EOS))[0]
        alone_a = model(torch.tensor([a]))[0]
        alone_b = model(torch.tensor([b]))[0]
        leaky = model(row)[0]
    torch.testing.assert_close(packed[: len(a)], alone_a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed[len(a) : len(a) + len(b)], alone_b, atol=1e-5, rtol=1e-5)
    # without the mask the second document reads the first one and sits at shifted positions
    assert (leaky[len(a) : len(a) + len(b)] - alone_b).abs().max() > 1e-3
    torch.testing.assert_close(leaky[: len(a)], alone_a, atol=1e-5, rtol=1e-5)


def test_loss_with_document_attention_is_the_sum_of_separate_losses() -> None:
    model = _model()
    a, b = [1, 7, 8, EOS], [1, 9, 10, 11, EOS]
    row = torch.tensor([a + b])
    x, y = row[:, :-1], row[:, 1:].clone()
    y[0, len(a) - 1] = -100  # the next document's <bos> is not a target
    with torch.no_grad():
        packed = float(loss_fn(model, x, y, document_eos=EOS))
        sep = sum(float(loss_fn(model, torch.tensor([d[:-1]]), torch.tensor([d[1:]]))) for d in (a, b))
        leaky = float(loss_fn(model, x, y))
    assert packed == pytest.approx(sep, rel=1e-5)
    assert abs(leaky - sep) > 1e-4


def test_segment_ids_refuse_a_cache_or_a_padding_mask() -> None:
    model = _model()
    x = torch.tensor([[1, 7, EOS]])
    seg = segment_ids_after_eos(x, EOS)
    with pytest.raises(ValueError, match="segment_ids"):
        model(x, segment_ids=seg, attention_mask=torch.ones(1, 3))
    with pytest.raises(ValueError, match="shape"):
        model(x, segment_ids=seg[:, :2])


def test_pretrain_with_document_attention_trains_and_differs_from_row_attention(tmp_path) -> None:
    doc, row = (_config(tmp_path, name, steps=4, checkpoint_every=0) for name in ("doc", "row"))
    for config in (doc, row):
        config.data.seq_len = 120  # ~27-token documents: several to a row
    doc.optim.attention = "document"
    pretrain(doc, log=lambda m: None)
    pretrain(row, log=lambda m: None)
    d = RunDir(tmp_path / "doc").read_metrics()
    r = RunDir(tmp_path / "row").read_metrics()
    assert d[0]["loss"] != r[0]["loss"]  # same data and initialisation, other attention
    assert d[-1]["loss"] < d[0]["loss"] and "val/loss" in d[-1]
