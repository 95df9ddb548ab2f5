"""Verifier exactness: one-integer answers, linear-time scans, any names, the published Logic-RL rule, reasons.

Regression tests for five defects: arith answers read a prefix of ``4.7``/``4, 5``/``4 or 5`` as ``4``;
the ``Answer:`` regex backtracked quadratically on runs of spaces or ``*``; knights answers broke on names
with regex metacharacters, spaces, hyphens or role words; ``logic_rl`` added hygiene rules to the
published Logic-RL rule; wrong answers came without a reason.
"""

from __future__ import annotations

import copy
import random
import re
import signal
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonlab.rewards import compute_reward, score, supported_schemes
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.arith import extract_answer
from reasonlab.tasks.arith.corrupt import CORRUPTIONS, corrupt
from reasonlab.tasks.knights import build_problem, parse_answer, parse_answer_published
from reasonlab.tasks.knights.logic import to_tuple
from reasonlab.tasks.knights.render import ROLE_PAIRS, puzzle_text, statement_sentence

ARITH = get_task("arith")
FACTS = get_task("arith_facts")
KNIGHTS = get_task("knights")
LOGIC_RL_TOTALS = {3.0, -0.5, -1.0, -3.0}


# ----------------------------------------------------------------------------- 1. arith: one integer, nothing else


ONE_INTEGER = [
    ("Answer: 5", "5"),
    ("Answer: 5.", "5"),
    ("Answer: 5.  \n\n", "5"),
    ("Answer: -3.", "-3"),
    ("Answer: 007.", "7"),
    ("**Answer:** 5", "5"),
    ("Answer: **5.", "5"),
    ("Answer:\n5.", "5"),
    ("Answer: 5.<|im_end|>", "5"),
    ("Answer: 5 </solution>", "5"),
    ("Answer: 4 or 5. Answer: 6.", "6"),  # the last Answer: decides
    ("... Answer: 5. </solution> <answer> 5 </answer>", "5"),
    ("<answer>\n5\n</answer>", "5"),
    ("<answer> 5 </answer> <answer> 7", "5"),  # an unclosed tag is no tag
    ("Answer: 4.7 <answer> 5 </answer>", "5"),  # a tag decides over any Answer: line
    ("Answer: 4.7", None),
    ("Answer: 4.7.", None),
    ("Answer: 4, 5", None),
    ("Answer: 4 or 5", None),
    ("Answer: 4x", None),
    ("Answer: 4 5", None),
    ("Answer: **4**", None),
    ("Answer: 4.\nOr maybe 5.", None),
    ("Answer: 4. Wait, 5", None),
    ("Answer: 1234567890123", None),
    ("Answer: ٤", None),  # not an ASCII digit
    ("Answer: x", None),
    ("Answer:", None),
    ("<answer> 4.7 </answer>", None),
    ("<answer> 4, 5 </answer>", None),
    ("<answer> 4 or 5 </answer>", None),
    ("<answer> 4x </answer>", None),
    ("<answer></answer>", None),
    ("<answer> 4.7 </answer> Answer: 4.", None),  # no fall back to the Answer: line
    ("<answer> 4 </answer> <answer> " + "x" * 200 + " </answer>", None),  # a long last tag still decides
    ("<answer> 4 </answer> <answer> 4 <b> </answer>", None),  # so does a last tag holding '<'
]


def test_arith_answer_is_one_integer_and_nothing_else() -> None:
    for text, pred in ONE_INTEGER:
        got, error = extract_answer(text)
        assert got == pred, text
        assert (error is None) == (pred is not None), text


def _arith_problems(modulus: int) -> list[Problem]:
    """Problems of every mode and context (and range mode) at one modulus."""
    out = []
    for mode in ("forward", "reverse"):
        for context in ("zoo", "school", "movie_festival", "library"):
            knobs = {"ops": "2-12", "mode": mode, "modulus": modulus, "context": context, "distractors": 2}
            out += list(ARITH.generate(ARITH.params(**knobs), 2, seed=modulus))
    out += list(ARITH.generate(ARITH.params(ops="2-12", mode="mix", num_mode="range"), 2, seed=modulus))
    return out


def _arith_variants(p: Problem) -> dict[str, str]:
    """Completions whose final answer reads the gold integer followed by something else."""
    a = int(p.answer)
    _, chat = ARITH.render(p, "chat")
    _, plain = ARITH.render(p, "plain")
    head = chat[: chat.rindex("Answer:")]
    body = plain[: plain.rindex("<answer>")]
    out = {}
    for label, tail in {"decimal": f"{a}.7", "list": f"{a}, {a + 1}", "or": f"{a} or {a + 1}", "unit": f"{a}x"}.items():
        out[f"chat_{label}"] = f"{head}Answer: {tail}"
        out[f"plain_tag_{label}"] = f"{body}<answer> {tail} </answer>"
    return out


ARITH_PROBLEMS = _arith_problems(23)


@pytest.mark.parametrize("modulus", [3, 5, 23, 97])
def test_arith_gold_is_perfect_and_gold_prefix_answers_earn_nothing(modulus: int) -> None:
    """Every style, mode and context: the gold completion is perfect; ``4.7``, ``4, 5``, ``4 or 5``, ``4x`` get 0."""
    for p in _arith_problems(modulus):
        for style in ("plain", "chat"):
            v = ARITH.verify(p, ARITH.render(p, style)[1])
            assert v.correct and v.format_ok and v.error is None and v.process is not None and v.process.ok
            assert [compute_reward(r, v) for r in ("outcome", "process", "strict")] == [1.0, 1.0, 1.0]
        for label, completion in _arith_variants(p).items():
            v = ARITH.verify(p, completion)
            assert not v.correct and v.pred is None and v.answer_status == "unparseable" and v.error, label
            assert [compute_reward(r, v) for r in ("outcome", "process", "strict")] == [0.0, 0.0, 0.0], label


# ----------------------------------------------------------------------------- 1. arith_facts: the last tag decides


def _facts_problem() -> Problem:
    p = next(FACTS.generate(FACTS.params(facts=3), 1, seed=0))
    p.meta["items"] = [[8, "+", 12, 20], [3, "*", 5, 15], [7, "-", 9, 21]]
    p.answer = "20, 15, 21"
    return p


FACTS_GOLD = " 8 + 12 = 20 ; 3 * 5 = 15 ; 7 - 9 = 21 </solution> <answer> 20, 15, 21 </answer>"


def test_facts_last_tag_decides_whatever_it_holds() -> None:
    v = FACTS.verify(_facts_problem(), FACTS_GOLD)
    assert v.correct and v.error is None
    for tail in (
        " <answer> 20, 15, 21 <b> </answer>",  # a last tag holding '<' is not skipped
        " <answer> " + "21, " * 300 + "21 </answer>",  # nor is a long one
        " <answer> " + "21, " * 2000 + "21 </answer>",  # nor one past the length bound
    ):
        v = FACTS.verify(_facts_problem(), FACTS_GOLD + tail)
        assert not v.correct and v.error, tail
        assert compute_reward("outcome", v) == 0.0 and compute_reward("partial", v) == 0.0


def test_facts_values_are_ascii_integers() -> None:
    v = FACTS.verify(_facts_problem(), FACTS_GOLD.replace("20, 15, 21 </answer>", "20, 15, 2١ </answer>"))
    assert not v.correct and v.answer_status == "unparseable" and v.error


def test_facts_equations_are_whole_numbers() -> None:
    """``1000008 + 12 = 20`` does not state ``8 + 12 = 20`` (no match starting inside a digit run)."""
    v = FACTS.verify(_facts_problem(), FACTS_GOLD.replace(" 8 + 12", " 1000008 + 12", 1))
    assert v.correct and v.process is not None and v.process.missing == 1 and not v.process.ok


# ----------------------------------------------------------------------------- 2. linear time on adversarial input

MB = 1_000_000


def _rep(piece: str, size: int = MB) -> str:
    return piece * (size // len(piece))


ADVERSARIAL: dict[str, Callable[[str], str]] = {
    "spaces": lambda _: "Answer:" + " " * MB + "x",
    "stars": lambda _: "Answer:" + "*" * MB + "x",
    "stars_spaces": lambda _: "Answer:" + _rep("* ") + "x",
    "answer_repeated": lambda _: _rep("Answer: "),
    "answer_stars_repeated": lambda _: _rep("Answer:** "),
    "digits": lambda _: "Answer: " + "1" * MB,
    "define_repeated": lambda _: _rep("Define "),
    "define_steps": lambda _: _rep("Define a b as Q; so Q = 1 + 2 = 3. "),
    "answer_tag_repeated": lambda _: _rep("<answer>"),
    "answer_tag_spaces": lambda _: "<answer>" + " " * MB,
    "unclosed_tags": lambda _: _rep("<answer> 5 </answer", MB // 2) + _rep("<think> a", MB // 2),
    "close_tags": lambda _: _rep("</answer>", MB // 2) + _rep("</think>", MB // 2),
    "think_repeated": lambda _: _rep("<think>"),
    "names_repeated": lambda n: _rep(f"{n} ", MB // 2) + "</think><answer>" + _rep(f"{n} is a ", MB // 2) + "</answer>",
    "name_sentences": lambda n: _rep(f"{n}. ") + f"</think>\n<answer>\n(1) {n} is a knight\n</answer>",
    "name_claims": lambda n: _rep(f"{n} is a knight. ", MB // 2) + "</think>\n<answer>" + _rep("knave ", MB // 2),
    "role_words": lambda _: _rep("knight ", MB // 2) + "</think><answer>" + _rep("knave ", MB // 2) + "</answer>",
    "equations": lambda _: (
        _rep("1 + 1 = 2 ; ", MB // 2) + "</solution> <answer> " + _rep("1, ", MB // 2) + "1 </answer>"
    ),
}
"""1 MB completions aimed at backtracking regexes and per-token loops, given a puzzle name."""


def _knights_named(names: list[str], roles: tuple[str, str] = ("knight", "knave"), style: str = "plain") -> Problem:
    """A generated puzzle with its names (and role words) replaced, prompt and gold re-rendered."""
    base = next(KNIGHTS.generate(KNIGHTS.params(people=len(names)), 1, seed=len(names)))
    meta = copy.deepcopy(base.meta)
    meta["names"], meta["roles"], meta["style"] = list(names), list(roles), style
    return build_problem(KNIGHTS, meta, base.id, style)


def _verifiers() -> dict[str, tuple[object, Problem, str]]:
    knights = next(KNIGHTS.generate(KNIGHTS.params(people=4), 1, seed=0))
    return {
        "arith": (ARITH, ARITH_PROBLEMS[0], "Zoey"),
        "arith_facts": (FACTS, next(FACTS.generate(FACTS.params(), 1, seed=0)), "Zoey"),
        "arith_facts_recite": (FACTS, next(FACTS.generate(FACTS.params(layout="recite"), 1, seed=0)), "Zoey"),
        "knights": (KNIGHTS, knights, knights.meta["names"][0]),
        "knights_role_names": (KNIGHTS, _knights_named(["Knight", "Mary Knight", "Zoey", "Bo"]), "Knight"),
        "knights_dotted_names": (KNIGHTS, _knights_named(["A.J.", "O'Neil", "Mary(1)", "Anne Marie"]), "A.J."),
    }


VERIFIERS = _verifiers()


class _Runaway(Exception):
    pass


def _abort(*_: object) -> None:
    raise _Runaway


@pytest.mark.xdist_group("heavy")  # subprocesses on both cores, or timing-sensitive: never side by side
def test_every_verifier_is_linear_on_1mb_adversarial_completions() -> None:
    """Every verifier scores every 1 MB case in < 3 s of CPU time (~0.1 s at most on an idle 2-core machine;
    the quadratic ``Answer:`` regex took minutes). CPU time, not wall time, so other processes cannot fail it;
    the margin covers a loaded machine's cache and SMT contention (measured up to 2.0 s at load 6); a
    runaway case is cut off after 5 s of CPU time (``re`` checks for signals)."""
    slow = []
    previous = signal.signal(signal.SIGVTALRM, _abort)
    try:
        for verifier, (task, problem, name) in sorted(VERIFIERS.items()):
            for case, make in sorted(ADVERSARIAL.items()):
                text = make(name)
                start = time.process_time()
                signal.setitimer(signal.ITIMER_VIRTUAL, 5.0)
                try:
                    v = task.verify(problem, text)  # type: ignore[attr-defined]
                    for scheme in supported_schemes(task):  # type: ignore[arg-type]
                        compute_reward(scheme, v)
                except _Runaway:
                    slow.append(f"{verifier} on {case}: cut off after 5 s")
                finally:
                    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
                elapsed = time.process_time() - start
                if elapsed >= 3.0:
                    slow.append(f"{verifier} on {case}: {elapsed:.1f} s")
    finally:
        signal.signal(signal.SIGVTALRM, previous)
    assert not slow, slow


# ----------------------------------------------------------------------------- 3. knights: any names

NAME_SETS = {
    "metacharacters": ["O'Neil", "A.J.", "Mary(1)", "Anne Marie"],
    "hyphens_and_parts": ["Mary-Jane", "Jane", "Mary", "Anne"],
    "role_words": ["Knight", "Knave", "Zoey", "Oliver"],
    "role_word_inside": ["Mary Knight", "Knight", "Sir Knave", "Bo"],
    "prefixes": ["Ann", "Ann Marie", "Marie", "Annabel"],
    "case_only_difference": ["Lee", "LEE", "Zoey", "Oliver"],
    "regex_syntax": ["a+b", "[x]", "Z|Y", "\\d"],
}


def _named_cases() -> list[tuple[str, list[str], tuple[str, str]]]:
    cases = [(label, names, ("knight", "knave")) for label, names in NAME_SETS.items()]
    for truth, liar in ROLE_PAIRS:  # a name equal to the truth or lie word of the puzzle's own pair
        cases.append((f"{truth}_{liar}", [truth.capitalize(), liar.capitalize(), "Zoey", "Oliver"], (truth, liar)))
    return cases


NAMED = _named_cases()


@pytest.mark.parametrize(("label", "names", "roles"), NAMED, ids=[c[0] for c in NAMED])
@pytest.mark.parametrize("style", ["plain", "chat"])
def test_knights_gold_with_any_names_gets_full_reward(label: str, names: list[str], roles: tuple, style: str) -> None:
    p = _knights_named(names, roles, style)
    for scheme, full in (("logic_rl", 3.0), ("logic_rl_strict", 3.0), ("outcome", 1.0), ("partial", 1.0)):
        s = score(KNIGHTS, p, p.solution, scheme)
        assert s.reward == full, (label, scheme, s.error)
        assert s.pred == p.answer and s.error is None
    # one role flipped: parsed, one person wrong
    cot = p.solution.split("</think>")[0]
    flipped = [not p.meta["solution"][0], *p.meta["solution"][1:]]
    wrong = "\n".join(
        f"({i + 1}) {n} is {'an' if r[0] in 'aeiou' else 'a'} {r}"
        for i, (n, r) in enumerate(zip(names, [roles[0] if v else roles[1] for v in flipped], strict=True))
    )
    s = score(KNIGHTS, p, f"{cot}</think>\n<answer>\n{wrong}\n</answer>", "logic_rl")
    assert s.reward == -0.5 and s.extra["person_accuracy"] == 0.75 and s.error, label


def test_knights_a_name_never_matches_inside_a_longer_one() -> None:
    p = _knights_named(NAME_SETS["prefixes"])
    lines = p.answer.split("\n")
    ann_marie = lines[1].split(" ", 1)[1]  # "Ann Marie is a ..."
    # Ann's line replaced by a second "Ann Marie is a ...": Ann has no statement (the role count still fits)
    no_ann = "\n".join([f"(1) {ann_marie}", *lines[1:]])
    # Marie's line replaced by a stranger: "Ann Marie is a ..." must not count for Marie
    no_marie = "\n".join([*lines[:2], "(3) Bob is a knight", lines[3]])
    cot = p.solution.split("</think>")[0]
    for answer in (no_ann, no_marie):
        v = KNIGHTS.verify(p, f"{cot}</think>\n<answer>\n{answer}\n</answer>")
        assert v.answer_status == "unparseable" and "is a ROLE" in (v.error or ""), answer
    roles = ["knight", "knave"]
    assert parse_answer_published("Ann Marie is a knight, Ann is a knave", ["Ann", "Ann Marie"], roles)[0] == [
        False,
        True,
    ]
    assert parse_answer("Annabel is a knight, Ann is a knave", ["Ann", "Annabel"], roles)[0] == [False, True]


def test_knights_answer_case_and_name_case() -> None:
    p = _knights_named(["Zoey", "Oliver", "Anne Marie", "Bo"])
    cot = p.solution.split("</think>")[0]
    for answer in (p.answer.upper(), p.answer.lower(), p.answer.replace("Anne Marie", "anne\n  MARIE")):
        assert score(KNIGHTS, p, f"{cot}</think>\n<answer>\n{answer}\n</answer>", "logic_rl_strict").reward == 3.0
    # names that differ in case alone are told apart by case
    q = _knights_named(NAME_SETS["case_only_difference"])
    cot = q.solution.split("</think>")[0]
    v = KNIGHTS.verify(q, f"{cot}</think>\n<answer>\n{q.answer.lower()}\n</answer>")
    assert v.answer_status == "unparseable" and v.error


def test_knights_role_words_are_counted_outside_names() -> None:
    roles = ["knight", "knave"]
    names = ["Knight", "Knave"]
    assert parse_answer("Knight is a knave\nKnave is a knight", names, roles)[0] == [False, True]
    assert parse_answer_published("Knight is a knave and Knave is a knight", names, roles)[0] == [False, True]
    found, error = parse_answer_published("Knight is a knave, Knave is a knight, a knight", names, roles)
    assert found is None and error == "answer names 3 roles for 2 people"


# ----------------------------------------------------------------------------- 4. logic_rl is the published rule


def published_logic_rl(text: str, names: list[str], solution: list[bool]) -> float:
    """Logic-RL's reward as the reference states it (knight/knave), written apart from the package."""
    tags = ["<think>", "</think>", "<answer>", "</answer>"]
    if any(text.count(t) != 1 for t in tags):
        return -3.0
    positions = [text.find(t) for t in tags]
    if positions != sorted(positions):
        return -3.0
    block = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)[-1]
    if len(re.findall(r"\b(?:knight|knave)(?:s|es)?\b", block, re.IGNORECASE)) != len(names):
        return 1.0 - 2.0
    stated = []
    for name in names:
        m = re.search(rf"\b{re.escape(name)}\b\s+is\s+a\s+(knight|knave)\b", block, re.IGNORECASE)
        if m is None:
            return 1.0 - 2.0
        stated.append(m.group(1).lower() == "knight")
    return 1.0 + (2.0 if stated == solution else -1.5)


@pytest.fixture(scope="module")
def pair() -> Problem:
    return _knights_named(["Zoey", "Oliver"])


def _answer(p: Problem, solution: list[bool]) -> str:
    names = p.meta["names"]
    return "\n".join(
        f"({i + 1}) {n} is a {'knight' if v else 'knave'}" for i, (n, v) in enumerate(zip(names, solution, strict=True))
    )


def parity_table(p: Problem) -> list[tuple[str, str, float]]:
    """(label, completion after the pre-filled <think>, reward under the published rule)."""
    sol = [bool(v) for v in p.meta["solution"]]
    right, wrong = _answer(p, sol), _answer(p, [not sol[0], sol[1]])
    z, o = p.meta["names"]
    return [
        ("short_think", f" Let us reason. </think> <answer> {right} </answer>", 3.0),
        ("empty_think", f"</think><answer>{right}</answer>", 3.0),
        ("filler_think", f" thinking process here </think>\n<answer>\n{right}\n</answer>", 3.0),
        ("text_between", f" r </think> so: <answer> {right} </answer>", 3.0),
        ("text_after", f" r </think> <answer> {right} </answer> Hope this helps!", 3.0),
        ("reasoning_inside_answer", f" r </think> <answer> Since {o} lies: {right} </answer>", 3.0),
        ("nonsense_inside_answer", f" r </think> <answer> banana {right} qwerty </answer>", 3.0),
        ("upper_case", f" r </think> <answer> {right.upper()} </answer>", 3.0),
        ("one_line", f" r </think> <answer> {right.replace(chr(10), ', ')} </answer>", 3.0),
        ("wrong_role", f" r </think> <answer> {wrong} </answer>", -0.5),
        ("missing_person", f" r </think> <answer> {right.split(chr(10))[0]} </answer>", -1.0),
        ("extra_role_word", f" r </think> <answer> {right} (or a knave) </answer>", -1.0),
        ("plural_role_word", f" r </think> <answer> {right}; no knights here </answer>", -1.0),
        ("is_an_knight", f" r </think> <answer> {right.replace(' is a ', ' is an ')} </answer>", -1.0),
        ("name_without_statement", f" r </think> <answer> {z} knight, {o} knave </answer>", -1.0),
        ("empty_answer", " r </think> <answer> </answer>", -1.0),
        ("own_think_again", f"<think> r </think> <answer> {right} </answer>", -3.0),
        ("two_answers", f" r </think> <answer> {wrong} </answer> <answer> {right} </answer>", -3.0),
        ("answer_before_think_end", f" r <answer> {right} </answer> </think>", -3.0),
        ("unclosed_answer", f" r </think> <answer> {right}", -3.0),
        ("no_think_end", f" r <answer> {right} </answer>", -3.0),
        ("think_after_answer", f" r </think> <answer> {right} </answer> <think> recheck </think>", -3.0),
    ]


@pytest.mark.parametrize("style", ["plain", "chat"])
def test_logic_rl_is_exactly_the_published_rule(pair: Problem, style: str) -> None:
    p = _knights_named(pair.meta["names"], style=style)
    sol = [bool(v) for v in p.meta["solution"]]
    for label, completion, expected in parity_table(p):
        assert published_logic_rl("<think>" + completion, p.meta["names"], sol) == expected, label  # the table
        s = score(KNIGHTS, p, completion, "logic_rl")
        assert s.reward == expected, (label, s.error)
        assert s.format_ok == (expected > -3.0), label
        if expected < 3.0:
            assert s.error, label


FRAGMENTS = ["<think>", "</think>", "<answer>", "</answer>", "(1) ", " is a ", " is an ", "knight", "knave", "knights"]
NOISE = st.lists(
    st.one_of(st.sampled_from([*FRAGMENTS, "Zoey", "Oliver", "\n", " ", "."]), st.text(max_size=8)), max_size=6
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NOISE, min_size=6, max_size=6), st.sampled_from(["right", "wrong", "none"]), st.booleans())
def test_logic_rl_matches_the_reference_on_fuzzed_completions(
    pair: Problem, noise: list[list[str]], answer: str, skeleton: bool
) -> None:
    """Noise around a well-tagged completion (or alone): ``logic_rl`` is the reference rule, whatever the noise."""
    sol = [bool(v) for v in pair.meta["solution"]]
    body = {"right": _answer(pair, sol), "wrong": _answer(pair, [not sol[0], sol[1]]), "none": ""}[answer]
    n = ["".join(piece) for piece in noise]
    tagged = f"{n[0]}</think>{n[1]}<answer>{n[2]}{body}{n[3]}</answer>{n[4]}"
    completion = tagged if skeleton else "".join(n) + body
    expected = published_logic_rl("<think>" + completion, pair.meta["names"], sol)
    assert score(KNIGHTS, pair, completion, "logic_rl").reward == expected


def _strict_hacks(p: Problem) -> dict[str, str]:
    """Reward hacks with the right answer that only the strict rule rejects (the think block holds no reasoning)."""
    names = p.meta["names"]
    statements = [to_tuple(s) for s in p.meta["statements"]]
    question = puzzle_text(p.meta, statements)
    said = [statement_sentence(p.meta["templates"][i], i, s, names, p.meta["roles"]) for i, s in enumerate(statements)]
    assert all(sentence in p.prompt for sentence in said)
    end = f"</think>\n<answer>\n{p.answer}\n</answer>"
    return {
        "let_us_reason": f" Let us reason. {end}",
        "junk_mentioning_a_person": f" {names[0]} banana. {end}",
        "names_only": f" {', '.join(names)}. {end}",
        "roles_without_people": f" Somebody is a knight and somebody is a knave. {end}",
        "filler": f" thinking process here {end}",
        "restated_question": f"\n{question}\n{end}",
        "copied_statement": f" {said[0]} {end}",
        "copied_statements_reordered": f" {' '.join(reversed(said))} {end}",
        "copied_question_line": f" Who is a knight and who is a knave? {end}",
    }


@pytest.mark.parametrize("style", ["plain", "chat"])
def test_logic_rl_strict_gives_no_full_reward_to_think_hacks(style: str) -> None:
    p = _knights_named(["Zoey", "Oliver", "Bo", "Ann"], style=style)
    for label, completion in _strict_hacks(p).items():
        assert score(KNIGHTS, p, completion, "logic_rl").reward == 3.0, label  # the published rule lets them pass
        s = score(KNIGHTS, p, completion, "logic_rl_strict")
        assert s.reward == -3.0 and s.error and "no reasoning" in s.error, label


def test_logic_rl_strict_accepts_a_short_claim_about_a_person() -> None:
    p = _knights_named(["Zoey", "Oliver"])
    end = f"</think>\n<answer>\n{p.answer}\n</answer>"
    for think in (
        "Assume Zoey is a knight.",
        "If Oliver were lying, the rest would not hold.",
        "Oliver's claim is false.",
        "Zoey tells the truth.",
    ):
        assert score(KNIGHTS, p, f" {think} {end}", "logic_rl_strict").reward == 3.0, think


def test_strict_verdict_is_carried_and_advertised(pair: Problem) -> None:
    v = KNIGHTS.verify(pair, pair.solution)
    assert v.strict is not None and v.strict.format_ok and v.strict.answer_status == "exact"
    assert "logic_rl_strict" in supported_schemes(KNIGHTS)
    assert "logic_rl_strict" not in supported_schemes(ARITH) and "logic_rl_strict" not in supported_schemes(FACTS)


# ----------------------------------------------------------------------------- 5. a reason for every wrong


def test_every_wrong_arith_answer_has_a_reason() -> None:
    for p in ARITH_PROBLEMS:
        rng = random.Random(p.id)
        for kind in CORRUPTIONS:
            v = ARITH.verify(p, corrupt(p, kind, rng))
            assert v.correct or v.error, kind


def test_every_wrong_facts_answer_has_a_reason() -> None:
    for completion in (
        FACTS_GOLD.replace("20, 15, 21 </answer>", "20, 15, 1 </answer>"),
        FACTS_GOLD.replace("20, 15, 21 </answer>", "20, 15 </answer>"),
        FACTS_GOLD.replace("20, 15, 21 </answer>", "twenty </answer>"),
        "",
    ):
        v = FACTS.verify(_facts_problem(), completion)
        assert not v.correct and v.error, completion


def test_every_wrong_recite_answer_has_a_reason() -> None:
    p = next(FACTS.generate(FACTS.params(layout="recite", facts=3, operators="+"), 1, seed=0))
    for completion in (" 1 + 1 = 2 </solution>", " 1 + 1 = 3 ; 1 + 2 = 3 ; 2 + 2 = 4 </solution>", ""):
        v = FACTS.verify(p, completion)
        assert not v.correct and v.error, completion


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NOISE, min_size=6, max_size=6), st.booleans())
def test_every_rejected_knights_completion_has_a_reason(pair: Problem, noise: list[list[str]], right: bool) -> None:
    sol = [bool(v) for v in pair.meta["solution"]]
    n = ["".join(piece) for piece in noise]
    body = _answer(pair, sol if right else [not sol[0], sol[1]])
    v = KNIGHTS.verify(pair, f"{n[0]}</think>{n[1]}<answer>{n[2]}{body}{n[3]}</answer>{n[4]}")
    assert v.strict is not None
    if not (v.correct and v.format_ok):
        assert v.error
    if not (v.strict.format_ok and v.strict.answer_status == "exact"):
        assert v.strict.error
    if v.error is None:
        assert v.correct and v.format_ok and v.strict.error is None
