"""A byte-level BPE tokenizer trained on task texts (Hugging Face ``tokenizers``), saved as tokenizer.json.

Design:
- Byte-level pre-tokenization (GPT-2 style) with the full 256-byte alphabet, no normalizer and no
  prefix space, so ``decode(encode(text)) == text`` for every string.
- Digits are split one by one before BPE, so every number is a sequence of digit tokens and the model
  sees the same symbols for a digit wherever it occurs.
- The tag strings in :data:`SPECIAL_TOKENS` are added special tokens: each is one id, matched in the
  text before BPE, and never merged with neighbours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from reasonlab.errors import ReasonlabError

SPECIAL_TOKENS: tuple[str, ...] = (
    "<bos>", "<eos>", "<pad>", "<question>", "</question>", "<solution>", "</solution>",
    "<answer>", "</answer>", "<think>", "</think>",
)
BOS, EOS, PAD = "<bos>", "<eos>", "<pad>"
#: Specials that carry no text: the only ones ``decode(skip_special=True)`` drops.
CONTROL_TOKENS: tuple[str, ...] = (BOS, EOS, PAD)
TOKENIZER_FILE = "tokenizer.json"


def _pipeline(tokenizer: object) -> None:
    """Attach the pre-tokenizer and decoder shared by building and loading."""
    from tokenizers import decoders, pre_tokenizers

    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([  # type: ignore[attr-defined]
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()  # type: ignore[attr-defined]


class TaskTokenizer:
    """Wraps a ``tokenizers.Tokenizer`` with the reasonlab special tokens."""

    def __init__(self, tokenizer: object) -> None:
        self._tok = tokenizer
        ids = {}
        for tok in SPECIAL_TOKENS:
            tid = tokenizer.token_to_id(tok)  # type: ignore[attr-defined]
            if tid is None:
                need = ", ".join(SPECIAL_TOKENS)
                raise ReasonlabError(f"tokenizer lacks special token {tok!r} (needs all of {need})")
            ids[tok] = tid
        self.special_ids: dict[str, int] = ids
        self.bos_id: int = ids[BOS]
        self.eos_id: int = ids[EOS]
        self.pad_id: int = ids[PAD]
        self._control = {ids[t] for t in CONTROL_TOKENS}

    @classmethod
    def build(cls, texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> TaskTokenizer:
        """Train byte-level BPE on ``texts`` up to ``vocab_size`` ids (specials + 256 bytes + merges).

        The vocabulary may come out smaller when the texts offer fewer merges than requested.
        """
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        floor = len(SPECIAL_TOKENS) + 256
        if vocab_size < floor:
            raise ReasonlabError(f"vocab_size {vocab_size} is too small; byte-level BPE needs at least {floor}")
        tok = Tokenizer(models.BPE())
        _pipeline(tok)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        """Number of ids (the model's embedding needs at least this many rows)."""
        return self._tok.get_vocab_size(with_added_tokens=True)  # type: ignore[attr-defined]

    @property
    def backend(self) -> object:
        """The underlying ``tokenizers.Tokenizer``."""
        return self._tok

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of ``text``; special-token strings in the text become their single ids."""
        ids = self._tok.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
        if add_bos:
            ids = [self.bos_id, *ids]
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def encode_batch(self, texts: Sequence[str], add_bos: bool = False, add_eos: bool = False) -> list[list[int]]:
        """:meth:`encode` for many texts (parallel in the Rust backend)."""
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)  # type: ignore[attr-defined]
        head = [self.bos_id] if add_bos else []
        tail = [self.eos_id] if add_eos else []
        return [head + e.ids + tail for e in encs]

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """Text of ``ids``. ``skip_special=True`` drops <bos>/<eos>/<pad> but keeps the tag tokens, which
        are part of the text a verifier reads."""
        ids = [int(i) for i in ids]
        if skip_special:
            ids = [i for i in ids if i not in self._control]
        return self._tok.decode(ids, skip_special_tokens=False)  # type: ignore[attr-defined]

    def token_bytes(self) -> list[bytes]:
        """UTF-8 bytes each id decodes to (specials: their tag text), for incremental stop-string checks."""
        cached = getattr(self, "_token_bytes", None)
        if cached is not None:
            return list(cached)
        byte_of = _bytelevel_decoder()
        specials = {tid: tok for tok, tid in self.special_ids.items()}
        vocab = self._tok.get_vocab(with_added_tokens=True)  # type: ignore[attr-defined]
        out = [b""] * self.vocab_size
        for tok, tid in vocab.items():
            if tid in specials:
                out[tid] = specials[tid].encode()
            else:
                out[tid] = bytes(byte_of[ch] for ch in tok)
        self._token_bytes = out
        return list(out)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json`` into ``directory`` (created if needed); returns its path."""
        from reasonlab.io import atomic_write_text

        path = Path(directory) / TOKENIZER_FILE
        atomic_write_text(path, self._tok.to_str(pretty=False))  # type: ignore[attr-defined]
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TaskTokenizer:
        """Read ``tokenizer.json`` from ``directory`` (or the file itself)."""
        from tokenizers import Tokenizer

        path = Path(directory)
        if path.is_dir():
            path = path / TOKENIZER_FILE
        if not path.is_file():
            raise ReasonlabError(f"{path}: no such tokenizer file")
        try:
            json.loads(path.read_text(encoding="utf-8"))
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # json and the Rust backend raise assorted types for corrupt files
            raise ReasonlabError(f"{path}: unreadable tokenizer ({type(exc).__name__})") from None
        return cls(tok)


def _bytelevel_decoder() -> dict[str, int]:
    """GPT-2's byte -> printable-character table, inverted (character -> byte)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}
