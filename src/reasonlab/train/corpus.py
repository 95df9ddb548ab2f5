"""Training corpora: a mixture spec (or a problems file) -> problems -> token documents -> packed rows.

Pipeline:

0. **A problems file instead.** ``data.problems: PATH`` (a ``.jsonl``/``.parquet`` file of problem records)
   replaces the mixture: the corpus is exactly the file's problems, in file order, each once (steps 1-2 are
   skipped; the seeds below do not apply). This is how a run trains on a fixed set, e.g. SFT on the
   training set of a memorisation test.
1. **Allocation.** A mixture is a list of components ``{task, weight, knobs}``. The corpus of
   ``num_problems`` problems gives component ``i`` exactly its largest-remainder share of
   ``weight_i / sum(weights) * num_problems`` (:func:`allocate_counts`), so a weight of 0.001 in a
   100,000-problem corpus is exactly 100 problems, not a random number around it.
2. **Generation.** Component ``i`` draws its problems with ``task.generate(params, n_i, seed)`` where
   ``seed = train_data_seed(run_seed, i, phase)`` (the training seed space, see below).
3. **Rendering.** ``task.render(problem, style)`` -> ``(prompt, completion)`` (through
   :class:`reasonlab.model.chat.Prompter`, which also renders ``model_chat`` in the model's chat template);
   a document is ``<bos> prompt completion <eos>`` with prompt and completion tokenised separately (exactly
   as a sampler sees the prompt and produces the completion; no ``<bos>`` for a chat-template prompt).
4. **Loss mask.** ``objective="ntp"``: every token but ``<bos>`` is a target; ``objective="sft"``:
   only the completion and ``<eos>`` are (the prompt is context, not a target).
5. **Packing.** Whole documents are packed into rows of ``seq_len + 1`` tokens (first-fit over a small
   window of open rows), the rest of a row is ``<pad>`` with no loss. A document never straddles two
   rows, so the model always sees a problem from its beginning, as at evaluation time. Documents
   longer than a row are dropped and counted.
6. **Order.** :class:`PackedCorpus.batch` is a pure function of the step: the rows are visited in a
   fresh permutation each epoch, seeded by ``(seed, epoch)``, so resuming at step N reads exactly the
   batches an uninterrupted run would have read.

Seeds: component ``i`` of a run with seed ``s`` draws with :func:`reasonlab.seeds.train_data_seed`
(``s``, ``i``, phase); every problem prompt's :func:`reasonlab.seeds.prompt_hash` is kept so that
evaluations can prove their problems held out (:mod:`reasonlab.seeds`).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, PrivateAttr, model_validator

from reasonlab.config import StrictModel
from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_path, atomic_write_text, read_records
from reasonlab.model.chat import Prompter
from reasonlab.seeds import prompt_hash, train_data_seed
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.registry import checked_params

__all__ = [
    "IGNORE",
    "OPEN_END",
    "DataConfig",
    "Document",
    "MixtureComponent",
    "PackedCorpus",
    "allocate_counts",
    "build_corpus",
    "generate_documents",
    "pack_documents",
    "read_problems",
]

IGNORE = -100
#: ``DataConfig.num_problems`` when not given (a problems file requires it left so).
DEFAULT_NUM_PROBLEMS = 20000


def allocate_counts(weights: Sequence[float], total: int) -> list[int]:
    """Split ``total`` items in proportion to ``weights`` by the largest-remainder (Hamilton) method.

    Each count is ``floor(q_i)`` or ``ceil(q_i)`` with ``q_i = total * w_i / sum(w)``, the counts sum to
    ``total``, and leftover items go to the largest fractional parts (ties: earlier component).
    Example: weights (0.99, 0.01), total 1000 -> [990, 10]; weights (1, 1, 1), total 10 -> [4, 3, 3].
    """
    if total < 0:
        raise ReasonlabError(f"total must be >= 0, got {total}")
    if not weights or any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
        raise ReasonlabError(f"mixture weights must be >= 0 with a positive sum, got {list(weights)}")
    s = float(sum(weights))
    quotas = [total * w / s for w in weights]
    counts = [math.floor(q) for q in quotas]
    left = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    return counts


class MixtureComponent(StrictModel):
    """One source of training problems: a task, its share of the corpus, and its knobs."""

    task: str = Field(description="Task family name (see `reasonlab tasks`).")
    weight: float = Field(1.0, gt=0, description="Relative share of the corpus (normalised over the mixture).")
    knobs: dict[str, Any] = Field(default_factory=dict, description="Task knobs, as for `data generate`.")
    dedup: bool = Field(True, description="Distinct prompts only (turn off for tiny problem spaces).")
    _params: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> MixtureComponent:
        self._params = checked_params(self.task, self.knobs)
        return self

    @property
    def params(self) -> Any:
        """The task's validated Params for :attr:`knobs`."""
        return self._params


class DataConfig(StrictModel):
    """Where the training text comes from and how it is cut into rows."""

    mixture: list[MixtureComponent] | None = Field(
        None, min_length=1, description="Components of the corpus (exactly one of mixture and problems)."
    )
    problems: str | None = Field(
        None,
        description="a problems file (.jsonl/.parquet) to train on instead of a mixture: the corpus is exactly its "
        "problems, each once per epoch (exactly one of mixture and problems)",
    )
    num_problems: int = Field(
        DEFAULT_NUM_PROBLEMS, ge=1, description="Total problems in the corpus (split by weight; mixture only)."
    )
    seq_len: int = Field(256, ge=8, description="Tokens per training row (model context during training).")
    style: str = Field(
        "plain", description="Prompt style: plain, chat, or model_chat (the chat turns in the parent model's template)."
    )
    val_rows: int = Field(32, ge=0, description="Packed rows held out for the validation loss.")
    tokenizer_vocab_size: int = Field(
        1024, ge=267, description="BPE vocabulary size when the tokenizer is built (pre-training only)."
    )
    tokenizer_number_tokens: int = Field(
        0,
        ge=0,
        le=4096,
        description="Whole-word tokens for the integers 0..N-1 (23 suits mod-23 arithmetic); 0 = digits only.",
    )
    tokenizer_extra: list[MixtureComponent] = Field(
        default_factory=list,
        description="Extra components whose text only feeds the tokenizer (e.g. contexts seen later).",
    )
    tokenizer_extra_problems: int = Field(500, ge=0, description="Problems per tokenizer_extra component.")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.mixture is None) == (self.problems is None):
            raise ValueError("give exactly one of mixture (problems drawn from tasks) and problems (a problems file)")
        if self.problems is not None:
            if not self.problems.endswith((".jsonl", ".parquet")):
                raise ValueError(f"problems {self.problems!r}: use a .jsonl or .parquet problems file")
            if not Path(self.problems).is_file():
                raise ValueError(f"problems {self.problems!r}: no such file")
            if self.num_problems != DEFAULT_NUM_PROBLEMS:
                raise ValueError("num_problems: a problems file fixes the corpus (all of its problems); leave it out")
        check_stated_settings(self.mixture or [])
        return self


def check_stated_settings(mixture: list[MixtureComponent]) -> None:
    """Refuse components of one task whose prompts look alike but whose answers follow different settings.

    A task's :meth:`~reasonlab.tasks.Task.unstated_setting` names what decides the answer without being
    written in the prompt (arith: ``mod 7`` vs ``mod 23``); two such settings in one corpus teach the model
    two answers to one prompt. Components that state their setting (``number_line: true``) mix freely.
    """
    seen: dict[str, tuple[str, int]] = {}
    for i, comp in enumerate(mixture):
        setting = get_task(comp.task).unstated_setting(comp.params)
        if setting is None:
            continue
        first = seen.setdefault(comp.task, (setting, i))
        if first[0] != setting:
            raise ValueError(
                f"mixture[{i}] ({comp.task}, {setting}) and mixture[{first[1]}] ({first[0]}): the prompt does not "
                "state this setting, so one prompt could have two answers; use one setting or make the prompt "
                "state it (arith: number_line: true)"
            )


def read_problems(path: str) -> list[Problem]:
    """The problems of a ``data.problems`` file, in file order (one-line error naming a bad record)."""
    problems = [
        Problem.from_dict(row, source=f"data.problems {path} record {i + 1}")
        for i, row in enumerate(read_records(path))
    ]
    if not problems:
        raise ReasonlabError(f"data.problems {path}: no problems in the file")
    return problems


#: Document meta key: True when the document is cut through a text (its ``<eos>`` is no target).
OPEN_END = "_open_end"


@dataclass
class Document:
    """One tokenised problem: ``ids = [bos] + prompt + completion + [eos]`` (``[bos]`` when the prompt has one);
    ``n_prompt`` counts bos+prompt."""

    ids: list[int]
    n_prompt: int
    component: int
    meta: dict[str, Any]


def generate_documents(
    data: DataConfig,
    seed: int,
    phase: str = "pretrain",
    *,
    log: Any = None,
    prompter: Prompter | None = None,
) -> tuple[list[tuple[str, str, int, dict[str, Any]]], list[int], np.ndarray]:
    """Generate and render the mixture: ``([(prompt, completion, component, meta)], counts, hashes)``.

    ``meta`` keeps the problem's scalar knobs (``ops``, ``context`` ...) for statistics; ``hashes`` are
    :func:`reasonlab.seeds.prompt_hash` of every problem prompt (the held-out check of evaluations).
    ``prompter`` renders the problems (default: the task's own ``data.style``; mid-training passes the
    parent model's, which knows its chat template). With ``data.problems`` every problem of the file is
    one document of component 0 (``counts = [len(file)]``).
    """
    prompter = prompter or Prompter(data.style)
    hashes: list[int] = []
    out: list[tuple[str, str, int, dict[str, Any]]] = []

    def add(task: Any, p: Problem, component: int) -> None:
        prompt, completion = prompter.render(task, p)
        hashes.append(prompt_hash(p.prompt))
        meta = {k: v for k, v in p.meta.items() if isinstance(v, int | str | float) and k != "seed"}
        meta[OPEN_END] = not task.ends_text(prompter.style)
        out.append((prompt, completion, component, meta))

    if data.problems is not None:
        problems = read_problems(data.problems)
        if log:
            log(f"reading {len(problems)} problems from {data.problems}")
        for p in problems:
            add(get_task(p.task), p, 0)
        return out, [len(problems)], np.array(hashes, dtype=np.int64)
    assert data.mixture is not None  # exactly one of mixture and problems (DataConfig)
    counts = allocate_counts([c.weight for c in data.mixture], data.num_problems)
    for i, (comp, n) in enumerate(zip(data.mixture, counts, strict=True)):
        if n == 0:
            continue
        task = get_task(comp.task)
        s = train_data_seed(seed, i, phase)
        if log:
            log(f"generating {n} {comp.task} problems (component {i}, seed {s}, knobs {comp.knobs})")
        for p in task.generate(comp.params, n, s, dedup=comp.dedup):
            add(task, p, i)
    return out, counts, np.array(hashes, dtype=np.int64)


def tokenizer_texts(data: DataConfig, seed: int, rendered: list[tuple[str, str, int, dict[str, Any]]]) -> list[str]:
    """Texts the tokenizer is trained on: the corpus plus ``tokenizer_extra`` problems."""
    texts = [p + c for p, c, _, _ in rendered]
    prompter = Prompter(data.style)
    for j, comp in enumerate(data.tokenizer_extra):
        task = get_task(comp.task)
        for p in task.generate(comp.params, data.tokenizer_extra_problems, train_data_seed(seed, 400 + j)):
            a, b = prompter.render(task, p)
            texts.append(a + b)
    return texts


def tokenize_documents(
    rendered: list[tuple[str, str, int, dict[str, Any]]], tokenizer: Any, add_bos: bool = True
) -> list[Document]:
    """Tokenise prompts and completions separately and wrap them in ``<bos> ... <eos>``.

    No ``<bos>`` when ``add_bos`` is False (a chat template writes its own special tokens) or the
    tokenizer has none (many imported models).
    """
    prompts = tokenizer.encode_batch([r[0] for r in rendered], add_bos=add_bos)
    comps = tokenizer.encode_batch([r[1] for r in rendered])
    docs = []
    for (_, _, comp, meta), p_ids, c_ids in zip(rendered, prompts, comps, strict=True):
        docs.append(Document([*p_ids, *c_ids, tokenizer.eos_id], len(p_ids), comp, meta))
    return docs


def document_targets(doc: Document, objective: str) -> np.ndarray:
    """Per-token loss flags of a document (1 = this token is a prediction target).

    ``ntp``: all tokens except the leading ``<bos>``; ``sft``: the completion tokens and ``<eos>``. The closing
    ``<eos>`` of a document cut through a text (``meta[OPEN_END]``, :meth:`~reasonlab.tasks.Task.ends_text`) is
    never a target: its text goes on.
    """
    flags = np.ones(len(doc.ids), dtype=np.uint8)
    flags[0] = 0
    if objective == "sft":
        flags[: doc.n_prompt] = 0
    elif objective != "ntp":
        raise ReasonlabError(f"unknown objective {objective!r} (allowed: ntp, sft)")
    if doc.meta.get(OPEN_END):
        flags[-1] = 0
    return flags


def pack_documents(
    docs: Sequence[Document], row_len: int, pad_id: int, objective: str, window: int = 8
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pack whole documents into rows of ``row_len`` tokens: ``(tokens[R, row_len], targets[R, row_len], dropped)``.

    ``targets[r, j] = 1`` when token ``j`` of row ``r`` is a loss target (it is predicted from tokens
    ``< j``); padding is never a target. Documents are placed in order into the first of up to
    ``window`` open rows with room (a row that cannot take the next document while the window is full
    is closed); documents longer than ``row_len`` are dropped and counted.
    """
    rows: list[list[int]] = []
    flags: list[list[np.ndarray]] = []
    fill: list[int] = []
    open_rows: list[int] = []
    dropped = 0
    for doc in docs:
        n = len(doc.ids)
        if n > row_len:
            dropped += 1
            continue
        target = next((r for r in open_rows if fill[r] + n <= row_len), None)
        if target is None:
            if len(open_rows) >= window:
                fullest = max(open_rows, key=lambda r: fill[r])
                open_rows.remove(fullest)
            rows.append([])
            flags.append([])
            fill.append(0)
            target = len(rows) - 1
            open_rows.append(target)
        rows[target].extend(doc.ids)
        flags[target].append(document_targets(doc, objective))
        fill[target] += n
        if row_len - fill[target] < 8:  # nothing useful fits any more
            open_rows.remove(target)
    tokens = np.full((len(rows), row_len), pad_id, dtype=np.int32)
    targets = np.zeros((len(rows), row_len), dtype=np.uint8)
    for r, (ids, fl) in enumerate(zip(rows, flags, strict=True)):
        tokens[r, : len(ids)] = ids
        if fl:
            targets[r, : len(ids)] = np.concatenate(fl)
    return tokens, targets, dropped


class PackedCorpus:
    """Packed rows plus the deterministic batch order (a pure function of the step)."""

    def __init__(self, tokens: np.ndarray, targets: np.ndarray, seed: int, val_rows: int = 0) -> None:
        if tokens.shape != targets.shape or tokens.ndim != 2:
            raise ValueError("tokens and targets must be equal-shaped 2-D arrays")
        n_val = min(val_rows, max(len(tokens) - 1, 0))
        self.val_tokens, self.val_targets = tokens[:n_val], targets[:n_val]
        self.tokens, self.targets = tokens[n_val:], targets[n_val:]
        if len(self.tokens) == 0:
            raise ReasonlabError("the corpus packs into no training rows; raise data.num_problems")
        self.seed = seed
        self._perm_cache: dict[int, np.ndarray] = {}

    @property
    def n_rows(self) -> int:
        """Training rows (held-out rows excluded)."""
        return len(self.tokens)

    @property
    def row_len(self) -> int:
        """Tokens per row (``seq_len + 1``)."""
        return self.tokens.shape[1]

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perm_cache:
            if len(self._perm_cache) > 4:
                self._perm_cache.clear()
            self._perm_cache[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)
        return self._perm_cache[epoch]

    def batch_rows(self, step: int, batch_size: int) -> np.ndarray:
        """Row indices of batch ``step``: positions ``step*B .. step*B+B-1`` of the epoch permutations."""
        pos = np.arange(step * batch_size, (step + 1) * batch_size)
        epochs, offsets = np.divmod(pos, self.n_rows)
        return np.array([self._perm(int(e))[int(o)] for e, o in zip(epochs, offsets, strict=True)])

    def batch(self, step: int, batch_size: int) -> tuple[Any, Any, int]:
        """``(inputs[B, T], labels[B, T], n_target_tokens)`` as torch tensors; labels -100 where no loss."""
        idx = self.batch_rows(step, batch_size)
        return _to_xy(self.tokens[idx], self.targets[idx])

    def val_batches(self, batch_size: int) -> list[tuple[Any, Any, int]]:
        """The held-out rows in fixed batches."""
        return [
            _to_xy(self.val_tokens[i : i + batch_size], self.val_targets[i : i + batch_size])
            for i in range(0, len(self.val_tokens), batch_size)
        ]

    def epoch_of(self, step: int, batch_size: int) -> float:
        """Epochs of data consumed after ``step`` batches of ``batch_size`` rows."""
        return step * batch_size / self.n_rows

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``corpus.npz`` (all rows, validation first) atomically."""
        dest = Path(directory) / "corpus.npz"
        with atomic_path(dest) as tmp, tmp.open("wb") as fh:
            np.savez(
                fh,
                tokens=np.concatenate([self.val_tokens, self.tokens]),
                targets=np.concatenate([self.val_targets, self.targets]),
                n_val=np.array(len(self.val_tokens)),
                seed=np.array(self.seed),
            )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> PackedCorpus:
        """Read ``corpus.npz`` written by :meth:`save` (one-line error when unreadable)."""
        path = Path(directory) / "corpus.npz"
        try:
            with np.load(path) as z:
                return cls(z["tokens"], z["targets"], int(z["seed"]), int(z["n_val"]))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ReasonlabError(f"{path}: unreadable corpus cache ({type(exc).__name__})") from None


def _to_xy(tokens: np.ndarray, targets: np.ndarray) -> tuple[Any, Any, int]:
    x = torch.from_numpy(tokens[:, :-1].astype(np.int64))
    y = torch.from_numpy(tokens[:, 1:].astype(np.int64))
    mask = torch.from_numpy(targets[:, 1:].astype(bool))
    y = y.masked_fill(~mask, IGNORE)
    return x, y, int(mask.sum())


ObjectiveName = Literal["ntp", "sft"]


def corpus_stats(
    docs: Sequence[Document],
    counts: Sequence[int],
    dropped: int,
    rows: int,
    row_len: int,
    pad_id: int,
    tokens: np.ndarray,
) -> dict[str, Any]:
    """Summary written to ``data/stats.json``: problems per component, tokens, packing efficiency and
    mean tokens per problem by ``ops`` (when the task records it)."""
    by_ops: dict[str, list[int]] = {}
    for d in docs:
        if "ops" in d.meta:
            by_ops.setdefault(str(d.meta["ops"]), []).append(len(d.ids))
    n_tok = int(sum(len(d.ids) for d in docs))
    return {
        "problems_per_component": list(counts),
        "documents": len(docs),
        "dropped_too_long": dropped,
        "document_tokens": n_tok,
        "mean_tokens_per_problem": n_tok / max(len(docs), 1),
        "mean_tokens_by_ops": {k: sum(v) / len(v) for k, v in sorted(by_ops.items(), key=lambda kv: int(kv[0]))},
        "rows": rows,
        "row_len": row_len,
        "packing_efficiency": float((tokens != pad_id).mean()) if tokens.size else 0.0,
    }


def build_corpus(
    data: DataConfig,
    seed: int,
    tokenizer: Any,
    *,
    objective: str = "ntp",
    phase: str = "pretrain",
    rendered: list[tuple[str, str, int, dict[str, Any]]] | None = None,
    log: Any = None,
    add_bos: bool = True,
) -> tuple[PackedCorpus, dict[str, Any]]:
    """Generate (unless ``rendered`` is given), tokenise and pack the mixture; return corpus and stats.

    ``add_bos`` as in :func:`tokenize_documents` (the ``add_bos`` of the prompter that rendered the texts).
    """
    counts: Sequence[int]
    if rendered is None:
        rendered, counts, _ = generate_documents(data, seed, phase, log=log)
    elif data.mixture is None:
        counts = [len(rendered)]
    else:
        counts = allocate_counts([c.weight for c in data.mixture], data.num_problems)
    docs = tokenize_documents(rendered, tokenizer, add_bos)
    # Shuffle documents once (seeded) so components interleave inside rows.
    order = np.random.default_rng([seed, 12345]).permutation(len(docs))
    docs = [docs[i] for i in order]
    tokens, targets, dropped = pack_documents(docs, data.seq_len + 1, tokenizer.pad_id, objective)
    if dropped and log:
        log(f"dropped {dropped} documents longer than seq_len + 1 = {data.seq_len + 1} tokens")
    stats = corpus_stats(docs, counts, dropped, len(tokens), data.seq_len + 1, tokenizer.pad_id, tokens)
    return PackedCorpus(tokens, targets, seed, data.val_rows), stats


def write_stats(directory: str | os.PathLike[str], stats: dict[str, Any]) -> None:
    """Write the corpus statistics to ``directory/stats.json`` atomically."""
    atomic_write_text(Path(directory) / "stats.json", json.dumps(stats, indent=1))
