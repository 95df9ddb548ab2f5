"""Engine bridges (reasonlab.integrations): verl's compute_score, TRL reward functions, OpenRLHF's
reward_func called as OpenRLHF calls it, and the data exports (verl parquet, HF dataset directory)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from reasonlab.cli import main
from reasonlab.errors import ReasonlabError
from reasonlab.integrations import problem_json
from reasonlab.integrations.common import split_problems
from reasonlab.io import read_records
from reasonlab.rewards import SCHEMES, score
from reasonlab.tasks import Problem, get_task

ARITH = get_task("arith")
KK = get_task("knights")


@pytest.fixture(scope="module")
def arith_problems():
    return split_problems("arith", {"ops": "2-4", "modulus": 7}, 6, 2, 0)


def _wrong_answer(problem, gold: str) -> str:
    return gold.replace(f"<answer> {problem.answer} </answer>", "<answer> 999 </answer>")


def test_verl_rows_and_compute_score_match_native_scoring(tmp_path, arith_problems) -> None:
    from reasonlab.integrations import verl

    train, test = arith_problems
    verl.export_verl(train, test, tmp_path / "v")
    rows = read_records(tmp_path / "v" / "train.parquet")
    assert len(rows) == 6 and len(read_records(tmp_path / "v" / "test.parquet")) == 2
    row = rows[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["data_source"] == "reasonlab/arith" and row["ability"] == "arithmetic"
    assert row["prompt"] == [{"role": "user", "content": ARITH.render(train[0], "plain")[0]}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": train[0].answer}
    assert row["extra_info"]["split"] == "train" and row["extra_info"]["index"] == 0
    for i, p in enumerate(train):
        gold = ARITH.render(p, "plain")[1]
        info = rows[i]["extra_info"]
        for scheme in ("outcome", "process", "strict", "format"):
            for completion in (gold, _wrong_answer(p, gold), ""):
                got = verl.compute_score(rows[i]["data_source"], completion, p.answer, info, reward=scheme)
                want = score(ARITH, p, completion, scheme)
                assert got["score"] == want.reward and got["acc"] == float(want.correct)
                assert set(got) == {"score", "acc", "pred", "format_ok", "process_ok", "step_accuracy"}
        assert verl.compute_score("x", gold, p.answer, info, reward="process", w_a=1.0, w_s=0.0)["score"] == 1.0
    with pytest.raises(ReasonlabError, match="extra_info has no 'problem'"):
        verl.compute_score("reasonlab/arith", "x", "1", None)
    with pytest.raises(ReasonlabError, match="not the answer"):
        verl.compute_score("reasonlab/arith", "x", "nope", rows[0]["extra_info"])
    with pytest.raises(ReasonlabError, match="unknown reward"):
        verl.compute_score("reasonlab/arith", "x", train[0].answer, rows[0]["extra_info"], reward="nope")


def test_trl_reward_functions_one_per_scheme(arith_problems) -> None:
    from reasonlab.integrations import trl as bridge

    train, _ = arith_problems
    assert set(bridge.REWARD_FUNCS) == set(SCHEMES)
    assert bridge.process_reward.__name__ == "reasonlab_process"
    rows = bridge.dataset_rows(train)
    assert [r["problem"] for r in rows] == [problem_json(p) for p in train]
    golds = [ARITH.render(p, "plain")[1] for p in train]
    bad = [_wrong_answer(p, g) for p, g in zip(train, golds, strict=True)]
    cols = {k: [r[k] for r in rows] for k in ("problem", "id", "task", "answer")}
    prompts = [r["prompt"] for r in rows]
    assert bridge.REWARD_FUNCS["outcome"](prompts=prompts, completions=golds, **cols) == [1.0] * 6
    assert bridge.REWARD_FUNCS["outcome"](prompts=prompts, completions=bad, **cols) == [0.0] * 6
    chat = [[{"role": "assistant", "content": g}] for g in golds]  # conversational completions
    assert bridge.process_reward(prompts=prompts, completions=chat, **cols) == [1.0] * 6
    weighted = bridge.reward_function("process", w_a=1.0, w_s=1.0)
    assert weighted(prompts, golds, problem=cols["problem"]) == [1.0] * 6
    with pytest.raises(ReasonlabError, match="no 'problem' column"):
        bridge.outcome_reward(prompts=prompts, completions=golds)
    with pytest.raises(ReasonlabError, match="takes no argument"):
        bridge.reward_function("outcome", w_a=1.0)
    conv = bridge.dataset_rows(train, conversational=True)
    assert conv[0]["prompt"] == [{"role": "user", "content": rows[0]["prompt"]}]


def test_openrlhf_reward_func_called_as_openrlhf_does(tmp_path, monkeypatch) -> None:
    from reasonlab.integrations import openrlhf

    problems = list(KK.generate(KK.params(people="3-4"), 4, 0))
    prompts = [KK.render(p, "plain")[0] for p in problems]
    golds = [KK.render(p, "plain")[1] for p in problems]
    # OpenRLHF decodes queries with special tokens: <bos> prompt response <eos> <pad>...
    queries = [f"<bos>{p}{g}<eos><pad><pad>" for p, g in zip(prompts, golds, strict=True)]
    labels = [problem_json(p) for p in problems]
    monkeypatch.setenv("REASONLAB_REWARD", "logic_rl")
    out = openrlhf.reward_func(queries, prompts, labels)
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"].tolist() == [3.0] * 4 and out["scores"].tolist() == [1.0] * 4
    assert out["extra_logs"]["acc"].tolist() == [1.0] * 4
    garbled = [f"<bos>{p} <answer> nonsense </answer><eos>" for p in prompts]
    assert openrlhf.reward_func(garbled, prompts, labels)["rewards"].tolist() == [-3.0] * 4  # no think: format fails
    monkeypatch.setenv("REASONLAB_REWARD", "logic_rl_strict")
    monkeypatch.setenv("REASONLAB_REWARD_KWARGS", "{}")
    assert openrlhf.reward_func(queries, prompts, labels)["rewards"].shape == (4,)
    # the exported reward file is loaded by path, as --remote_rm_url does
    assert main(["export", "openrlhf", "--task", "knights", "--people", "3-4", "--train-n", "4", "--test-n", "1",
                 "--reward", "logic_rl", "--out", str(tmp_path / "o")]) == 0  # fmt: skip
    spec = importlib.util.spec_from_file_location("reward_func_file", tmp_path / "o" / "reward_func.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = read_records(tmp_path / "o" / "train.jsonl")
    problems = [Problem.from_dict(json.loads(r["label"])) for r in rows]
    gold_q = ["<bos>" + r["prompt"] + KK.render(p, "plain")[1] for r, p in zip(rows, problems, strict=True)]
    result = module.reward_func(gold_q, [r["prompt"] for r in rows], [r["label"] for r in rows])
    assert result["rewards"].tolist() == [3.0] * 4


def test_export_hf_dataset_loads_with_datasets_and_has_a_card(tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    assert main(["export", "hf-dataset", "--task", "arith", "--ops", "2-3", "--train-n", "5", "--test-n", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "`problem`" in card
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert ds["train"].num_rows == 5 and ds["test"].num_rows == 2
    assert set(ds["train"].column_names) == {"prompt", "problem", "id", "task", "answer"}
    record = json.loads(ds["train"][0]["problem"])
    assert record["meta"]["graph"]["nodes"] and ds["train"][0]["prompt"] == record["prompt"]
    # the export directory is refused when not empty; --overwrite replaces only an export
    assert main(["export", "hf-dataset", "--task", "arith", "--train-n", "2", "--out", str(out)]) == 2
    assert main(["export", "hf-dataset", "--task", "arith", "--train-n", "2", "--test-n", "0", "--out", str(out),
                 "--overwrite"]) == 0  # fmt: skip
    assert not (out / "test.parquet").exists()


def test_export_verl_cli_from_files_and_errors(tmp_path, capsys) -> None:
    assert main(["data", "generate", "arith", "-n", "6", "--ops", "2-3", "--out", str(tmp_path / "a.jsonl")]) == 0
    assert main(["data", "generate", "arith", "-n", "2", "--ops", "5", "--out", str(tmp_path / "b.parquet")]) == 0
    out = tmp_path / "v"
    assert main(["export", "verl", "--train", str(tmp_path / "a.jsonl"), "--test", str(tmp_path / "b.parquet"),
                 "--out", str(out), "--reward", "process"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "reward.custom_reward_function.path=" in printed and "reward_kwargs.reward=process" in printed
    assert len(read_records(out / "train.parquet")) == 6 and len(read_records(out / "test.parquet")) == 2
    assert main(["export", "verl", "--out", str(tmp_path / "x")]) == 2
    assert "either --task" in capsys.readouterr().err
    assert main(["export", "verl", "--task", "arith", "--out", str(tmp_path / "y"), "--reward", "nope"]) == 2
    assert main(["export", "verl", "--train", str(tmp_path / "a.jsonl"), "--test", str(tmp_path / "a.jsonl"),
                 "--out", str(tmp_path / "z")]) == 2  # fmt: skip
    assert "in both" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


def test_files_the_lab_writes_load_with_hf_datasets(tmp_path) -> None:
    """Problem files (both formats, every task) and score records load with datasets, nested meta intact."""
    datasets = pytest.importorskip("datasets")
    for task, knobs in (("knights", ["--people", "3-4"]), ("arith", ["--mode", "mix"]), ("arith_facts", [])):
        for suffix in ("jsonl", "parquet"):
            path = tmp_path / f"{task}.{suffix}"
            assert main(["data", "generate", task, "-n", "6", *knobs, "--out", str(path)]) == 0
            ds = datasets.load_dataset(
                suffix.replace("jsonl", "json"), data_files=str(path), split="train", cache_dir=str(tmp_path / "c")
            )
            rows = read_records(path)
            assert ds.num_rows == 6 and isinstance(ds[0]["meta"], dict)
            assert ds[0]["meta"]["seed"] == rows[0]["meta"]["seed"]
    problems = read_records(tmp_path / "knights.parquet")
    completions = [{"id": p["id"], "completion": p["solution"]} for p in problems]
    from reasonlab.io import write_records

    write_records(tmp_path / "c.jsonl", completions)
    out = tmp_path / "scores.parquet"
    args = ["score", "--problems", str(tmp_path / "knights.parquet"), "--completions", str(tmp_path / "c.jsonl")]
    assert main([*args, "--reward", "logic_rl", "--out", str(out)]) == 0
    scores = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert scores.num_rows == 6 and all(r == 3.0 for r in scores["reward"])
