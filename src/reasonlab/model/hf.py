"""Hugging Face format: export a native checkpoint as ``Qwen2ForCausalLM``, import Qwen2/Llama directories.

The native :class:`~reasonlab.model.decoder.Decoder` is the Qwen2 architecture with two fusions
(q/k/v in one projection, gate/up in one), so conversion is a rename plus a split or concatenation;
nothing is approximated. A model without q/k/v biases exports with zero biases (Qwen2 always has them).

Exported directory: ``config.json`` (Qwen2Config), ``model.safetensors``, ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``; ``transformers`` loads it
offline with ``AutoModelForCausalLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)``.
The exported tokenizer is what other engines (TRL, verl, OpenRLHF, vLLM) need unchanged: the same ids,
the tags as ordinary (not special) tokens so ``skip_special_tokens=True`` keeps them, <bos> prepended
by ``tokenizer(text)``, <eos>/<pad> set, and a pass-through chat template (:data:`CHAT_TEMPLATE`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, processors

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_dir
from reasonlab.model.decoder import Decoder, ModelConfig
from reasonlab.model.tokenizer import BOS, EOS, PAD, SPECIAL_TOKENS, TaskTokenizer
from reasonlab.model.weights import load_state, read_safetensors

SUPPORTED_MODEL_TYPES = ("qwen2", "llama")


def hf_config(config: ModelConfig, tokenizer: TaskTokenizer) -> dict[str, Any]:
    """The ``config.json`` mapping of a ``Qwen2ForCausalLM`` with the shape of ``config``."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "hidden_act": "silu",
        "max_position_embeddings": config.max_seq_len,
        "initializer_range": config.init_std,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
        "tie_word_embeddings": config.tie_embeddings,
        "use_sliding_window": False,
        "sliding_window": None,
        "attention_dropout": 0.0,
        "use_cache": True,
        "bos_token_id": tokenizer.bos_id,
        "eos_token_id": tokenizer.eos_id,
        "pad_token_id": tokenizer.pad_id,
        "torch_dtype": "float32",
        "dtype": "float32",
    }


def to_hf_state_dict(model: Decoder) -> dict[str, torch.Tensor]:
    """Native weights renamed/split to Hugging Face Qwen2 names (contiguous CPU float tensors)."""
    cfg = model.config
    q_dim, kv_dim = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    out: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": sd["embed.weight"],
        "model.norm.weight": sd["norm.weight"],
    }
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["lm_head.weight"]
    for i in range(cfg.num_layers):
        src, dst = f"layers.{i}.", f"model.layers.{i}."
        q, k, v = sd[src + "attn.qkv_proj.weight"].split([q_dim, kv_dim, kv_dim], dim=0)
        bias = sd.get(src + "attn.qkv_proj.bias")
        if bias is None:
            bias = torch.zeros(q_dim + 2 * kv_dim, dtype=q.dtype)
        qb, kb, vb = bias.split([q_dim, kv_dim, kv_dim], dim=0)
        gate, up = sd[src + "mlp.gate_up_proj.weight"].chunk(2, dim=0)
        out.update(
            {
                dst + "self_attn.q_proj.weight": q,
                dst + "self_attn.k_proj.weight": k,
                dst + "self_attn.v_proj.weight": v,
                dst + "self_attn.q_proj.bias": qb,
                dst + "self_attn.k_proj.bias": kb,
                dst + "self_attn.v_proj.bias": vb,
                dst + "self_attn.o_proj.weight": sd[src + "attn.o_proj.weight"],
                dst + "mlp.gate_proj.weight": gate,
                dst + "mlp.up_proj.weight": up,
                dst + "mlp.down_proj.weight": sd[src + "mlp.down_proj.weight"],
                dst + "input_layernorm.weight": sd[src + "input_norm.weight"],
                dst + "post_attention_layernorm.weight": sd[src + "post_attn_norm.weight"],
            }
        )
    return {k: v.contiguous() for k, v in out.items()}


#: A pass-through chat template: the messages' text as it is, after <bos>; an assistant turn ends with
#: <eos> (the native training text is ``<bos> prompt completion <eos>``). Engines that speak chat
#: (verl's dataset class, TRL's conversational prompts) then feed the model exactly what it was trained on.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
)


def tokenizer_config(tokenizer: TaskTokenizer, max_len: int) -> dict[str, Any]:
    """``tokenizer_config.json``: the fast tokenizer, its control tokens, <bos> added, a chat template.

    Only <bos>/<eos>/<pad> are special: the tag tokens are ordinary added tokens, so engines that
    decode with ``skip_special_tokens=True`` (TRL, verl) keep the tags the verifiers read.
    """
    bos = tokenizer.decode([tokenizer.bos_id]) if tokenizer.bos_id is not None else None
    template = CHAT_TEMPLATE if bos else CHAT_TEMPLATE.replace("{{ bos_token }}", "")
    return {
        # PreTrainedTokenizerFast loads tokenizer.json as written in transformers 4 and 5 (in 5 it is
        # an alias of TokenizersBackend), so the post-processor and the added tokens come from the file
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos,
        "eos_token": tokenizer.decode([tokenizer.eos_id]),
        "pad_token": tokenizer.decode([tokenizer.pad_id]),
        "unk_token": None,
        "add_bos_token": bos is not None,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_len,
        "padding_side": "left",
        "chat_template": template,
    }


def export_tokenizer_json(tokenizer: TaskTokenizer) -> str:
    """``tokenizer.json`` for other engines: the same ids, tags as ordinary added tokens, <bos> prepended.

    The native tokenizer marks every tag as special (one id, never merged); other engines drop special
    tokens when they decode with ``skip_special_tokens=True``, so the tags turn into ordinary added
    tokens here (still one id each, matched before BPE). A ``TemplateProcessing`` post-processor puts
    <bos> in front of every encoded text, as in native training (``tokenizer(text)`` in transformers);
    :meth:`TaskTokenizer.encode` never applies post-processors, so the native side is unchanged.
    """
    tok = Tokenizer.from_str(tokenizer.backend.to_str())  # type: ignore[attr-defined]
    if tokenizer.bos_id is not None:
        bos = tokenizer.decode([tokenizer.bos_id])
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, tokenizer.bos_id)]
        )
    data = json.loads(tok.to_str())
    control = {BOS, EOS, PAD}
    for entry in data.get("added_tokens", []):
        if entry.get("content") in SPECIAL_TOKENS and entry["content"] not in control:
            entry["special"] = False
    return json.dumps(data, ensure_ascii=False)


#: The marker file of an export directory: ``--overwrite`` replaces only a directory that carries it.
EXPORT_MARKER = ".reasonlab-export.json"


def export_hf(
    model: Decoder, tokenizer: TaskTokenizer, out_dir: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write a Hugging Face ``Qwen2ForCausalLM`` directory to ``out_dir`` atomically.

    A non-empty ``out_dir`` is refused unless ``overwrite``, and even then only an earlier export
    (a directory carrying :data:`EXPORT_MARKER`) is replaced: nothing else is ever deleted.
    """
    cfg = model.config
    dest = Path(out_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        if not overwrite:
            raise ReasonlabError(f"{dest}: exists and is not empty; pass --overwrite to replace an earlier export")
        if not (dest / EXPORT_MARKER).is_file():
            raise ReasonlabError(f"{dest}: is not a reasonlab export (no {EXPORT_MARKER}); not replacing it")
    with atomic_dir(dest) as tmp:
        (tmp / EXPORT_MARKER).write_text(json.dumps({"reasonlab_export": 1, "format": "hf"}) + "\n", encoding="utf-8")

        def dump(name: str, obj: dict[str, Any]) -> None:
            (tmp / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")

        dump("config.json", hf_config(cfg, tokenizer))
        dump(
            "generation_config.json",
            {"bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "pad_token_id": tokenizer.pad_id},
        )
        save_file(to_hf_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "tokenizer.json").write_text(export_tokenizer_json(tokenizer), encoding="utf-8")
        tok_cfg = tokenizer_config(tokenizer, cfg.max_seq_len)
        dump("tokenizer_config.json", tok_cfg)
        dump("special_tokens_map.json", {k: tok_cfg[k] for k in ("bos_token", "eos_token", "pad_token")})
    return Path(out_dir)


def config_from_hf(data: dict[str, Any], source: str) -> ModelConfig:
    """Native :class:`ModelConfig` from a Qwen2/Llama ``config.json``; unsupported variants are errors."""
    model_type = data.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ReasonlabError(
            f"{source}: model_type {model_type!r} is not supported (allowed: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if data.get("hidden_act", "silu") != "silu":
        raise ReasonlabError(f"{source}: hidden_act {data['hidden_act']!r} is not supported (allowed: silu)")
    if data.get("mlp_bias"):
        raise ReasonlabError(f"{source}: mlp_bias=true is not supported")
    if model_type == "llama" and data.get("attention_bias"):
        raise ReasonlabError(f"{source}: attention_bias=true is not supported (Llama's puts a bias on o_proj too)")
    rope = data.get("rope_parameters") or data.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise ReasonlabError(f"{source}: rope scaling {rope.get('rope_type')!r} is not supported (allowed: default)")
    if data.get("use_sliding_window"):
        raise ReasonlabError(f"{source}: sliding-window attention is not supported")
    try:
        heads = int(data["num_attention_heads"])
        hidden = int(data["hidden_size"])
        head_dim = data.get("head_dim")
        if head_dim is not None and int(head_dim) != hidden // heads:
            raise ReasonlabError(f"{source}: head_dim {head_dim} != hidden_size/num_attention_heads is not supported")
        theta = rope.get("rope_theta", data.get("rope_theta", 10000.0))
        return ModelConfig(
            vocab_size=int(data["vocab_size"]),
            hidden_size=hidden,
            num_layers=int(data["num_hidden_layers"]),
            num_heads=heads,
            num_kv_heads=int(data.get("num_key_value_heads") or heads),
            intermediate_size=int(data["intermediate_size"]),
            max_seq_len=int(data.get("max_position_embeddings", 2048)),
            rope_theta=float(theta),
            rms_norm_eps=float(data.get("rms_norm_eps", 1e-6)),
            tie_embeddings=bool(data.get("tie_word_embeddings", False)),
            qkv_bias=model_type == "qwen2",
            init_std=float(data.get("initializer_range", 0.02)),
        )
    except KeyError as exc:
        raise ReasonlabError(f"{source}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ReasonlabError(f"{source}: bad field value ({exc})") from None


def from_hf_state_dict(config: ModelConfig, hf: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Hugging Face Qwen2/Llama tensors mapped (fused) to native names."""

    def get(name: str) -> torch.Tensor:
        if name not in hf:
            raise ReasonlabError(f"{source}: missing tensor {name!r}")
        return hf[name].float()

    out = {"embed.weight": get("model.embed_tokens.weight"), "norm.weight": get("model.norm.weight")}
    if not config.tie_embeddings:
        out["lm_head.weight"] = get("lm_head.weight")
    for i in range(config.num_layers):
        src, dst = f"model.layers.{i}.", f"layers.{i}."
        a = src + "self_attn."
        out[dst + "attn.qkv_proj.weight"] = torch.cat(
            [get(a + "q_proj.weight"), get(a + "k_proj.weight"), get(a + "v_proj.weight")]
        )
        if config.qkv_bias:
            out[dst + "attn.qkv_proj.bias"] = torch.cat(
                [get(a + "q_proj.bias"), get(a + "k_proj.bias"), get(a + "v_proj.bias")]
            )
        out[dst + "attn.o_proj.weight"] = get(a + "o_proj.weight")
        out[dst + "mlp.gate_up_proj.weight"] = torch.cat(
            [get(src + "mlp.gate_proj.weight"), get(src + "mlp.up_proj.weight")]
        )
        out[dst + "mlp.down_proj.weight"] = get(src + "mlp.down_proj.weight")
        out[dst + "input_norm.weight"] = get(src + "input_layernorm.weight")
        out[dst + "post_attn_norm.weight"] = get(src + "post_attention_layernorm.weight")
    return out


def load_hf_dir(path: Path, data: dict[str, Any]) -> tuple[Decoder, TaskTokenizer]:
    """Load a Hugging Face Qwen2/Llama directory (``config.json`` already parsed as ``data``)."""
    config = config_from_hf(data, str(path / "config.json"))
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ReasonlabError(f"{path}: no *.safetensors weights (PyTorch .bin files are not supported)")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(read_safetensors(f))
    model = Decoder(config)
    load_state(model, from_hf_state_dict(config, tensors, str(path)), str(path))
    return model, TaskTokenizer.load(path)
