"""Checkpoint directories: saving and loading a model with its tokenizer (native or Hugging Face).

A native checkpoint directory holds ``config.json`` (``{"format": "reasonlab", "model": ModelConfig}``),
``model.safetensors`` and ``tokenizer.json`` (an imported model's also ``tokenizer_config.json``, which
carries its control tokens and chat template; :mod:`reasonlab.model.hf_import`). :func:`save_model`
writes it atomically (a temporary sibling directory renamed into place), so a reader never sees a
half-written checkpoint.
:func:`load_model` also accepts a Hugging Face Qwen2/Llama directory (see :mod:`reasonlab.model.hf`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_dir, read_json, verify_checksums, write_checksums
from reasonlab.model.decoder import Decoder, ModelConfig
from reasonlab.model.hf import load_hf_dir
from reasonlab.model.tokenizer import TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, TaskTokenizer
from reasonlab.model.weights import load_state, read_safetensors

__all__ = ["CONFIG_FILE", "FORMAT", "WEIGHTS_FILE", "is_checkpoint", "load_model", "save_model", "write_model_files"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "reasonlab"


def _state_dict_for_save(model: Decoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}


def write_model_files(
    directory: Path, model: Decoder, tokenizer: TaskTokenizer, extra: dict[str, Any] | None = None
) -> None:
    """Write config.json, model.safetensors and tokenizer.json (plus tokenizer_config.json for a tokenizer
    with Hugging Face settings or a chat template) into the existing ``directory``."""
    meta = {"format": FORMAT, "model": model.config.to_dict()}
    if extra:
        meta["extra"] = extra
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    save_file(_state_dict_for_save(model), str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    tokenizer.save(directory)


def save_model(
    directory: str | os.PathLike[str], model: Decoder, tokenizer: TaskTokenizer, extra: dict[str, Any] | None = None
) -> Path:
    """Write a native checkpoint to ``directory`` atomically; an existing directory is replaced.

    ``extra`` (JSON-serialisable) is stored under ``"extra"`` in config.json, e.g. the training step.
    """
    with atomic_dir(directory) as tmp:
        write_model_files(tmp, model, tokenizer, extra)
        write_checksums(tmp)
    return Path(directory)


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a loadable model directory (native or Hugging Face)."""
    p = Path(path)
    return (p / CONFIG_FILE).is_file() and any(p.glob("*.safetensors"))


def _read_config(path: Path) -> dict[str, Any]:
    cfg_path = path / CONFIG_FILE
    if not path.is_dir():
        raise ReasonlabError(f"{path}: no such checkpoint directory")
    if not cfg_path.is_file():
        raise ReasonlabError(f"{path}: not a checkpoint (no {CONFIG_FILE})")
    data = read_json(cfg_path, "config")
    if not isinstance(data, dict):
        raise ReasonlabError(f"{cfg_path}: corrupt config (expected a JSON object)")
    return data


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[Decoder, TaskTokenizer]:
    """Load ``(model, tokenizer)`` from a native checkpoint or a Hugging Face Qwen2/Llama directory.

    The model is returned in eval mode on ``device``. Missing or corrupt files raise ReasonlabError.
    """
    p = Path(path)
    data = _read_config(p)
    verify_checksums(p, [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE])
    if data.get("format") != FORMAT:
        model, tokenizer = load_hf_dir(p, data)
    else:
        config = ModelConfig.from_dict(data.get("model") or {}, source=str(p / CONFIG_FILE))
        tokenizer = TaskTokenizer.load(p)
        model = Decoder(config)
        load_state(model, read_safetensors(p / WEIGHTS_FILE), str(p / WEIGHTS_FILE))
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ReasonlabError(
            f"{p}: tokenizer has {tokenizer.vocab_size} ids but the model only {model.config.vocab_size}"
        )
    return model.to(device).eval(), tokenizer
