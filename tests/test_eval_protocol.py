"""The evaluation harness: config validation, held-out seeds, statistics over records, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from reasonlab.config import validate
from reasonlab.errors import ReasonlabError
from reasonlab.eval.compare import compare_runs
from reasonlab.eval.config import EvalConfig, load_eval_config
from reasonlab.eval.problems import build_problems
from reasonlab.eval.protocol import SAMPLE_FIELDS, run_eval
from reasonlab.eval.stats import summarize_records
from reasonlab.io import read_records, write_records
from reasonlab.report.markdown import write_compare_report, write_report
from reasonlab.rundir import lineage_prompt_hashes, lineage_seeds, training_lineage
from reasonlab.seeds import EVAL_SEED_BASE, eval_problem_seed, eval_sample_seed
from reasonlab.tasks import get_task

# ----------------------------------------------------------------------------- config


def _cfg(**over: Any) -> EvalConfig:
    base: dict[str, Any] = {
        "name": "t",
        "task": "knights",
        "buckets": {"knob": "people", "values": [2, 3]},
        "problems_per_bucket": 3,
        "seeds": 2,
        "samples_per_seed": 2,
        "k": [1, 2, 4],
        "decoding": {"temperature": 1.0, "max_new_tokens": 10},
        "report": True,
        "bootstrap": 200,
    }
    base.update(over)
    return validate(EvalConfig, base)


def test_config_rejects_k_beyond_samples(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("task: knights\nbuckets: {knob: people, values: [2]}\nseeds: 2\nk: [1, 4]\n")
    with pytest.raises(ReasonlabError, match="exceeds seeds"):
        load_eval_config(path)
    path.write_text("task: knights\nbuckets: {knob: people, values: [2]}\ntemprature: 1\n")
    with pytest.raises(ReasonlabError, match="unknown field 'temprature'"):
        load_eval_config(path)
    path.write_text("task: knights\nbuckets: {knob: people, values: [2]}\nfixed: {people: 3}\n")
    with pytest.raises(ReasonlabError, match="both the bucket knob and fixed"):
        load_eval_config(path)


def test_eval_seeds_are_held_out_by_construction() -> None:
    s2 = eval_problem_seed(0, "knights", "people", 2)
    s3 = eval_problem_seed(0, "knights", "people", 3)
    assert s2 != s3
    assert s2 == eval_problem_seed(0, "knights", "people", 2)
    assert all(EVAL_SEED_BASE <= s < 2 * EVAL_SEED_BASE for s in (s2, s3))
    assert eval_sample_seed(0, "p1", 0, 0) != eval_sample_seed(0, "p1", 0, 1) != eval_sample_seed(0, "p1", 1, 0)


def test_training_seeds_found_in_run_dir(tmp_path: Path) -> None:
    ckpt = tmp_path / "run" / "checkpoints" / "step-10"
    ckpt.mkdir(parents=True)
    (tmp_path / "run" / "config.yaml").write_text("seed: 3\ndata:\n  mixture: [{task: arith, seed: 7}]\n")
    path, seeds = lineage_seeds(str(ckpt))
    assert path is not None and path.endswith("config.yaml")
    assert seeds == [3, 7]
    assert lineage_seeds(None) == (None, [])


def test_training_lineage_follows_init_from(tmp_path: Path) -> None:
    import numpy as np

    pre = tmp_path / "pre"
    (pre / "model").mkdir(parents=True)
    (pre / "data").mkdir()
    (pre / "config.yaml").write_text("seed: 1\n")
    np.save(pre / "data" / "prompt_hashes.npy", np.array([11, 12], dtype=np.int64))
    rl = tmp_path / "rl"
    (rl / "model").mkdir(parents=True)
    (rl / "config.yaml").write_text(f"seed: 2\ninit_from: {pre / 'model'}\n")
    assert training_lineage(str(rl / "model")) == [rl.resolve(), pre.resolve()]
    assert lineage_seeds(str(rl / "model"))[1] == [1, 2]
    files, hashes = lineage_prompt_hashes(str(rl / "model"))
    assert hashes == {11, 12} and len(files) == 1


def test_build_problems_buckets_and_holdout_file(tmp_path: Path) -> None:
    cfg = _cfg()
    rows, rec = build_problems(cfg)
    assert [r["bucket"] for r in rows] == [2, 2, 2, 3, 3, 3]
    assert all(r["meta"]["people"] == r["bucket"] for r in rows)
    assert rec["dropped_overlapping"] == 0
    again, _ = build_problems(cfg)
    assert again == rows
    # a "training set" containing one evaluation prompt: that problem is replaced, the count recorded
    train = tmp_path / "train.jsonl"
    write_records(train, [rows[1]])
    rows2, rec2 = build_problems(_cfg(holdout_files=[str(train)]))
    assert rec2["dropped_overlapping"] == 1
    assert rows[1]["prompt"] not in {r["prompt"] for r in rows2}
    assert len(rows2) == len(rows)


# ----------------------------------------------------------------------------- statistics over records


def _rec(pid: str, bucket: int, seed: int, sample: int, correct: bool, pred: str | None = "x", **kw: Any) -> dict:
    row = {
        "id": pid,
        "bucket": bucket,
        "cluster": None,
        "seed": seed,
        "sample": sample,
        "sample_seed": 0,
        "completion": "",
        "pred": pred,
        "correct": correct,
        "format_ok": True,
        "process_ok": None,
        "reward": float(correct),
        "length": 5,
        "truncated": False,
        "unparseable": pred is None,
    }
    row.update(kw)
    return row


def test_summarize_hand_computed() -> None:
    # problem a: 3 of 4 correct; problem b: 1 of 4; seeds 0/1 x samples 0/1
    recs = [
        _rec("a", 2, 0, 0, True),
        _rec("a", 2, 0, 1, True),
        _rec("a", 2, 1, 0, True),
        _rec("a", 2, 1, 1, False),
        _rec("b", 2, 0, 0, False, truncated=True),
        _rec("b", 2, 0, 1, False, pred=None),
        _rec("b", 2, 1, 0, True),
        _rec("b", 2, 1, 1, False, pred="y"),
    ]
    s = summarize_records(recs, [1, 2, 4], n_boot=200)
    o = s["outcome"]
    assert s["n_problems"] == 2 and s["samples_per_problem"] == 4
    assert o["pass@k"]["1"]["mean"] == pytest.approx((0.75 + 0.25) / 2)
    # pass@2: a = 1 - C(1,2)/C(4,2) = 1; b = 1 - C(3,2)/C(4,2) = 0.5
    assert o["pass@k"]["2"]["mean"] == pytest.approx(0.75)
    assert o["pass@k"]["4"]["mean"] == 1.0
    # per seed: seed 0 -> (1 + 0)/2, seed 1 -> (0.5 + 0.5)/2
    assert o["pass@1_seeds"]["per_seed"] == pytest.approx([0.5, 0.5])
    assert o["pass@1_seeds"]["std"] == 0.0 and o["pass@1_seeds"]["ddof"] == 1
    # SE over problems of [0.75, 0.25]: sd = 0.35355, / sqrt 2
    assert o["pass@k"]["1"]["se"] == pytest.approx(0.25)
    # maj@4: a votes gold 3 vs x 1 -> 1; b: x 1, gold 1, y 1 (None abstains) -> 3-way tie -> 1/3
    assert o["maj@k"]["4"]["mean"] == pytest.approx((1 + 1 / 3) / 2)
    assert s["truncation_rate"] == pytest.approx(1 / 8)
    assert s["unparseable_rate"] == pytest.approx(1 / 8)
    assert s["process"] is None


def test_summarize_process_and_clusters() -> None:
    recs = []
    for i, (cl, ok) in enumerate([("u", True), ("u", True), ("v", False), ("v", True)]):
        for seed in range(2):
            recs.append(_rec(f"p{i}", 1, seed, 0, True, process_ok=ok and seed == 0, cluster=cl))
    s = summarize_records(recs, [1, 2], n_boot=200)
    assert s["outcome"]["pass@k"]["1"]["mean"] == 1.0
    assert s["process"]["pass@k"]["1"]["mean"] == pytest.approx(3 / 8)
    assert s["process"]["pass@k"]["2"]["mean"] == pytest.approx(3 / 4)
    assert "clustered_se" in s["outcome"]["pass@k"]["1"]
    assert s["process"]["pass@k"]["1"]["n_clusters"] == 2


# ----------------------------------------------------------------------------- end to end on a random model


def _tiny_model(tmp_path: Path, seed: int = 0, max_seq_len: int = 512) -> Path:
    from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model

    task = get_task("knights")
    texts = []
    for p in task.generate(task.params(people="2-3"), 30, seed=99):
        prompt, gold = task.render(p, "plain")
        texts.append(prompt + gold)
    tok = TaskTokenizer.build(texts, vocab_size=400)
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        max_seq_len=max_seq_len,
    )
    out = tmp_path / f"model{seed}-{max_seq_len}"
    save_model(out, Decoder(cfg), tok)
    return out


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("eval")
    model = _tiny_model(tmp, 0)
    cfg = _cfg(model=str(model), threads=1)
    s1 = run_eval(cfg, tmp / "run1", progress=False)
    write_report(tmp / "run1")  # the evaluation writes records; the report layer writes report.md
    s2 = run_eval(cfg.model_copy(update={"batch_size": 5, "report": False}), tmp / "run2", progress=False)
    other = _tiny_model(tmp, 1)
    s3 = run_eval(cfg.model_copy(update={"model": str(other), "name": "other"}), tmp / "run3", progress=False)
    return {"tmp": tmp, "cfg": cfg, "s1": s1, "s2": s2, "s3": s3}


def test_run_eval_writes_records_summary_report(run_dirs: dict[str, Any]) -> None:
    d = run_dirs["tmp"] / "run1"
    for f in (
        "eval/samples.jsonl",
        "eval/summary.json",
        "eval/problems.jsonl",
        "eval/config.yaml",
        "report.md",
        "plots/pass_at_k_by_bucket.png",
        "plots/length_vs_correctness.png",
        "plots/seed_stability.png",
    ):
        assert (d / f).is_file(), f
    recs = read_records(d / "eval" / "samples.jsonl")
    assert len(recs) == 2 * 3 * 2 * 2
    assert set(recs[0]) == set(SAMPLE_FIELDS)
    assert all(0 < r["length"] <= 10 for r in recs)
    assert all(r["truncated"] == (r["length"] == 10 and r["truncated"]) for r in recs)
    s = json.loads((d / "eval" / "summary.json").read_text())
    rec = s["record"]
    assert rec["config"]["decoding"]["max_new_tokens"] == 10
    assert rec["prompt_template"]["id"] == "knights/plain" and len(rec["prompt_template"]["render_hash"]) == 16
    assert rec["versions"]["torch"] == torch.__version__.split("+")[0] or rec["versions"]["torch"]
    assert rec["device"]["device"] == "cpu"
    assert set(s["buckets"]) == {"2", "3"}
    assert set(s["overall"]["outcome"]["pass@k"]) == {"1", "2", "4"}
    assert s["timing"]["generated_tokens"] == sum(r["length"] for r in recs)
    assert "## Per bucket" in (d / "report.md").read_text()


def test_run_eval_independent_of_batch_size(run_dirs: dict[str, Any]) -> None:
    a = read_records(run_dirs["tmp"] / "run1" / "eval" / "samples.jsonl")
    b = read_records(run_dirs["tmp"] / "run2" / "eval" / "samples.jsonl")
    assert a == b
    assert run_dirs["s1"]["overall"] == run_dirs["s2"]["overall"]


def test_run_eval_in_process_live_model(run_dirs: dict[str, Any], tmp_path: Path) -> None:
    from reasonlab.model import load_model

    model, tok = load_model(run_dirs["cfg"].model)
    model.train()
    cfg = run_dirs["cfg"].model_copy(update={"model": None, "report": False})
    s = run_eval(cfg, tmp_path / "live", model=model, tokenizer=tok, progress=False)
    assert model.training  # restored for the trainer
    assert s["overall"] == run_dirs["s1"]["overall"]
    assert not (tmp_path / "live" / "report.md").exists()


def test_run_eval_refuses_seed_clash(run_dirs: dict[str, Any], tmp_path: Path) -> None:
    run = tmp_path / "trainrun"
    (run / "checkpoints").mkdir(parents=True)
    import shutil

    shutil.copytree(run_dirs["cfg"].model, run / "checkpoints" / "step-5")
    clash = eval_problem_seed(0, "knights", "people", 3)
    (run / "config.yaml").write_text(f"seed: {clash}\n")
    cfg = run_dirs["cfg"].model_copy(update={"model": str(run), "report": False})
    with pytest.raises(ReasonlabError, match="also appears in the training config"):
        run_eval(cfg, tmp_path / "x", progress=False)


def test_run_eval_drops_training_prompts(run_dirs: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    import numpy as np

    from reasonlab.seeds import prompt_hash

    run = tmp_path / "trainrun"
    shutil.copytree(run_dirs["cfg"].model, run / "model")
    (run / "config.yaml").write_text("seed: 0\n")
    problems = read_records(run_dirs["tmp"] / "run1" / "eval" / "problems.jsonl")
    (run / "data").mkdir()
    np.save(run / "data" / "prompt_hashes.npy", np.array([prompt_hash(problems[0]["prompt"])], dtype=np.int64))
    cfg = run_dirs["cfg"].model_copy(update={"model": str(run), "report": False})
    s = run_eval(cfg, tmp_path / "x", progress=False)
    hold = s["record"]["holdout"]
    assert hold["dropped_overlapping"] == 1 and hold["training_prompts_checked"] == 1
    assert hold["training_seeds"] == [0]
    ids = {r["id"] for r in read_records(tmp_path / "x" / "eval" / "problems.jsonl")}
    assert problems[0]["id"] not in ids and len(ids) == len(problems)


def test_prompts_longer_than_context_are_empty_truncated_samples(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path, 0, max_seq_len=48)
    s = run_eval(_cfg(model=str(model), report=False), tmp_path / "short", progress=False)
    recs = read_records(tmp_path / "short" / "eval" / "samples.jsonl")
    assert s["timing"]["prompts_over_context"] == 6
    assert all(r["truncated"] and r["length"] == 0 and r["completion"] == "" and r["prompt_tokens"] >= 48 for r in recs)
    assert s["overall"]["truncation_rate"] == 1.0


def test_run_eval_errors() -> None:
    with pytest.raises(ReasonlabError, match="field 'model' is required"):
        run_eval(_cfg(), "/nonexistent/out", progress=False)
    with pytest.raises(ReasonlabError, match="not a checkpoint dir"):
        run_eval(_cfg(model="/nonexistent/model"), "/nonexistent/out", progress=False)
    with pytest.raises(ReasonlabError, match="prompt_style 'fancy'"):  # checked when the config loads
        _cfg(model="/x", prompt_style="fancy")


def test_compare_runs_writes_outputs(run_dirs: dict[str, Any]) -> None:
    tmp = run_dirs["tmp"]
    out = tmp / "cmp"
    res = compare_runs(tmp / "run1", tmp / "run3", out, n_perm=500)
    write_compare_report(res, out)
    assert res["overall"]["n_problems"] == 6
    assert set(res["buckets"]) == {"2", "3"}
    assert set(res["overall"]["delta@k"]) == {"1", "2", "4"}
    for f in ("compare.json", "compare.md", "plots/pass_at_k_by_bucket.png"):
        assert (out / f).is_file()
    same = compare_runs(tmp / "run1", tmp / "run2", None, n_perm=500)
    assert same["overall"]["paired"]["mean_diff"] == 0.0
    assert same["overall"]["paired"]["p_value"] == 1.0
    assert same["overall"]["gain_inside_seed_band"] is None


def test_failure_breakdown_by_hand() -> None:
    from reasonlab.eval.stats import failure_breakdown

    recs = [
        {"correct": True, "process_ok": True, "failure": None},
        {"correct": True, "process_ok": False, "failure": "missing_step"},
        {"correct": False, "process_ok": False, "failure": "wrong_value"},
    ]
    out = failure_breakdown(recs)
    assert out["failures"] == pytest.approx({"missing_step": 1 / 3, "wrong_value": 1 / 3})
    assert out["hacked_rate"] == pytest.approx(1 / 3) and out["hacked"] == pytest.approx({"missing_step": 1 / 3})
    old = [{k: v for k, v in r.items() if k != "failure"} for r in recs]  # records written before the field
    assert failure_breakdown(old)["failures"] is None and failure_breakdown(old)["hacked_rate"] == pytest.approx(1 / 3)
    assert failure_breakdown([{"correct": True, "process_ok": None}])["hacked_rate"] is None


def test_run_eval_bf16_autocast_path_runs_on_cpu(run_dirs: dict[str, Any], tmp_path: Path) -> None:
    """The CUDA evaluation path (bf16 autocast in the sampler) forced on the CPU; fp32 is the default there."""
    cfg = run_dirs["cfg"].model_copy(update={"precision": "bf16", "report": False})
    s = run_eval(cfg, tmp_path / "bf16", progress=False)
    recs = read_records(tmp_path / "bf16" / "eval" / "samples.jsonl")
    assert len(recs) == 2 * 3 * 2 * 2 and s["record"]["config"]["precision"] == "bf16"
    assert run_dirs["cfg"].precision == "auto"
