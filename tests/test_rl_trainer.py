"""The RL trainer end to end on a toy task with a tiny random model (seconds on one core)."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from reasonlab.config import StrictModel, validate
from reasonlab.errors import ReasonlabError
from reasonlab.tasks import Problem, Task, Verification, register
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.curriculum import (
    AdaptiveCurriculum,
    CurriculumConfig,
    StagedCurriculum,
    adaptive_move,
    build_curriculum,
)
from reasonlab.train.rl.rollout import pack_sequences
from reasonlab.train.rl.trainer import train_rl

ANSWER = re.compile(r"<answer>\s*(\S+)\s*</answer>")


class EchoParams(StrictModel):
    low: int = 0
    high: int = 9


@register
class EchoTask(Task):
    """Repeat the digit in the question inside answer tags (a toy with a dense learning signal)."""

    name = "rltoy"
    description = "echo a digit"
    Params = EchoParams

    def sample(self, params: Any, rng: random.Random) -> Problem | None:
        d = str(rng.randint(params.low, params.high))
        return Problem("", self.name, f"<question> {d} </question>", d, f" <answer> {d} </answer>", {"digit": int(d)})

    def render(self, problem: Problem, style: str = "plain") -> tuple[str, str]:
        return problem.prompt, problem.solution

    def verify(self, problem: Problem, completion: str) -> Verification:
        # "format" here = any digit in the completion: a signal a random policy hits often (for the learning test)
        has_digit = any(ch.isdigit() for ch in completion)
        found = ANSWER.findall(completion)
        if not found:
            return Verification(False, has_digit, None, "unparseable")
        ok = found[-1] == problem.answer
        return Verification(ok, has_digit, found[-1], "exact" if ok else "mismatch")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reasonlab.model import Decoder, ModelConfig, TaskTokenizer, save_model

    torch.manual_seed(0)
    texts = [f"<question> {d} </question> <answer> {d} </answer>" for d in range(10)] * 20
    tok = TaskTokenizer.build(texts, vocab_size=300)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=64,
        max_seq_len=64,
    )
    path = tmp_path_factory.mktemp("model") / "init"
    save_model(path, Decoder(cfg), tok)
    return path


def make_config(tmp_path: Path, model: Path, **over: Any) -> RLConfig:
    data: dict[str, Any] = {
        "name": "toy",
        "out_dir": str(tmp_path),
        "init_from": str(model),
        "steps": 2,
        "threads": 1,
        "task": {"name": "rltoy", "reward": "outcome"},
        "rollout": {"batch_size": 8, "group_size": 4, "max_new_tokens": 6},
        "optim": {"lr": 1e-3},
        "sample_every": 1,
        "samples_logged": 2,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return validate(RLConfig, data, source="test")


def read_metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


ENGINE_METRICS = (
    "critic/score/mean",
    "response_length/mean",
    "actor/entropy",
    "actor/pg_clipfrac",
    "actor/grad_norm",
    "frac_reward_zero_std",
    "timing_s/gen",
    "timing_s/reward",
    "timing_s/update",
    "perf/rollout_tokens_per_s",
    "perf/flops_rollout",
    "perf/flops_update",
    "compute/prompts_total",
    "compute/generated_tokens_total",
)


@pytest.mark.parametrize(
    "algorithm",
    [
        {"name": "grpo", "kl": {"placement": "loss", "coef": 0.01}},
        {"name": "dr_grpo", "loss_agg": "seq-mean-token-sum-norm", "clip_eps_high": 0.28},
        {"name": "rloo", "entropy_coef": 0.01},
        {"name": "reinforce_pp", "kl": {"placement": "reward", "estimator": "k1", "coef": 0.01, "adaptive": True}},
        {"name": "reinforce_pp_baseline", "dual_clip": 3.0, "mini_batches": 2},
        {"name": "ppo", "ppo_epochs": 2, "mini_batches": 2, "gamma": 1.0, "lam": 0.95},
    ],
)
def test_algorithms_run_and_log_engine_metrics(tmp_path: Path, tiny_model: Path, algorithm: dict[str, Any]) -> None:
    cfg = make_config(tmp_path, tiny_model, algorithm=algorithm)
    summary = train_rl(cfg, log=lambda _m: None)
    run = tmp_path / "toy"
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == [1, 2]
    for key in ENGINE_METRICS:
        assert key in rows[-1], key
    assert all(torch.isfinite(torch.tensor(float(v))) for r in rows for v in r.values())
    if algorithm.get("kl"):
        assert "actor/kl_loss" in rows[-1]
    if algorithm["name"] == "ppo":
        assert "critic/vf_loss" in rows[-1] and "critic/values/mean" in rows[-1]
    assert summary["totals"]["rollouts"] == 16 and summary["totals"]["prompts"] == 4
    assert (run / "model" / "config.json").is_file()
    assert (run / "samples" / "step-0.jsonl").is_file()
    # the trained-on prompts are recorded for the evaluation's held-out check (lineage + holdout file)
    import numpy as np

    from reasonlab.io import read_records

    prompts = read_records(run / "data" / "train_prompts.jsonl")
    assert 1 <= len(prompts) <= 4 and len(np.load(run / "data" / "prompt_hashes.npy")) == len(prompts)


def test_resume_after_kill_matches_uninterrupted(tmp_path: Path, tiny_model: Path) -> None:
    from reasonlab.model import load_model

    full = make_config(tmp_path / "a", tiny_model, steps=4, save_every=2)
    train_rl(full, log=lambda _m: None)
    # "killed" after step 2 (a checkpoint exists), then resumed to step 4
    train_rl(make_config(tmp_path / "b", tiny_model, steps=2, save_every=2), log=lambda _m: None)
    logs: list[str] = []
    train_rl(make_config(tmp_path / "b", tiny_model, steps=4, save_every=2), log=logs.append)
    assert any("resumed" in m for m in logs)
    ma, _ = load_model(tmp_path / "a" / "toy" / "model")
    mb, _ = load_model(tmp_path / "b" / "toy" / "model")
    for (k, va), vb in zip(ma.state_dict().items(), mb.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert [r["step"] for r in read_metrics(tmp_path / "b" / "toy")] == [1, 2, 3, 4]


def test_rl_learns_the_toy_task(tmp_path: Path, tiny_model: Path) -> None:
    # A random model almost never writes the answer tags, so learn the toy's dense "format" signal instead.
    cfg = make_config(
        tmp_path,
        tiny_model,
        steps=40,
        sample_every=0,
        task={"name": "rltoy", "reward": "format"},
        rollout={"batch_size": 32, "group_size": 8, "max_new_tokens": 6},
        optim={"lr": 3e-3},
    )
    train_rl(cfg, log=lambda _m: None)
    rows = read_metrics(tmp_path / "toy")
    first = sum(r["critic/score/mean"] for r in rows[:5]) / 5
    last = sum(r["critic/score/mean"] for r in rows[-5:]) / 5
    assert last > first + 0.1, (first, last)


def test_dynamic_sampling_and_budget(tmp_path: Path, tiny_model: Path) -> None:
    cfg = make_config(
        tmp_path,
        tiny_model,
        steps=10,
        algorithm={"dynamic_sampling": True, "max_refill_rounds": 2, "overlong_buffer": 2},
        budget={"rollouts": 8},
    )
    summary = train_rl(cfg, log=lambda _m: None)
    assert summary["stop_reason"] == "budget:rollouts"
    rows = read_metrics(tmp_path / "toy")
    assert rows[0]["dynamic_sampling/rounds"] >= 1


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"algorithm": {"name": "bogus"}}, r"unknown algorithm 'bogus'; allowed: .*grpo"),
        ({"reference": "none", "algorithm": {"kl": {"placement": "loss"}}}, "needs a reference model"),
        ({"rollout": {"batch_size": 10, "group_size": 4}}, "not divisible into groups"),
        ({"algorithm": {"loss_agg": "mean"}}, "unknown loss_agg"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path: Path, tiny_model: Path, over: dict[str, Any], message: str) -> None:
    with pytest.raises(ReasonlabError, match=message) as info:
        make_config(tmp_path, tiny_model, **over)
    assert "\n" not in str(info.value)


def test_pack_sequences_positions() -> None:
    ids, resp, mask, pos = pack_sequences([[1, 2, 3], [4]], [[5, 6], [7, 8, 9]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3, 5, 6], [4, 7, 8, 9, 0]]
    assert resp.tolist() == [[5, 6, 0], [7, 8, 9]]
    assert mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    # logit at position len(prompt) - 1 + t predicts response token t
    assert pos.tolist() == [[2, 3, 4], [0, 1, 2]]


def test_curricula() -> None:
    staged = StagedCurriculum(
        CurriculumConfig(
            kind="staged", stages=[{"steps": 2, "knobs": {"high": 3}}, {"steps": 1, "knobs": {"high": 5}}]
        ).stages
    )
    assert [staged.knobs(s)["high"] for s in range(5)] == [3, 3, 5, 5, 5]
    cfg = CurriculumConfig(kind="adaptive", levels=[{"high": 1}, {"high": 2}, {"high": 3}], window=2)
    ad = build_curriculum(cfg)
    assert isinstance(ad, AdaptiveCurriculum)
    ad.update(0.9)
    assert ad.level(0) == 0  # window of 2 not full yet
    ad.update(0.8)
    assert ad.level(0) == 1  # mean 0.85 > 0.7: up
    ad.update(0.1)
    ad.update(0.2)
    assert ad.level(0) == 0  # mean 0.15 < 0.3: down
    ad.update(0.1)
    ad.update(0.1)
    assert ad.level(0) == 0  # already at the easiest level
    state = ad.state_dict()
    other = build_curriculum(cfg)
    other.load_state_dict(state)
    assert other.state_dict() == state
    assert (adaptive_move(0.71, 0.7, 0.3), adaptive_move(0.5, 0.7, 0.3), adaptive_move(0.29, 0.7, 0.3)) == (1, 0, -1)
    with pytest.raises(ReasonlabError, match="staged curriculum needs"):
        validate(CurriculumConfig, {"kind": "staged"})


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("configs/rl_*.yaml")))
def test_shipped_rl_configs_validate(path: Path) -> None:
    from reasonlab.tasks import get_task
    from reasonlab.train.rl.config import load_rl_config

    cfg = load_rl_config(path)
    task = get_task(cfg.task.name)
    task.params(**cfg.task.knobs)
    for stage in cfg.curriculum.stages:
        task.params(**{**cfg.task.knobs, **stage.knobs})
    for level in cfg.curriculum.levels:
        task.params(**{**cfg.task.knobs, **level})


def test_periodic_eval_through_the_harness(tmp_path: Path, tiny_model: Path) -> None:
    eval_cfg = {
        "task": "rltoy",
        "buckets": {"knob": "high", "values": [9]},
        "problems_per_bucket": 3,
        "seeds": 1,
        "samples_per_seed": 2,
        "k": [1, 2],
        "decoding": {"max_new_tokens": 4},
        "bootstrap": 100,
        "threads": 1,
    }
    cfg = make_config(tmp_path, tiny_model, steps=3, log_every=5, eval={"every": 2, "config": eval_cfg})
    train_rl(cfg, log=lambda _m: None)
    rows = read_metrics(tmp_path / "toy")
    assert [r["step"] for r in rows] == [2, 3]  # logged because of the evaluations (step 2 and the last step)
    assert "val-core/rltoy/9/pass@1" in rows[0] and "val-core/rltoy/pass@2" in rows[1]
    assert (tmp_path / "toy" / "evals" / "step-2" / "eval" / "summary.json").is_file()


def test_cli_rl_runs_and_reports_bad_config_in_one_line(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from reasonlab.cli import main

    cfg = make_config(tmp_path, tiny_model, steps=1).model_dump(mode="json")
    good = tmp_path / "rl.yaml"
    good.write_text(yaml.safe_dump(cfg))
    assert main(["rl", str(good), "--name", "cli", "--steps", "1"]) == 0
    assert (tmp_path / "cli" / "model" / "config.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**cfg, "algorithm": {"name": "ppo2"}}))
    capsys.readouterr()
    assert main(["rl", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "ppo2" in err and "grpo" in err and "\n" not in err


def test_rl_never_trains_on_held_out_prompts(tmp_path: Path, tiny_model: Path) -> None:
    """With ``holdout`` (an eval's problems), RL skips those prompts; the space of 10 echo digits makes
    overlap certain without it."""
    from reasonlab.io import read_records, write_records

    held = [{"id": f"h{d}", "prompt": f"<question> {d} </question>"} for d in (3, 7)]
    write_records(tmp_path / "held.jsonl", held)
    cfg = make_config(
        tmp_path, tiny_model, steps=3, holdout=[str(tmp_path / "held.jsonl")], task={"knobs": {"high": 9}}
    )
    train_rl(cfg, log=lambda _m: None)
    trained = {r["prompt"] for r in read_records(tmp_path / "toy" / "data" / "train_prompts.jsonl")}
    assert trained and not trained & {h["prompt"] for h in held}
    tiny_space = make_config(
        tmp_path, tiny_model, name="toy2", holdout=[str(tmp_path / "held.jsonl")], task={"knobs": {"low": 3, "high": 4}}
    )
    with pytest.raises(ReasonlabError, match="too small to train on without its held-out"):
        train_rl(tiny_space, log=lambda _m: None)


def test_rl_prompts_from_a_file_in_order_and_shuffled(tmp_path: Path, tiny_model: Path) -> None:
    """Regression (#15): RL could not read its prompts from a file (to share them with another engine)."""
    from reasonlab.io import read_records, write_records
    from reasonlab.tasks import get_task
    from reasonlab.train.rl.prompts import PromptPool

    toy = get_task("rltoy")
    problems = list(toy.generate(toy.params(), 5, 7))  # 5 distinct digits
    path = tmp_path / "prompts.parquet"
    write_records(path, [p.to_dict() for p in problems])
    cfg = make_config(tmp_path, tiny_model, steps=3, task={"prompts": str(path)}, sample_every=0)
    train_rl(cfg, log=lambda _m: None)
    trained = [r["prompt"] for r in read_records(tmp_path / "toy" / "data" / "train_prompts.jsonl")]
    # 2 prompts a step, 3 steps: positions 0..5 of the file in order (wrapping after 5)
    assert trained == [p.prompt for p in problems]
    pool = PromptPool(problems, "in_order", 0)
    assert [p.id for p in pool.take(2, 0, 2, 2, 1)] == [problems[4].id, problems[0].id]
    # dynamic sampling reserves (R + 1) P positions a step; refill round r reads the r-th block
    assert [p.id for p in pool.take(1, 1, 2, 2, 3)] == [problems[i].id for i in (3, 4)]
    shuffled = PromptPool(problems, "shuffle", 0)
    epoch0 = [shuffled.take(s, 0, 1, 1, 1)[0].id for s in range(5)]
    assert sorted(epoch0) == sorted(p.id for p in problems) and epoch0 != [p.id for p in problems]
    assert [PromptPool(problems, "shuffle", 0).take(s, 0, 1, 1, 1)[0].id for s in range(5)] == epoch0


def test_rl_prompts_file_is_checked_at_load(tmp_path: Path, tiny_model: Path) -> None:
    from reasonlab.io import write_records

    with pytest.raises(ReasonlabError, match="no such file"):
        make_config(tmp_path, tiny_model, task={"prompts": str(tmp_path / "missing.jsonl")})
    with pytest.raises(ReasonlabError, match="curriculum"):
        write_records(tmp_path / "p.jsonl", [])
        make_config(
            tmp_path,
            tiny_model,
            task={"prompts": str(tmp_path / "p.jsonl")},
            curriculum={"kind": "staged", "stages": [{"steps": 1, "knobs": {}}]},
        )
    with pytest.raises(ReasonlabError, match="every problem is held out"):
        train_rl(make_config(tmp_path, tiny_model, task={"prompts": str(tmp_path / "p.jsonl")}), log=lambda _m: None)
    assert not (tmp_path / "toy").exists()


@pytest.mark.slow
def test_rl_logs_to_tensorboard(tmp_path: Path, tiny_model: Path) -> None:
    pytest.importorskip("tensorboard")
    from test_tracking import tensorboard_scalars

    train_rl(make_config(tmp_path, tiny_model, logging=["jsonl", "tensorboard"], sample_every=0), log=lambda _m: None)
    tb = tensorboard_scalars(tmp_path / "toy" / "tensorboard")
    rows = read_metrics(tmp_path / "toy")
    assert [v for _, v in tb["critic/score/mean"]] == [pytest.approx(r["critic/score/mean"]) for r in rows]
    assert [s for s, _ in tb["actor/grad_norm"]] == [1, 2]


def test_rl_bf16_autocast_path_runs_on_cpu(tmp_path: Path, tiny_model: Path) -> None:
    """The CUDA path (bf16 autocast in rollouts and updates) forced on the CPU: it runs and learns nothing NaN."""
    from reasonlab.sampling import amp_dtype

    assert amp_dtype("cpu", "auto") is None and amp_dtype("cuda", "auto") == torch.bfloat16
    assert amp_dtype("cpu", "bf16") == torch.bfloat16 and amp_dtype("cuda", "fp32") is None
    cfg = make_config(tmp_path, tiny_model, precision="bf16", algorithm={"kl": {"placement": "loss"}})
    train_rl(cfg, log=lambda _m: None)
    rows = read_metrics(tmp_path / "toy")
    assert len(rows) == 2 and all(math.isfinite(r["actor/pg_loss"]) and math.isfinite(r["actor/kl_loss"]) for r in rows)


def test_length_chunks_and_chunked_forward_match_one_pass() -> None:
    """The update's length-sorted chunks (no padding computed) give one pass's numbers in the original order."""
    from reasonlab.model import Decoder, ModelConfig
    from reasonlab.train.rl.rollout import length_chunks, policy_forward, policy_forward_chunked

    assert length_chunks([5, 5, 5]) == [[0, 1, 2]]  # nothing to save: one pass
    runs = length_chunks([10, 400, 12, 390, 11], overhead=10)
    assert sorted(i for r in runs for i in r) == [0, 1, 2, 3, 4] and [1, 3] in runs
    torch.manual_seed(0)
    model = Decoder(
        ModelConfig(
            vocab_size=50,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            num_kv_heads=1,
            intermediate_size=64,
            max_seq_len=128,
        )
    )
    prompts = [[1] * 3, [2] * 40, [3] * 5, [4] * 38]
    resps = [[5] * 2, [6] * 30, [7] * 1, [8] * 25]
    input_ids, responses, mask, positions = pack_sequences(prompts, resps, pad_id=0)
    one = policy_forward(model, input_ids, positions, responses, with_entropy=True)
    import reasonlab.train.rl.rollout as ro

    saved = ro.CHUNK_OVERHEAD_TOKENS
    ro.CHUNK_OVERHEAD_TOKENS = 1
    try:
        assert len(length_chunks([5, 70, 6, 63], overhead=1)) > 1
        logp, ent, _ = policy_forward_chunked(
            model, input_ids, positions, responses, mask, with_entropy=True, entropy_grad=False
        )
    finally:
        ro.CHUNK_OVERHEAD_TOKENS = saved
    assert one[1] is not None and ent is not None
    assert torch.allclose(logp * mask, one[0] * mask, atol=1e-5)
    assert torch.allclose(ent * mask, one[1] * mask, atol=1e-5)
    logp.sum().backward()  # gradients flow through every chunk
    assert all(p.grad is not None for p in model.parameters())


def test_shared_prefix_forward_matches_the_plain_pass() -> None:
    """Each group's prompt computed once: log-probs, entropy, values and gradients of the plain pass."""
    from reasonlab.model import Decoder, ModelConfig
    from reasonlab.train.rl.prefix import policy_forward_shared
    from reasonlab.train.rl.rollout import ValueHead, policy_forward

    torch.manual_seed(0)
    model = Decoder(
        ModelConfig(
            vocab_size=50,
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            num_kv_heads=2,
            intermediate_size=64,
            max_seq_len=256,
        )
    )
    head = ValueHead(32)
    with torch.no_grad():
        for name, p in [*model.named_parameters(), *head.named_parameters()]:
            if name.endswith("bias") or "norm" in name or "proj" in name:
                p.add_(torch.randn_like(p) * 0.2)
    gen = torch.Generator().manual_seed(1)
    prompts, resps = [], []
    for length in (7, 30, 12):
        prompt = torch.randint(1, 50, (length,), generator=gen).tolist()
        for _ in range(4):  # groups of 4 responses of 0..39 tokens
            n = int(torch.randint(0, 40, (1,), generator=gen))
            prompts.append(prompt)
            resps.append(torch.randint(1, 50, (n,), generator=gen).tolist())
    input_ids, responses, mask, positions = pack_sequences(prompts, resps, pad_id=0)
    kw: dict[str, Any] = {"temperature": 0.7, "value_head": head, "with_entropy": True}
    plain = policy_forward(model, input_ids, positions, responses, **kw)
    shared = policy_forward_shared(model, input_ids, positions, responses, mask, **kw)
    for a, b in zip(plain, shared, strict=True):
        assert a is not None and b is not None
        assert torch.allclose(a * mask, b * mask, atol=1e-5)
    grads = []
    for logp, _, values in (plain, shared):
        model.zero_grad()
        head.zero_grad()
        ((logp + values) * mask).sum().backward()
        grads.append([p.grad.clone() for p in [*model.parameters(), *head.parameters()]])
    worst = max(float(((a - b).abs() / (b.abs().max() + 1e-6)).max()) for a, b in zip(*grads, strict=True))
    assert worst < 1e-5, worst
    # all prompts distinct: the chunked plain pass
    single = policy_forward_shared(model, input_ids[::4], positions[::4], responses[::4], mask[::4], **kw)
    assert torch.allclose(single[0] * mask[::4], plain[0][::4] * mask[::4], atol=1e-5)


def test_mixture_counts_are_an_unbiased_rounding_of_the_shares() -> None:
    from reasonlab.train.rl.prompts import mixture_counts

    rng = random.Random(0)
    assert all(mixture_counts([1.0, 1.0], 8, rng) == [4, 4] for _ in range(50))  # whole shares: no draw
    draws = [mixture_counts([0.3, 0.7], 8, rng) for _ in range(20000)]
    assert {tuple(d) for d in draws} == {(2, 6), (3, 5)}  # floor or ceil of 2.4 / 5.6, summing to 8
    assert sum(d[0] for d in draws) / 20000 == pytest.approx(2.4, abs=0.02)  # E = 8 x 0.3 (sd of mean 0.0035)
    rare = [mixture_counts([0.001, 0.499, 0.5], 8, rng) for _ in range(20000)]
    assert all(sum(d) == 8 for d in rare)
    # 0.1% of 160,000 prompts: 160 expected, binomial sd 12.6
    assert abs(sum(d[0] for d in rare) - 160) < 4 * 12.6
    for _ in range(200):  # any weights, any n: counts are floor or ceil of the quota and sum to n
        w = [rng.uniform(0.01, 5) for _ in range(rng.randint(2, 6))]
        n = rng.randint(0, 40)
        c = mixture_counts(w, n, rng)
        assert sum(c) == n and all(
            math.floor(n * x / sum(w)) <= k <= math.ceil(n * x / sum(w)) for x, k in zip(w, c, strict=True)
        )


def test_rl_prompts_from_a_mixture_of_knob_sets(tmp_path: Path, tiny_model: Path) -> None:
    """A 50/50 mixture (the context-transfer study's RL): each step draws half its prompts from each part,
    each part with its knobs over the task's; a run without a mixture draws exactly what it drew before."""
    from reasonlab.io import read_records
    from reasonlab.tasks import get_task
    from reasonlab.train.rl.prompts import draw_mixture, draw_problems

    mix = {
        "knobs": {"low": 0, "high": 4},
        "mixture": [{"weight": 1, "knobs": {}}, {"weight": 1, "knobs": {"low": 5, "high": 9}}],
    }
    cfg = make_config(tmp_path, tiny_model, steps=3, task=mix, rollout={"batch_size": 16}, sample_every=0)
    train_rl(cfg, log=lambda _m: None)
    digits = [int(r["prompt"].split()[1]) for r in read_records(tmp_path / "toy" / "data" / "train_prompts.jsonl")]
    assert {d for d in digits if d <= 4} and {d for d in digits if d >= 5}  # distinct prompts of both parts
    toy = get_task("rltoy")
    parts = cfg.task.weighted_params({})
    drawn = draw_mixture(toy, parts, 8, 11, set())
    assert sorted(p.meta["digit"] >= 5 for p in drawn) == [False] * 4 + [True] * 4
    plain = make_config(tmp_path, tiny_model).task
    assert [p.prompt for p in draw_mixture(toy, plain.weighted_params({}), 6, 5, set())] == [
        p.prompt for p in draw_problems(toy, plain.params, 6, 5, set())
    ]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"mixture": [{"weight": 1}]}, "at least 2"),
        ({"mixture": [{"weight": 1}, {"weight": 0}]}, "greater than 0"),
        ({"mixture": [{"weight": 1}, {"weight": 1, "knobs": {"hgih": 3}}]}, "hgih"),
    ],
)
def test_bad_mixtures_are_one_line_errors(tmp_path: Path, tiny_model: Path, task: dict[str, Any], message: str) -> None:
    with pytest.raises(ReasonlabError, match=message):
        make_config(tmp_path, tiny_model, task=task)


def test_mixture_refuses_a_prompts_file_and_unstated_settings(tmp_path: Path) -> None:
    from reasonlab.train.rl.config import RLTaskSpec

    with pytest.raises(ValueError, match="either prompts"):
        RLTaskSpec(name="rltoy", prompts=__file__, mixture=[{"weight": 1}, {"weight": 1}])
    with pytest.raises(ValueError, match="does not state this setting"):
        RLTaskSpec(
            name="arith", mixture=[{"weight": 1, "knobs": {"modulus": 7}}, {"weight": 1, "knobs": {"modulus": 23}}]
        )
    ok = RLTaskSpec(
        name="arith",
        knobs={"modulus": 7},
        mixture=[{"weight": 1, "knobs": {"context": "zoo"}}, {"weight": 1, "knobs": {"context": "school"}}],
    )
    assert [p.context.items[0][0] for _, p in ok.weighted_params({"ops": 3})] == ["zoo", "school"]
