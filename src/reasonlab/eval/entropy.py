"""The proxy model's entropy at every token position of a ``nexttoken`` corpus (RPT's token filter).

RPT keeps only the positions where a proxy model is unsure of the next token: it computes the entropy of
the proxy's top-16 next-token probabilities and drops positions below a threshold; evaluation buckets
positions by the same entropy (:mod:`reasonlab.tasks.nexttoken`). This module fills the entropy table
the task reads (:mod:`reasonlab.tasks.nexttoken.table`):

- **Entropy**: :func:`top_k_entropy`, the entropy (nats) of the proxy's ``k`` most probable next tokens
  renormalised to sum to one: ``p_i = softmax(z_(1..k))_i``, ``H = -sum_i p_i log p_i`` (at most ``log k``).
- **Positions**: the proxy reads each document as ``<bos> tokens`` (as it was trained) in windows of at
  most its ``max_seq_len`` (or ``window``) tokens; a document longer than one window is read in windows
  that overlap by half, and each position is scored in the window that gives it the most context (at
  least half a window). The proxy's positions are then mapped onto the task tokenizer's by byte offset:
  with the same tokenizer every position has an entropy; with another one, positions where the proxy
  has no token boundary get NaN and are never drawn by an entropy filter.
- **Cache**: the table's ``info`` records a key (corpus, tokenizer, proxy weights, k, window); an existing
  table with the same key is reused instead of scored again (``entropy_table_for``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reasonlab.errors import ReasonlabError
from reasonlab.model import load_model
from reasonlab.rundir import resolve_device, resolve_model_path
from reasonlab.tasks.nexttoken import NextTokenParams, documents_of, load_table, write_table
from reasonlab.tasks.nexttoken.corpus import corpus_stamp

__all__ = ["DEFAULT_TOP_K", "cache_dir", "entropy_key", "entropy_table_for", "score_entropies", "top_k_entropy"]

DEFAULT_TOP_K = 16


def top_k_entropy(logits: torch.Tensor, k: int = DEFAULT_TOP_K) -> torch.Tensor:
    """Entropy (nats) of the renormalised top-``k`` distribution of each row of ``logits`` (last dimension).

    Example: probabilities (0.5, 0.25, 0.25, 0, ...) give ``1.5 ln 2 = 1.0397`` for k >= 3 and, for k = 2,
    the entropy of (2/3, 1/3): ``ln 3 - (2/3) ln 2 = 0.6365``.
    """
    if k < 1:
        raise ReasonlabError(f"top_k must be >= 1, got {k}")
    top = logits.float().topk(min(k, logits.shape[-1]), dim=-1).values
    logp = torch.log_softmax(top, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def cache_dir() -> Path:
    """Where cached tables live: ``$REASONLAB_CACHE/entropy`` (default ``~/.cache/reasonlab/entropy``)."""
    return Path(os.environ.get("REASONLAB_CACHE", Path.home() / ".cache" / "reasonlab")) / "entropy"


def _proxy_identity(path: Path) -> str:
    sums = path / "checksums.json"
    if sums.is_file():
        return hashlib.sha256(sums.read_bytes()).hexdigest()[:16]
    stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir() if p.is_file())
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def entropy_key(params: NextTokenParams, proxy: Path, fingerprint: str, top_k: int, window: int) -> str:
    """The cache key of a table: what it was computed from (corpus and its files' state, tokenizer, proxy, k)."""
    spec = {
        "corpus": params.corpus,
        "text_column": params.text_column,
        "knobs": params.corpus_knobs,
        "docs": params.corpus_docs,
        "seed": params.corpus_seed,
        "stamp": list(corpus_stamp(params.corpus)),
        "tokenizer": fingerprint,
        "proxy": _proxy_identity(proxy),
        "top_k": top_k,
        "window": window,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _windows(length: int, window: int) -> list[tuple[int, int]]:
    """``(start, first local prediction used)`` of each window over a sequence of ``length`` tokens.

    Window ``s`` covers ``x[s : s + window]``; its local index ``j`` predicts ``x[s + j + 1]``. The first
    window uses every prediction, later ones (every ``window // 2`` tokens) only those with at least
    ``window - window // 2`` tokens of context, so each position is predicted by exactly one window.
    """
    if length <= window:
        return [(0, 0)]
    stride = max(window // 2, 1)
    out = [(0, 0)]
    s = stride
    while True:
        out.append((s, window - stride - 1))
        if s + window >= length:
            return out
        s += stride


def score_entropies(
    params: NextTokenParams,
    model: Any,
    tokenizer: Any,
    *,
    top_k: int = DEFAULT_TOP_K,
    window: int = 0,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Entropy of every token position of every document of ``params``' corpus (both splits), in the task
    tokenizer's positions: ``({document sha1: entropies}, stats)``. ``progress(k)`` counts documents."""
    seg = documents_of(params)
    limit = int(model.config.max_seq_len)
    window = min(window or limit, limit)
    if window < 2:
        raise ReasonlabError(f"proxy window must hold at least 2 tokens, got {window}")
    token_bytes = tokenizer.token_bytes()
    bos = [tokenizer.bos_id] if tokenizer.bos_id is not None else []
    device = next(model.parameters()).device
    out: dict[str, np.ndarray] = {}
    unmapped = 0
    jobs: list[tuple[int, int, int, list[int]]] = []  # (document, window start, first used, the window's ids)
    proxy_starts: list[np.ndarray] = []
    all_ids = tokenizer.encode_batch([d.text for d in seg.docs])
    for i, (d, ids) in enumerate(zip(seg.docs, all_ids, strict=True)):
        ends = np.cumsum(np.array([len(token_bytes[t]) for t in ids], dtype=np.int64))
        if not len(ids) or int(ends[-1]) != len(seg.data[i]):
            raise ReasonlabError(f"proxy tokenizer does not cover document {d.id!r} byte for byte")
        proxy_starts.append(np.concatenate([[0], ends[:-1]]))
        x = bos + list(ids)
        jobs.extend((i, s, lo, x[s : s + window]) for s, lo in _windows(len(x), window))
    proxy_h = [np.full(len(ids), np.nan, dtype=np.float32) for ids in all_ids]
    left = [0] * len(seg.docs)
    for job in jobs:
        left[job[0]] += 1
    jobs.sort(key=lambda j: len(j[3]))  # similar lengths together: less padding
    with torch.inference_mode():
        for b in range(0, len(jobs), batch_size):
            batch = jobs[b : b + batch_size]
            width = max(len(j[3]) for j in batch)
            x_pad = torch.full((len(batch), width), tokenizer.pad_id, dtype=torch.long)
            for r, job in enumerate(batch):
                x_pad[r, : len(job[3])] = torch.tensor(job[3], dtype=torch.long)
            # right padding never reaches earlier positions under the causal mask
            h = top_k_entropy(model.logits(model.hidden_states(x_pad.to(device))), top_k).cpu().numpy()
            for r, (i, s, lo, ids) in enumerate(batch):
                for j in range(lo, len(ids) - 1):  # local j predicts x[s + j + 1] = document token s + j + 1 - |bos|
                    t = s + j + 1 - len(bos)
                    if t >= 0:
                        proxy_h[i][t] = h[r, j]
                left[i] -= 1
                if left[i] == 0 and progress is not None:
                    progress(1)
    for i, d in enumerate(seg.docs):
        starts = {int(p): float(v) for p, v in zip(proxy_starts[i], proxy_h[i], strict=True)}
        named_starts = np.concatenate([[0], seg.bounds[i][:-1]])
        ent = np.array([starts.get(int(p), np.nan) for p in named_starts], dtype=np.float32)
        unmapped += int(np.isnan(ent).sum())
        out[d.sha1] = ent
    stats = {
        "documents": len(seg.docs),
        "positions": int(sum(len(v) for v in out.values())),
        "positions_without_proxy_boundary": unmapped,
        "window": window,
        "top_k": top_k,
        "tokenizer_fingerprint": seg.fingerprint,
    }
    return out, stats


def entropy_table_for(
    params: NextTokenParams,
    proxy: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    top_k: int = DEFAULT_TOP_K,
    window: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The entropy table of ``params``' corpus under the ``proxy`` model: reused when ``out`` (default: the
    cache, :func:`cache_dir`) already holds one with the same key, else scored and written. Returns
    ``(path, info)``."""
    say = log or (lambda _m: None)
    proxy_path = resolve_model_path(proxy, "proxy")
    seg = documents_of(params)
    model, tokenizer = load_model(proxy_path, device=str(resolve_device(device)))
    window = min(window or model.config.max_seq_len, model.config.max_seq_len)
    key = entropy_key(params, proxy_path, seg.fingerprint, top_k, window)
    path = Path(out) if out is not None else cache_dir() / f"{key}.npz"
    if path.is_file():
        try:
            cached = load_table(path)
        except ReasonlabError:
            cached = None
        if cached is not None and cached.info.get("key") == key:
            say(f"entropy table {path}: cached (key {key})")
            return path, cached.info
    t0 = time.perf_counter()
    entropies, stats = score_entropies(
        params, model, tokenizer, top_k=top_k, window=window, batch_size=batch_size, progress=progress
    )
    info = {**stats, "key": key, "proxy": str(proxy_path), "seconds": time.perf_counter() - t0}
    write_table(path, entropies, info)
    say(f"entropy table {path}: {stats['positions']} positions of {stats['documents']} documents scored")
    return path, info
