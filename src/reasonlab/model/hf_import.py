"""Bring your own model: import a local Hugging Face Qwen2/Llama directory as a native model directory.

:func:`import_hf` reads ``config.json``, the ``*.safetensors`` weights and the fast tokenizer
(``tokenizer.json`` with ``tokenizer_config.json`` and the chat template) of a model a user has on disk,
checks every field and tensor against what the native :class:`~reasonlab.model.decoder.Decoder`
computes, and writes a normal native model directory (``config.json`` in reasonlab format,
``model.safetensors`` with native fused names in float32, ``tokenizer.json``, ``tokenizer_config.json``
carrying the control tokens and the ``chat_template``, ``checksums.json``). Every recipe then uses it like
any checkpoint: ``init_from:`` / ``model:`` paths, checksums on load, lineage; and ``style: model_chat``
prompts through its chat template (:mod:`reasonlab.model.chat`).

What the native decoder computes, and so what is accepted: the Qwen2/Llama block (RMSNorm, rotary
attention with grouped KV heads, SwiGLU MLP), q/k/v biases (Qwen2), tied or separate output embeddings,
any ``rope_theta`` and ``rms_norm_eps``, ``head_dim = hidden_size / num_attention_heads``. Refused, each with
a one-line error naming the field: other architectures, RoPE scaling (Llama 3.1+'s ``llama3``, YaRN, ...),
partial rotary embeddings, sliding-window layers, attention or MLP biases beyond Qwen2's q/k/v, a non-SiLU
activation, attention dropout, quantized weights, PyTorch ``.bin`` weights and tokenizers without a
``tokenizer.json``. Nothing is downloaded: the source is a local directory and nothing else is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from reasonlab.errors import ReasonlabError
from reasonlab.io import read_json
from reasonlab.model.chat import ChatTemplate
from reasonlab.model.checkpoint import CONFIG_FILE, save_model
from reasonlab.model.decoder import Decoder, ModelConfig
from reasonlab.model.hf import config_from_hf, from_hf_state_dict
from reasonlab.model.tokenizer import TOKENIZER_FILE, TaskTokenizer
from reasonlab.model.weights import load_state, read_safetensors

__all__ = ["ARCHITECTURES", "hf_tensor_shapes", "import_hf", "read_hf_config", "read_hf_model"]

#: Architectures the native decoder reproduces exactly, with their ``model_type``.
ARCHITECTURES = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}

#: Tensors a checkpoint may hold that carry no weights of the model (precomputed rotary frequencies).
_DERIVED_SUFFIXES = ("rotary_emb.inv_freq",)


def read_hf_config(path: Path) -> tuple[str, ModelConfig]:
    """``(architecture, native config)`` of a Hugging Face ``config.json``; unsupported fields are one-line errors."""
    source = str(path)
    data = read_json(path, "model config")
    if not isinstance(data, dict):
        raise ReasonlabError(f"{source}: not a JSON object")
    archs = data.get("architectures")
    allowed = ", ".join(ARCHITECTURES)
    if not isinstance(archs, list) or len(archs) != 1 or archs[0] not in ARCHITECTURES:
        raise ReasonlabError(f"{source}: architecture {archs!r} is not supported (allowed: {allowed})")
    arch = archs[0]
    if data.get("model_type") != ARCHITECTURES[arch]:
        raise ReasonlabError(
            f"{source}: model_type {data.get('model_type')!r} does not match {arch} (expected {ARCHITECTURES[arch]!r})"
        )
    for key in ("rope_parameters", "rope_scaling", "quantization_config"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ReasonlabError(f"{source}: field {key!r} must be an object or null")
    if data.get("quantization_config"):
        method = data["quantization_config"].get("quant_method")
        raise ReasonlabError(f"{source}: quantized weights ({method!r}) are not supported; import unquantized weights")
    rope = data.get("rope_parameters") or {}
    unsupported = {
        "attention_dropout": (data.get("attention_dropout") or 0.0, 0.0),
        "partial_rotary_factor": (rope.get("partial_rotary_factor", data.get("partial_rotary_factor", 1.0)), 1.0),
    }
    for key, (value, allowed_value) in unsupported.items():
        if not isinstance(value, int | float) or float(value) != allowed_value:
            raise ReasonlabError(f"{source}: {key} {value!r} is not supported (allowed: {allowed_value})")
    layer_types = data.get("layer_types") or []
    if not isinstance(layer_types, list) or any(kind != "full_attention" for kind in layer_types):
        raise ReasonlabError(f"{source}: layer_types {layer_types!r} is not supported (allowed: full_attention)")
    return arch, config_from_hf(data, source)


def hf_tensor_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a Hugging Face Qwen2/Llama checkpoint of this config holds, with its shape."""
    hidden, inter, hd = config.hidden_size, config.intermediate_size, config.head_dim
    q, kv = config.num_heads * hd, config.num_kv_heads * hd
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (config.vocab_size, hidden),
        "model.norm.weight": (hidden,),
    }
    if not config.tie_embeddings:
        shapes["lm_head.weight"] = (config.vocab_size, hidden)
    for i in range(config.num_layers):
        a, m = f"model.layers.{i}.self_attn.", f"model.layers.{i}.mlp."
        shapes.update(
            {
                a + "q_proj.weight": (q, hidden),
                a + "k_proj.weight": (kv, hidden),
                a + "v_proj.weight": (kv, hidden),
                a + "o_proj.weight": (hidden, q),
                m + "gate_proj.weight": (inter, hidden),
                m + "up_proj.weight": (inter, hidden),
                m + "down_proj.weight": (hidden, inter),
                f"model.layers.{i}.input_layernorm.weight": (hidden,),
                f"model.layers.{i}.post_attention_layernorm.weight": (hidden,),
            }
        )
        if config.qkv_bias:
            shapes.update({a + "q_proj.bias": (q,), a + "k_proj.bias": (kv,), a + "v_proj.bias": (kv,)})
    return shapes


def _read_weights(src: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """All tensors of the ``*.safetensors`` shards, checked name by name and shape by shape against ``config``."""
    files = sorted(src.glob("*.safetensors"))
    if not files:
        found = "PyTorch .bin weights, which are not supported" if any(src.glob("*.bin")) else "no weights"
        raise ReasonlabError(f"{src}: no *.safetensors files ({found})")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(read_safetensors(f))
    shapes = hf_tensor_shapes(config)
    for name, shape in shapes.items():
        if name not in tensors:
            raise ReasonlabError(f"{src}: missing tensor {name!r} (config.json implies it)")
        if tuple(tensors[name].shape) != shape:
            raise ReasonlabError(
                f"{src}: tensor {name!r} has shape {tuple(tensors[name].shape)}, config.json implies {shape}"
            )
        if not tensors[name].is_floating_point():
            raise ReasonlabError(f"{src}: tensor {name!r} has dtype {tensors[name].dtype} (quantized weights?)")
    known = set(shapes)
    if config.tie_embeddings and "lm_head.weight" in tensors:  # some checkpoints store the tied copy too
        if not torch.equal(tensors["lm_head.weight"], tensors["model.embed_tokens.weight"]):
            raise ReasonlabError(f"{src}: tie_word_embeddings is true but lm_head.weight differs from the embedding")
        known.add("lm_head.weight")
    extra = [n for n in tensors if n not in known and not n.endswith(_DERIVED_SUFFIXES)]
    if extra:
        raise ReasonlabError(f"{src}: tensor {extra[0]!r} has no place in the native decoder (unsupported weights)")
    return tensors


def read_hf_model(src: str | os.PathLike[str]) -> tuple[Decoder, TaskTokenizer, dict[str, str]]:
    """``(model, tokenizer, provenance)`` of a local Hugging Face directory, every file checked.

    ``provenance`` names the source: its resolved ``path``, ``architecture`` and weight ``dtype``.
    """
    path = Path(src)
    if not path.is_dir():
        raise ReasonlabError(f"{path}: no such directory (import reads a local model directory; nothing is downloaded)")
    for name, what in ((CONFIG_FILE, "the model config"), (TOKENIZER_FILE, "only fast tokenizers are supported")):
        if not (path / name).is_file():
            raise ReasonlabError(f"{path}: missing {name} ({what})")
    arch, config = read_hf_config(path / CONFIG_FILE)
    tensors = _read_weights(path, config)
    dtype = str(tensors["model.embed_tokens.weight"].dtype).removeprefix("torch.")
    model = Decoder(config)
    load_state(model, from_hf_state_dict(config, tensors, str(path)), str(path))
    tokenizer = TaskTokenizer.load(path)
    if tokenizer.vocab_size > config.vocab_size:
        raise ReasonlabError(f"{path}: tokenizer has {tokenizer.vocab_size} ids but the model only {config.vocab_size}")
    if tokenizer.chat_template is not None:
        ChatTemplate.of(tokenizer, str(path))  # a template that does not compile fails now, not mid-run
    return model.eval(), tokenizer, {"path": str(path.resolve()), "architecture": arch, "dtype": dtype}


def _check_destination(src: Path, out: Path, overwrite: bool) -> None:
    """Refuse an output that would clobber the source or anything but an earlier import."""
    if out.resolve() == src.resolve():
        raise ReasonlabError(f"{out}: the output directory must differ from the source")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not overwrite:
        raise ReasonlabError(f"{out}: exists and is not empty; pass --overwrite to replace an earlier import")
    config = out / CONFIG_FILE
    data = read_json(config, "model config") if config.is_file() else None
    if not (isinstance(data, dict) and isinstance(data.get("extra"), dict) and "imported_from" in data["extra"]):
        raise ReasonlabError(f"{out}: is not an imported model (no imported_from in {CONFIG_FILE}); not replacing it")


def import_hf(src: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Convert the Hugging Face model directory ``src`` into a native model directory ``out`` (atomically).

    The weights are stored in float32 (the native training dtype) whatever the source dtype; the
    ``extra.imported_from`` entry of ``out/config.json`` records the source path, architecture and dtype.
    A non-empty ``out`` is replaced only with ``overwrite`` and only when it is an earlier import.
    """
    source, dest = Path(src), Path(out)
    _check_destination(source, dest, overwrite)
    model, tokenizer, provenance = read_hf_model(source)
    return save_model(dest, model, tokenizer, extra={"imported_from": provenance})
