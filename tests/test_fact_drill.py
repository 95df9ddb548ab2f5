"""The fact-drill script's math (scripts/mod23_fact_drill.py), against hand-computed values."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "mod23_fact_drill.py"
_spec = importlib.util.spec_from_file_location("mod23_fact_drill", _PATH)
assert _spec is not None and _spec.loader is not None
drill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(drill)


def test_op_blind_optimum_hand_computed() -> None:
    # mod 2, + and *: pairs (0,0) -> {0,0}; (0,1), (1,0) -> {1,0}; (1,1) -> {0,1}.
    acc, loss = drill.op_blind_optimum("+*", 2)
    assert acc == pytest.approx((1 + 0.5 + 0.5 + 0.5) / 4)
    assert loss == pytest.approx(3 * math.log(2) / 4)


def test_op_blind_optimum_single_operator_is_perfect() -> None:
    assert drill.op_blind_optimum("+", 23) == (1.0, 0.0)


def test_op_blind_optimum_three_operators_mod_23() -> None:
    acc, loss = drill.op_blind_optimum("+-*", 23)
    # Mostly three distinct results per pair, so close to (1/3, ln 3) but above/below by the collisions.
    assert 1 / 3 < acc < 0.4
    assert 0.95 < loss < math.log(3)


def test_fact_rows_layout() -> None:
    table = drill.fact_table("+*", 5)
    assert table.shape == (2 * 25, 4)
    row = table[(3 * 2 + 1) * 5 + 4]  # a=3, op index 1 (*), b=4
    assert row.tolist() == [3, 1, 4, 12 % 5]
    rows = drill.fact_rows(row[None, None, :], 5, 2)
    # tokens: a, op id (5 + 1), b, "=" (5 + 2), c, ";" (5 + 3)
    assert rows.tolist() == [[3, 6, 4, 7, 2, 8]]
    assert drill.fact_rows(torch.stack([table[:3], table[3:6]]), 5, 2).shape == (2, 18)


def test_fact_rows_spaced_layout() -> None:
    row = torch.tensor([[[3, 1, 4, 2]]])
    # a space (5 + 2 + 2 = 9) before every number, as the task tokenizer once wrote " 3 * 4 = 2 ;"
    assert drill.fact_rows(row, 5, 2, spaced=True).tolist() == [[9, 3, 6, 9, 4, 7, 9, 2, 8]]


def test_main_runs_with_padded_vocab_and_spaced_rows(capsys, monkeypatch) -> None:
    import json
    import sys

    argv = [
        "x",
        "--operators",
        "+",
        "--modulus",
        "5",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--spaced",
        "--pad-vocab",
        "50",
        "--softmax-used-only",
        "--batch",
        "4",
        "--facts-per-row",
        "2",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    drill.main()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["facts"] == 25 and lines[-1]["step"] == 2 and 0.0 <= lines[-1]["accuracy"] <= 1.0


@pytest.mark.parametrize("extra", [["--prefix", "3"], ["--prefix", "2", "--prefix-random"]])
def test_main_runs_with_a_prefix(capsys, monkeypatch, extra: list[str]) -> None:
    import json
    import sys

    argv = [
        "x",
        "--operators",
        "+",
        "--modulus",
        "5",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--batch",
        "4",
        "--facts-per-row",
        "2",
        *extra,
    ]
    monkeypatch.setattr(sys, "argv", argv)
    drill.main()
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["step"] == 2 and 0.0 <= last["accuracy"] <= 1.0
