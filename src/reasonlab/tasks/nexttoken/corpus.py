"""The documents of a ``nexttoken`` corpus: read or generated, de-duplicated, split into train and test by document.

Sources (the ``corpus`` knob):

- a folder: every ``*.txt`` file below it (sorted by relative path) is one document, id = the path;
- a ``.jsonl`` or ``.parquet`` file: one document per record, its ``text_column`` field, id = ``NAME:LINE``;
- a task name (``arith``, ``knights``, ``arith_facts``): ``corpus_docs`` problems of that task drawn with
  ``corpus_knobs`` from ``corpus_seed``, each rendered as the pre-training corpus renders it
  (``prompt + gold completion``, plain style), id = the problem id.

Documents are de-duplicated by content (the first occurrence is kept) and assigned to a split by a hash
of their content: ``test`` when ``stable_seed("nexttoken-split", sha1) mod 10^6 < test_fraction * 10^6``.
The split therefore holds documents out whatever the seed, the order or the other documents.

:func:`position_kind` says where a position sits in a document rendered with the lab's ``<question>`` /
``<solution>`` tags and what its next token is, so accuracy can be read by what could be predicted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError
from reasonlab.io import read_records
from reasonlab.seeds import stable_seed
from reasonlab.tasks.registry import get_task, task_names

__all__ = ["Document", "corpus_stamp", "load_documents", "position_kind", "split_of"]

_SPLIT_SCALE = 10**6


@dataclass(frozen=True)
class Document:
    """One document: where it came from (``id``), its text, the SHA-1 of its UTF-8 text (``sha1``)."""

    id: str
    text: str
    sha1: str


def split_of(sha1: str, test_fraction: float) -> str:
    """``"test"`` or ``"train"`` for a document, from its content hash alone."""
    return "test" if stable_seed("nexttoken-split", sha1) % _SPLIT_SCALE < test_fraction * _SPLIT_SCALE else "train"


def _is_task(corpus: str) -> bool:
    return corpus in task_names() and corpus != "nexttoken"


def corpus_stamp(corpus: str) -> tuple[str, int, int]:
    """What identifies a corpus source's current content for caching: ``(kind, size, mtime_ns)``."""
    if _is_task(corpus):
        return ("task", 0, 0)
    path = Path(corpus)
    if path.is_dir():
        stats = [p.stat() for p in sorted(path.rglob("*.txt"))]
        return ("dir", sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0))
    if path.is_file():
        st = path.stat()
        return ("file", st.st_size, st.st_mtime_ns)
    raise ReasonlabError(
        f"corpus {corpus!r}: not a folder of .txt files, a .jsonl/.parquet file, nor a task name "
        f"({', '.join(n for n in task_names() if n != 'nexttoken')})"
    )


def _raw_documents(corpus: str, text_column: str, knobs: dict[str, Any], n_docs: int, seed: int) -> list[tuple]:
    if _is_task(corpus):
        task = get_task(corpus)
        params = task.params(**knobs)
        out = []
        for p in task.generate(params, n_docs, seed):
            prompt, completion = task.render(p, "plain")
            out.append((p.id, prompt + completion))
        return out
    path = Path(corpus)
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise ReasonlabError(f"corpus {corpus}: a folder without .txt files")
        out = []
        for f in files:
            try:
                out.append((str(f.relative_to(path)), f.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise ReasonlabError(f"corpus {f}: not UTF-8 text") from None
        return out
    if path.suffix not in (".jsonl", ".parquet"):
        raise ReasonlabError(f"corpus {corpus}: use a folder of .txt files or a .jsonl/.parquet file")
    out = []
    for i, row in enumerate(read_records(path)):
        text = row.get(text_column)
        if not isinstance(text, str):
            raise ReasonlabError(f"corpus {corpus} record {i + 1}: no string field {text_column!r} (text_column)")
        out.append((f"{path.name}:{i + 1}", text))
    return out


def load_documents(corpus: str, text_column: str, knobs: dict[str, Any], n_docs: int, seed: int) -> list[Document]:
    """Every distinct non-empty document of the source, in source order (see the module docstring)."""
    seen: set[str] = set()
    docs = []
    for doc_id, text in _raw_documents(corpus, text_column, knobs, n_docs, seed):
        if not text:
            continue
        sha1 = hashlib.sha1(text.encode("utf-8")).hexdigest()
        if sha1 in seen:
            continue
        seen.add(sha1)
        docs.append(Document(doc_id, text, sha1))
    if not docs:
        raise ReasonlabError(f"corpus {corpus}: no non-empty documents")
    return docs


def position_kind(prefix: str, token: str) -> str:
    """``REGION TOKEN`` for a position after ``prefix`` (the document up to it) whose next token is ``token``.

    REGION: ``solution`` or ``question`` when the last ``<solution>`` (``<question>``) in the prefix is not yet
    closed, else ``text`` (untagged corpora); TOKEN: ``number`` when the token, leading spaces aside, starts
    with a digit, ``word`` when with a letter, else ``symbol``. In the lab's generated corpora a question's
    numbers are free draws of the generator (no model beats chance on them) and its words mostly so (names),
    a solution's words are names copied from the question or fresh letters, and a solution's numbers are
    computed from the question: the positions where thinking could help.
    """
    if prefix.rfind("<solution>") > prefix.rfind("</solution>"):
        region = "solution"
    elif prefix.rfind("<question>") > prefix.rfind("</question>"):
        region = "question"
    else:
        region = "text"
    head = token.lstrip(" ")[:1]
    kind = "number" if head.isdigit() else "word" if head.isalpha() else "symbol"
    return f"{region} {kind}"
