"""Bring your own model: a Hugging Face Qwen2/Llama directory saved by transformers -> `reasonlab import hf` ->
the same logits, greedy tokens and chat prompts as transformers, and eval / RL / SFT recipes that run on it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from reasonlab.cli import main
from reasonlab.errors import ReasonlabError
from reasonlab.model import load_model
from reasonlab.model.chat import ChatTemplate, Prompter
from reasonlab.model.hf_import import import_hf
from reasonlab.model.tokenizer import PRETOKENIZE_REGEX, TaskTokenizer
from reasonlab.sampling import SamplingParams, generate_ids
from reasonlab.tasks import get_task

os.environ["HF_HUB_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers")
torch.set_num_threads(1)

#: Qwen2.5's template reduced to its prompt path: a default system turn when the conversation has none.
QWEN_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}\n"
    "{%- for message in messages %}{%- if message.role != 'system' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}\n"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n"
)
#: Llama 3's shape: the template writes the BOS itself (so the prompt must not get a second one).
LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


def _bpe(specials: list[str]) -> Tokenizer:
    """A small byte-level BPE (Qwen2's pre-tokenizer) trained on Knights & Knaves chat text."""
    kk = get_task("knights")
    texts = [p.prompt + p.solution for p in kk.generate(kk.params(people=2, style="chat"), 20, 5)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _perturb(model: Any) -> Any:
    """Random biases and norm weights, so the parity checks cover them (transformers initialises them flat)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """``(directory, model, tokenizer)`` of a random tiny Qwen2 instruct model saved by transformers."""
    path = tmp_path_factory.mktemp("hf") / "qwen"
    hf_tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_bpe(QWEN_SPECIALS),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN_TEMPLATE,
    )
    hf_tok.save_pretrained(path)
    cfg = transformers.Qwen2Config(
        vocab_size=len(hf_tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        rope_theta=10000.0,
        eos_token_id=hf_tok.eos_token_id,
        pad_token_id=hf_tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = _perturb(transformers.Qwen2ForCausalLM(cfg))
    model.save_pretrained(path)
    return path, model, hf_tok


@pytest.fixture(scope="module")
def imported(qwen: tuple[Path, Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Qwen2 directory imported with the CLI."""
    out = tmp_path_factory.mktemp("native") / "qwen"
    assert main(["import", "hf", str(qwen[0]), str(out)]) == 0
    return out


def _chat_reference(hf_tok: Any, task: str, problem: Any, tokenize: bool = False) -> Any:
    """What transformers makes of a task's conversation: apply_chat_template plus the task's pre-filled text."""
    chat = get_task(task).chat_prompt(problem)
    text = hf_tok.apply_chat_template(list(chat.messages), add_generation_prompt=True, tokenize=False) + chat.prefill
    return hf_tok(text, add_special_tokens=False)["input_ids"] if tokenize else text


def test_import_writes_a_native_model_directory(qwen, imported: Path) -> None:
    src = qwen[0]
    assert sorted(p.name for p in imported.iterdir()) == [
        "checksums.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    meta = json.loads((imported / "config.json").read_text())
    assert meta["format"] == "reasonlab" and meta["model"]["qkv_bias"] and meta["model"]["tie_embeddings"]
    assert meta["extra"]["imported_from"] == {
        "path": str(src.resolve()),
        "architecture": "Qwen2ForCausalLM",
        "dtype": "float32",
    }
    model, tok = load_model(imported)
    assert tok.chat_template == (src / "chat_template.jinja").read_text()
    assert tok.bos_id is None and tok.eos_id == qwen[2].eos_token_id and tok.pad_id == qwen[2].pad_token_id
    # a checkpoint of the imported model (what RL / SFT save) keeps the template and the control tokens
    from reasonlab.model import save_model

    _, tok2 = load_model(save_model(imported.parent / "resaved", model, tok))
    assert tok2.chat_template == tok.chat_template and (tok2.eos_id, tok2.pad_id) == (tok.eos_id, tok.pad_id)
    # checksums cover the tokenizer config: an edited chat template is refused
    cfg = json.loads((imported.parent / "resaved" / "tokenizer_config.json").read_text())
    (imported.parent / "resaved" / "tokenizer_config.json").write_text(json.dumps({**cfg, "chat_template": "x"}))
    with pytest.raises(ReasonlabError, match="checksum mismatch"):
        load_model(imported.parent / "resaved")


def test_logits_match_transformers(qwen, imported: Path) -> None:
    _, hf, _ = qwen
    model, _ = load_model(imported)
    ids = torch.randint(0, model.config.vocab_size, (3, 40), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :7] = 0  # left padding, as the sampler batches prompts
    with torch.no_grad():
        assert torch.allclose(model(ids), hf(ids).logits, atol=1e-5, rtol=0)
        ours, theirs = model(ids, attention_mask=mask), hf(ids, attention_mask=mask).logits
    assert torch.allclose(ours[0, 7:], theirs[0, 7:], atol=1e-5, rtol=0)


def test_chat_prompts_and_greedy_generation_match_transformers(qwen, imported: Path) -> None:
    _, hf, hf_tok = qwen
    model, tok = load_model(imported)
    prompter = Prompter("model_chat", tok)
    for name, knobs in (("knights", {"people": 3}), ("arith", {"ops": 3})):  # system + prefill; one user turn
        task = get_task(name)
        for problem in task.generate(task.params(**knobs), 3, 11):
            prompt, completion = prompter.render(task, problem)
            assert prompt == _chat_reference(hf_tok, name, problem)
            assert prompter.encode(tok, [prompt])[0] == _chat_reference(hf_tok, name, problem, tokenize=True)
            assert completion == task.render(problem, "chat")[1]  # the gold completion the verifier accepts
            assert task.verify(problem, completion).correct
    problem = next(get_task("knights").generate(get_task("knights").params(people=2), 1, 3))
    ids = prompter.encode(tok, [prompter.prompt(get_task("knights"), problem)])[0]
    params = SamplingParams(max_new_tokens=16, temperature=0, ignore_eos=True)
    ours = generate_ids(model, tok, [ids], params, [0])[0].token_ids
    with torch.no_grad():
        theirs = hf.generate(
            torch.tensor([ids]), max_new_tokens=16, do_sample=False, eos_token_id=None, pad_token_id=tok.pad_id
        )[0, len(ids) :].tolist()
    assert ours == theirs


def test_llama_with_bos_in_its_template(tmp_path: Path) -> None:
    """Untied Llama with GQA, its own rope theta and eps; the template writes BOS, the prompt ids carry one."""
    hf_tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=_bpe(LLAMA_SPECIALS),
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        chat_template=LLAMA_TEMPLATE,
    )
    hf_tok.save_pretrained(tmp_path / "llama")
    cfg = transformers.LlamaConfig(
        vocab_size=len(hf_tok) + 5,  # padded embedding rows, as real checkpoints have
        hidden_size=48,
        intermediate_size=80,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rope_theta=5000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    )
    torch.manual_seed(2)
    hf = _perturb(transformers.LlamaForCausalLM(cfg))
    hf.save_pretrained(tmp_path / "llama")
    import_hf(tmp_path / "llama", tmp_path / "native")
    model, tok = load_model(tmp_path / "native")
    assert not model.config.tie_embeddings and not model.config.qkv_bias and model.config.rope_theta == 5000.0
    ids = torch.randint(0, cfg.vocab_size, (2, 30), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(model(ids), hf(ids).logits, atol=1e-5, rtol=0)
    task = get_task("knights")
    problem = next(task.generate(task.params(people=2), 1, 0))
    prompter = Prompter("model_chat", tok)
    prompt_ids = prompter.encode(tok, [prompter.prompt(task, problem)])[0]
    assert prompt_ids == _chat_reference(hf_tok, "knights", problem, tokenize=True)
    assert prompt_ids.count(tok.bos_id) == 1 and prompt_ids[0] == tok.bos_id


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_eval_rl_and_sft_run_from_the_imported_model(imported: Path, tmp_path: Path) -> None:
    """The recipes a user runs on their own model: evaluation, 2 RL steps and 2 SFT steps, all in its chat template."""
    knights = {"people": 2}
    eval_cfg = {
        "name": "byo-eval",
        "task": "knights",
        "buckets": {"knob": "people", "values": [2]},
        "problems_per_bucket": 2,
        "seeds": 2,
        "decoding": {"temperature": 0.7, "max_new_tokens": 8},
        "prompt_style": "model_chat",
        "reward": "logic_rl",
        "device": "cpu",
        "report": False,
    }
    cfg = _write(tmp_path / "eval.yaml", eval_cfg)
    out = tmp_path / "eval"
    assert main(["eval", str(cfg), "--model", str(imported), "--out", str(out), "--threads", "1", "--quiet"]) == 0
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["record"]["config"]["prompt_style"] == "model_chat"
    samples = [json.loads(line) for line in (out / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all("<|im_start|>" not in s["completion"] for s in samples)
    assert all(s["prompt_tokens"] > 150 for s in samples)  # the whole chat-template prompt, system turn included

    rl_cfg = {
        "name": "byo-rl",
        "out_dir": str(tmp_path),
        "init_from": str(imported),
        "steps": 2,
        "threads": 1,
        "device": "cpu",
        "task": {"name": "knights", "knobs": knights, "style": "model_chat", "reward": "logic_rl"},
        "rollout": {"batch_size": 4, "group_size": 2, "max_new_tokens": 8, "temperature": 1.0},
        "optim": {"lr": 1e-3},
        "sample_every": 1,
        "samples_logged": 1,
    }
    assert main(["rl", str(_write(tmp_path / "rl.yaml", rl_cfg))]) == 0
    logged = json.loads((tmp_path / "byo-rl" / "samples" / "step-1.jsonl").read_text().splitlines()[0])
    assert logged["prompt"].startswith("<|im_start|>system\n") and logged["prompt"].endswith("assistant\n<think>")
    _, tok = load_model(tmp_path / "byo-rl" / "model")
    assert tok.chat_template is not None  # the RL model keeps its prompt format

    sft_cfg = {
        "name": "byo-sft",
        "out_dir": str(tmp_path),
        "init_from": str(imported),
        "objective": "sft",
        "data": {
            "mixture": [{"task": "knights", "knobs": knights}],
            "num_problems": 6,
            "seq_len": 512,
            "style": "model_chat",
            "val_rows": 1,
        },
        "optim": {"lr": 1e-3, "warmup_steps": 1, "max_steps": 2, "batch_size": 2},
        "runtime": {"device": "cpu", "num_threads": 1},
    }
    assert main(["midtrain", str(_write(tmp_path / "sft.yaml", sft_cfg))]) == 0
    stats = json.loads((tmp_path / "byo-sft" / "data" / "stats.json").read_text())
    assert stats["documents"] == 6 and stats["dropped_too_long"] == 0


# ---------------------------------------------------------------------------------------------- refusals


def _copy(src: Path, dest: Path, **config: Any) -> Path:
    shutil.copytree(src, dest)
    if config:
        data = json.loads((dest / "config.json").read_text())
        data.update(config)
        (dest / "config.json").write_text(json.dumps(data))
    return dest


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"architectures": ["MistralForCausalLM"], "model_type": "mistral"}, "architecture \\['MistralForCausalLM'\\]"),
        ({"architectures": ["GPT2LMHeadModel"]}, "allowed: Qwen2ForCausalLM, LlamaForCausalLM"),
        ({"model_type": "llama"}, "model_type 'llama' does not match Qwen2ForCausalLM"),
        ({"rope_parameters": {"rope_type": "llama3", "factor": 8.0, "rope_theta": 5e5}}, "rope scaling 'llama3'"),
        ({"layer_types": ["full_attention", "sliding_attention"]}, "layer_types"),
        ({"use_sliding_window": True}, "sliding-window"),
        ({"attention_dropout": 0.1}, "attention_dropout 0.1"),
        ({"attention_dropout": "high"}, "attention_dropout 'high'"),
        ({"partial_rotary_factor": 0.5}, "partial_rotary_factor 0.5"),
        ({"hidden_act": "gelu"}, "hidden_act 'gelu'"),
        ({"quantization_config": {"quant_method": "gptq"}}, "quantized weights \\('gptq'\\)"),
        ({"head_dim": 16}, "head_dim 16"),
        (
            {"intermediate_size": 65},
            "'model.layers.0.mlp.gate_proj.weight' has shape \\(64, 32\\), config.json implies",
        ),
        ({"tie_word_embeddings": False}, "missing tensor 'lm_head.weight'"),
        ({"num_key_value_heads": 3}, "not divisible by num_kv_heads 3"),
    ],
)
def test_unsupported_configs_are_one_line_errors(qwen, tmp_path: Path, config: dict[str, Any], message: str) -> None:
    src = _copy(qwen[0], tmp_path / "src", **config)
    with pytest.raises(ReasonlabError, match=message) as err:
        import_hf(src, tmp_path / "out")
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_missing_and_mismatched_files_are_one_line_errors(qwen, tmp_path: Path, capsys) -> None:
    src = qwen[0]
    cases: list[tuple[str, Any, str]] = [
        ("no-config", lambda d: (d / "config.json").unlink(), "missing config.json"),
        ("no-tokenizer", lambda d: (d / "tokenizer.json").unlink(), "missing tokenizer.json"),
        ("bin-only", lambda d: (d / "model.safetensors").rename(d / "pytorch_model.bin"), "PyTorch .bin weights"),
        ("corrupt", lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 16), "corrupt weights file"),
        ("no-tok-config", lambda d: (d / "tokenizer_config.json").unlink(), "lacks reasonlab special tokens"),
        (
            "bad-template",
            lambda d: (d / "chat_template.jinja").write_text("{% if %}"),
            "chat template does not compile",
        ),
    ]
    weights = load_file(str(src / "model.safetensors"))
    extra = {**weights, "model.layers.0.self_attn.o_proj.bias": torch.zeros(32)}
    cases.append(("o-bias", lambda d: save_file(extra, str(d / "model.safetensors")), "o_proj.bias' has no place"))
    small = {**weights, "model.embed_tokens.weight": weights["model.embed_tokens.weight"][:-1]}
    cases.append(("shape", lambda d: save_file(small, str(d / "model.safetensors")), "embed_tokens.weight' has shape"))
    for name, edit, message in cases:
        d = _copy(src, tmp_path / name)
        edit(d)
        with pytest.raises(ReasonlabError, match=message) as err:
            import_hf(d, tmp_path / f"{name}-out")
        assert "\n" not in str(err.value), name
    with pytest.raises(ReasonlabError, match="no such directory"):
        import_hf(tmp_path / "nowhere", tmp_path / "x")
    with pytest.raises(ReasonlabError, match="must differ from the source"):
        import_hf(src, src)
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep")
    assert main(["import", "hf", str(src), str(tmp_path / "precious"), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not an imported model" in err and "\n" not in err
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep"
    import_hf(src, tmp_path / "twice")
    with pytest.raises(ReasonlabError, match="pass --overwrite"):
        import_hf(src, tmp_path / "twice")
    import_hf(src, tmp_path / "twice", overwrite=True)  # an earlier import may be replaced


def test_chat_templates_that_fail_and_styles_that_cannot_apply(imported: Path, tmp_path: Path, capsys) -> None:
    _, tok = load_model(imported)
    task = get_task("knights")
    problem = next(task.generate(task.params(people=2), 1, 0))
    failing = {
        "{{ raise_exception('System role not supported') }}": "chat template failed \\(System role not supported\\)",
        "{{ messages.__class__.__mro__[1].__subclasses__() }}": "chat template failed .*unsafe",
        "{% for m in messages %}{{ m['content'] + 1 }}{% endfor %}": "chat template failed",
        "{{ messages[0]['content'] | nosuchfilter }}": "chat template does not compile",
    }
    for source, message in failing.items():
        tok.chat_template = source
        with pytest.raises(ReasonlabError, match=message) as err:
            Prompter("model_chat", tok, "mymodel").prompt(task, problem)
        assert str(err.value).startswith("mymodel: ") and "\n" not in str(err.value)
    native = TaskTokenizer.build(["<question> a </question>"] * 5, 300)
    with pytest.raises(ReasonlabError, match="has no chat template"):
        Prompter("model_chat", native)
    with pytest.raises(ReasonlabError, match="cannot train a tokenizer"):
        Prompter("model_chat")
    assert (
        ChatTemplate("{{ bos_token }}{{ eos_token }}", native.special_token_strings(), "n").render([]) == "<bos><eos>"
    )
    # a native model (no template) refuses model_chat before any run directory exists
    from reasonlab.model import Decoder, ModelConfig, save_model

    cfg = ModelConfig(
        vocab_size=native.vocab_size,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=32,
        max_seq_len=64,
    )
    save_model(tmp_path / "native", Decoder(cfg), native)
    rl = {
        "name": "nochat",
        "out_dir": str(tmp_path),
        "init_from": str(tmp_path / "native"),
        "steps": 1,
        "threads": 1,
        "task": {"name": "knights", "style": "model_chat", "reward": "logic_rl"},
        "rollout": {"batch_size": 2, "group_size": 2, "max_new_tokens": 4},
    }
    capsys.readouterr()
    assert main(["rl", str(_write(tmp_path / "rl.yaml", rl))]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no chat template" in err and "\n" not in err and not (tmp_path / "nochat").exists()
    rl["task"] = {"name": "arith_facts", "style": "model_chat"}  # a task without a chat style
    assert main(["rl", str(_write(tmp_path / "rl2.yaml", rl))]) == 2
    assert "style 'model_chat': task 'arith_facts' supports plain" in capsys.readouterr().err
    # pre-training builds its tokenizer, so there is no template to prompt through
    pre = {"name": "pre", "out_dir": str(tmp_path), "data": {"mixture": [{"task": "knights"}], "style": "model_chat"}}
    assert main(["pretrain", str(_write(tmp_path / "pre.yaml", pre))]) == 2
    assert "cannot train a tokenizer" in capsys.readouterr().err and not (tmp_path / "pre").exists()
