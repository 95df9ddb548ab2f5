"""The entropy table: a proxy model's next-token entropy at every token position of every document.

Keyed by (document, position): a document by the SHA-1 of its text, a position by the index ``t`` of
the token being predicted under the table's tokenizer (``entropy[t]`` is the entropy of the proxy's
distribution for token ``t`` given the tokens before it; NaN where the proxy has no boundary there).
The ``nexttoken`` task reads it to drop low-entropy positions and to bucket positions by entropy; the
proxy model fills it (:mod:`reasonlab.eval.entropy`), so this module never needs torch.

File format (``.npz``, written atomically): ``sha1`` (the documents' hashes), ``start`` (offsets of each
document's run in ``entropy``, one more than documents), ``entropy`` (float32) and ``info`` (a JSON
string: the tokenizer fingerprint, the proxy, top_k, window, ...).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_path

__all__ = ["EntropyTable", "load_table", "write_table"]


@dataclass
class EntropyTable:
    """Per-document entropy arrays and what produced them."""

    entropies: dict[str, np.ndarray]
    info: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """The tokenizer fingerprint the positions are counted in."""
        return str(self.info.get("tokenizer_fingerprint", ""))


def write_table(path: str | os.PathLike[str], entropies: dict[str, np.ndarray], info: dict[str, Any]) -> Path:
    """Write a table (see the module docstring) atomically; returns the path."""
    dest = Path(path)
    keys = list(entropies)
    lengths = [len(entropies[k]) for k in keys]
    start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([np.asarray(entropies[k], dtype=np.float32) for k in keys]) if keys else np.zeros(0)
    with atomic_path(dest) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh,
            sha1=np.array(keys, dtype="U40"),
            start=start,
            entropy=flat.astype(np.float32),
            info=np.array(json.dumps(info, sort_keys=True)),
        )
    return dest


@lru_cache(maxsize=4)
def _load(path: str, stamp: tuple[int, int]) -> EntropyTable:
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, start, flat = z["sha1"].tolist(), z["start"], z["entropy"]
            info = json.loads(str(z["info"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ReasonlabError(f"{path}: unreadable entropy table ({type(exc).__name__})") from None
    if len(start) != len(keys) + 1 or int(start[-1]) != len(flat) or not isinstance(info, dict):
        raise ReasonlabError(f"{path}: corrupt entropy table (offsets do not match the entropies)")
    return EntropyTable({k: flat[int(start[i]) : int(start[i + 1])] for i, k in enumerate(keys)}, info)


def load_table(path: str | os.PathLike[str]) -> EntropyTable:
    """Read a table written by :func:`write_table` (cached per path, size and modification time)."""
    p = Path(path)
    if not p.is_file():
        raise ReasonlabError(f"entropy_table {path}: no such file")
    st = p.stat()
    return _load(str(p), (st.st_size, st.st_mtime_ns))
