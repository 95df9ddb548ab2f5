"""arith verifier: answer extraction, process flags on adversarial completions, property tests."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import compute_reward, process_score
from reasonlab.tasks import get_task
from reasonlab.tasks.arith import extract_answer, parse_steps, parse_value, verify_completion
from reasonlab.tasks.arith.corrupt import CORRUPTIONS, corrupt

TASK = get_task("arith")


def gen(n: int, seed: int = 0, **knobs: object) -> list:
    return list(TASK.generate(TASK.params(**knobs), n, seed))


PROBLEMS = (
    gen(40, seed=1, ops="2-20", mode="mix")
    + gen(40, seed=2, ops="2-20", mode="mix", num_mode="range", depth=3, context="school")
    + gen(20, seed=3, ops="2-20", mode="mix", depth=3, context="library=1,movie_festival=1")
    + gen(20, seed=4, ops="2-20", mode="mix", modulus=7, operators="+")  # a small table: 1/7 by guessing
    # every rendering knob off its default: predictable letters, dependency order, compact text, running sums
    + gen(
        20,
        seed=5,
        ops="2-20",
        mode="mix",
        modulus=7,
        operators="+",
        letters="ordered",
        order="topo",
        template="compact",
        sums="partial",
    )
    + gen(
        10,
        seed=7,
        ops="2-20",
        mode="mix",
        modulus=5,
        operators="+",
        letters="ordered",
        template="compact",
        names="long",
        number_line=True,
        context="wildlife",
    )
    + gen(10, seed=6, ops="2-20", mode="mix", num_mode="range", depth=3, letters="ordered", sums="partial")
)


def rewards(problem, completion: str) -> dict[str, float]:
    v = TASK.verify(problem, completion)
    return {r: compute_reward(r, v) for r in ("outcome", "process", "strict")}


# ----------------------------------------------------------------------------- answer extraction


@pytest.mark.parametrize(
    ("text", "pred", "error"),
    [
        ("... Answer: 12. </solution> <answer> 12 </answer>", "12", None),
        ("Answer: 3. <answer> 5 </answer>", "5", None),  # the tag wins
        ("<answer> 5 </answer> then <answer> 7 </answer>", "7", None),  # the last tag
        # a tag decides even when it holds no integer: no fall back to the Answer: line
        ("<answer> five </answer> Answer: 4.", None, "answer tag does not hold exactly one integer"),
        ("<answer> five </answer>", None, "answer tag does not hold exactly one integer"),
        ("Answer: 1. Answer: 2.", "2", None),
        ("Answer: 007.", "7", None),
        ("**Answer:** 12", "12", None),  # markdown from chat models
        ("no answer here", None, "no answer found"),
        ("", None, "no answer found"),
        ("<answer> 9", None, "no answer found"),  # unclosed tag
    ],
)
def test_extract_answer(text: str, pred: str | None, error: str | None) -> None:
    assert extract_answer(text) == (pred, error)


def test_parse_value_and_steps() -> None:
    assert parse_value("12") == (0, 12)
    assert parse_value("x") == (1, 0)
    assert parse_value("-x + 3") == (-1, 3)
    assert parse_value("8x - 2") == (8, -2)
    assert parse_value("Q") is None and parse_value("") is None and parse_value("3 + 4") is None
    steps = parse_steps(
        "Define a b in C as Q; so Q = 3. Define total things in C as r; so r = Q + 4 = 3 + 4 = 7. "
        "Define u in C as x. Define junk as z; so y = 2. Define no period as k; so k = 1"
    )
    assert [(s.name, s.var, set(s.deps), s.value) for s in steps] == [
        ("a b in C", "Q", set(), (0, 3)),
        ("total things in C", "r", {"Q"}, (0, 7)),
        ("u in C", "x", set(), (1, 0)),
        ("junk", "z", set(), None),  # body defines another letter: no value
    ]


# ----------------------------------------------------------------------------- adversarial completions


def test_gold_is_perfect_under_every_scheme() -> None:
    for p in PROBLEMS:
        assert rewards(p, p.solution) == {"outcome": 1.0, "process": 1.0, "strict": 1.0}


@pytest.mark.parametrize("style", ["plain", "chat"])
def test_corruptions_get_the_right_flags(style: str) -> None:
    for p in PROBLEMS:
        rng = random.Random(p.id)
        for kind in CORRUPTIONS:
            text = corrupt(p, kind, rng, style)
            v = TASK.verify(p, text)
            pc = v.process
            assert pc is not None
            r = {name: compute_reward(name, v) for name in ("outcome", "process", "strict")}
            if kind == "wrong_value":
                assert v.correct and pc.value_mismatch == 1 and pc.dep_mismatch == 0 and pc.missing == 0
                assert not pc.ok and r["strict"] == 0.0 and 0.0 < r["process"] < 1.0
            elif kind == "wrong_dep":
                assert v.correct and pc.dep_mismatch == 1 and pc.value_mismatch == 0 and pc.missing == 0
                assert not pc.ok and r["strict"] == 0.0 and r["process"] < 1.0
            elif kind == "missing_step":
                assert v.correct and pc.missing == 1 and pc.extra == 0
                assert not pc.ok and r["strict"] == 0.0 and r["process"] < 1.0
            elif kind == "extra_step":
                # extra nodes are tolerated by the verified-correct metric but cost process reward
                assert v.correct and pc.extra == 1 and pc.ok and r["strict"] == 1.0 and r["process"] < 1.0
            elif kind == "wrong_answer":
                assert not v.correct and v.answer_status == "mismatch" and pc.answer_mismatch
                assert pc.value_mismatch == 0 and pc.missing == 0
                assert r == {"outcome": 0.0, "process": 0.0, "strict": 0.0}
            elif kind == "answer_only":
                assert v.correct and pc.missing == pc.n_gold and pc.n_steps == 0 and not v.format_ok
                assert r["strict"] == 0.0 and r["process"] == pytest.approx(0.2)
            elif kind in ("truncate", "empty"):
                assert v.answer_status == "unparseable" and v.pred is None and not v.format_ok
                assert r == {"outcome": 0.0, "process": 0.0, "strict": 0.0}
            elif kind == "long":
                assert not v.correct and not pc.ok and r["strict"] == 0.0
            else:  # garbage: may guess the answer by chance, never a perfect process
                assert not pc.ok and r["strict"] == 0.0


def test_wrong_intermediate_value_with_right_answer_scores_like_the_reference() -> None:
    """One value mismatch among |V| nodes with the right answer: process = 1 - 1/|V|; 0.2/0.8 mix."""
    p = next(q for q in PROBLEMS if q.meta["n_steps"] == 5 and q.meta["mode"] == "forward")
    v = TASK.verify(p, corrupt(p, "wrong_value", random.Random(0)))
    assert process_score(1, 0, 0, 0, 5, False) == pytest.approx(0.8)
    assert compute_reward("process", v) == pytest.approx(0.2 + 0.8 * 0.8)
    assert compute_reward("strict", v) == 0.0


def test_duplicate_definitions_count_as_extra_and_first_one_wins() -> None:
    p = next(q for q in PROBLEMS if q.meta["mode"] == "forward")
    first = p.solution.split(". ")[0] + "."
    v = TASK.verify(p, p.solution + " " + first.replace("= ", "= 1 + ", 1))
    assert v.process.extra == 1 and v.process.ok
    # redefining a step with a wrong value *before* the gold one makes the first (wrong) one count
    v = TASK.verify(p, first.rsplit("=", 1)[0] + "= 999. " + p.solution)
    assert v.process.value_mismatch == 1 and not v.process.ok


def test_undefined_letter_is_a_dependency_mismatch() -> None:
    p = next(q for q in PROBLEMS if q.meta["mode"] == "forward" and q.meta["n_steps"] >= 3)
    letters = {n["letter"] for n in p.meta["graph"]["nodes"]}
    free = next(c for c in "abcdefghijklmnopqrstuvwyz" if c not in letters)
    last = p.meta["graph"]["nodes"][-1]
    text = p.solution.replace(f"so {last['letter']} = ", f"so {last['letter']} = {free} + ", 1)
    v = TASK.verify(p, text)
    assert v.process.dep_mismatch >= 1 and compute_reward("strict", v) == 0.0


def test_verify_never_raises_on_odd_inputs() -> None:
    p = PROBLEMS[0]
    for text in (None, 12, "\x00" * 100, "Define " * 10_000, "." * 50_000, "<answer>" * 5000, "Answer:" * 9000):
        v = TASK.verify(p, text)  # type: ignore[arg-type]
        assert not v.correct and compute_reward("strict", v) == 0.0
    broken = dict(p.meta, graph={"nodes": "oops"})
    v = verify_completion(broken, p.answer, p.solution)
    assert not v.correct and v.error and v.error.startswith("verifier error")


def test_corrupt_rejects_unknown_kind() -> None:
    with pytest.raises(ReasonlabError):
        corrupt(PROBLEMS[0], "nonsense", random.Random(0))


# ----------------------------------------------------------------------------- properties

KNOBS = st.fixed_dictionaries(
    {
        "ops": st.integers(2, 24),
        "mode": st.sampled_from(["forward", "reverse"]),
        "num_mode": st.sampled_from(["mod", "range"]),
        "depth": st.sampled_from([2, 3]),
        "context": st.sampled_from(["zoo", "school", "movie_festival", "library", "wildlife"]),
        "distractors": st.integers(0, 6),
        "letters": st.sampled_from(["random", "ordered"]),
        "order": st.sampled_from(["shuffled", "topo"]),
        "template": st.sampled_from(["full", "compact"]),
        "sums": st.sampled_from(["whole", "partial"]),
        "names": st.sampled_from(["short", "long"]),
        "number_line": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(knobs=KNOBS, seed=st.integers(0, 2**31))
def test_property_gold_is_perfect_and_op_exact(knobs: dict, seed: int) -> None:
    p = gen(1, seed=seed, **knobs)[0]
    assert p.meta["ops"] == knobs["ops"]
    for style in ("plain", "chat"):
        _, completion = TASK.render(p, style)
        assert rewards(p, completion) == {"outcome": 1.0, "process": 1.0, "strict": 1.0}


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=3000), idx=st.integers(0, len(PROBLEMS) - 1))
def test_property_arbitrary_text_never_crashes_or_earns_unearned_reward(text: str, idx: int) -> None:
    p = PROBLEMS[idx]
    v = TASK.verify(p, text)
    r = {name: compute_reward(name, v) for name in ("outcome", "process", "strict")}
    assert all(0.0 <= x <= 1.0 for x in r.values())
    if not v.correct:
        assert r == {"outcome": 0.0, "process": 0.0, "strict": 0.0}
    assert r["strict"] == 0.0  # random text never reproduces a whole gold solution


@settings(max_examples=200, deadline=None)
@given(
    idx=st.integers(0, len(PROBLEMS) - 1),
    cut=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
    insert=st.text(max_size=40),
)
def test_property_edited_gold_never_gets_full_reward_when_wrong(idx: int, cut: tuple, insert: str) -> None:
    """Splice arbitrary text into the gold completion: full strict reward implies a right answer and
    every gold node defined with its gold value and dependencies."""
    p = PROBLEMS[idx]
    gold = p.solution
    a, b = sorted(c % (len(gold) + 1) for c in cut)
    text = gold[:a] + insert + gold[b:]
    v = TASK.verify(p, text)
    strict = compute_reward("strict", v)
    if strict == 1.0:
        assert v.correct and v.pred == p.answer
        assert v.process.missing == 0 and v.process.value_mismatch == 0 and v.process.dep_mismatch == 0
    if v.pred is not None and v.pred != p.answer:
        assert strict == 0.0 and compute_reward("process", v) == 0.0


@settings(max_examples=40, deadline=None)
@given(idx=st.integers(0, len(PROBLEMS) - 1), seed=st.integers(0, 2**31), kind=st.sampled_from(CORRUPTIONS))
def test_property_corruptions_never_get_full_strict_reward(idx: int, seed: int, kind: str) -> None:
    p = PROBLEMS[idx]
    text = corrupt(p, kind, random.Random(seed), random.Random(seed).choice(["plain", "chat"]))
    strict = compute_reward("strict", TASK.verify(p, text))
    assert strict == (1.0 if kind == "extra_step" else 0.0)


def test_failure_kinds_name_each_corruption() -> None:
    """The hacking breakdown: each built corruption is named by the process failure it plants."""
    expected = {
        "wrong_value": "wrong_value",
        "wrong_dep": "wrong_dependency",
        "missing_step": "missing_step",
        "extra_step": None,  # tolerated by the process check: not a failure
        "wrong_answer": "wrong_answer",
        "answer_only": "missing_step",
        "truncate": "no_answer",
        "empty": "no_answer",
    }
    for p in PROBLEMS[:40]:
        rng = random.Random(p.id)
        for kind, name in expected.items():
            assert TASK.failure_kind(TASK.verify(p, corrupt(p, kind, rng))) == name, (kind, p.id)
        assert TASK.failure_kind(TASK.verify(p, p.solution)) is None
