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


def test_parquet_meta_is_a_real_nested_column(tmp_path):
    """Regression (#15): ``meta`` was a ``meta__json`` text column; now structs and lists, exact round trip."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reasonlab.tasks import get_task

    rows = []
    for name, knobs in (("arith", {"mode": "mix"}), ("knights", {}), ("arith_facts", {})):
        task = get_task(name)
        rows += [p.to_dict() for p in task.generate(task.params(**knobs), 12, 0)]
    path = tmp_path / "mixed.parquet"
    write_records(path, rows)
    assert read_records(path) == rows
    schema = pq.read_schema(path)
    assert "meta__json" not in schema.names
    meta = schema.field("meta").type
    assert pa.types.is_struct(meta)
    graph = meta.field("graph").type
    assert pa.types.is_list(graph.field("nodes").type)
    assert meta.field("ops").type == pa.int64()
    # values Arrow cannot type (mixed lists, empty objects, absent-or-null keys) still round-trip exactly
    odd = [
        {"id": "a", "meta": {"k": ["x", 1], "e": {}, "n": None, "f": 1.0}},
        {"id": "b", "meta": {"k": [2.5], "e": {}, "f": 2}},
        {"id": "c", "meta": None},
    ]
    write_records(tmp_path / "odd.parquet", odd)
    assert read_records(tmp_path / "odd.parquet") == odd


def test_parquet_files_with_meta_json_columns_still_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "old.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "meta__json": ['{"ops": 3, "g": [1, "x"]}', None]}), path)
    assert read_records(path) == [{"id": "a", "meta": {"ops": 3, "g": [1, "x"]}}, {"id": "b", "meta": None}]


def test_parquet_records_load_with_hf_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    from reasonlab.tasks import get_task

    task = get_task("arith")
    rows = [p.to_dict() for p in task.generate(task.params(ops="2-4"), 8, 0)]
    write_records(tmp_path / "p.parquet", rows)
    write_records(tmp_path / "p.jsonl", rows)
    for name in ("p.parquet", "p.jsonl"):
        kind = name.split(".")[1].replace("jsonl", "json")
        ds = datasets.load_dataset(kind, data_files=str(tmp_path / name), split="train", cache_dir=str(tmp_path / "c"))
        assert ds[0]["meta"]["graph"]["nodes"][0]["value"] == rows[0]["meta"]["graph"]["nodes"][0]["value"]
        assert ds[3]["meta"]["ops"] == rows[3]["meta"]["ops"]
