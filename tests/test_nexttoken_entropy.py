"""The proxy model's top-k entropy: by hand, window coverage, against a brute-force forward, and the CLI (--proxy)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from reasonlab.cli import main
from reasonlab.eval.entropy import _windows, entropy_table_for, score_entropies, top_k_entropy
from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, load_model, save_model
from reasonlab.tasks import get_task
from reasonlab.tasks.nexttoken import build_pool, documents_of, load_table

TASK = get_task("nexttoken")


def test_top_k_entropy_on_a_hand_built_distribution() -> None:
    probs = torch.tensor([0.5, 0.25, 0.25, 0.0, 0.0])
    logits = torch.log(probs.clamp(min=1e-30))
    assert float(top_k_entropy(logits, 16)) == pytest.approx(1.5 * math.log(2), abs=1e-5)
    assert float(top_k_entropy(logits, 3)) == pytest.approx(1.5 * math.log(2), abs=1e-5)
    assert float(top_k_entropy(logits, 2)) == pytest.approx(math.log(3) - 2 / 3 * math.log(2), abs=1e-5)
    assert float(top_k_entropy(logits, 1)) == pytest.approx(0.0, abs=1e-6)
    uniform = torch.zeros(2, 40)  # 40 equal logits: top-16 renormalised is uniform over 16
    assert top_k_entropy(uniform, 16).tolist() == pytest.approx([math.log(16)] * 2, abs=1e-5)


@pytest.mark.parametrize("window", [2, 3, 8, 9])
@pytest.mark.parametrize("length", [1, 2, 5, 8, 9, 10, 31])
def test_windows_predict_every_position_once(length: int, window: int) -> None:
    seen: list[int] = []
    for s, lo in _windows(length, window):
        assert s + window >= 1 and s < length
        for j in range(lo, min(window, length - s) - 1):
            seen.append(s + j + 1)
            assert j >= (0 if s == 0 else window - max(window // 2, 1) - 1)
    assert sorted(seen) == list(range(1, length))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    task = get_task("arith")
    texts = ["".join(task.render(p, "plain")) for p in task.generate(task.params(ops="2-3"), 40, seed=5)]
    tok = TaskTokenizer.build(texts, vocab_size=400)
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        max_seq_len=512,
    )
    path = tmp_path_factory.mktemp("proxy") / "model"
    save_model(path, Decoder(cfg), tok)
    return path


def test_entropies_equal_a_brute_force_forward(proxy: Path) -> None:
    params = TASK.params(corpus_docs=4, tokenizer=str(proxy), corpus_knobs={"ops": "2-3"})
    model, tok = load_model(proxy)
    ent, stats = score_entropies(params, model, tok, top_k=16, batch_size=3)
    seg = documents_of(params)
    assert stats["positions_without_proxy_boundary"] == 0  # the same tokenizer: every position mapped
    d = seg.docs[0]
    ids = tok.encode(d.text)
    for t in (0, 1, 7, len(ids) - 1):
        x = torch.tensor([[tok.bos_id, *ids[:t]]])
        with torch.inference_mode():
            want = float(top_k_entropy(model(x)[0, -1], 16))
        assert float(ent[d.sha1][t]) == pytest.approx(want, abs=1e-4)
    # windows shorter than a document: every position still scored, with at least half a window of context
    short, _ = score_entropies(params, model, tok, top_k=16, window=16, batch_size=5)
    assert all(np.isfinite(v).all() for v in short.values())
    x = torch.tensor([[tok.bos_id, *ids]])
    with torch.inference_mode():
        full = top_k_entropy(model(x)[0], 16).numpy()
    assert float(short[d.sha1][5]) == pytest.approx(float(full[5]), abs=1e-4)  # inside the first window


def test_another_tokenizer_maps_positions_by_byte_offset(proxy: Path, tmp_path: Path) -> None:
    params = TASK.params(corpus_docs=3, tokenizer="bytes", corpus_knobs={"ops": "2-3"})
    model, tok = load_model(proxy)
    ent, stats = score_entropies(params, model, tok)
    assert 0 < stats["positions_without_proxy_boundary"] < stats["positions"]
    v = next(iter(ent.values()))
    assert np.isfinite(v[0]) and np.isnan(v).any()


def test_table_is_cached_and_drives_buckets(proxy: Path, tmp_path: Path) -> None:
    params = TASK.params(corpus_docs=6, tokenizer=str(proxy), corpus_knobs={"ops": "2-3"})
    out = tmp_path / "t.npz"
    path, info = entropy_table_for(params, proxy, out)
    stamp = out.stat().st_mtime_ns
    again, info2 = entropy_table_for(params, proxy, out)
    assert again == path and out.stat().st_mtime_ns == stamp and info2["key"] == info["key"]
    table = load_table(path)
    assert table.fingerprint == documents_of(params).fingerprint
    h = np.concatenate(list(table.entropies.values()))
    thr = float(np.quantile(h, 0.5))
    hard = TASK.params(
        corpus_docs=6,
        tokenizer=str(proxy),
        corpus_knobs={"ops": "2-3"},
        entropy_table=str(path),
        bucket="hard",
        thresholds=f"0.01,0.02,{thr}",
    )
    assert 0 < len(build_pool(hard)) < build_pool(hard).counts["positions"]


def test_cli_generate_with_a_proxy(proxy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "p.jsonl"
    args = ["data", "generate", "nexttoken", "-n", "5", "--out", str(out), "--corpus-docs", "6"]
    args += ["--corpus-knobs", "{ops: 2-3}", "--proxy", str(proxy), "--bucket", "easy", "--thresholds", "0.1,0.2,0.3"]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and all(r["meta"]["entropy"] > 0.1 for r in rows)
    assert len(list((tmp_path / "cache" / "entropy").glob("*.npz"))) == 1
    assert main(args) == 0  # cached
    assert main(["data", "generate", "arith", "-n", "1", "--out", str(out), "--proxy", str(proxy)]) == 2
