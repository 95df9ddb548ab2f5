"""Reading and writing records (JSONL or Parquet) and atomic file writes.

Every output (file or directory) is written to a temporary path in the destination directory and moved
into place with ``os.replace``, so a crash or Ctrl-C never leaves a half-written output behind. The
temporary names are ``.NAME.XXXXXXXX.tmp`` (and ``.NAME.old.PID`` for a directory being replaced), so
:func:`remove_stale_temps` can clear what a kill -9 left. Outputs get the permissions the umask allows
(``0666 & ~umask`` for files, ``0777 & ~umask`` for directories), like any file a program creates.
Records nested deeper than :data:`MAX_DEPTH` are refused with a one-line error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from reasonlab.errors import ReasonlabError

SUPPORTED_SUFFIXES = (".jsonl", ".parquet")
#: Deepest nesting a record (JSON) or config (YAML) may have.
MAX_DEPTH = 64
_STALE_RE = re.compile(r"\..+\.(tmp|old\.\d+)")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _writable(dest: Path) -> None:
    """Create ``dest``'s parent; a one-line error when the location cannot be written."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReasonlabError(f"cannot write {dest}: {exc.strerror or type(exc).__name__}") from None


def check_writable(path: str | os.PathLike[str]) -> None:
    """One-line error now, before any work, when ``path`` could not be written later.

    The nearest existing ancestor must be a directory this process may write into; nothing is created.
    """
    dest = Path(path)
    if dest.is_dir():
        raise ReasonlabError(f"cannot write {dest}: it is a directory")
    parent = dest.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ReasonlabError(f"cannot write {dest}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReasonlabError(f"cannot write {dest}: permission denied in {parent}")


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files and directories an interrupted atomic write left in ``directory``."""
    removed = []
    d = Path(directory)
    if d.is_dir():
        for child in d.iterdir():
            if _STALE_RE.fullmatch(child.name):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
                removed.append(child)
    return removed


def check_depth(obj: Any, source: str, limit: int = MAX_DEPTH) -> None:
    """One-line error when ``obj`` (parsed JSON/YAML) nests lists and mappings deeper than ``limit``."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                raise ReasonlabError(f"{source}: nested deeper than {limit} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _loads(text: str, source: str) -> Any:
    try:
        obj = json.loads(text)
    except RecursionError:
        raise ReasonlabError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    check_depth(obj, source)
    return obj


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path`` is
    left untouched.
    """
    dest = Path(path)
    _writable(dest)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise ReasonlabError(f"cannot write {dest}: {exc.strerror or type(exc).__name__}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())
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
    _writable(dest)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    except OSError as exc:
        raise ReasonlabError(f"cannot write {dest}: {exc.strerror or type(exc).__name__}") from None
    os.chmod(tmp, 0o777 & ~_umask())
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
        return _loads(src.read_text(encoding="utf-8"), str(src))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ReasonlabError(f"{src}: corrupt {what} (not valid JSON)") from None


CHECKSUMS_FILE = "checksums.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksums(directory: str | os.PathLike[str]) -> None:
    """Write ``checksums.json``: the SHA-256 of every other file in ``directory`` (call it last)."""
    d = Path(directory)
    sums = {p.name: _sha256(p) for p in sorted(d.iterdir()) if p.is_file() and p.name != CHECKSUMS_FILE}
    (d / CHECKSUMS_FILE).write_text(json.dumps(sums, indent=1) + "\n", encoding="utf-8")


def verify_checksums(directory: str | os.PathLike[str], names: Iterable[str] | None = None) -> None:
    """One-line error when a file of ``directory`` (or only ``names``) no longer matches ``checksums.json``.

    Directories written before checksums existed (no ``checksums.json``) pass unchecked.
    """
    d = Path(directory)
    if not (d / CHECKSUMS_FILE).is_file():
        return
    sums = read_json(d / CHECKSUMS_FILE, "checksum list")
    if not isinstance(sums, dict):
        raise ReasonlabError(f"{d / CHECKSUMS_FILE}: corrupt checksum list")
    for name in sums if names is None else [n for n in names if n in sums]:
        path = d / name
        if not path.is_file():
            raise ReasonlabError(f"{path}: missing (listed in {CHECKSUMS_FILE})")
        if _sha256(path) != sums[name]:
            raise ReasonlabError(
                f"{path}: contents changed since it was written (checksum mismatch); refusing to load it"
            )


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReasonlabError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    return suffix


def write_records(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` atomically as JSONL or Parquet (chosen by suffix); return how many.

    Parquet columns holding nested objects (``meta``) are real nested columns (structs and lists), so
    ``datasets.load_dataset("parquet", ...)``, pandas or DuckDB see ``meta`` as nested data, and every
    record shape still round-trips exactly through :func:`read_records`: see :func:`nested_column`.
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

            arrays: dict[str, Any] = {}
            plan: dict[str, list[list[str]]] = {"json": [], "optional": []}
            keys = list(dict.fromkeys(k for row in rows for k in row))
            for key in keys:
                values = [row.get(key) for row in rows]
                if any(isinstance(v, dict | list) for v in values):
                    arrays[key], json_paths, optional = nested_column(key, values)
                    plan["json"] += json_paths
                    plan["optional"] += optional
                else:
                    arrays[key] = pa.array(values)
            table = pa.table(arrays)
            if plan["json"] or plan["optional"]:
                meta = {PARQUET_PLAN_KEY: json.dumps(plan).encode()}
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            pq.write_table(table, tmp)
    return len(rows)


#: Schema metadata key of a Parquet file: which nested paths hold JSON text and which keys may be absent.
PARQUET_PLAN_KEY = b"reasonlab.nested"
_ABSENT = object()
_INT64 = (-(2**63), 2**63 - 1)


class _Unrepresentable(Exception):
    """A value Arrow cannot hold exactly (mixed types, empty objects, huge integers, ...)."""


def _arrow_values(values: list[Any], path: list[str], plan: dict[str, list[list[str]]]) -> tuple[list[Any], Any]:
    """``(values, arrow type)`` for one nested path across rows; JSON text where a struct field cannot be typed."""
    import pyarrow as pa  # heavy: only Parquet outputs need it

    present = [v for v in values if v is not None]
    if not present:
        return values, pa.null()
    if all(isinstance(v, dict) for v in present):
        keys = list(dict.fromkeys(k for v in present for k in v))
        if not keys or not all(isinstance(k, str) and k and k != "[]" for k in keys):
            raise _Unrepresentable
        fields, columns = [], {}
        for k in keys:
            col = [None if v is None else v.get(k, _ABSENT) for v in values]
            absent = any(x is _ABSENT for x in col)
            if absent and any(x is None and v is not None for x, v in zip(col, values, strict=True)):
                raise _Unrepresentable  # absent in some rows, explicitly null in others: ambiguous
            col = [None if x is _ABSENT else x for x in col]
            sub: dict[str, list[list[str]]] = {"json": [], "optional": []}
            try:
                columns[k], typ = _arrow_values(col, [*path, k], sub)
            except _Unrepresentable:
                columns[k] = [None if x is None else json.dumps(x, ensure_ascii=False) for x in col]
                typ, sub = pa.string(), {"json": [[*path, k]], "optional": []}
            if absent:
                sub["optional"].append([*path, k])
            plan["json"] += sub["json"]
            plan["optional"] += sub["optional"]
            fields.append(pa.field(k, typ))
        rows = [None if v is None else {k: columns[k][i] for k in keys} for i, v in enumerate(values)]
        return rows, pa.struct(fields)
    if all(isinstance(v, list) for v in present):
        flat = [x for v in present for x in v]
        if any(x is None for x in flat) and any(isinstance(x, dict | list) for x in flat):
            raise _Unrepresentable
        flat_values, typ = _arrow_values(flat, [*path, "[]"], plan)
        out: list[Any] = []
        i = 0
        for v in values:
            if v is None:
                out.append(None)
            else:
                out.append(flat_values[i : i + len(v)])
                i += len(v)
        return out, pa.list_(typ)
    kinds = {bool if isinstance(v, bool) else type(v) for v in present}
    if len(kinds) != 1:
        raise _Unrepresentable
    kind = kinds.pop()
    if kind is int and not all(_INT64[0] <= v <= _INT64[1] for v in present):
        raise _Unrepresentable
    types = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
    if kind not in types:
        raise _Unrepresentable
    return values, types[kind]


def nested_column(key: str, values: list[Any]) -> tuple[Any, list[list[str]], list[list[str]]]:
    """A Parquet column for the nested values of ``key``: ``(arrow array, json paths, optional paths)``.

    Objects become structs and lists become lists wherever every row agrees on the types. Where they
    do not (a list mixing strings and numbers, knights' statement trees), the nearest enclosing
    object field holds the value as JSON text, and its path (``["meta", "graph", "nodes", "[]",
    "key"]``) is listed in the file's schema metadata (:data:`PARQUET_PLAN_KEY`) so that
    :func:`read_records` decodes it again; a key missing from some objects is null there and listed
    as optional, so the reader drops it again. The column is checked to read back exactly; if it
    would not, the whole column is JSON text (still listed, so it reads back).
    """
    import pyarrow as pa  # heavy: only Parquet outputs need it

    plan: dict[str, list[list[str]]] = {"json": [], "optional": []}
    try:
        converted, typ = _arrow_values(values, [key], plan)
        array = pa.array(converted, type=typ)
        if _decode_column(array.to_pylist(), key, plan) == values:
            return array, plan["json"], plan["optional"]
    except (_Unrepresentable, pa.ArrowException, RecursionError):
        pass
    text = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    return pa.array(text, type=pa.string()), [[key]], []


def _decode_at(obj: Any, path: list[str], source: str, optional: bool) -> Any:
    """Decode the JSON text (or drop the null optional keys) found at ``path`` under ``obj``."""
    if obj is None or not path:
        return obj
    head, rest = path[0], path[1:]
    if head == "[]":
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                obj[i] = _decode_at(item, rest, source, optional)
        return obj
    if not isinstance(obj, dict) or head not in obj:
        return obj
    if rest:
        obj[head] = _decode_at(obj[head], rest, source, optional)
    elif optional:
        if obj[head] is None:
            del obj[head]
    elif isinstance(obj[head], str):
        try:
            obj[head] = _loads(obj[head], source)
        except json.JSONDecodeError:
            raise ReasonlabError(f"{source}: nested field {head!r} does not hold valid JSON") from None
    return obj


def _decode_column(values: list[Any], key: str, plan: dict[str, list[list[str]]], source: str = "parquet") -> Any:
    """Values of column ``key`` with the JSON paths decoded and absent optional keys dropped."""
    wrapped = [{key: v} for v in values]
    # deepest paths first: a JSON field inside an optional one is decoded before the key may be dropped
    for paths, optional in ((plan.get("json", []), False), (plan.get("optional", []), True)):
        for path in sorted((p for p in paths if p and p[0] == key), key=len, reverse=True):
            for i, row in enumerate(wrapped):
                _decode_at(row, path, f"{source} row {i + 1}", optional)
    return [row[key] for row in wrapped]


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
                        row = _loads(line, f"{src}:{lineno}")
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
    plan = _read_plan(table.schema.metadata, src)
    for key in dict.fromkeys(p[0] for paths in plan.values() for p in paths if p):
        if key in table.column_names:
            for row, value in zip(rows, _decode_column([r[key] for r in rows], key, plan, str(src)), strict=True):
                row[key] = value
    for i, row in enumerate(rows):  # files written before nested columns: ``meta__json`` text columns
        for key in [k for k in row if k.endswith("__json")]:
            value = row.pop(key)
            try:
                row[key[: -len("__json")]] = None if value is None else _loads(value, f"{src} row {i + 1}")
            except (json.JSONDecodeError, TypeError):
                raise ReasonlabError(f"{src} row {i + 1}: column {key!r} does not hold valid JSON") from None
    return rows


def _read_plan(metadata: dict[bytes, bytes] | None, src: Path) -> dict[str, list[list[str]]]:
    """The nested-column plan a Parquet file carries in its schema metadata (empty when none)."""
    raw = (metadata or {}).get(PARQUET_PLAN_KEY)
    if raw is None:
        return {}
    try:
        plan = json.loads(raw)
        if not isinstance(plan, dict) or not all(
            isinstance(p, list) and all(isinstance(s, str) for s in p) for ps in plan.values() for p in ps
        ):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ReasonlabError(f"{src}: corrupt reasonlab schema metadata ({PARQUET_PLAN_KEY.decode()})") from None
    return plan
