"""Knights & Knaves chain-of-thought knob (``cot: full|compact|lookup|short|roles|bound``): the default stays
byte-identical, every rendering of gold verifies perfect, and the compact chain is a correct truth table (read
back independently)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import score
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.knights.logic import to_tuple
from reasonlab.tasks.knights.perturb import PERTURBATIONS, PerturbError, perturb_problem
from reasonlab.tasks.knights.render import FIXED_NAMES, compact_chain, render_completion, statement_sentence
from reasonlab.tasks.registry import checked_params, task_params

TASK = get_task("knights")

#: sha256 of the default records below, computed on the code before the knob existed (main at e322a3e).
DEFAULT_FINGERPRINT = "f640c51d64d6e633602832cdcb226b556b9ead8ca004ebef2f00642acd245fe6"
FINGERPRINT_KNOBS = (
    {"people": "2-8"},
    {"people": "3-5", "style": "chat", "roles": "random", "names": "mixed"},
    {"people": "4", "depth": 3, "width": 3},
)


def _fingerprint(extra: dict[str, str]) -> str:
    h = hashlib.sha256()
    for knobs in FINGERPRINT_KNOBS:
        for p in TASK.generate(checked_params("knights", {**knobs, **extra}), 40, 7):
            h.update(json.dumps(p.to_dict(), sort_keys=True).encode())
    return h.hexdigest()


@pytest.mark.parametrize("extra", [{}, {"cot": "full"}])
def test_default_rendering_is_byte_identical(extra):
    assert _fingerprint(extra) == DEFAULT_FINGERPRINT


def test_compact_draws_the_same_puzzles_and_records_the_knob():
    full = list(TASK.generate(TASK.params(people="2-5"), 20, seed=3))
    compact = list(TASK.generate(TASK.params(people="2-5", cot="compact"), 20, seed=3))
    for f, c in zip(full, compact, strict=True):
        assert "cot" not in f.meta and c.meta.pop("cot") == "compact"
        assert (f.id, f.prompt, f.answer, f.meta) == (c.id, c.prompt, c.answer, c.meta)
        assert f.solution != c.solution and c.solution.endswith(f"<answer>\n{c.answer}\n</answer>")


def test_fixed_names_draw_the_same_puzzles_with_alice_bob_carol():
    common = list(TASK.generate(TASK.params(people="2-6"), 20, seed=4))
    fixed = list(TASK.generate(TASK.params(people="2-6", names="fixed"), 20, seed=4))
    for c, f in zip(common, fixed, strict=True):
        n = c.meta["people"]
        assert f.meta["names"] == list(FIXED_NAMES[:n]) and f.meta["name_pool"] == "fixed"
        for key in ("statements", "solution", "templates", "roles"):
            assert c.meta[key] == f.meta[key]
    assert len(set(FIXED_NAMES)) == len(FIXED_NAMES) == 12


def test_few_names_are_the_fixed_twelve_at_every_position_with_the_same_puzzles():
    """`few`: n of the twelve fixed names in a seeded random order; the puzzles (statements, solution, roles)
    are the common draw's, and across puzzles of 2-4 people every name of a 6-person puzzle appears."""
    common = list(TASK.generate(TASK.params(people="2-4"), 300, seed=4))
    few = list(TASK.generate(TASK.params(people="2-4", names="few"), 300, seed=4))
    firsts, seen = set(), set()
    for c, f in zip(common, few, strict=True):
        names = f.meta["names"]
        assert len(set(names)) == len(names) == c.meta["people"] and set(names) <= set(FIXED_NAMES)
        for key in ("statements", "solution", "templates", "roles"):
            assert c.meta[key] == f.meta[key]
        firsts.add(names[0])
        seen.update(names)
    assert seen == firsts == set(FIXED_NAMES)  # every name, even as person 1
    again = list(TASK.generate(TASK.params(people="2-4", names="few"), 300, seed=4))
    assert [p.prompt for p in again] == [p.prompt for p in few]  # deterministic under the seed


def test_cycle_names_are_consecutive_on_the_circle_of_twelve_with_the_same_puzzles():
    """`cycle`: person k is the name k places after person 1's on the circle of the twelve fixed names (so only
    person 1's name must be copied); the puzzles are the common draw's and every name is seen at every position."""
    common = list(TASK.generate(TASK.params(people="2-4"), 300, seed=5))
    cyc = list(TASK.generate(TASK.params(people="2-4", names="cycle"), 300, seed=5))
    at_position: dict[int, set[str]] = {0: set(), 1: set()}
    for c, f in zip(common, cyc, strict=True):
        names = f.meta["names"]
        start = FIXED_NAMES.index(names[0])
        assert names == [FIXED_NAMES[(start + k) % 12] for k in range(c.meta["people"])]
        for key in ("statements", "solution", "templates", "roles"):
            assert c.meta[key] == f.meta[key]
        for k in at_position:
            at_position[k].add(names[k])
    assert at_position[0] == at_position[1] == set(FIXED_NAMES)
    wrap = next(p for p in TASK.generate(TASK.params(people=12, names="cycle"), 1, seed=0))
    assert sorted(wrap.meta["names"]) == sorted(FIXED_NAMES)  # twelve people: the whole circle, no repeat


def test_unknown_cot_is_a_one_line_error():
    allowed = "'full', 'compact', 'lookup', 'short', 'roles' or 'bound'"
    with pytest.raises(ReasonlabError, match=f"field 'cot': Input should be {allowed}"):
        task_params("knights", {"cot": "brief"})
    with pytest.raises(ValueError, match="chain-of-thought style"):
        render_completion((("telling-truth", 1), ("lying", 0)), ["A", "B"], ["knight", "knave"], [True, True], "x")
    with pytest.raises(ValueError, match="compact chain style 'full'"):  # the narration is not a truth table
        compact_chain((("telling-truth", 1), ("lying", 0)), ["A", "B"], ["knight", "knave"], [True, True], "full")


# ----------------------------------------------------------------------------- every gold verifies perfect


def _assert_perfect(p: Problem) -> None:
    for style in ("plain", "chat"):
        prompt, gold = TASK.render(p, style)
        q = Problem(p.id, p.task, prompt, p.answer, gold, p.meta)
        assert score(TASK, q, gold, "logic_rl").reward == 3.0
        assert score(TASK, q, gold, "logic_rl_strict").reward == 3.0
        assert score(TASK, q, gold, "outcome").reward == 1.0
        assert score(TASK, q, gold, "partial").extra["person_accuracy"] == 1.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 7),
    st.integers(2, 4),
    st.integers(2, 4),
    st.sampled_from(["random", "knight/knave", "angel/devil", "hero/villain"]),
    st.sampled_from(["common", "uncommon", "mixed", "fixed", "few", "cycle"]),
    st.sampled_from(["full", "compact", "lookup", "short", "roles", "bound"]),
    st.integers(0, 10**6),
)
def test_every_rendering_of_gold_verifies_perfect(people, depth, width, roles, names, cot, seed):
    params = TASK.params(people=people, depth=depth, width=width, roles=roles, names=names, cot=cot)
    for p in TASK.generate(params, 2, seed=seed):
        _assert_perfect(p)
        if cot != "full":
            check_compact_chain(p)


@pytest.mark.parametrize("cot", ["compact", "lookup", "short", "roles", "bound"])
@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_perturbations_keep_the_compact_chain(kind, cot):
    for p in TASK.generate(TASK.params(people="3-4", cot=cot), 6, seed=11):
        try:
            q = perturb_problem(p, kind, seed=5)
        except PerturbError:  # a math-level edit may find no unique variant
            continue
        assert q.meta["cot"] == cot
        _assert_perfect(q)
        check_compact_chain(q)


# ----------------------------------------------------------------------------- an independent reader


def _truth(node: list, a: tuple[bool, ...]) -> bool:
    op = node[0]
    if op in ("telling-truth", "lying"):
        return a[node[1]] == (op == "telling-truth")
    values = [_truth(c, a) for c in node[1:]]
    return {
        "not": lambda: not values[0],
        "and": lambda: all(values),
        "or": lambda: any(values),
        "->": lambda: (not values[0]) or values[1],
        "<=>": lambda: values[0] == values[1],
    }[op]()


def check_compact_chain(p: Problem) -> None:
    """Read the compact (lookup, short, roles, bound) think block back: tries in counting order, every leaf value, every
    statement value and verdict right, each try stopping at its first ``no``, the last try the recorded
    solution; in a lookup chain every ``NAME ROLE`` pair states the role under the current try."""
    names, (good, bad) = p.meta["names"], p.meta["roles"]
    lookup = p.meta["cot"] == "lookup"
    statements = p.meta["statements"]
    n = len(names)
    think = p.solution.split("</think>")[0].strip().split("\n")
    tries = list(itertools.product([True, False], repeat=n))
    t, i = 0, 0
    while i < len(think):
        a = tries[t]
        assert think[i] == "Try " + ", ".join(f"{m} {good if v else bad}" for m, v in zip(names, a, strict=True)) + "."
        i += 1
        for j in range(n):
            line = think[i]
            i += 1
            value = _truth(statements[j], a)
            verdict = "ok" if value == a[j] else "no"
            quote = f"- {statement_sentence(0, j, to_tuple(statements[j]), names, (good, bad))} "
            if p.meta["cot"] in ("short", "roles", "bound"):  # no quote: the speaker's name
                quote = f"- {names[j]}: "
            if lookup:  # the line opens with the try
                current = ", ".join(f"{m} {good if v else bad}" for m, v in zip(names, a, strict=True))
                quote = f"- {current}: {quote[2:]}"
            assert line.startswith(quote)
            speaker = f"{names[j]} " if lookup else ""
            assert line.endswith(f" = {'T' if value else 'F'}, {speaker}{good if a[j] else bad} {verdict}.")
            body = line[len(quote) :]
            if lookup:
                leaves = re.findall(r"(\w+) is an? (\w+) ([TF])\b", body)
                for who, claim, tv in leaves:
                    assert (a[names.index(who)] == (claim == good)) == (tv == "T")
                for who, role in re.findall(rf"(\w+) ({good}|{bad})\b", body):  # bare pairs: the current try
                    assert who not in names or role == (good if a[names.index(who)] else bad)
            elif p.meta["cot"] == "roles":  # NAME CLAIM vs ROLE-UNDER-THE-TRY TRUTH
                leaves = re.findall(r"(\w+) (\w+) vs (\w+) ([TF])\b", body)
                for who, claim, role, tv in leaves:
                    assert role == (good if a[names.index(who)] else bad)
                    assert (claim == role) == (tv == "T")
            elif p.meta["cot"] == "bound":  # NAME ROLE-UNDER-THE-TRY is a CLAIM TRUTH
                leaves = re.findall(r"(\w+) (\w+) is an? (\w+) ([TF])\b", body)
                for who, role, claim, tv in leaves:
                    assert role == (good if a[names.index(who)] else bad)
                    assert (claim == role) == (tv == "T")
                for who, role in re.findall(rf"(\w+) ({good}|{bad})\b", line):  # bare pairs: the current try
                    assert who not in names or role == (good if a[names.index(who)] else bad)
            else:
                leaves = re.findall(r"(\w+) (\w+) ([TF])\b", body)
                for who, role, tv in leaves:
                    assert (a[names.index(who)] == (role == good)) == (tv == "T")
            assert len(leaves) == json.dumps(statements[j]).count("telling-truth") + json.dumps(statements[j]).count(
                "lying"
            )
            if verdict == "no":
                break
        else:
            assert list(a) == p.meta["solution"] and i == len(think)
        t += 1
    assert list(tries[t - 1]) == p.meta["solution"]


def test_compact_chain_hand_example():
    meta = {
        "names": ["Ann", "Bob"],
        "roles": ["knight", "knave"],
        "statements": [["and", ["lying", 1], ["telling-truth", 0]], ["telling-truth", 0]],
        "solution": [False, False],
    }
    text = render_completion(
        tuple(to_tuple(s) for s in meta["statements"]), meta["names"], meta["roles"], meta["solution"], "compact"
    )
    assert text.split("</think>")[0] == (
        "\nTry Ann knight, Bob knight.\n"
        '- Ann says, "Bob is a knave and I am a knight." Bob knave F and Ann knight T = F, knight no.\n'
        "Try Ann knight, Bob knave.\n"
        '- Ann says, "Bob is a knave and I am a knight." Bob knave T and Ann knight T = T, knight ok.\n'
        '- Bob says, "Ann is a knight." Ann knight T = T, knave no.\n'
        "Try Ann knave, Bob knight.\n"
        '- Ann says, "Bob is a knave and I am a knight." Bob knave F and Ann knight F = F, knave ok.\n'
        '- Bob says, "Ann is a knight." Ann knight F = F, knight no.\n'
        "Try Ann knave, Bob knave.\n"
        '- Ann says, "Bob is a knave and I am a knight." Bob knave T and Ann knight F = F, knave ok.\n'
        '- Bob says, "Ann is a knight." Ann knight F = F, knave ok.\n'
    )


def test_lookup_chain_hand_example():
    """The lookup chain: each check line opens with the try, claims read as in the prompt, the speaker named."""
    statements = (("and", ("lying", 1), ("telling-truth", 0)), ("telling-truth", 0))
    text = render_completion(statements, ["Ann", "Bob"], ["knight", "knave"], [False, False], "lookup")
    a = 'Ann says, "Bob is a knave and I am a knight."'
    b = 'Bob says, "Ann is a knight."'
    assert text.split("</think>")[0] == (
        "\nTry Ann knight, Bob knight.\n"
        f"- Ann knight, Bob knight: {a} Bob is a knave F and Ann is a knight T = F, Ann knight no.\n"
        "Try Ann knight, Bob knave.\n"
        f"- Ann knight, Bob knave: {a} Bob is a knave T and Ann is a knight T = T, Ann knight ok.\n"
        f"- Ann knight, Bob knave: {b} Ann is a knight T = T, Bob knave no.\n"
        "Try Ann knave, Bob knight.\n"
        f"- Ann knave, Bob knight: {a} Bob is a knave F and Ann is a knight F = F, Ann knave ok.\n"
        f"- Ann knave, Bob knight: {b} Ann is a knight F = F, Bob knight no.\n"
        "Try Ann knave, Bob knave.\n"
        f"- Ann knave, Bob knave: {a} Bob is a knave T and Ann is a knight F = F, Ann knave ok.\n"
        f"- Ann knave, Bob knave: {b} Ann is a knight F = F, Bob knave ok.\n"
    )


#: The hand example's check lines in the short-table renderings, by try (the try lines are the same for all).
_TRIES = (
    "Try Ann knight, Bob knight.",
    "Try Ann knight, Bob knave.",
    "Try Ann knave, Bob knight.",
    "Try Ann knave, Bob knave.",
)
_CHECKS = {
    "short": (
        ("- Ann: Bob knave F and Ann knight T = F, knight no.",),
        ("- Ann: Bob knave T and Ann knight T = T, knight ok.", "- Bob: Ann knight T = T, knave no."),
        ("- Ann: Bob knave F and Ann knight F = F, knave ok.", "- Bob: Ann knight F = F, knight no."),
        ("- Ann: Bob knave T and Ann knight F = F, knave ok.", "- Bob: Ann knight F = F, knave ok."),
    ),
    "roles": (
        ("- Ann: Bob knave vs knight F and Ann knight vs knight T = F, knight no.",),
        (
            "- Ann: Bob knave vs knave T and Ann knight vs knight T = T, knight ok.",
            "- Bob: Ann knight vs knight T = T, knave no.",
        ),
        (
            "- Ann: Bob knave vs knight F and Ann knight vs knave F = F, knave ok.",
            "- Bob: Ann knight vs knave F = F, knight no.",
        ),
        (
            "- Ann: Bob knave vs knave T and Ann knight vs knave F = F, knave ok.",
            "- Bob: Ann knight vs knave F = F, knave ok.",
        ),
    ),
    "bound": (
        ("- Ann: Bob knight is a knave F and Ann knight is a knight T = F, knight no.",),
        (
            "- Ann: Bob knave is a knave T and Ann knight is a knight T = T, knight ok.",
            "- Bob: Ann knight is a knight T = T, knave no.",
        ),
        (
            "- Ann: Bob knight is a knave F and Ann knave is a knight F = F, knave ok.",
            "- Bob: Ann knave is a knight F = F, knight no.",
        ),
        (
            "- Ann: Bob knave is a knave T and Ann knave is a knight F = F, knave ok.",
            "- Bob: Ann knave is a knight F = F, knave ok.",
        ),
    ),
}


@pytest.mark.parametrize("cot", sorted(_CHECKS))
def test_short_chain_hand_examples(cot):
    """The short chain (the speaker's name in place of the quoted statement) and its two variants that write each
    leaf's role under the try (``roles``: after the claim; ``bound``: before it, the claim in the prompt's words)."""
    statements = (("and", ("lying", 1), ("telling-truth", 0)), ("telling-truth", 0))
    text = render_completion(statements, ["Ann", "Bob"], ["knight", "knave"], [False, False], cot)
    lines = [line for t, checks in zip(_TRIES, _CHECKS[cot], strict=True) for line in (t, *checks)]
    assert text.split("</think>")[0] == "\n" + "\n".join(lines) + "\n"
