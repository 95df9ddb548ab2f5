"""arith_facts: generator knobs, the verifier on gold and adversarial completions, property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import compute_reward
from reasonlab.tasks import get_task, task_names
from reasonlab.tasks.arith.facts import apply_operator, parse_equations

TASK = get_task("arith_facts")


def one(operators: str = "+-*", facts: int = 3, seed: int = 0):
    return next(TASK.generate(TASK.params(operators=operators, facts=facts), 1, seed))


def fixed_problem():
    """A problem with known items: 8 + 12 = 20 ; 3 * 5 = 15 ; 7 - 9 = 21."""
    p = one(facts=3)
    p.meta["items"] = [[8, "+", 12, 20], [3, "*", 5, 15], [7, "-", 9, 21]]
    p.answer = "20, 15, 21"
    return p


GOLD = " 8 + 12 = 20 ; 3 * 5 = 15 ; 7 - 9 = 21 </solution> <answer> 20, 15, 21 </answer>"


def test_registered() -> None:
    assert "arith_facts" in task_names()


@pytest.mark.parametrize(
    ("a", "op", "b", "c"),
    [(8, "+", 12, 20), (22, "+", 22, 21), (8, "-", 12, 19), (0, "-", 1, 22), (17, "*", 3, 5), (22, "*", 22, 1)],
)
def test_apply_operator_by_hand(a: int, op: str, b: int, c: int) -> None:
    assert apply_operator(a, op, b) == c


def test_apply_operator_rejects_unknown() -> None:
    with pytest.raises(ReasonlabError, match="unknown operator '/'"):
        apply_operator(1, "/", 2)


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"operators": ""}, "operators"),
        ({"operators": "+/"}, "operators"),
        ({"operators": "++"}, "operators"),
        ({"facts": 0}, "facts"),
        ({"facts": 65}, "facts"),
        ({"modulus": 9}, "modulus must be a prime"),
    ],
)
def test_bad_knobs_one_line(knobs: dict, match: str) -> None:
    with pytest.raises(ReasonlabError, match=match) as err:
        TASK.params(**knobs)
    assert "\n" not in str(err.value)


def test_operators_canonical_and_respected() -> None:
    assert TASK.params(operators="*+").operators == "+*"
    ops = {op for p in TASK.generate(TASK.params(operators="*-", facts=8), 30, 0) for _, op, _, _ in p.meta["items"]}
    assert ops == {"-", "*"}


def test_render_format() -> None:
    prompt, _ = TASK.render(fixed_problem())
    assert prompt.startswith("<question> Compute modulo 23: ") and prompt.endswith(" </question> <solution>")
    with pytest.raises(ReasonlabError, match="style 'chat'"):
        TASK.render(fixed_problem(), "chat")


def test_parse_equations() -> None:
    assert parse_equations("8 + 12 = 20 ; 3 * 5 = 1 ; junk 4 = 4") == [(8, "+", 12, 20), (3, "*", 5, 1)]


def test_gold_is_perfect() -> None:
    v = TASK.verify(fixed_problem(), GOLD)
    assert v.correct and v.format_ok and v.process.ok and v.units_correct == 3 and v.units_total == 3


def test_right_answer_wrong_equation_fails_process() -> None:
    p = fixed_problem()
    v = TASK.verify(p, GOLD.replace("3 * 5 = 15", "3 * 5 = 14"))
    assert v.correct and not v.process.ok and v.process.value_mismatch == 1
    assert compute_reward("outcome", v) == 1.0 and compute_reward("strict", v) == 0.0


def test_missing_step_and_extra_step() -> None:
    p = fixed_problem()
    v = TASK.verify(p, GOLD.replace("3 * 5 = 15 ; ", "1 + 1 = 2 ; "))
    assert v.correct and v.process.missing == 1 and v.process.extra == 1 and v.process.matched_ok == 2


def test_wrong_value_partial_credit() -> None:
    v = TASK.verify(fixed_problem(), " 8 + 12 = 20 </solution> <answer> 20, 15, 1 </answer>")
    assert not v.correct and v.answer_status == "mismatch" and v.units_correct == 2
    assert compute_reward("partial", v) == pytest.approx(0.3 + 0.7 * 2 / 3)


@pytest.mark.parametrize("answer", ["20, 15", "20, 15, 21, 21", "20 15 21"])
def test_wrong_count_or_shape_gets_no_credit(answer: str) -> None:
    v = TASK.verify(fixed_problem(), f" {GOLD.split('</solution>')[0]}</solution> <answer> {answer} </answer>")
    assert not v.correct and v.units_correct is None and compute_reward("partial", v) == 0.0


@pytest.mark.parametrize("completion", ["", "8 + 12 = 20", "<answer> twenty </answer>", "<answer>20,15,21"])
def test_unparseable(completion: str) -> None:
    v = TASK.verify(fixed_problem(), completion)
    assert not v.correct and v.answer_status == "unparseable" and not v.format_ok


def test_last_answer_tag_counts() -> None:
    v = TASK.verify(fixed_problem(), GOLD + " <answer> 1, 2, 3 </answer>")
    assert not v.correct
    v = TASK.verify(fixed_problem(), "<answer> 1, 2, 3 </answer>" + GOLD)
    assert v.correct


def test_answer_without_equations_is_correct_but_not_formatted() -> None:
    v = TASK.verify(fixed_problem(), "<answer> 20, 15, 21 </answer>")
    assert v.correct and not v.format_ok and v.process.missing == 3


@pytest.mark.parametrize(
    "meta", [{"items": "broken"}, {"items": [[1]]}, {"items": [[8, "+", 12]]}, {}, {"layout": "recite", "items": []}]
)
def test_corrupt_meta_never_raises(meta: dict) -> None:
    p = fixed_problem()
    p.meta = meta
    v = TASK.verify(p, GOLD)
    assert not v.correct and v.error and v.error.startswith("verifier error")


@settings(max_examples=40, deadline=None)
@given(
    operators=st.sampled_from(["+", "-", "*", "+-", "+*", "-*", "+-*"]),
    facts=st.integers(1, 16),
    seed=st.integers(0, 10**6),
)
def test_property_gold_verifies_and_answers_are_mod_23(operators: str, facts: int, seed: int) -> None:
    p = one(operators, facts, seed)
    _, completion = TASK.render(p)
    v = TASK.verify(p, completion)
    assert v.correct and v.format_ok and v.process.ok and v.units_correct == facts
    for a, op, b, c in p.meta["items"]:
        assert op in operators and 0 <= a < 23 and 0 <= b < 23 and c == apply_operator(a, op, b)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(0, 7), delta=st.integers(1, 22))
def test_property_any_single_wrong_value_is_caught(seed: int, k: int, delta: int) -> None:
    p = one("+-*", 8, seed)
    values = [c for *_, c in p.meta["items"]]
    values[k] = (values[k] + delta) % 23
    body = " ; ".join(f"{a} {op} {b} = {v}" for (a, op, b, _), v in zip(p.meta["items"], values, strict=True))
    v = TASK.verify(p, f" {body} </solution> <answer> {', '.join(map(str, values))} </answer>")
    assert not v.correct and v.units_correct == 7 and v.process.value_mismatch == 1


# ----------------------------------------------------------------------------- recite layout


def recite(operators: str = "+", facts: int = 3, seed: int = 0):
    return next(TASK.generate(TASK.params(operators=operators, facts=facts, layout="recite"), 1, seed))


def test_recite_render_and_gold() -> None:
    p = recite("*+", 3)
    prompt, completion = TASK.render(p)
    assert prompt == "<question> State 3 facts modulo 23 with + * </question> <solution>"
    v = TASK.verify(p, completion)
    assert v.correct and v.process.ok and v.pred == "3"


@pytest.mark.parametrize(
    ("completion", "correct", "mismatch", "missing", "extra"),
    [
        (" 1 + 1 = 2 ; 2 + 2 = 4 ; 3 + 3 = 6", True, 0, 0, 0),
        (" 1 + 1 = 2 ; 2 + 2 = 5 ; 3 + 3 = 6", False, 1, 0, 0),  # a false fact
        (" 1 + 1 = 2 ; 1 + 1 = 2 ; 3 + 3 = 6", False, 1, 0, 0),  # a repeated fact
        (" 1 + 1 = 2 ; 2 * 2 = 4 ; 3 + 3 = 6", False, 1, 0, 0),  # an operator not asked for
        (" 1 + 1 = 2 ; 22 + 30 = 6 ; 3 + 3 = 6", False, 1, 0, 0),  # an operand outside 0..22
        (" 1 + 1 = 2 ; 2 + 2 = 4", False, 0, 1, 0),  # too few
        (" 1 + 1 = 2 ; 2 + 2 = 4 ; 3 + 3 = 6 ; 4 + 4 = 8", False, 0, 0, 1),  # too many
    ],
)
def test_recite_adversarial(completion: str, correct: bool, mismatch: int, missing: int, extra: int) -> None:
    v = TASK.verify(recite("+", 3), completion)
    assert v.correct is correct
    assert (v.process.value_mismatch, v.process.missing, v.process.extra) == (mismatch, missing, extra)
    assert compute_reward("strict", v) == float(correct)


def test_recite_nothing_stated_is_unparseable() -> None:
    v = TASK.verify(recite(), " I know many facts </solution> <answer> 3 </answer>")
    assert not v.correct and v.answer_status == "unparseable" and not v.format_ok


def test_recite_dedup_is_by_the_gold_facts() -> None:
    problems = list(TASK.generate(TASK.params(layout="recite", facts=2), 50, 0))
    assert len({p.prompt for p in problems}) == 1 and len({p.solution for p in problems}) == 50


@settings(max_examples=30, deadline=None)
@given(operators=st.sampled_from(["+", "-*", "+-*"]), facts=st.integers(1, 24), seed=st.integers(0, 10**6))
def test_property_recite_gold_is_distinct_and_true(operators: str, facts: int, seed: int) -> None:
    p = recite(operators, facts, seed)
    assert len({tuple(i[:3]) for i in p.meta["items"]}) == facts
    assert TASK.verify(p, TASK.render(p)[1]).correct


def test_modulus_knob_small_prime_by_hand_and_in_both_layouts() -> None:
    assert apply_operator(4, "+", 4, 7) == 1 and apply_operator(2, "-", 5, 7) == 4 and apply_operator(3, "*", 5, 7) == 1
    p = next(iter(TASK.generate(TASK.params(operators="+", facts=6, modulus=7), 1, 3)))
    assert p.prompt.startswith("<question> Compute modulo 7:") and p.meta["modulus"] == 7
    assert all(0 <= x < 7 for a, _, b, c in p.meta["items"] for x in (a, b, c))
    assert TASK.verify(p, p.solution).correct
    r = next(iter(TASK.generate(TASK.params(operators="+", facts=3, modulus=7, layout="recite"), 1, 3)))
    assert TASK.verify(r, " 4 + 4 = 1 ; 6 + 6 = 5 ; 0 + 3 = 3 </solution> <answer> 3 </answer>").correct
    # true mod 23 but not mod 7, and an operand outside 0..6
    assert not TASK.verify(r, " 4 + 4 = 8 ; 6 + 6 = 5 ; 0 + 3 = 3 </solution> <answer> 3 </answer>").correct
    assert not TASK.verify(r, " 9 + 4 = 6 ; 6 + 6 = 5 ; 0 + 3 = 3 </solution> <answer> 3 </answer>").correct
    with pytest.raises(ReasonlabError, match="modulus must be a prime"):
        TASK.params(modulus=8)
