"""``nexttoken``: Reinforcement Pre-Training's next-token reasoning on any text corpus (RPT, arXiv 2506.08007).

A problem is a (context, continuation) pair cut at a token boundary of a named tokenizer inside one
document of a corpus (:mod:`~reasonlab.tasks.nexttoken.corpus`; token boundaries in exact bytes from
:mod:`~reasonlab.tasks.nexttoken.segment`). The model is given the context, reasons inside
``<think> </think>`` and writes its prediction of the continuation in an answer slot; the RPT
prefix-match rule scores it (:mod:`~reasonlab.tasks.nexttoken.verify`, :mod:`reasonlab.rewards`).

Positions: token ``t`` of a document is a position when at least ``min_context`` tokens precede it,
the context ends and the next token ends on a UTF-8 character boundary (so both are text), and the next
token holds none of the format's tags (``<think>``, ``</think>``, ``<answer>``, ``</answer>``). With an
``entropy_table`` (a proxy model's entropy per position, :mod:`~reasonlab.tasks.nexttoken.table`),
``min_entropy`` drops positions below it (RPT's filter for training) and ``bucket`` keeps only the
positions of one entropy bucket (evaluation): easy, medium and hard are entropy above the three
``thresholds`` (0.5, 1.0, 1.5 by default), so they nest: hard within medium within easy. Both filters
read the table, so RL, mid-training and evaluation all draw entropy-filtered problems from the task's
own generator.

Drawing: ``sample`` picks one position uniformly among those that pass (the pool is built once per
process and knob set, and cached); ``Task.generate`` de-duplicates by prompt, so a seed gives the same
problems anywhere. Train and test documents never mix (``split``; by a hash of the document's text).

Styles: ``plain`` (from-scratch models): the context followed by ``<think>``, gold completion
`` </think> <answer>TOKEN</answer>`` (the format warm-up's target); ``chat`` (instruction models): an
instruction and the context, the prediction in ``\\boxed{}`` after ``</think>`` as in the paper;
``ntp``: the bare context and its next token, for plain next-token training and the argmax ("standard")
mode of evaluation.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from reasonlab.config import StrictModel, parse_yaml
from reasonlab.errors import ReasonlabError
from reasonlab.tasks.base import Problem, Task, Verification
from reasonlab.tasks.nexttoken.corpus import Document, corpus_stamp, load_documents, position_kind, split_of
from reasonlab.tasks.nexttoken.segment import BUILTIN_TOKENIZERS, get_segmenter, tokenizer_file
from reasonlab.tasks.nexttoken.table import load_table
from reasonlab.tasks.nexttoken.verify import check_prediction
from reasonlab.tasks.registry import get_task, register, task_names

__all__ = [
    "BUCKETS",
    "PLAIN_CUE",
    "RESERVED",
    "NextTokenParams",
    "NextTokenTask",
    "Pool",
    "bucket_of",
    "build_pool",
    "documents_of",
]

#: Evaluation buckets, easiest first; bucket i keeps entropy > thresholds[i], so they nest.
BUCKETS = ("easy", "medium", "hard")
#: What ends a plain prompt: the model's reasoning starts here.
PLAIN_CUE = "<think>"
#: Tags of the format; a next token holding one cannot be written in the answer slot.
RESERVED = (b"<think>", b"</think>", b"<answer>", b"</answer>")
CHAT_INSTRUCTION = (
    "Predict the next token of the text below. Reason inside <think> </think>, then write your prediction "
    "of the continuation (one or more whole tokens, spaces included) in \\boxed{} after </think>.\n\nText: "
)


def _is_ref(value: str) -> bool:
    """A recipe reference (``@step``) stands for a path that exists only once the step has run."""
    return value.startswith("@")


class NextTokenParams(StrictModel):
    """Knobs of the ``nexttoken`` task (CLI strings accepted: ``--corpus data/ --tokenizer runs/x/model``)."""

    corpus: str = Field(
        "arith", description="a folder of .txt files, a .jsonl/.parquet file, or a task whose renderings are the corpus"
    )
    corpus_knobs: dict[str, Any] = Field({}, description="knobs of the corpus task (generated)")
    corpus_docs: int = Field(200, ge=1, le=10_000_000, description="documents of a generated corpus")
    corpus_seed: int = Field(0, ge=0, description="seed of a generated corpus")
    text_column: str = Field("text", description="the text field of a .jsonl/.parquet corpus")
    tokenizer: str = Field(
        "words", description="words (built-in, word-level), bytes, or a tokenizer.json / model directory"
    )
    split: Literal["train", "test", "all"] = Field("train", description="documents to cut (held out by document)")
    test_fraction: float = Field(0.1, ge=0.0, le=1.0, description="share of documents in the test split")
    min_context: int = Field(4, ge=1, description="tokens of document before a position, at least")
    max_context: int = Field(0, ge=0, description="context = at most this many preceding tokens (0 = all)")
    continuation_tokens: int = Field(8, ge=1, le=512, description="ground-truth tokens kept after the context")
    entropy_table: str | None = Field(None, description="a proxy model's entropy table (reasonlab data entropy)")
    min_entropy: float | None = Field(None, ge=0.0, description="drop positions below this entropy (RPT's filter)")
    bucket: Literal["all", "easy", "medium", "hard"] = Field(
        "all", description="only positions of this entropy bucket (nested: entropy > its threshold)"
    )
    thresholds: tuple[float, float, float] = Field(
        (0.5, 1.0, 1.5), description="entropy thresholds of easy, medium, hard (ascending)"
    )

    @field_validator("corpus_knobs", mode="before")
    @classmethod
    def _knobs_text(cls, v: Any) -> Any:
        return parse_yaml(v, "corpus_knobs") if isinstance(v, str) else v

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds_text(cls, v: Any) -> Any:
        return [x.strip() for x in v.split(",")] if isinstance(v, str) else v

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(x) and x >= 0 for x in v) or not v[0] < v[1] < v[2]:
            raise ValueError(f"thresholds must be three ascending entropies >= 0, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> NextTokenParams:
        if self.corpus == "nexttoken":
            raise ValueError("corpus: nexttoken cannot be its own corpus")
        if self.corpus in task_names():
            try:
                get_task(self.corpus).params(**self.corpus_knobs)
            except ReasonlabError as exc:
                raise ValueError(f"corpus_knobs: {exc}") from None
        elif self.corpus_knobs:
            raise ValueError("corpus_knobs apply to a generated corpus (a task name) only")
        elif not _is_ref(self.corpus):
            corpus_stamp(self.corpus)
        if self.tokenizer not in BUILTIN_TOKENIZERS and not _is_ref(self.tokenizer):
            tokenizer_file(self.tokenizer)
        table = self.entropy_table
        if table is not None and not _is_ref(table) and not Path(table).is_file():
            raise ValueError(f"entropy_table {table}: no such file")
        if self.entropy_table is None and (self.min_entropy is not None or self.bucket != "all"):
            raise ValueError("min_entropy and bucket need an entropy_table (reasonlab data entropy, or --proxy)")
        if self.max_context and self.max_context < self.min_context:
            raise ValueError(f"max_context {self.max_context} is below min_context {self.min_context}")
        return self


def bucket_of(entropy: float | None, thresholds: Sequence[float]) -> str | None:
    """The hardest bucket an entropy belongs to (``hard`` also counts as medium and easy), ``low`` below
    easy, None when unknown (NaN)."""
    if entropy is None or not math.isfinite(entropy):
        return None
    level = "low"
    for name, thr in zip(BUCKETS, thresholds, strict=True):
        if entropy > thr:
            level = name
    return level


# ============================================================================ pools


@dataclass
class _Segmented:
    docs: list[Document]
    data: list[bytes]
    bounds: list[np.ndarray]  # cumulative token byte ends per document
    usable: list[np.ndarray]  # token indices t >= 1 whose context and token are text without format tags
    fingerprint: str


@dataclass
class Pool:
    """The positions a knob set draws from: ``(document index, token index)`` pairs, plus the documents."""

    seg: _Segmented
    doc: np.ndarray
    pos: np.ndarray
    entropies: list[np.ndarray] | None
    counts: dict[str, int]

    def __len__(self) -> int:
        return len(self.doc)


def _char_start(data: bytes) -> np.ndarray:
    """``ok[i]`` for ``i in 0..len``: byte offset ``i`` is a UTF-8 character boundary."""
    arr = np.frombuffer(data, dtype=np.uint8)
    return np.concatenate([(arr & 0xC0) != 0x80, [True]])


def _usable(data: bytes, bounds: np.ndarray) -> np.ndarray:
    if len(bounds) < 2:
        return np.zeros(0, dtype=np.int64)
    ok = _char_start(data)
    t = np.arange(1, len(bounds))
    keep = ok[bounds[t - 1]] & ok[bounds[t]]
    out = []
    for i in t[keep]:
        token = data[bounds[i - 1] : bounds[i]]
        if not any(tag in token for tag in RESERVED):
            out.append(int(i))
    return np.array(out, dtype=np.int64)


@lru_cache(maxsize=8)
def _segmented(corpus_key: str, tokenizer: str, stamp: tuple[Any, ...]) -> _Segmented:
    spec = json.loads(corpus_key)
    docs = load_documents(spec["corpus"], spec["text_column"], spec["knobs"], spec["docs"], spec["seed"])
    seg = get_segmenter(tokenizer)
    bounds = [np.asarray(b, dtype=np.int64) for b in seg.boundaries_batch([d.text for d in docs])]
    data = [d.text.encode("utf-8") for d in docs]
    for d, b, raw in zip(docs, bounds, data, strict=True):
        if len(b) == 0 or int(b[-1]) != len(raw) or np.any(np.diff(b) <= 0):
            raise ReasonlabError(f"tokenizer {tokenizer}: its tokens do not cover document {d.id!r} byte for byte")
    usable = [_usable(raw, b) for raw, b in zip(data, bounds, strict=True)]
    return _Segmented(docs, data, bounds, usable, seg.fingerprint)


def documents_of(p: NextTokenParams) -> _Segmented:
    """The corpus of ``p`` segmented by its tokenizer (cached per corpus, tokenizer and their files' state)."""
    for name, value in (("corpus", p.corpus), ("tokenizer", p.tokenizer), ("entropy_table", p.entropy_table)):
        if value is not None and _is_ref(value):
            raise ReasonlabError(f"nexttoken: {name} {value!r} is a recipe reference that was never resolved")
    key = json.dumps(
        {
            "corpus": p.corpus,
            "text_column": p.text_column,
            "knobs": p.corpus_knobs,
            "docs": p.corpus_docs,
            "seed": p.corpus_seed,
        },
        sort_keys=True,
        default=str,
    )
    tok_stamp: tuple[Any, ...] = ()
    if p.tokenizer not in BUILTIN_TOKENIZERS:
        st = tokenizer_file(p.tokenizer).stat()
        tok_stamp = (st.st_size, st.st_mtime_ns)
    return _segmented(key, p.tokenizer, (corpus_stamp(p.corpus), tok_stamp))


def _entropies(p: NextTokenParams, seg: _Segmented) -> list[np.ndarray] | None:
    if p.entropy_table is None:
        return None
    table = load_table(p.entropy_table)
    if table.fingerprint != seg.fingerprint:
        raise ReasonlabError(
            f"entropy_table {p.entropy_table}: positions counted by tokenizer {table.fingerprint}, but the task "
            f"cuts with {p.tokenizer} ({seg.fingerprint}); score the corpus with the same tokenizer"
        )
    out, covered = [], 0
    for d, b in zip(seg.docs, seg.bounds, strict=True):
        h = table.entropies.get(d.sha1)
        if h is None:
            h = np.full(len(b), np.nan, dtype=np.float32)
        elif len(h) != len(b):
            raise ReasonlabError(f"entropy_table {p.entropy_table}: document {d.id!r} has another token count")
        else:
            covered += 1
        out.append(h)
    if covered == 0:
        raise ReasonlabError(f"entropy_table {p.entropy_table}: covers none of the corpus' documents")
    return out


@lru_cache(maxsize=32)
def _pool(params_json: str, stamp: tuple[Any, ...]) -> Pool:
    p = NextTokenParams.model_validate_json(params_json)
    seg = documents_of(p)
    ent = _entropies(p, seg)
    docs_idx, pos_idx = [], []
    counts = {"documents": 0, "positions": 0, "after_entropy_filter": 0}
    for i, d in enumerate(seg.docs):
        if p.split != "all" and split_of(d.sha1, p.test_fraction) != p.split:
            continue
        counts["documents"] += 1
        t = seg.usable[i]
        t = t[t >= p.min_context]
        counts["positions"] += len(t)
        if ent is not None:
            h = ent[i][t]
            keep = np.isfinite(h)
            if p.min_entropy is not None:
                keep &= h >= p.min_entropy
            if p.bucket != "all":
                keep &= h > p.thresholds[BUCKETS.index(p.bucket)]
            t = t[keep]
        counts["after_entropy_filter"] += len(t)
        docs_idx.append(np.full(len(t), i, dtype=np.int64))
        pos_idx.append(t)
    doc = np.concatenate(docs_idx) if docs_idx else np.zeros(0, dtype=np.int64)
    pos = np.concatenate(pos_idx) if pos_idx else np.zeros(0, dtype=np.int64)
    return Pool(seg, doc, pos, ent, counts)


def build_pool(p: NextTokenParams) -> Pool:
    """The positions ``p`` draws from (cached per knob set and the state of the files it reads)."""
    stamp: tuple[Any, ...] = ()
    if p.entropy_table is not None and not _is_ref(p.entropy_table) and Path(p.entropy_table).is_file():
        st = Path(p.entropy_table).stat()
        stamp = (st.st_size, st.st_mtime_ns)
    return _pool(p.model_dump_json(), stamp)


# ============================================================================ the task


@register
class NextTokenTask(Task):
    """Next-token reasoning (RPT) on a text corpus, scored by the prefix-match rule on bytes."""

    name = "nexttoken"
    description = "RPT next-token reasoning on any corpus: context -> <think> -> predicted continuation (bytes)"
    Params = NextTokenParams
    styles = ("plain", "chat", "ntp")

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        """One position drawn uniformly from the pool (see the module docstring)."""
        p: NextTokenParams = params
        pool = build_pool(p)
        if len(pool) == 0:
            raise ReasonlabError(
                f"nexttoken: no position passes the knobs (split {p.split}, bucket {p.bucket}, min_entropy "
                f"{p.min_entropy}); counts: {pool.counts}"
            )
        k = rng.randrange(len(pool))
        i, t = int(pool.doc[k]), int(pool.pos[k])
        seg = pool.seg
        doc, data, b = seg.docs[i], seg.data[i], seg.bounds[i]
        ok = _char_start(data)
        s = max(0, t - p.max_context) if p.max_context else 0
        while s < t and not ok[b[s - 1] if s > 0 else 0]:
            s += 1
        ctx_start = int(b[s - 1]) if s > 0 else 0
        start = int(b[t - 1])
        end_tok = t
        last = min(len(b), t + p.continuation_tokens)
        while end_tok + 1 < last and not any(tag in data[b[end_tok] : b[end_tok + 1]] for tag in RESERVED):
            end_tok += 1
        while end_tok > t and not ok[b[end_tok]]:
            end_tok -= 1
        continuation = data[start : int(b[end_tok])].decode("utf-8")
        answer = data[start : int(b[t])].decode("utf-8")
        context = data[ctx_start:start].decode("utf-8")
        entropy = None if pool.entropies is None else float(pool.entropies[i][t])
        meta = {
            "doc": doc.id,
            "doc_sha1": doc.sha1,
            "position": t,
            "offset": start,
            "context_start": ctx_start,
            "context_tokens": t - s,
            "continuation": continuation,
            "boundaries": [int(x) - start for x in b[t : end_tok + 1]],
            "entropy": None if entropy is None or not math.isfinite(entropy) else entropy,
            "level": bucket_of(entropy, p.thresholds),
            "bucket": p.bucket,
            "split": p.split,
            "tokenizer": seg.fingerprint,
            "kind": position_kind(data[:start].decode("utf-8"), answer),
        }
        return Problem(
            id="",
            task=self.name,
            prompt=context + PLAIN_CUE,
            answer=answer,
            solution=f" </think> <answer>{answer}</answer>",
            meta=meta,
        )

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        """plain: ``CONTEXT<think>`` + `` </think> <answer>TOKEN</answer>``; chat: instruction + context,
        ``<think> </think> \\boxed{TOKEN}``; ntp: ``CONTEXT`` + ``TOKEN``."""
        context = problem.prompt.removesuffix(PLAIN_CUE)
        if style == "plain":
            return problem.prompt, problem.solution
        if style == "ntp":
            return context, problem.answer
        if style == "chat":
            balanced = problem.answer.count("{") == problem.answer.count("}") == 0
            slot = f"\\boxed{{{problem.answer}}}" if balanced else f"<answer>{problem.answer}</answer>"
            return CHAT_INSTRUCTION + context, f"<think> </think> {slot}"
        raise ReasonlabError(f"nexttoken: unknown prompt style {style!r}; choose from {', '.join(self.styles)}")

    def ends_text(self, style: str) -> bool:
        """plain and chat end with the answer slot; ``ntp`` (``CONTEXT TOKEN``) is a cut through a document, and an
        ``<eos>`` target after it would teach a model to stop mid-text (a control trained so stops writing)."""
        return style != "ntp"

    def verify(self, problem: Problem, completion: str) -> Verification:
        """The RPT prefix-match verdict of the prediction slot after ``</think>`` (never raises)."""
        try:
            return check_prediction(problem.meta, completion)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Verification.verifier_error(exc)
