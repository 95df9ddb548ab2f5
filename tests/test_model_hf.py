"""Hugging Face export/import: transformers loads the export offline, logits match, import round-trips."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from reasonlab.errors import ReasonlabError
from reasonlab.model import SPECIAL_TOKENS, Decoder, ModelConfig, TaskTokenizer, load_model, save_model
from reasonlab.model.hf import export_hf
from reasonlab.sampling import SamplingParams, generate, generate_ids

os.environ["HF_HUB_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers")
torch.set_num_threads(1)

TEXTS = [
    "<question> The number of adult foxes in Cedar Park equals 11. What is it? </question> <solution>",
    " Define foxes as n; so n = 11. Answer: 11. </solution> <answer> 11 </answer>",
    "A says: 'B is a knave.' B's claim (true?) -- x=3,y=-4; (a+b)*c\n\n\tz",
] * 10


@pytest.fixture(scope="module")
def tok() -> TaskTokenizer:
    return TaskTokenizer.build(TEXTS, 400)


def random_model(tok: TaskTokenizer, seed: int = 0, **kw) -> Decoder:
    torch.manual_seed(seed)
    base = dict(
        vocab_size=tok.vocab_size + 3,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=96,
        max_seq_len=128,
        rope_theta=10000.0,
    )
    base.update(kw)
    model = Decoder(ModelConfig(**base)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tok: TaskTokenizer) -> tuple[Decoder, str]:
    model = random_model(tok)
    out = tmp_path_factory.mktemp("hf") / "export"
    export_hf(model, tok, out)
    return model, str(out)


def test_transformers_loads_export_and_logits_match(exported, tok: TaskTokenizer) -> None:
    model, out = exported
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    assert type(hf).__name__ == "Qwen2ForCausalLM"
    ids = torch.randint(0, model.config.vocab_size, (3, 17))
    mask = torch.ones_like(ids)
    mask[0, :5] = 0  # left padding
    with torch.no_grad():
        assert torch.allclose(model(ids), hf(ids).logits, atol=1e-4)
        ours = model(ids, attention_mask=mask)
        theirs = hf(ids, attention_mask=mask).logits
    assert torch.allclose(ours[0, 5:], theirs[0, 5:], atol=1e-4)


def test_autotokenizer_matches_native(exported, tok: TaskTokenizer) -> None:
    _, out = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert (hf_tok.bos_token, hf_tok.eos_token, hf_tok.pad_token) == ("<bos>", "<eos>", "<pad>")
    assert hf_tok.eos_token_id == tok.eos_id and hf_tok.pad_token_id == tok.pad_id
    assert len(hf_tok) == tok.vocab_size
    from reasonlab.tasks import get_task

    arith = get_task("arith")
    problems = list(arith.generate(arith.params(ops="2-12"), 20, 3))
    texts = [*TEXTS[:3], *("".join(arith.render(p, "plain")) for p in problems), "x = 1234567890 ;; 'S 's\r\n"]
    for text in texts:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        assert ids == tok.encode(text)
        assert hf_tok.decode(ids) == text


def test_import_roundtrip(exported, tok: TaskTokenizer, tmp_path) -> None:
    model, out = exported
    loaded, tok2 = load_model(out)
    ids = torch.randint(0, model.config.vocab_size, (2, 9))
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))
    assert loaded.config == model.config
    assert tok2.encode(TEXTS[0]) == tok.encode(TEXTS[0])
    # native -> HF -> native -> HF gives identical weight files
    again = export_hf(loaded, tok2, tmp_path / "again")
    from safetensors.torch import load_file

    a, b = load_file(f"{out}/model.safetensors"), load_file(str(again / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_greedy_generation_matches_transformers(exported, tok: TaskTokenizer) -> None:
    model, out = exported
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    hf.generation_config.eos_token_id = None
    prompt = tok.encode(TEXTS[0], add_bos=True)
    ours = generate_ids(model, tok, [prompt], SamplingParams(max_new_tokens=12, temperature=0, ignore_eos=True), [0])[0]
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_id)[
            0, len(prompt) :
        ].tolist()
    assert ours.token_ids == theirs


def test_exported_tags_are_ordinary_tokens_and_survive_skip_special(exported, tok: TaskTokenizer) -> None:
    """Regression (#15): the tags were special, so TRL/verl decoding with skip_special_tokens=True lost them."""
    _, out = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert set(hf_tok.all_special_tokens) == {"<bos>", "<eos>", "<pad>"}
    gold = " Define x as n; so n = 11. Answer: 11. </solution> <answer> 11 </answer> <think> a </think>"
    ids = [*tok.encode(gold), tok.eos_id, tok.pad_id]
    assert hf_tok.convert_tokens_to_ids("<answer>") == tok.special_ids["<answer>"]  # same ids
    assert hf_tok.decode(ids, skip_special_tokens=True) == gold == tok.decode(ids, skip_special=True)
    from reasonlab.rewards import score
    from reasonlab.tasks import get_task

    kk = get_task("knights")
    for problem in kk.generate(kk.params(people="3-4"), 4, 0):
        completion = kk.render(problem, "plain")[1]
        decoded = hf_tok.decode([*tok.encode(completion), tok.eos_id], skip_special_tokens=True)
        assert score(kk, problem, decoded, "logic_rl").reward == 3.0


def test_exported_tokenizer_prepends_bos_and_greedy_matches(exported, tok: TaskTokenizer) -> None:
    """Regression (#15): ``tokenizer(text)`` added no <bos>, so greedy outputs in transformers differed."""
    model, out = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    hf.generation_config.eos_token_id = None
    for text in TEXTS[:3]:
        enc = hf_tok(text)["input_ids"]
        assert enc == tok.encode(text, add_bos=True)
        ours = generate(model, tok, [text], SamplingParams(max_new_tokens=8, temperature=0, ignore_eos=True), [0])[0]
        with torch.no_grad():
            theirs = hf.generate(torch.tensor([enc]), max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_id)
        assert ours.token_ids == theirs[0, len(enc) :].tolist()


def test_exported_chat_template_passes_text_through(exported, tok: TaskTokenizer) -> None:
    """Regression (#15): no chat template, so verl's dataset dropped every row and TRL's chat path failed."""
    _, out = exported
    hf_tok = transformers.AutoTokenizer.from_pretrained(out, local_files_only=True)
    msgs = [{"role": "user", "content": TEXTS[0]}]
    text = hf_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == "<bos>" + TEXTS[0]
    assert hf_tok(text, add_special_tokens=False)["input_ids"] == tok.encode(TEXTS[0], add_bos=True)
    ids = hf_tok.apply_chat_template([msgs], tokenize=True, add_generation_prompt=True, return_dict=True)
    assert list(ids["input_ids"][0]) == tok.encode(TEXTS[0], add_bos=True)
    full = [*msgs, {"role": "assistant", "content": TEXTS[1]}]
    assert hf_tok.apply_chat_template(full, tokenize=False) == "<bos>" + TEXTS[0] + TEXTS[1] + "<eos>"
    assert (hf_tok.pad_token_id, hf_tok.eos_token_id) == (tok.pad_id, tok.eos_id)


def test_import_llama_directory(tok: TaskTokenizer, tmp_path) -> None:
    cfg = transformers.LlamaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=48,
        intermediate_size=80,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=3,
        max_position_embeddings=64,
        rope_theta=5000.0,
        tie_word_embeddings=False,
        rms_norm_eps=1e-5,
    )
    torch.manual_seed(1)
    llama = transformers.LlamaForCausalLM(cfg).eval()
    llama.save_pretrained(tmp_path / "llama")
    tok.save(tmp_path / "llama")
    model, _ = load_model(tmp_path / "llama")
    assert not model.config.tie_embeddings and not model.config.qkv_bias and model.config.rope_theta == 5000.0
    ids = torch.randint(0, tok.vocab_size, (2, 11))
    with torch.no_grad():
        assert torch.allclose(model(ids), llama(ids).logits, atol=1e-4)


def test_foreign_tokenizer_uses_tokenizer_config(tok: TaskTokenizer, tmp_path, exported) -> None:
    _, out = exported
    d = tmp_path / "foreign"
    shutil.copytree(out, d)
    data = json.loads((d / "tokenizer.json").read_text())

    def rename(name: str) -> str:  # the specials as a foreign model would spell them
        return name.replace("<", "<|").replace(">", "|>") if name in SPECIAL_TOKENS else name

    for entry in data["added_tokens"]:
        entry["content"] = rename(entry["content"])
    data["model"]["vocab"] = {rename(k): v for k, v in data["model"]["vocab"].items()}
    (d / "tokenizer.json").write_text(json.dumps(data))
    (d / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "<|eos|>"}, "pad_token": None}))
    model, ftok = load_model(d)
    assert ftok.bos_id is None and ftok.eos_id == tok.eos_id and ftok.pad_id == tok.eos_id
    assert ftok.encode("hi", add_bos=True) == tok.encode("hi")
    g = generate_ids(model, ftok, [ftok.encode("hi")], SamplingParams(max_new_tokens=3, temperature=0), [0])[0]
    assert 1 <= len(g.token_ids) <= 3


def test_unsupported_hf_configs(exported, tmp_path) -> None:
    _, out = exported
    d = tmp_path / "gpt2"
    shutil.copytree(out, d)
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(ReasonlabError, match="model_type 'gpt2' is not supported"):
        load_model(d)
    (d / "config.json").write_text(json.dumps({**cfg, "rope_parameters": {"rope_type": "yarn", "factor": 4.0}}))
    with pytest.raises(ReasonlabError, match="rope scaling"):
        load_model(d)
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ReasonlabError, match="corrupt weights"):
        load_model(d)


def test_cli_export(tok: TaskTokenizer, tmp_path, capsys) -> None:
    from reasonlab.cli import main

    model = random_model(tok, seed=3, tie_embeddings=False, qkv_bias=False)
    save_model(tmp_path / "ckpt", model, tok)
    assert main(["export", "hf", str(tmp_path / "ckpt"), str(tmp_path / "hf")]) == 0
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", local_files_only=True).eval()
    ids = torch.randint(0, model.config.vocab_size, (2, 7))
    with torch.no_grad():
        assert torch.allclose(model(ids), hf(ids).logits, atol=1e-4)
    assert main(["export", "hf", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "not a checkpoint dir" in capsys.readouterr().err


def test_cli_bench_sample_reports_both_engines(capsys) -> None:
    from reasonlab.cli import main

    args = [
        "bench",
        "sample",
        "--preset",
        "tiny",
        "--batch",
        "4",
        "--group",
        "2",
        "--prompt-len",
        "5",
        "--new-tokens",
        "3",
        "--threads",
        "1",
        "--repeats",
        "1",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch"] == 4 and report["group"] == 2 and report["max_new_tokens"] == 3
    assert report["ours_tokens_per_s"] > 0 and report["hf_tokens_per_s"] > 0
    assert report["speedup"] == pytest.approx(report["hf_seconds"] / report["ours_seconds"], rel=0.02)
    assert main([*args[:4], "--batch", "3", "--group", "2"]) == 2
    assert "multiple of --group" in capsys.readouterr().err


def test_sample_flops_by_hand() -> None:
    from types import SimpleNamespace

    from reasonlab.bench.sample import sample_flops

    cfg = SimpleNamespace(vocab_size=1000, hidden_size=200, num_layers=2, num_heads=4)
    # no-attention part: 2*(1e6-2e5)*(3+2) + 2*2e5*2 = 8.8e6; attention: 4*2*200*3*5 = 24000
    assert sample_flops(cfg, 1_000_000, 1, 3, 2) == pytest.approx(8.8e6 + 24_000)
