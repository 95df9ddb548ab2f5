"""Training: mixture allocation, packing, batch order, schedule, pretrain/midtrain runs, exact resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toytask_train  # noqa: F401  (registers the "toyadd" task)
from reasonlab.config import validate
from reasonlab.errors import ReasonlabError
from reasonlab.rundir import RunDir, lineage_prompt_hashes
from reasonlab.seeds import TRAIN_SEED_BASE, is_training_seed, train_data_seed
from reasonlab.train.corpus import (
    OPEN_END,
    DataConfig,
    Document,
    PackedCorpus,
    allocate_counts,
    document_targets,
    generate_documents,
    pack_documents,
)
from reasonlab.train.midtrain import MidtrainConfig, midtrain
from reasonlab.train.optim import lr_at
from reasonlab.train.pretrain import PretrainConfig, pretrain


def test_allocate_counts_examples() -> None:
    assert allocate_counts([0.99, 0.01], 1000) == [990, 10]
    assert allocate_counts([1, 1, 1], 10) == [4, 3, 3]
    assert allocate_counts([0.999, 0.001], 100_000) == [99_900, 100]
    assert allocate_counts([0.2, 0.8], 7) == [1, 6]
    with pytest.raises(ReasonlabError):
        allocate_counts([0.0, 0.0], 5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.001, 10.0), min_size=1, max_size=6), st.integers(0, 5000))
def test_allocate_counts_properties(weights: list[float], total: int) -> None:
    counts = allocate_counts(weights, total)
    assert sum(counts) == total
    s = sum(weights)
    for w, c in zip(weights, counts, strict=True):
        assert math.floor(total * w / s) <= c <= math.ceil(total * w / s)


def test_seed_space() -> None:
    assert train_data_seed(0, 0) == TRAIN_SEED_BASE
    assert train_data_seed(3, 2, "midtrain") == TRAIN_SEED_BASE + 3000 + 500 + 2
    assert is_training_seed(train_data_seed(0, 0)) and not is_training_seed(12345)
    with pytest.raises(ReasonlabError):
        train_data_seed(0, 0, "rl")


def _doc(n: int, n_prompt: int) -> Document:
    return Document(list(range(1, n + 1)), n_prompt, 0, {})


def test_document_targets() -> None:
    d = _doc(6, 3)
    assert document_targets(d, "ntp").tolist() == [0, 1, 1, 1, 1, 1]
    assert document_targets(d, "sft").tolist() == [0, 0, 0, 1, 1, 1]
    cut = Document(list(range(1, 7)), 3, 0, {OPEN_END: True})  # a document cut through a text
    assert document_targets(cut, "ntp").tolist() == [0, 1, 1, 1, 1, 0]
    assert document_targets(cut, "sft").tolist() == [0, 0, 0, 1, 1, 0]


def test_next_token_cuts_teach_no_eos_but_whole_answers_do() -> None:
    def flags(task: str, style: str) -> set[bool]:
        data = validate(DataConfig, {"mixture": [{"task": task, "knobs": {}}], "num_problems": 5, "style": style})
        return {meta[OPEN_END] for _, _, _, meta in generate_documents(data, 0)[0]}

    assert flags("nexttoken", "ntp") == {True}  # CONTEXT TOKEN: the text goes on
    assert flags("nexttoken", "plain") == {False}  # the answer slot ends the document
    assert flags("arith", "plain") == {False}


def test_packing_keeps_documents_whole() -> None:
    docs = [_doc(n, 2) for n in (5, 7, 3, 9, 4, 12)]
    tokens, targets, dropped = pack_documents(docs, 10, pad_id=0, objective="sft")
    assert dropped == 1  # the 12-token document
    assert int((tokens != 0).sum()) == 5 + 7 + 3 + 9 + 4
    # every document appears contiguously (ids 1..n) inside one row, and pads are never targets
    for row, trow in zip(tokens, targets, strict=True):
        assert not trow[row == 0].any()
    assert int(targets.sum()) == sum(n - 2 for n in (5, 7, 3, 9, 4))


def test_batch_order_is_a_pure_function_of_step() -> None:
    tokens = np.arange(40, dtype=np.int32).reshape(10, 4)
    corpus = PackedCorpus(tokens, np.ones_like(tokens, dtype=np.uint8), seed=3, val_rows=2)
    assert corpus.n_rows == 8
    epoch0 = np.concatenate([corpus.batch_rows(s, 2) for s in range(4)])
    assert sorted(epoch0.tolist()) == list(range(8))
    again = PackedCorpus(tokens, np.ones_like(tokens, dtype=np.uint8), seed=3, val_rows=2)
    assert again.batch_rows(5, 2).tolist() == corpus.batch_rows(5, 2).tolist()
    x, y, n = corpus.batch(0, 2)
    assert x.shape == (2, 3) and y.shape == (2, 3) and n == 6


def test_lr_schedule_hand_values() -> None:
    assert lr_at(0, 110, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_at(9, 110, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_at(10, 110, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_at(60, 110, 1.0, 10, 0.1) == pytest.approx(0.55)
    assert lr_at(110, 110, 1.0, 10, 0.1) == pytest.approx(0.1)


def _config(tmp_path, name: str, steps: int = 8, checkpoint_every: int = 3) -> PretrainConfig:
    return validate(
        PretrainConfig,
        {
            "name": name,
            "out_dir": str(tmp_path),
            "seed": 1,
            "data": {
                "mixture": [
                    {"task": "toyadd", "weight": 0.75, "knobs": {"ops": 4}},
                    {"task": "toyadd", "weight": 0.25, "knobs": {"ops": 3, "context": "b"}},
                ],
                "num_problems": 400,
                "seq_len": 48,
                "val_rows": 4,
                "tokenizer_vocab_size": 300,
            },
            "model": {
                "preset": "tiny",
                "overrides": {
                    "hidden_size": 32,
                    "num_layers": 2,
                    "num_heads": 2,
                    "num_kv_heads": 1,
                    "intermediate_size": 64,
                },
            },
            "optim": {"lr": 3e-3, "warmup_steps": 2, "max_steps": steps, "batch_size": 8},
            "runtime": {"device": "cpu", "log_every": 4, "checkpoint_every": checkpoint_every, "keep_last": 0},
            "eval": {"task": "toyadd", "buckets": [3, 5], "n_per_bucket": 8, "max_new_tokens": 16},
        },
    )


def test_pretrain_run_directory(tmp_path) -> None:
    summary = pretrain(_config(tmp_path, "smoke"), log=lambda m: None)
    run = RunDir(tmp_path / "smoke")
    rows = run.read_metrics()
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert {"loss", "lr", "grad_norm", "perf/tokens_total", "perf/flops_total"} <= set(rows[0])
    assert rows[-1]["perf/tokens_total"] == 8 * 8 * 48
    assert "val/loss" in rows[-1]
    assert [s for s, _ in run.checkpoints()] == [3, 6, 8]
    assert (run.model_dir / "model.safetensors").is_file() and (run.path / "data" / "stats.json").is_file()
    assert set(summary["quick_eval"]) == {"3", "5"}
    assert summary["quick_eval"]["3"]["n"] == 8 and "overlap" in summary["quick_eval"]["3"]
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_killed_and_resumed_run_matches_uninterrupted(tmp_path) -> None:
    full = pretrain(_config(tmp_path, "full"), log=lambda m: None)

    class Kill(Exception):
        pass

    def kill_at_5(step: int, _: dict) -> None:
        if step == 5:
            raise Kill

    with pytest.raises(Kill):
        pretrain(_config(tmp_path, "killed"), on_step=kill_at_5, log=lambda m: None)
    assert RunDir(tmp_path / "killed").latest_checkpoint().name == "step-3"
    resumed = pretrain(_config(tmp_path, "killed"), log=lambda m: None)
    assert resumed["resumed_from"] == 3
    assert resumed["final_loss"] == full["final_loss"]
    a = RunDir(tmp_path / "full").read_metrics()
    b = RunDir(tmp_path / "killed").read_metrics()
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert a[-1]["perf/flops_total"] == b[-1]["perf/flops_total"]


def test_midtrain_sft_and_ntp(tmp_path) -> None:
    pretrain(_config(tmp_path, "base", steps=4, checkpoint_every=0), log=lambda m: None)
    parent = tmp_path / "base" / "model"
    for objective in ("sft", "ntp"):
        cfg = validate(
            MidtrainConfig,
            {
                "name": f"mid-{objective}",
                "out_dir": str(tmp_path),
                "init_from": str(parent),
                "objective": objective,
                "data": {
                    "mixture": [
                        {"task": "toyadd", "weight": 0.2, "knobs": {"ops": 3}},
                        {"task": "toyadd", "weight": 0.8, "knobs": {"ops": 5}},
                    ],
                    "num_problems": 100,
                    "seq_len": 48,
                    "val_rows": 2,
                },
                "optim": {"lr": 1e-3, "warmup_steps": 1, "max_steps": 3, "batch_size": 4},
                "runtime": {"device": "cpu"},
            },
        )
        summary = midtrain(cfg, log=lambda m: None)
        rows = RunDir(tmp_path / f"mid-{objective}").read_metrics()
        # compute totals continue from the parent's (4 steps x 8 rows x 48 tokens)
        assert rows[-1]["perf/tokens_total"] == 4 * 8 * 48 + 3 * 4 * 48
        assert summary["steps"] == 3
    sft = RunDir(tmp_path / "mid-sft").read_metrics()
    ntp = RunDir(tmp_path / "mid-ntp").read_metrics()
    assert sft[0]["target_tokens"] < ntp[0]["target_tokens"]  # prompts are not targets under SFT
    # the overlap check follows init_from: the mid-trained model's lineage includes the base corpus
    files, _ = lineage_prompt_hashes(tmp_path / "mid-sft" / "model")
    assert files == [str((tmp_path / name / "data" / "prompt_hashes.npy").resolve()) for name in ("mid-sft", "base")]


def test_bad_configs_are_one_line_errors(tmp_path) -> None:
    good = _config(tmp_path, "x").model_dump()
    bad = {**good, "optim": {**good["optim"], "lrr": 1}}
    with pytest.raises(ReasonlabError, match="lrr"):
        validate(PretrainConfig, bad)
    bad = {**good, "data": {**good["data"], "mixture": [{"task": "nope"}]}}
    with pytest.raises(ReasonlabError, match="unknown task 'nope'"):
        validate(PretrainConfig, bad)
    with pytest.raises(ReasonlabError, match="init_from"):
        midtrain(
            validate(
                MidtrainConfig,
                {"name": "m", "out_dir": str(tmp_path), "init_from": str(tmp_path / "no"), "data": good["data"]},
            )
        )


# ----------------------------------------------------------------------------- corpus softmax


class _FixedLogits:
    """A stand-in model whose logits are the same vector at every position."""

    def __init__(self, z: list[float]) -> None:
        import torch

        self.z = torch.tensor(z)

    def __call__(self, x):
        return self.z.expand(*x.shape, len(self.z))


def test_corpus_ids_and_restricted_loss_by_hand() -> None:
    import torch

    from reasonlab.train.loop import corpus_ids, loss_fn

    tokens = np.array([[1, 3, 3, 1], [3, 1, 1, 3]], dtype=np.int32)
    corpus = PackedCorpus(tokens, np.ones_like(tokens, dtype=np.uint8), seed=0, val_rows=1)
    keep, remap = corpus_ids(corpus, vocab_size=5)
    assert keep.tolist() == [1, 3]
    assert remap.tolist() == [-100, 0, -100, 1, -100]
    model = _FixedLogits([0.0, 1.0, 0.0, 2.0, 5.0])
    x = torch.zeros(1, 3, dtype=torch.long)
    y = torch.tensor([[3, 1, -100]])
    # over ids {1, 3}: -log(e^2 / (e^1 + e^2)) + -log(e^1 / (e^1 + e^2)) = log(1 + e^-1) + log(1 + e)
    expected = math.log(1 + math.exp(-1)) + math.log(1 + math.e)
    assert float(loss_fn(model, x, y, (keep, remap))) == pytest.approx(expected, rel=1e-6)
    # over the whole vocabulary the unseen id 4 (logit 5) takes most of the mass
    full = -(2 - math.log(sum(math.exp(v) for v in (0, 1, 0, 2, 5)))) - (
        1 - math.log(sum(math.exp(v) for v in (0, 1, 0, 2, 5)))
    )
    assert float(loss_fn(model, x, y)) == pytest.approx(full, rel=1e-6)


def test_corpus_ids_rejects_ids_beyond_the_vocabulary() -> None:
    from reasonlab.train.loop import corpus_ids

    tokens = np.array([[1, 7], [2, 3]], dtype=np.int32)
    with pytest.raises(ReasonlabError, match="id 7, beyond the model's vocabulary of 5"):
        corpus_ids(PackedCorpus(tokens, np.ones_like(tokens, dtype=np.uint8), seed=0), vocab_size=5)


def test_quick_eval_counts_process_verified_answers_apart(monkeypatch) -> None:
    """A right answer reached with a wrong step counts for accuracy but not for process accuracy."""
    from reasonlab.eval import quick as qe
    from reasonlab.tasks import get_task

    task = get_task("arith")
    knobs = {"distractors": 0, "operators": "+", "modulus": 7}
    problems = list(task.generate(task.params(ops=3, **knobs), 4, 0))
    gold = [p.solution for p in problems]
    # the second completion repeats the right answer after a corrupted first step
    first_value = gold[1].split(" = ")[1].split(".")[0]
    broken = gold[1].replace(f" = {first_value}.", f" = {(int(first_value) + 1) % 7}.", 1)
    texts = [gold[0], broken, "Answer: 0.", gold[3]]
    monkeypatch.setattr(qe, "greedy_generate", lambda *a, **k: texts)
    cfg = qe.QuickEvalConfig(task="arith", knobs=knobs, buckets=[3], n_per_bucket=4, seed=0)
    row = qe.run_quick_eval(cfg, model=type("M", (), {"eval": lambda self: None})(), tokenizer=None)["3"]
    assert row["correct"] == 3 and row["accuracy"] == 0.75
    assert row["process_accuracy"] == 0.5


def test_stop_at_is_a_prefix_of_the_full_schedule_and_resumes_onto_it(tmp_path) -> None:
    """``optim.stop_at`` stops early with max_steps' schedule; raising it later continues the same run."""
    full = pretrain(_config(tmp_path, "full"), log=lambda m: None)
    cfg = _config(tmp_path, "budget")
    cfg.optim.stop_at = 5
    early = pretrain(cfg, log=lambda m: None)
    assert early["steps"] == 5
    a = RunDir(tmp_path / "full").read_metrics()
    b = RunDir(tmp_path / "budget").read_metrics()
    assert [r["loss"] for r in b] == [r["loss"] for r in a[:5]]
    assert [r["lr"] for r in b] == [r["lr"] for r in a[:5]]  # the 8-step cosine, not a 5-step one
    assert RunDir(tmp_path / "budget").latest_checkpoint().name == "step-5"
    cfg.optim.stop_at = None
    resumed = pretrain(cfg, log=lambda m: None)
    assert resumed["resumed_from"] == 5 and resumed["final_loss"] == full["final_loss"]
    cfg.optim.stop_at = 4
    with pytest.raises(ReasonlabError, match=r"past optim\.stop_at 4"):
        pretrain(cfg, log=lambda m: None)
