"""Token boundaries of a text under a named tokenizer, in exact bytes.

A :class:`Segmenter` turns a text into the cumulative UTF-8 byte lengths of its tokens (``[3, 5, 9]``
for tokens of 3, 2 and 4 bytes): the boundaries at which the ``nexttoken`` task cuts contexts and the
RPT reward accepts a prediction. Three kinds, named by the ``tokenizer`` knob:

- ``words``: a built-in word-level tokenizer (no file): letter runs and punctuation runs with one
  optional leading space, single digits, whitespace runs (GPT-2's shape without BPE merges). Lossless.
- ``bytes``: every byte is a token (on it the boundary condition of the reward is vacuous).
- a path: a Hugging Face ``tokenizer.json`` (or a model directory holding one, e.g. a reasonlab model).
  Byte-level BPE vocabularies (the lab's own, GPT-2, Qwen2, Llama 3) are read exactly through the byte
  table of :mod:`reasonlab.bytelevel`, so a token that ends inside a UTF-8 character ends there. Other
  vocabularies fall back to the tokenizer's character offsets (boundaries inside a character are then
  not seen; a prediction is text, so it can never end inside a character anyway).

Special tokens written in the text (``<answer>`` for the lab's tokenizer) are single tokens whose bytes
are their text, exactly as the tokenizer encodes them. A segmenter is cached per path, size and
modification time.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from reasonlab.bytelevel import bytelevel_decoder
from reasonlab.errors import ReasonlabError

__all__ = ["BUILTIN_TOKENIZERS", "Segmenter", "get_segmenter", "tokenizer_file"]

#: Tokenizers that need no file.
BUILTIN_TOKENIZERS = ("words", "bytes")
_WORDS = re.compile(r" ?[^\W\d_]+| ?\d| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+")


class Segmenter(ABC):
    """Splits texts into tokens and reports their cumulative byte lengths."""

    #: Identifies the tokenization (an entropy table records it and must match it).
    fingerprint: str

    @abstractmethod
    def boundaries(self, text: str) -> list[int]:
        """Cumulative UTF-8 byte lengths of the tokens of ``text`` (ascending; the last is the byte length)."""

    def boundaries_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`boundaries` of every text."""
        return [self.boundaries(t) for t in texts]


class WordsSegmenter(Segmenter):
    """The built-in word-level tokenizer (see the module docstring)."""

    fingerprint = "words-v1"

    def boundaries(self, text: str) -> list[int]:
        """Byte ends of the regex pieces (they cover the text contiguously)."""
        out, total = [], 0
        for m in _WORDS.finditer(text):
            total += len(m.group().encode("utf-8"))
            out.append(total)
        return out


class BytesSegmenter(Segmenter):
    """Every UTF-8 byte is one token."""

    fingerprint = "bytes-v1"

    def boundaries(self, text: str) -> list[int]:
        """``[1, 2, ..., len(bytes)]``."""
        return list(range(1, len(text.encode("utf-8")) + 1))


class HFSegmenter(Segmenter):
    """A Hugging Face ``tokenizers`` tokenizer (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = path.read_bytes()
        self.fingerprint = "sha256:" + hashlib.sha256(data).hexdigest()[:16]
        try:
            self.tok = Tokenizer.from_str(data.decode("utf-8"))
        except Exception as exc:  # the Rust backend raises assorted types for corrupt files
            raise ReasonlabError(f"{path}: unreadable tokenizer ({type(exc).__name__})") from None
        self.token_bytes = _token_bytes(self.tok)

    def _from_ids(self, text: str, ids: list[int], offsets: list[tuple[int, int]]) -> list[int]:
        data = text.encode("utf-8")
        if self.token_bytes is not None:
            out, total = [], 0
            for i in ids:
                total += len(self.token_bytes[i])
                out.append(total)
            if total == len(data) and b"".join(self.token_bytes[i] for i in ids) == data:
                return out
        return _offset_boundaries(text, offsets)

    def boundaries(self, text: str) -> list[int]:
        """Exact byte boundaries of the encoded tokens (character offsets when the vocabulary is not byte-level)."""
        enc = self.tok.encode(text, add_special_tokens=False)
        return self._from_ids(text, enc.ids, enc.offsets)

    def boundaries_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Batched :meth:`boundaries` (the Rust backend encodes in parallel)."""
        encs = self.tok.encode_batch(list(texts), add_special_tokens=False)
        return [self._from_ids(t, e.ids, e.offsets) for t, e in zip(texts, encs, strict=True)]


def _token_bytes(tok: Tokenizer) -> list[bytes] | None:
    """Bytes of every id of a byte-level vocabulary (added tokens: their text), or None for other vocabularies."""
    byte_of = bytelevel_decoder()
    added = {i: t.content for i, t in tok.get_added_tokens_decoder().items()}
    vocab = tok.get_vocab(with_added_tokens=True)
    out = [b""] * (max(vocab.values(), default=-1) + 1)
    for piece, i in vocab.items():
        if i in added:
            out[i] = added[i].encode("utf-8")
        elif all(ch in byte_of for ch in piece):
            out[i] = bytes(byte_of[ch] for ch in piece)
        else:
            return None
    return out


def _offset_boundaries(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """Byte boundaries from character offsets: every distinct token end, and the end of the text."""
    char_to_byte = [0]
    for ch in text:
        char_to_byte.append(char_to_byte[-1] + len(ch.encode("utf-8")))
    ends = sorted({char_to_byte[min(e, len(text))] for _, e in offsets if e > 0} | {char_to_byte[-1]})
    return [e for e in ends if e > 0]


def tokenizer_file(spec: str) -> Path:
    """The ``tokenizer.json`` a path names (the file itself, or a directory holding one)."""
    path = Path(spec)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ReasonlabError(
            f"tokenizer {spec!r}: not {' or '.join(BUILTIN_TOKENIZERS)}, nor a tokenizer.json or a folder holding one"
        )
    return path


@lru_cache(maxsize=8)
def _cached(spec: str, stamp: tuple[int, int]) -> Segmenter:
    return HFSegmenter(tokenizer_file(spec))


def get_segmenter(spec: str) -> Segmenter:
    """The segmenter named by the ``tokenizer`` knob (``words``, ``bytes`` or a path; cached)."""
    if spec == "words":
        return WordsSegmenter()
    if spec == "bytes":
        return BytesSegmenter()
    st = tokenizer_file(spec).stat()
    return _cached(spec, (st.st_size, st.st_mtime_ns))
