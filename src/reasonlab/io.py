"""Reading and writing records (JSONL or Parquet) and atomic file writes.

Every output (file or directory) is written to a temporary path in the destination directory and moved
into place with ``os.replace``, so a crash or Ctrl-C never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError

SUPPORTED_SUFFIXES = (".jsonl", ".parquet")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path`` is
    left untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; on success it replaces ``path`` atomically.

    An existing ``path`` is moved aside, the new directory renamed into place, and the old one deleted,
    so a reader sees either the complete old or the complete new directory. On any exception the
    temporary directory is removed and ``path`` is left untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old.{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """The parsed JSON of ``path``; a one-line error naming the file when it is missing or corrupt."""
    src = Path(path)
    if not src.is_file():
        raise ReasonlabError(f"{src}: missing {what}")
    try:
        return json.loads(src.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ReasonlabError(f"{src}: corrupt {what} (not valid JSON)") from None


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReasonlabError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return suffix


def write_records(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` atomically as JSONL or Parquet (chosen by suffix); return how many.

    Parquet columns holding nested objects (``meta``) are stored as JSON strings so that any
    record shape round-trips exactly through :func:`read_records`.
    """
    dest = Path(path)
    suffix = _check_suffix(dest)
    rows = list(records)
    with atomic_path(dest) as tmp:
        if suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            import pyarrow as pa  # heavy: only Parquet outputs need it (JSONL commands stay fast)
            import pyarrow.parquet as pq  # heavy: as above

            columns: dict[str, list[Any]] = {}
            keys = list(dict.fromkeys(k for row in rows for k in row))
            for key in keys:
                values = [row.get(key) for row in rows]
                if any(isinstance(v, dict | list) for v in values):
                    values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
                    key = f"{key}__json"
                columns[key] = values
            pq.write_table(pa.table(columns), tmp)
    return len(rows)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read JSONL or Parquet records; errors name the file (and line for JSONL)."""
    src = Path(path)
    suffix = _check_suffix(src)
    if not src.is_file():
        raise ReasonlabError(f"{src}: no such file")
    if suffix == ".jsonl":
        rows = []
        try:
            with src.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ReasonlabError(f"{src}:{lineno}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise ReasonlabError(f"{src}:{lineno}: expected a JSON object, got {type(row).__name__}")
                    rows.append(row)
        except UnicodeDecodeError:
            raise ReasonlabError(f"{src}: not UTF-8 text") from None
        return rows
    import pyarrow.parquet as pq  # heavy: only Parquet inputs need it (JSONL commands stay fast)

    try:
        table = pq.read_table(src)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise ReasonlabError(f"{src}: unreadable parquet file ({type(exc).__name__})") from None
    rows = table.to_pylist()
    for row in rows:
        for key in [k for k in row if k.endswith("__json")]:
            value = row.pop(key)
            row[key[: -len("__json")]] = None if value is None else json.loads(value)
    return rows
