"""Reward math against hand-computed numbers, and scheme selection errors."""

import pytest

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import (
    SCHEMES,
    compute_reward,
    dense_process_reward,
    logic_rl_reward,
    partial_credit,
    prefix_match_reward,
    process_score,
)
from reasonlab.tasks.base import ProcessCheck, Verification


def test_process_score_hand_computed():
    # 5 gold nodes, one wrong value: 1 - 1/5 = 0.8
    assert process_score(1, 0, 0, 0, 5, False) == pytest.approx(0.8)
    # value + dep mismatch + 1 missing + answer wrong on 4 nodes: 1 - 4/4 = 0
    assert process_score(1, 1, 1, 0, 4, True) == 0.0
    # extra steps are capped at |V|: 1 - min(10, 3)/3 -> 0, never negative
    assert process_score(0, 0, 0, 10, 3, False) == 0.0
    # two extra on 8 nodes: 1 - 2/8
    assert process_score(0, 0, 0, 2, 8, False) == pytest.approx(0.75)
    assert process_score(0, 0, 0, 0, 0, False) == 0.0


def test_dense_process_reward_matches_reference_example():
    # Reference: one wrong intermediate value, right answer -> 0.8 under 0.2/0.8 on 5 nodes
    # (0.2*1 + 0.8*0.8)/1.0 = 0.84; the reference's "0.8" is the process score itself.
    assert dense_process_reward(True, 0.8) == pytest.approx(0.84)
    assert dense_process_reward(True, 1.0) == pytest.approx(1.0)
    assert dense_process_reward(False, 1.0) == 0.0
    assert dense_process_reward(True, 0.5, w_a=0.5, w_s=0.5) == pytest.approx(0.75)
    with pytest.raises(ReasonlabError):
        dense_process_reward(True, 0.5, w_a=0, w_s=0)


def test_logic_rl_totals():
    assert logic_rl_reward(True, "exact") == 3.0
    assert logic_rl_reward(True, "mismatch") == -0.5
    assert logic_rl_reward(True, "unparseable") == -1.0
    for status in ("exact", "mismatch", "unparseable"):
        assert logic_rl_reward(False, status) == -3.0


def test_partial_credit():
    assert partial_credit(True, 3, 3) == 1.0
    assert partial_credit(False, 2, 4) == pytest.approx(0.3 + 0.7 * 0.5)
    assert partial_credit(False, 0, 4) == pytest.approx(0.3)
    assert partial_credit(False, None, None) == 0.0


def test_prefix_match_boundaries():
    target = b"hello world"
    bounds = [5, 11]  # tokens "hello", " world"
    assert prefix_match_reward(b"hello", target, bounds) == 1.0
    assert prefix_match_reward(b"hello world", target, bounds) == 1.0
    assert prefix_match_reward(b"hel", target, bounds) == 0.0  # not a token boundary
    assert prefix_match_reward(b"help", target, bounds) == 0.0
    assert prefix_match_reward(b"", target, bounds) == 0.0


def _v(correct: bool, ok_process: bool = True) -> Verification:
    check = ProcessCheck(n_gold=5, matched_ok=5 if ok_process else 4, value_mismatch=0 if ok_process else 1)
    return Verification(correct=correct, format_ok=True, pred="3", answer_status="exact", process=check)


def test_schemes_on_verifications():
    assert compute_reward("outcome", _v(True)) == 1.0
    assert compute_reward("strict", _v(True, ok_process=False)) == 0.0
    assert compute_reward("process", _v(True, ok_process=False)) == pytest.approx(0.84)
    assert compute_reward("process", _v(True, ok_process=False), w_a=0.5, w_s=0.5) == pytest.approx(0.9)
    assert compute_reward("process", _v(False)) == 0.0


def test_scheme_errors_are_one_line():
    with pytest.raises(ReasonlabError, match="unknown reward 'nope'; choose from"):
        compute_reward("nope", _v(True))
    with pytest.raises(ReasonlabError, match="takes no argument 'w_x'"):
        compute_reward("process", _v(True), w_x=1.0)
    bare = Verification(correct=True, format_ok=True, pred="1", answer_status="exact")
    with pytest.raises(ReasonlabError, match="needs a process check"):
        compute_reward("strict", bare)
    for name in SCHEMES:
        assert "\n" not in SCHEMES[name].description
