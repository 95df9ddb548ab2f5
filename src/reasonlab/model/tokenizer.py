"""A byte-level BPE tokenizer trained on task texts (Hugging Face ``tokenizers``), saved as tokenizer.json.

Design:
- Byte-level BPE with the full 256-byte alphabet, no normalizer and no prefix space, so
  ``decode(encode(text)) == text`` for every string.
- Pre-tokenization is Qwen2's regex (:data:`PRETOKENIZE_REGEX`), which isolates every digit, so every
  number is a sequence of digit tokens and a digit is the same symbol wherever it occurs. Using Qwen2's
  own split also means ``transformers``' ``AutoTokenizer`` (which rebuilds the Qwen2 pipeline for an
  exported ``qwen2`` model) produces identical ids; it adds NFC normalisation, so only non-NFC Unicode
  input can differ there.
- The tag strings in :data:`SPECIAL_TOKENS` are added special tokens: each is one id, matched in the
  text before BPE, and never merged with neighbours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from reasonlab.bytelevel import bytelevel_decoder
from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_write_text, read_json

SPECIAL_TOKENS: tuple[str, ...] = (
    "<bos>",
    "<eos>",
    "<pad>",
    "<question>",
    "</question>",
    "<solution>",
    "</solution>",
    "<answer>",
    "</answer>",
    "<think>",
    "</think>",
)
BOS, EOS, PAD = "<bos>", "<eos>", "<pad>"
#: Specials that carry no text: the only ones ``decode(skip_special=True)`` drops.
CONTROL_TOKENS: tuple[str, ...] = (BOS, EOS, PAD)
TOKENIZER_FILE = "tokenizer.json"
#: A Hugging Face tokenizer's settings (control tokens, ``chat_template``) beside its tokenizer.json.
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
#: Where ``transformers`` >= 4.43 saves a chat template; it takes priority over tokenizer_config.json's.
CHAT_TEMPLATE_FILE = "chat_template.jinja"
#: The named special tokens ``transformers`` hands a chat template (its ``special_tokens_map``).
HF_SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


#: Qwen2's pre-tokenization: contractions, letter runs with one leading non-letter, single digits,
#: punctuation runs, newlines, other whitespace.
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _pipeline(tokenizer: Any) -> None:
    """Attach the pre-tokenizer and decoder (the build step; a saved tokenizer.json carries them)."""
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()


class TaskTokenizer:
    """Wraps a ``tokenizers.Tokenizer`` with the reasonlab special tokens.

    A native tokenizer has every string of :data:`SPECIAL_TOKENS`. A tokenizer imported with a Hugging
    Face model may lack them; it is accepted when ``control`` names its BOS/EOS/PAD strings (EOS
    required; PAD falls back to EOS; ``bos_id`` is ``None`` when the model has no BOS, and ``add_bos``
    is then a no-op).

    ``hf_config`` is the Hugging Face ``tokenizer_config.json`` the tokenizer came with (None for a native
    one) and ``chat_template`` the model's Jinja chat template (None without one); :meth:`save` writes
    both back, so every checkpoint of an imported model keeps its control tokens and prompt format.
    """

    def __init__(
        self,
        tokenizer: object,
        control: dict[str, str | None] | None = None,
        *,
        hf_config: dict[str, Any] | None = None,
        chat_template: str | None = None,
    ) -> None:
        self._tok = tokenizer
        self.hf_config = hf_config
        self.chat_template = chat_template
        lookup = tokenizer.token_to_id  # type: ignore[attr-defined]
        ids = {t: lookup(t) for t in SPECIAL_TOKENS if lookup(t) is not None}
        native = len(ids) == len(SPECIAL_TOKENS)
        if not native and control is None:
            missing = [t for t in SPECIAL_TOKENS if t not in ids]
            raise ReasonlabError(f"tokenizer lacks special tokens {', '.join(missing)}")
        names = {"bos": BOS, "eos": EOS, "pad": PAD} if native else dict(control or {})

        def control_id(role: str) -> int | None:
            name = names.get(role)
            tid = lookup(name) if name else None
            if name and tid is None:
                raise ReasonlabError(f"tokenizer: {role} token {name!r} is not in the vocabulary")
            return tid

        eos = control_id("eos")
        if eos is None:
            raise ReasonlabError("tokenizer: no EOS token (set eos_token in tokenizer_config.json)")
        self.special_ids: dict[str, int] = ids
        self.eos_id: int = eos
        self.bos_id: int | None = control_id("bos")
        pad = control_id("pad")
        self.pad_id: int = eos if pad is None else pad
        self._control = {i for i in (self.bos_id, self.eos_id, self.pad_id) if i is not None}

    @classmethod
    def build(
        cls, texts: Iterable[str], vocab_size: int, min_frequency: int = 2, number_tokens: int = 0
    ) -> TaskTokenizer:
        """Train byte-level BPE on ``texts`` up to ``vocab_size`` ids (specials + 256 bytes + merges).

        The vocabulary may come out smaller when the texts offer fewer merges than requested.
        ``number_tokens=N`` makes each integer ``0..N-1`` one token, in two forms: ``"12"`` when it stands
        alone (``"123"`` or ``"x12"`` still split into digits) and ``" 12"`` with its leading space, as
        numbers are written in running text (``"= 12."``, ``"equals 12"``). With mod-23 arithmetic,
        ``N=23`` turns every fact ``a + b = c`` into ``' 8', ' +', ' 12', ' =', ' 20'``: a one-token lookup
        with no space tokens in between (without the spaced form each number costs a ``' '`` token more:
        6.5 of 111.6 tokens of an op-2 problem, 21.8 of 289.6 at op 10; ``benchmarks/bench_tokenizer.py``).
        The spaced form matches greedily, so a larger number after a space splits as ``" 12" "3"``;
        round-trip stays exact, but use ``N`` only where numbers stay below it.
        """
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
        if number_tokens < 0:
            raise ReasonlabError(f"number_tokens must be >= 0, got {number_tokens}")
        tok.add_tokens([AddedToken(str(i), single_word=True, normalized=False) for i in range(number_tokens)])
        tok.add_tokens([AddedToken(f" {i}", normalized=False) for i in range(number_tokens)])
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
        if add_bos and self.bos_id is not None:
            ids = [self.bos_id, *ids]
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def encode_batch(self, texts: Sequence[str], add_bos: bool = False, add_eos: bool = False) -> list[list[int]]:
        """:meth:`encode` for many texts (parallel in the Rust backend)."""
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)  # type: ignore[attr-defined]
        head = [self.bos_id] if add_bos and self.bos_id is not None else []
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
        byte_of = bytelevel_decoder()
        specials = {tid: tok for tok, tid in self.special_ids.items()}
        vocab = self._tok.get_vocab(with_added_tokens=True)  # type: ignore[attr-defined]
        out = [b""] * self.vocab_size
        for tok, tid in vocab.items():
            if tid in specials:
                out[tid] = specials[tid].encode()
            elif all(ch in byte_of for ch in tok):
                out[tid] = bytes(byte_of[ch] for ch in tok)
            else:  # added tokens / non-byte-level vocabularies of imported tokenizers
                out[tid] = self.decode([tid]).encode()
        self._token_bytes = out
        return list(out)

    def special_token_strings(self) -> dict[str, str]:
        """The named special tokens as ``transformers`` passes them to a chat template (``bos_token`` ...).

        From ``tokenizer_config.json`` when the tokenizer came with one, else the native BOS/EOS/PAD.
        """
        if self.hf_config is not None:
            named = {key: _token_name(self.hf_config.get(key)) for key in HF_SPECIAL_TOKEN_KEYS}
            return {key: value for key, value in named.items() if value is not None}
        ids = {"bos_token": self.bos_id, "eos_token": self.eos_id, "pad_token": self.pad_id}
        return {key: self._tok.id_to_token(i) for key, i in ids.items() if i is not None}  # type: ignore[attr-defined]

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json`` into ``directory`` (created if needed), and ``tokenizer_config.json``
        (with the chat template) when the tokenizer has either; returns the tokenizer.json path."""
        path = Path(directory) / TOKENIZER_FILE
        atomic_write_text(path, self._tok.to_str(pretty=False))  # type: ignore[attr-defined]
        if self.hf_config is not None or self.chat_template is not None:
            config = {k: v for k, v in (self.hf_config or {}).items() if k != "chat_template"}
            if self.chat_template is not None:
                config["chat_template"] = self.chat_template
            atomic_write_text(path.parent / TOKENIZER_CONFIG_FILE, json.dumps(config, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TaskTokenizer:
        """Read ``tokenizer.json`` from ``directory`` (or the file itself).

        When the vocabulary lacks the reasonlab special tokens (a Hugging Face model's tokenizer), the
        BOS/EOS/PAD strings come from ``tokenizer_config.json`` beside it. The chat template, when there
        is one, comes from ``chat_template.jinja`` or else ``tokenizer_config.json`` (``transformers``' order).
        """
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
        config = _hf_tokenizer_config(path.parent / TOKENIZER_CONFIG_FILE)
        template = _chat_template(path.parent, config)
        if all(tok.token_to_id(t) is not None for t in SPECIAL_TOKENS):
            return cls(tok, hf_config=config, chat_template=template)
        if config is None:
            raise ReasonlabError(f"{path.parent}: tokenizer lacks reasonlab special tokens and {TOKENIZER_CONFIG_FILE}")
        control = {role: _token_name(config.get(f"{role}_token")) for role in ("bos", "eos", "pad")}
        return cls(tok, control=control, hf_config=config, chat_template=template)


def _token_name(value: Any) -> str | None:
    """A special token's string from a tokenizer_config.json entry (a string or an AddedToken dict)."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _hf_tokenizer_config(path: Path) -> dict[str, Any] | None:
    """A Hugging Face ``tokenizer_config.json`` as a dict, or None when there is none."""
    if not path.is_file():
        return None
    data = read_json(path, "tokenizer config")
    if not isinstance(data, dict):
        raise ReasonlabError(f"{path}: tokenizer config is not a JSON object")
    return data


def _chat_template(directory: Path, config: dict[str, Any] | None) -> str | None:
    """The default chat template: ``chat_template.jinja``, else tokenizer_config.json's ``chat_template``
    (a string, or a list of ``{name, template}`` / a ``{name: template}`` mapping: the one named "default")."""
    file = directory / CHAT_TEMPLATE_FILE
    if file.is_file():
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ReasonlabError(f"{file}: chat template is not UTF-8 text") from None
    value = (config or {}).get("chat_template")
    if isinstance(value, list):
        value = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
    if isinstance(value, dict):
        value = value.get("default")
    if value is not None and not isinstance(value, str):
        raise ReasonlabError(f"{directory / TOKENIZER_CONFIG_FILE}: chat_template is not a string")
    return value
