"""Decoder shapes, causal masking, KV cache equivalence, GQA, padding, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from reasonlab.errors import ReasonlabError
from reasonlab.model import PRESETS, Decoder, ModelConfig, TaskTokenizer, load_model, save_model
from reasonlab.model.decoder import apply_rope, rope_cos_sin
from reasonlab.model.shared_prefix import SharedPrefixCache, cascade_attention

torch.set_num_threads(1)


def tiny_config(**kw) -> ModelConfig:
    base = dict(
        vocab_size=97, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64, max_seq_len=64
    )
    base.update(kw)
    return ModelConfig(**base)


def make_model(seed: int = 0, **kw) -> Decoder:
    torch.manual_seed(seed)
    model = Decoder(tiny_config(**kw)).eval()
    # non-trivial biases and norms so tests exercise them
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or name.endswith("norm.weight"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


def test_shapes_and_param_count() -> None:
    model = make_model()
    logits = model(torch.randint(0, 97, (3, 7)))
    assert logits.shape == (3, 7, 97)
    cfg = model.config
    per_layer = (
        cfg.hidden_size * (cfg.hidden_size + 2 * 16)
        + (cfg.hidden_size + 2 * 16)
        + cfg.hidden_size * cfg.hidden_size
        + 3 * cfg.hidden_size * cfg.intermediate_size
        + 2 * cfg.hidden_size
    )
    assert model.num_params() == 97 * 32 + 2 * per_layer + 32


def test_presets_sizes() -> None:
    sizes = {name: Decoder(ModelConfig.from_preset(name)).num_params() for name in ("tiny", "small")}
    assert 0.8e6 < sizes["tiny"] < 1.6e6
    assert 4e6 < sizes["small"] < 6.5e6
    big = ModelConfig.from_preset("qwen2-100m")
    assert (big.hidden_size, big.num_layers, big.num_heads, big.num_kv_heads, big.intermediate_size) == (
        768,
        12,
        12,
        2,
        3072,
    )
    assert set(PRESETS) >= {"tiny", "small", "qwen2-100m"}


def test_config_errors() -> None:
    with pytest.raises(ReasonlabError, match="num_kv_heads"):
        tiny_config(num_kv_heads=3)
    with pytest.raises(ReasonlabError, match="unknown field 'layers'"):
        ModelConfig.from_dict({**tiny_config().to_dict(), "layers": 3})
    with pytest.raises(ReasonlabError, match="unknown model preset"):
        ModelConfig.from_preset("huge")
    assert ModelConfig.from_dict(tiny_config().to_dict()) == tiny_config()


def test_rope_rotation_by_hand() -> None:
    cos, sin = rope_cos_sin(4, 3, theta=100.0)
    # position 1: angles (1, 1/10) repeated over both halves
    assert torch.allclose(cos[1], torch.tensor([1.0, 0.1, 1.0, 0.1]).cos())
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    out = apply_rope(x, cos[1].view(1, 1, 1, 4), sin[1].view(1, 1, 1, 4)).flatten()
    a = torch.tensor([1.0, 0.1])
    expected = torch.cat(
        [
            torch.tensor([1.0, 2.0]) * a.cos() - torch.tensor([3.0, 4.0]) * a.sin(),
            torch.tensor([3.0, 4.0]) * a.cos() + torch.tensor([1.0, 2.0]) * a.sin(),
        ]
    )
    assert torch.allclose(out, expected, atol=1e-6)


def test_causal_future_tokens_do_not_change_past() -> None:
    model = make_model()
    ids = torch.randint(0, 97, (2, 10))
    other = ids.clone()
    other[:, 6:] = torch.randint(0, 97, (2, 4))
    with torch.no_grad():
        a, b = model(ids), model(other)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-3)


def test_kv_cache_matches_full_forward() -> None:
    model = make_model()
    ids = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache(2, 16)
        parts = [model(ids[:, :5], kv_cache=cache), model(ids[:, 5:9], kv_cache=cache)]
        parts += [model(ids[:, t : t + 1], kv_cache=cache) for t in range(9, 12)]
    assert cache.length == 12
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_cascade_attention_equals_softmax_over_prefix_and_suffix(kv_heads: int) -> None:
    # 3 prompts with 2, 1 and 3 rows in scrambled order; prompt 1 carries 2 padding positions
    torch.manual_seed(0)
    nq, d, W, S = 4, 8, 6, 3
    source = torch.tensor([2, 0, 2, 1, 0, 2])
    n, P = source.numel(), 3
    q = torch.randn(n, nq, 1, d)
    pk, pv = torch.randn(P, kv_heads, W, d), torch.randn(P, kv_heads, W, d)
    sk, sv = torch.randn(n, kv_heads, S, d), torch.randn(n, kv_heads, S, d)
    real = torch.ones(P, W, dtype=torch.bool)
    real[1, :2] = False
    cache = SharedPrefixCache.__new__(SharedPrefixCache)
    cache.prefix_k = pk.unsqueeze(0)
    cache._seat(source)
    assert cache.group_size == 3 and sorted(cache.slot_pos.tolist()) == [0, 1, 3, 6, 7, 8]
    bias = torch.zeros(P, W).masked_fill(~real, float("-inf"))[:, None, None, :]
    out = cascade_attention(q, pk, pv, bias, sk, sv, cache.group_rows, cache.slot_pos, cache.group_size)
    group = nq // kv_heads
    for i in range(n):  # every head by hand: softmax over the row's prompt keys (no padding) and its own keys
        p = int(source[i])
        for h in range(nq):
            keys = torch.cat([pk[p, h // group][real[p]], sk[i, h // group]])
            vals = torch.cat([pv[p, h // group][real[p]], sv[i, h // group]])
            want = (q[i, h, 0] @ keys.T / d**0.5).softmax(-1) @ vals
            assert torch.allclose(out[i, h, 0], want, atol=1e-5)


def test_shared_prefix_decoding_equals_per_row_cache() -> None:
    # two prompts (one left-padded), three rows; decode 4 tokens, drop a row, decode 2 more
    model = make_model()
    prompts = torch.randint(1, 97, (2, 5))
    real = torch.ones(2, 5, dtype=torch.bool)
    real[1, :2] = False
    source = torch.tensor([0, 1, 1])
    steps = torch.randint(1, 97, (3, 6))
    with torch.no_grad():
        plain = model.new_cache(2, 11)
        model(prompts, attention_mask=real, kv_cache=plain)
        shared_pre = model.new_cache(2, 5)
        model(prompts, attention_mask=real, kv_cache=shared_pre)
        shared = SharedPrefixCache(shared_pre.k, shared_pre.v, real, source, 8)
        plain.select_rows(source)
        mask = torch.cat([real[source], torch.ones(3, 6, dtype=torch.bool)], dim=1)
        pos = real[source].sum(-1)
        for t in range(6):
            if t == 4:  # row 0 finishes: both caches drop it, and the shared one its prompt
                keep = torch.tensor([1, 2])
                plain.select_rows(keep)
                shared.select_rows(keep)
                mask, pos, steps = mask[keep], pos[keep], steps[keep]
            tok, p = steps[:, t : t + 1], (pos + t)[:, None]
            a = model(tok, position_ids=p, attention_mask=mask[:, : plain.length + 1], kv_cache=plain)
            b = model(tok, position_ids=p, kv_cache=shared)
            assert torch.allclose(a, b, atol=1e-5)
    assert shared.prefix_k.shape[1] == 1 and shared.batch_size == 2
    with pytest.raises(ReasonlabError, match="one token per step"):
        model(steps[:, :2], position_ids=torch.zeros(2, 2, dtype=torch.long), kv_cache=shared)


def reference_attention_forward(model: Decoder, ids: torch.Tensor) -> torch.Tensor:
    """Independent per-head implementation (explicit loops, repeated KV heads) for GQA checking."""
    cfg = model.config
    hd, t = cfg.head_dim, ids.shape[1]
    cos, sin = rope_cos_sin(hd, t, cfg.rope_theta)
    x = model.embed.weight[ids]

    def rms(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return v / torch.sqrt(v.pow(2).mean(-1, keepdim=True) + cfg.rms_norm_eps) * w

    def rot(v: torch.Tensor) -> torch.Tensor:
        h = v.shape[-1] // 2
        return v * cos + torch.cat([-v[..., h:], v[..., :h]], -1) * sin

    for layer in model.layers:
        h = rms(x, layer.input_norm.weight)
        qkv = h @ layer.attn.qkv_proj.weight.T + layer.attn.qkv_proj.bias
        q_dim, kv_dim = cfg.num_heads * hd, cfg.num_kv_heads * hd
        q, k, v = qkv[..., :q_dim], qkv[..., q_dim : q_dim + kv_dim], qkv[..., q_dim + kv_dim :]
        heads = []
        group = cfg.num_heads // cfg.num_kv_heads
        for head in range(cfg.num_heads):
            kvh = head // group
            qh = rot(q[..., head * hd : (head + 1) * hd])
            kh = rot(k[..., kvh * hd : (kvh + 1) * hd])
            vh = v[..., kvh * hd : (kvh + 1) * hd]
            scores = qh @ kh.transpose(-1, -2) / hd**0.5
            scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
            heads.append(scores.softmax(-1) @ vh)
        x = x + torch.cat(heads, -1) @ layer.attn.o_proj.weight.T
        h = rms(x, layer.post_attn_norm.weight)
        gate, up = (h @ layer.mlp.gate_up_proj.weight.T).chunk(2, -1)
        x = x + (F.silu(gate) * up) @ layer.mlp.down_proj.weight.T
    return rms(x, model.norm.weight) @ model.embed.weight.T


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_gqa_matches_reference(kv_heads: int) -> None:
    model = make_model(num_kv_heads=kv_heads)
    ids = torch.randint(0, 97, (2, 9))
    with torch.no_grad():
        assert torch.allclose(model(ids), reference_attention_forward(model, ids), atol=1e-5)


def test_left_padding_invariance() -> None:
    model = make_model()
    ids = torch.randint(3, 97, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], dim=1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        plain = model(ids)
        pad = model(padded, attention_mask=mask)
        # and incrementally with a cache
        cache = model.new_cache(1, 12)
        first = model(padded[:, :7], attention_mask=mask[:, :7], kv_cache=cache)
        step = model(padded[:, 7:8], attention_mask=mask[:, :8], kv_cache=cache)
    assert torch.allclose(pad[:, 3:], plain, atol=1e-5)
    assert torch.allclose(first[:, 3:], plain[:, :4], atol=1e-5)
    assert torch.allclose(step[:, 0], plain[:, 4], atol=1e-5)


def test_untied_and_biasless_variants_run() -> None:
    model = make_model(tie_embeddings=False, qkv_bias=False)
    assert model.lm_head is not None
    assert model(torch.randint(0, 97, (1, 4))).shape == (1, 4, 97)


def test_position_beyond_max_seq_len_is_an_error() -> None:
    model = make_model(max_seq_len=8)
    with pytest.raises(ReasonlabError, match="max_seq_len"):
        model(torch.zeros(1, 9, dtype=torch.long))


@pytest.fixture(scope="module")
def tokenizer() -> TaskTokenizer:
    texts = ["<question>a = 3 + 4. b = a * 2.</question><solution>a = 7</solution><answer>14</answer>"] * 20
    return TaskTokenizer.build(texts, 300)


def test_save_load_roundtrip(tmp_path, tokenizer: TaskTokenizer) -> None:
    model = make_model(vocab_size=tokenizer.vocab_size)
    out = save_model(tmp_path / "ckpt", model, tokenizer, extra={"step": 5})
    assert sorted(p.name for p in out.iterdir()) == [
        "checksums.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert json.loads((out / "config.json").read_text())["extra"] == {"step": 5}
    loaded, tok = load_model(out)
    ids = torch.randint(0, tokenizer.vocab_size, (2, 5))
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))
    assert tok.encode("a = 7") == tokenizer.encode("a = 7")
    # overwrite in place is atomic and leaves no temporary directories
    save_model(out, model, tokenizer)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_missing_and_corrupt_checkpoints(tmp_path, tokenizer: TaskTokenizer) -> None:
    with pytest.raises(ReasonlabError, match="no such checkpoint"):
        load_model(tmp_path / "nope")
    model = make_model(vocab_size=tokenizer.vocab_size)
    ckpt = save_model(tmp_path / "c", model, tokenizer)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ReasonlabError, match="checksum mismatch"):
        load_model(ckpt)
    (ckpt / "checksums.json").unlink()  # a checkpoint written before checksums: the loader still says why
    with pytest.raises(ReasonlabError, match="corrupt weights"):
        load_model(ckpt)
    weights.unlink()
    with pytest.raises(ReasonlabError, match="missing weights"):
        load_model(ckpt)
    save_model(ckpt, model, tokenizer)
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(ReasonlabError, match="corrupt config"):
        load_model(ckpt)
    save_model(ckpt, model, tokenizer)
    (ckpt / "tokenizer.json").write_text("garbage")
    with pytest.raises(ReasonlabError, match="checksum mismatch"):
        load_model(ckpt)
    (ckpt / "checksums.json").unlink()
    with pytest.raises(ReasonlabError, match="unreadable tokenizer"):
        load_model(ckpt)
    # weights that do not fit the config
    other = make_model(vocab_size=tokenizer.vocab_size, hidden_size=64)
    save_model(ckpt, other, tokenizer)
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["model"]["hidden_size"] = 32
    (ckpt / "config.json").write_text(json.dumps(cfg))
    (ckpt / "checksums.json").unlink()  # a hand-edited config (the checksum would catch it otherwise)
    with pytest.raises(ReasonlabError, match="shape"):
        load_model(ckpt)
