"""Weight files: safetensors I/O and strict loading of a state dict, with one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from reasonlab.errors import ReasonlabError
from reasonlab.model.decoder import Decoder


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of one ``.safetensors`` file, or a ReasonlabError naming the file."""
    if not path.is_file():
        raise ReasonlabError(f"{path}: missing weights file")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError/OSError/ValueError on corrupt files
        raise ReasonlabError(f"{path}: corrupt weights file ({type(exc).__name__})") from None


def load_state(model: Decoder, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` strictly; mismatches become a one-line ReasonlabError."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ReasonlabError(f"{source}: weights do not match the config ({what})")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ReasonlabError(
                f"{source}: tensor {k!r} has shape {tuple(state[k].shape)}, config implies {tuple(v.shape)}"
            )
    model.load_state_dict(state, strict=True)
