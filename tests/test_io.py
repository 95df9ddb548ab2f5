"""Atomic writes and record round-trips; unreadable inputs give one-line errors."""

import pytest

from reasonlab.errors import ReasonlabError
from reasonlab.io import atomic_dir, atomic_path, atomic_write_text, read_records, write_records

ROWS = [
    {"id": "a", "task": "t", "meta": {"ops": 3, "graph": [{"n": 1}]}, "x": 1.5},
    {"id": "b", "task": "t", "meta": {"ops": 4, "graph": []}, "x": None},
]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_round_trip(tmp_path, suffix):
    path = tmp_path / f"sub/rows{suffix}"
    assert write_records(path, ROWS) == 2
    assert read_records(path) == ROWS
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_bad_inputs(tmp_path):
    with pytest.raises(ReasonlabError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    with pytest.raises(ReasonlabError, match=r"unsupported file type '\.csv'"):
        read_records(tmp_path / "x.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{oops\n')
    with pytest.raises(ReasonlabError, match=r"bad\.jsonl:2: not valid JSON"):
        read_records(bad)
    arr = tmp_path / "arr.jsonl"
    arr.write_text("[1, 2]\n")
    with pytest.raises(ReasonlabError, match="expected a JSON object"):
        read_records(arr)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ReasonlabError, match="unreadable parquet"):
        read_records(junk)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReasonlabError, match="not UTF-8"):
        read_records(binary)


def test_atomic_dir_replaces_whole_directory_or_nothing(tmp_path):
    dest = tmp_path / "ckpt"
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("v1")
        (tmp / "stale.txt").write_text("x")
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("v2")
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt"] and (dest / "a.txt").read_text() == "v2"
    with pytest.raises(KeyboardInterrupt), atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("half")
        raise KeyboardInterrupt
    assert (dest / "a.txt").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp or old directories left
