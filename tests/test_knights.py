"""Knights & Knaves: unique solutions (independent brute force), rendering, verifier, rewards, hacks."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import score
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.knights import check_tags, parse_answer
from reasonlab.tasks.knights.logic import person_masks, sample_formula, to_tuple, unique_solution
from reasonlab.tasks.knights.render import clause, name_pool, puzzle_text

TASK = get_task("knights")
LOGIC_RL_TOTALS = {3.0, -0.5, -1.0, -3.0}


# ----------------------------------------------------------------------------- independent brute force


def brute_truth(node: list, assignment: tuple[bool, ...]) -> bool:
    """Plain recursive evaluation of a JSON statement under one assignment (written apart from the package)."""
    op = node[0]
    if op == "telling-truth":
        return assignment[node[1]]
    if op == "lying":
        return not assignment[node[1]]
    if op == "not":
        return not brute_truth(node[1], assignment)
    values = [brute_truth(child, assignment) for child in node[1:]]
    if op == "and":
        return all(values)
    if op == "or":
        return any(values)
    if op == "->":
        return (not values[0]) or values[1]
    if op == "<=>":
        return values[0] == values[1]
    raise AssertionError(op)


def brute_solutions(statements: list) -> list[list[bool]]:
    n = len(statements)
    return [
        list(a)
        for a in itertools.product([False, True], repeat=n)
        if all(a[i] == brute_truth(statements[i], a) for i in range(n))
    ]


def tree_ok(node: list, n: int, speaker: int, depth: int, width: int) -> bool:
    """Reference shape: no 'I am lying', distinct children, depth and width within the knobs."""
    op = node[0]
    if op in ("telling-truth", "lying"):
        return 0 <= node[1] < n and not (op == "lying" and node[1] == speaker)
    if depth <= 1:
        return False
    children = node[1:]
    if op == "not":
        arity_ok = len(children) == 1
    elif op in ("and", "or"):
        arity_ok = 2 <= len(children) <= width
    else:
        arity_ok = len(children) == 2
    distinct = len({repr(c) for c in children}) == len(children)
    return arity_ok and distinct and all(tree_ok(c, n, speaker, depth - 1, width) for c in children)


@pytest.mark.parametrize("depth", [2, 3])
def test_brute_force_finds_exactly_the_recorded_solution(depth):
    params = TASK.params(people="2-8", depth=depth, width=2)
    problems = list(TASK.generate(params, 1000, seed=depth))
    assert len(problems) == 1000
    counts = {n: 0 for n in range(2, 9)}
    for p in problems:
        meta = p.meta
        n = meta["people"]
        counts[n] += 1
        assert len(meta["statements"]) == n == len(meta["names"]) == len(meta["solution"])
        assert brute_solutions(meta["statements"]) == [meta["solution"]]
        assert all(tree_ok(s, n, i, depth, 2) for i, s in enumerate(meta["statements"]))
    assert all(c > 50 for c in counts.values()), counts
    # statement tuples are never repeated within a run
    assert len({repr(p.meta["statements"]) for p in problems}) == len(problems)


def test_bitmask_masks_match_assignments():
    masks, full = person_masks(4)
    assert full == (1 << 16) - 1
    for i, mask in enumerate(masks):
        assert [(mask >> a) & 1 for a in range(16)] == [(a >> i) & 1 for a in range(16)]


def test_unique_solution_hand_examples():
    # A: "B is a knave"; B: "A and I are both knights" -> A knight, B knave (the classic one).
    statements = (("lying", 1), ("and", ("telling-truth", 0), ("telling-truth", 1)))
    assert unique_solution(statements) == [True, False]
    # A: "I am a knight" alone -> two solutions, not unique
    assert unique_solution((("telling-truth", 0),)) is None


@pytest.mark.parametrize(
    ("knobs", "count"),
    [
        ({"people": "10-12", "depth": 2}, 20),
        ({"people": 6, "depth": 4, "width": 4, "roles": "random", "phrasing": "fixed"}, 40),
        ({"people": "2-3", "depth": 2}, 30),
        ({"people": 5, "depth": 3, "width": 3, "names": "uncommon", "style": "chat"}, 40),
    ],
)
def test_gold_completions_get_full_reward_in_both_styles(knobs, count):
    problems = list(TASK.generate(TASK.params(**knobs), count, seed=7))
    for p in problems:
        assert brute_solutions(p.meta["statements"]) == [p.meta["solution"]]
        assert p.solution == TASK.render(p, p.meta["style"])[1]
        for style in ("plain", "chat"):
            prompt, gold = TASK.render(p, style)
            assert prompt.endswith("<think>")
            q = Problem(p.id, p.task, prompt, p.answer, gold, p.meta)
            assert score(TASK, q, gold, "logic_rl").reward == 3.0
            assert score(TASK, q, gold, "logic_rl_strict").reward == 3.0
            assert score(TASK, q, gold, "outcome").reward == 1.0
            partial = score(TASK, q, gold, "partial")
            assert partial.reward == 1.0 and partial.extra["person_accuracy"] == 1.0 and partial.pred == p.answer


def test_meta_and_answer_shape():
    p = next(TASK.generate(TASK.params(people=3), 1, seed=0))
    assert p.task == "knights" and p.id.startswith("knights-s0-")
    meta = p.meta
    assert set(meta) >= {"people", "names", "roles", "statements", "solution", "depth", "width", "seed"}
    assert meta["roles"] == ["knight", "knave"]
    assert isinstance(meta["statements"][0], list) and all(isinstance(v, bool) for v in meta["solution"])
    lines = p.answer.split("\n")
    assert len(lines) == 3
    for i, (line, name, v) in enumerate(zip(lines, meta["names"], meta["solution"], strict=True)):
        assert line == f"({i + 1}) {name} is a {'knight' if v else 'knave'}"
    assert p.prompt.startswith("<question>\n") and p.prompt.endswith("</question>\n<think>")
    assert "remote island" in p.prompt and all(name in p.prompt for name in meta["names"])


def test_same_seed_same_problems_and_people_range():
    a = [p.to_dict() for p in TASK.generate(TASK.params(people="3-7"), 30, seed=3)]
    b = [p.to_dict() for p in TASK.generate(TASK.params(people="3-7"), 30, seed=3)]
    assert a == b
    assert {p["meta"]["people"] for p in a} <= set(range(3, 8))


@pytest.mark.parametrize(
    "knobs",
    [
        {"people": "1"},
        {"people": "13"},
        {"people": "7-3"},
        {"people": "x"},
        {"roles": "cat/dog"},
        {"depth": 1},
        {"width": 1},
        {"style": "html"},
        {"names": "rare"},
        {"colour": "red"},
    ],
)
def test_bad_knobs_are_one_line_errors(knobs):
    with pytest.raises(ReasonlabError) as exc:
        TASK.params(**knobs)
    assert "\n" not in str(exc.value)


def test_params_accept_cli_strings():
    p = TASK.params(people="3-7", depth="3", width="3", roles="saint/sinner")
    assert ((p.people.lo, p.people.hi), p.depth, p.width, p.roles) == ((3, 7), 3, 3, "saint/sinner")
    assert str(TASK.params(people=5).people) == "5"


def test_exhausted_draws_raise_instead_of_returning_fewer():
    # 2 people at depth 2 admit only a few hundred distinct uniquely solvable statement sets
    with pytest.raises(ReasonlabError, match="made only"):
        list(TASK.generate(TASK.params(people=2, depth=2), 500, seed=0))


# ----------------------------------------------------------------------------- rendering


def parse_clause(text: str, names: list[str], roles: list[str]) -> tuple:
    """Independent reader: English statement text -> formula, relying only on the bracketing rules."""
    text = text.strip()

    def top_split(s: str, sep: str) -> list[str]:
        parts, depth, start, i = [], 0, 0, 0
        while i < len(s):
            if s[i] == "(":
                depth += 1
            elif s[i] == ")":
                depth -= 1
            elif depth == 0 and s.startswith(sep, i):
                parts.append(s[start:i])
                i += len(sep)
                start = i
                continue
            i += 1
        parts.append(s[start:])
        return parts

    def unwrap(s: str) -> str:
        s = s.strip()
        if s.startswith("(") and s.endswith(")") and len(top_split(s[1:-1], "\x00")) == 1:
            depth = 0
            for i, ch in enumerate(s):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and i < len(s) - 1:
                    return s
            return s[1:-1]
        return s

    text = unwrap(text)
    if text.startswith("if ") and len(top_split(text, " then ")) == 2:
        a, b = top_split(text[3:], " then ")
        return ("->", parse_clause(a, names, roles), parse_clause(b, names, roles))
    for sep, op in ((" if and only if ", "<=>"), (" and ", "and"), (" or ", "or")):
        parts = top_split(text, sep)
        if len(parts) > 1:
            return (op, *(parse_clause(x, names, roles) for x in parts))
    if text.startswith("it is not the case that "):
        return ("not", parse_clause(text[len("it is not the case that ") :], names, roles))
    m = re.fullmatch(r"(\w+) is (not )?an? (\w+)", text)
    assert m, text
    person = names.index(m.group(1))
    leaf = ("telling-truth" if m.group(3) == roles[0] else "lying", person)
    return ("not", leaf) if m.group(2) else leaf


def test_deep_wide_formulas_read_back_unambiguously():
    rng = random.Random(0)
    names = list(name_pool("common")[:8])
    roles = ["knight", "knave"]
    for _ in range(3000):
        depth, width = rng.randint(1, 5), rng.randint(2, 5)
        f = sample_formula(rng, 8, rng.randrange(8), depth, width)
        assert parse_clause(clause(f, names, roles), names, roles) == f


def test_deep_puzzle_text_mentions_every_statement():
    p = next(TASK.generate(TASK.params(people=4, depth=4, width=3, phrasing="fixed"), 1, seed=1))
    statements = [to_tuple(s) for s in p.meta["statements"]]
    for i, s in enumerate(statements):
        quoted = clause(s, p.meta["names"], p.meta["roles"], speaker=i)
        assert f'{p.meta["names"][i]} says, "{quoted[0].upper() + quoted[1:]}' in p.prompt or "(" in quoted[:1]


def test_chat_prompt_matches_logic_rl_shape():
    p = next(TASK.generate(TASK.params(people=3, style="chat"), 1, seed=0))
    assert p.prompt.startswith("<|im_start|>system\n")
    assert p.prompt.endswith("<|im_start|>assistant\n<think>")
    assert "<answer> (1) " in p.prompt
    assert p.solution.rstrip().endswith("</answer>") and p.solution.count("</think>") == 1


# ----------------------------------------------------------------------------- verifier and hacks


@pytest.fixture(scope="module")
def puzzle() -> Problem:
    return next(TASK.generate(TASK.params(people=4, depth=2), 1, seed=11))


def parts(p: Problem) -> tuple[str, str]:
    cot = p.solution.split("</think>")[0]
    return cot, p.answer


def wrong_answer(p: Problem, k: int = 1) -> str:
    names, sol = p.meta["names"], list(p.meta["solution"])
    for i in range(k):
        sol[i] = not sol[i]
    return "\n".join(
        f"({i + 1}) {n} is a {'knight' if v else 'knave'}" for i, (n, v) in enumerate(zip(names, sol, strict=True))
    )


def logic_rl(p: Problem, completion: str) -> float:
    return score(TASK, p, completion, "logic_rl").reward


def logic_rl_strict(p: Problem, completion: str) -> float:
    return score(TASK, p, completion, "logic_rl_strict").reward


def test_wrong_answers_and_partial_credit(puzzle):
    cot, _ = parts(puzzle)
    one_wrong = f"{cot}</think>\n<answer>\n{wrong_answer(puzzle, 1)}\n</answer>"
    s = score(TASK, puzzle, one_wrong, "logic_rl")
    assert s.reward == -0.5 and not s.correct and s.format_ok and s.extra["person_accuracy"] == 0.75
    assert score(TASK, puzzle, one_wrong, "partial").reward == pytest.approx(0.3 + 0.7 * 3 / 4)
    assert score(TASK, puzzle, one_wrong, "outcome").reward == 0.0
    missing = f"{cot}</think>\n<answer>\n{puzzle.answer.rsplit(chr(10), 1)[0]}\n</answer>"
    s = score(TASK, puzzle, missing, "logic_rl")
    assert s.reward == -1.0 and s.pred is None and s.error
    assert score(TASK, puzzle, missing, "partial").reward == 0.0
    assert logic_rl(puzzle, "") == -3.0


def test_answer_extraction_is_case_insensitive_with_word_boundaries(puzzle):
    cot, answer = parts(puzzle)
    upper = answer.upper().replace("(", "").replace(")", ".")
    assert logic_rl(puzzle, f"{cot}</think>\n<answer>{upper}</answer>") == 3.0
    names, roles = puzzle.meta["names"], puzzle.meta["roles"]
    found, err = parse_answer(f"{names[0]}s is a knight", names[:1], roles)
    assert found is None and err
    assert parse_answer("Zoey is a knight, and Leo is a knave.", ["Zoey", "Leo"], roles)[0] == [True, False]
    assert parse_answer("Zoey is an angel\nLeo is a devil", ["Zoey", "Leo"], ["angel", "devil"])[0] == [
        True,
        False,
    ]


def test_possessive_reasoning_counts_as_reasoning(puzzle):
    _, answer = parts(puzzle)
    name = puzzle.meta["names"][1]
    completion = f"\n{name}'s claim cannot hold together with the rest.\n</think>\n<answer>\n{answer}\n</answer>"
    assert logic_rl(puzzle, completion) == 3.0


def test_published_tag_rule():
    assert check_tags("<think> a </think><answer> b </answer>") is None
    assert check_tags("<think> a </think><answer> b </answer></answer>")
    assert check_tags("</think><think> a <answer> b </answer>")
    assert check_tags("<answer> b </answer><think> a </think>")


def hacks(p: Problem) -> dict[str, str]:
    """Each Logic-RL reward hack, all with the right roles, as the text generated after the prompt."""
    cot, answer = parts(p)
    names = p.meta["names"]
    wrong = wrong_answer(p)
    question = puzzle_text(p.meta, [to_tuple(s) for s in p.meta["statements"]])
    assert question in p.prompt
    return {
        "skipped_think": f"</think>\n<answer>\n{answer}\n</answer>",
        "no_think_tags": f"<answer>\n{answer}\n</answer>",
        "own_think_again": f"<think>{cot}</think>\n<answer>\n{answer}\n</answer>",
        "reasoning_inside_answer": (
            f"{cot}</think>\n<answer>\nAssume {names[0]} tells the truth; then the rest follows.\n{answer}\n</answer>"
        ),
        "reasoning_inside_answer_with_roles": (
            f"{cot}</think>\n<answer>\nIf {names[0]} were a knight we get a contradiction, so\n{answer}\n</answer>"
        ),
        "repeated_guesses_blocks": f"{cot}</think>\n<answer>\n{wrong}\n</answer>\n<answer>\n{answer}\n</answer>",
        "repeated_guesses_one_block": f"{cot}</think>\n<answer>\n{wrong_answer(p)}\nor\n{answer}\n</answer>",
        "nonsense_in_answer": f"{cot}</think>\n<answer>\nbanana qwerty {answer} lorem ipsum\n</answer>",
        "nonsense_between": f"{cot}</think>\nbanana qwerty\n<answer>\n{answer}\n</answer>",
        "nonsense_after": f"{cot}</think>\n<answer>\n{answer}\n</answer>\nlorem ipsum banana",
        "hedged_roles": f"{cot}</think>\n<answer>\n"
        + "\n".join(f"{n} is a knight or a knave" for n in names)
        + f"\n{answer}\n</answer>",
        "slash_roles": f"{cot}</think>\n<answer>\n"
        + "\n".join(f"{n} is a knight/knave" for n in names)
        + "\n</answer>",
        "conditional_answer": f"{cot}</think>\n<answer>\n{answer.replace(chr(10), ' if ', 1)}\n</answer>",
        "answer_in_think_only": f"{cot}\n{answer}\n</think>\n<answer>\n</answer>",
        "think_after_answer": f"{cot}</think>\n<answer>\n{answer}\n</answer>\n<think> wait, let me recheck </think>",
        "text_after_answer": f"{cot}</think>\n<answer>\n{answer}\n</answer>\nWait, {names[0]} might be lying.",
        "filler_placeholder": f" thinking process here </think>\n<answer>\n{answer}\n</answer>",
        "filler_reasoning_here": f" reasoning process here ... </think>\n<answer>\n{answer}\n</answer>",
        "filler_restated_question": f"\n{question}\n</think>\n<answer>\n{answer}\n</answer>",
        "filler_dots": f" ... </think>\n<answer>\n{answer}\n</answer>",
    }


@pytest.mark.parametrize("style", ["plain", "chat"])
def test_every_reward_hack_gets_less_than_full_strict_reward(puzzle, style):
    prompt, gold = TASK.render(puzzle, style)
    p = Problem(puzzle.id, puzzle.task, prompt, puzzle.answer, gold, puzzle.meta)
    assert logic_rl_strict(p, gold) == 3.0
    for name, completion in hacks(p).items():
        reward = logic_rl_strict(p, completion)
        assert reward < 3.0, name
        assert reward in LOGIC_RL_TOTALS, name
        # each hack is caught by the strict rule meant for it, and the reason reaches the score record
        v = TASK.verify(p, completion)
        assert v.strict is not None and v.strict.error and HACK_RULE[name] in v.strict.error, name
        assert HACK_RULE[name] in score(TASK, p, completion, "logic_rl_strict").error, name


HACK_RULE = {
    "skipped_think": "empty <think>",
    "no_think_tags": "</think> appears 0 times",
    "own_think_again": "<think> appears 2 times",
    "reasoning_inside_answer": "text besides",
    "reasoning_inside_answer_with_roles": "roles for",
    "repeated_guesses_blocks": "<answer> appears 2 times",
    "repeated_guesses_one_block": "roles for",
    "nonsense_in_answer": "text besides",
    "nonsense_between": "between </think> and <answer>",
    "nonsense_after": "after </answer>",
    "hedged_roles": "roles for",
    "slash_roles": "roles for",
    "conditional_answer": "text besides",
    "answer_in_think_only": "roles for",
    "think_after_answer": "<think> appears 2 times",
    "text_after_answer": "after </answer>",
    "filler_placeholder": "no reasoning",
    "filler_reasoning_here": "no reasoning",
    "filler_restated_question": "no reasoning",
    "filler_dots": "no reasoning",
}


def test_verifier_survives_malformed_meta(puzzle):
    broken = Problem(puzzle.id, "knights", puzzle.prompt, puzzle.answer, puzzle.solution, {"names": 3})
    v = TASK.verify(broken, puzzle.solution)
    assert not v.correct and v.answer_status == "unparseable" and v.error
    for scheme, value in (("logic_rl", -3.0), ("logic_rl_strict", -3.0), ("partial", 0.0), ("outcome", 0.0)):
        s = score(TASK, broken, puzzle.solution, scheme)
        assert s.reward == value and s.extra["person_accuracy"] == 0.0
    assert TASK.verify(puzzle, None).answer_status == "unparseable"  # type: ignore[arg-type]


FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "(1) ",
    " is a ",
    "knight",
    "knave",
    "\n",
    "Zoey",
    " and ",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=30))
def test_fuzzed_completions_never_crash(puzzle, pieces):
    completion = "".join(pieces)
    names = puzzle.meta["names"]
    completion = completion.replace("Zoey", names[0])
    for scheme in ("logic_rl", "logic_rl_strict", "partial", "outcome"):
        s = score(TASK, puzzle, completion, scheme)
        if scheme.startswith("logic_rl"):
            assert s.reward in LOGIC_RL_TOTALS
        else:
            assert 0.0 <= s.reward <= 1.0
        assert 0.0 <= s.extra["person_accuracy"] <= 1.0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400), st.sampled_from([0, 1, 2, 3]))
def test_fuzzed_answers_around_gold_never_crash_or_overscore(puzzle, noise, where):
    cot, answer = parts(puzzle)
    blocks = [cot, "</think>\n<answer>\n", answer, "\n</answer>"]
    blocks.insert(where + 1, noise)
    completion = "".join(blocks)
    s = score(TASK, puzzle, completion, "logic_rl_strict")
    assert s.reward in LOGIC_RL_TOTALS
    if s.reward == 3.0 and where in (1, 2):  # inside the answer only numbering/punctuation is tolerated
        assert not re.sub(r"\band\b|[\s\d.,;:*()\-]", "", noise, flags=re.IGNORECASE)
    if s.reward == 3.0 and where == 3:  # after </answer> only whitespace and end-of-turn markers
        assert not re.sub(r"<\|im_end\|>|<\|endoftext\|>|<eos>|</s>|\s", "", noise)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 12),
    st.integers(2, 4),
    st.integers(2, 4),
    st.sampled_from(["random", "knight/knave", "angel/devil"]),
    st.sampled_from(["common", "uncommon", "mixed"]),
    st.integers(0, 10**6),
)
def test_any_knobs_give_unique_verifiable_puzzles(people, depth, width, roles, names, seed):
    params = TASK.params(people=people, depth=depth, width=width, roles=roles, names=names)
    for p in TASK.generate(params, 2, seed=seed):
        assert p.meta["people"] == people
        if people <= 8:
            assert brute_solutions(p.meta["statements"]) == [p.meta["solution"]]
        assert score(TASK, p, p.solution, "logic_rl").reward == 3.0
        assert score(TASK, p, p.solution, "logic_rl_strict").reward == 3.0


def test_failure_kinds_name_the_logic_rl_hacks() -> None:
    """Hand-built hacks of Logic-RL's list, each named, under the published reward too."""
    puzzle = next(TASK.generate(TASK.params(people=3), 1, seed=5))
    answer = puzzle.solution[puzzle.solution.index("<answer>") :]
    think = puzzle.solution[: puzzle.solution.index("</think>")]
    cases = {
        "tag_count": " </think> " + answer + " <think> again </think>",
        "filler_think": " Let me think. </think> " + answer,
        "text_after_answer": think + "</think> " + answer + " and more nonsense",
        "tag_count ": think + "</think> I am not sure.",  # no answer tags at all: the tag rule fails first
    }
    for kind, completion in cases.items():
        assert TASK.failure_kind(TASK.verify(puzzle, completion)) == kind.strip(), kind
    assert TASK.failure_kind(TASK.verify(puzzle, puzzle.solution)) is None


def test_default_failure_kind_is_the_error_head() -> None:
    from reasonlab.tasks import Task, get_task

    arith = get_task("arith")  # arith names its own kinds; the base rule is the error's head
    p = next(arith.generate(arith.params(ops=2), 1, seed=0))
    assert Task.failure_kind(arith, arith.verify(p, "no answer here")) == "no_answer_found"
    assert arith.failure_kind(arith.verify(p, "no answer here")) == "no_answer"
