"""Rollouts decoded by several processes (rollout.workers): the split, shared weights, the trainer end to end."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.model import load_model
from reasonlab.sampling import SamplingParams, generate
from reasonlab.train.rl.trainer import train_rl
from reasonlab.train.rl.workers import RolloutWorkers, chunk_bounds
from test_rl_trainer import make_config, read_metrics, tiny_model  # noqa: F401 (fixture)


def test_chunk_bounds_hand_values() -> None:
    assert chunk_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert chunk_bounds(64, 2) == [(0, 32), (32, 64)]
    assert chunk_bounds(1, 2) == [(0, 0), (0, 1)]


@given(st.integers(0, 500), st.integers(1, 16))
def test_chunk_bounds_cover_every_row_once(n: int, parts: int) -> None:
    bounds = chunk_bounds(n, parts)
    assert len(bounds) == parts and bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_workers_decode_each_chunk_as_this_process_would_with_the_current_weights(tiny_model: Path) -> None:  # noqa: F811
    model, tok = load_model(tiny_model)
    prompts = [f"<question> {d % 10} </question>" for d in range(12)]
    seeds = list(range(100, 112))
    sp = SamplingParams(temperature=1.0, max_new_tokens=8)

    def by_chunk() -> list[list[int]]:
        torch.set_num_threads(1)
        out = []
        for lo, hi in chunk_bounds(len(prompts), 2):
            gens = generate(model, tok, prompts[lo:hi], sp, seeds[lo:hi], add_bos=True, shared_prefix=False)
            out += [g.token_ids for g in gens]
        return out

    pool = RolloutWorkers(model, tok, 2, None, threads=1)
    try:
        first = [g.token_ids for g in pool.generate(prompts, sp, seeds, add_bos=True)]
        assert first == by_chunk()
        # an optimizer step updates the weights in place: the worker decodes with the new ones
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.5)
        second = [g.token_ids for g in pool.generate(prompts, sp, seeds, add_bos=True)]
        assert second == by_chunk() and second != first
    finally:
        pool.close()
    assert pool._procs == []
    # one worker (or None) decodes here, every row in one call
    here = RolloutWorkers(model, tok, None, None, threads=1)
    direct = generate(model, tok, prompts, sp, seeds, add_bos=True, shared_prefix=False)
    assert [g.token_ids for g in here.generate(prompts, sp, seeds, add_bos=True)] == [g.token_ids for g in direct]


def test_rl_with_two_rollout_workers_runs_end_to_end(tmp_path: Path, tiny_model: Path) -> None:  # noqa: F811
    cfg = make_config(tmp_path, tiny_model, steps=3, threads=2, rollout={"workers": 2})
    summary = train_rl(cfg, log=lambda _m: None)
    assert summary["totals"]["rollouts"] == 24 and summary["steps"] == 3
    rows = read_metrics(tmp_path / "toy")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["perf/rollout_tokens_per_s"] > 0 for r in rows)
    assert torch.get_num_threads() == 2  # the trainer's threads are back after each decode


def test_workers_need_the_cpu_and_a_positive_count(tmp_path: Path, tiny_model: Path) -> None:  # noqa: F811
    with pytest.raises(ReasonlabError, match=r"rollout\.workers"):
        make_config(tmp_path, tiny_model, rollout={"workers": 0})
    model, tok = load_model(tiny_model)
    with pytest.raises(ReasonlabError, match="needs the CPU"):
        RolloutWorkers(model.to("meta"), tok, 2, None, threads=2)


def test_a_dead_worker_is_a_one_line_error_not_a_hang(tiny_model: Path) -> None:  # noqa: F811
    model, tok = load_model(tiny_model)
    prompts = [f"<question> {d} </question>" for d in range(4)]
    sp = SamplingParams(temperature=1.0, max_new_tokens=4)
    pool = RolloutWorkers(model, tok, 2, None, threads=1)
    try:
        pool.generate(prompts, sp, [1, 2, 3, 4], add_bos=True)
        pool._procs[0].kill()
        pool._procs[0].join()
        with pytest.raises(ReasonlabError, match=r"rollout worker \(pid \d+\) died"):
            pool.generate(prompts, sp, [1, 2, 3, 4], add_bos=True)
    finally:
        pool.close()
