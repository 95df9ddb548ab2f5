"""Knights perturbations (lineage, logic changed or kept), LiMem on hand-made records, and the CLI verbs."""

from __future__ import annotations

import itertools
import json

import pytest

from reasonlab.cli import main
from reasonlab.errors import ReasonlabError
from reasonlab.eval.limem import consistency_ratio, limem_table, limem_value, people_by_id
from reasonlab.io import read_records, write_records
from reasonlab.rewards import score
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.knights.logic import leaf_paths, to_tuple
from reasonlab.tasks.knights.perturb import MATH_LEVEL, PERTURBATIONS, perturb_problem, perturb_problems
from reasonlab.tasks.knights.render import ROLE_PAIRS, name_pool

TASK = get_task("knights")


def truth(node: list, a: tuple[bool, ...]) -> bool:
    op = node[0]
    if op in ("telling-truth", "lying"):
        return a[node[1]] == (op == "telling-truth")
    vals = [truth(c, a) for c in node[1:]]
    return {
        "not": lambda: not vals[0],
        "and": lambda: all(vals),
        "or": lambda: any(vals),
        "->": lambda: (not vals[0]) or vals[1],
        "<=>": lambda: vals[0] == vals[1],
    }[op]()


def solutions(statements: list) -> list[list[bool]]:
    n = len(statements)
    assigns = itertools.product([False, True], repeat=n)
    return [list(a) for a in assigns if all(a[i] == truth(statements[i], a) for i in range(n))]


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return list(TASK.generate(TASK.params(people="3-6", depth=2), 60, seed=5))


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_perturbations_keep_lineage_and_verify(problems, kind):
    result = perturb_problems(problems, kind, seed=0)
    assert len(result.problems) + len(result.failures) == len(problems)
    originals = {p.id: p for p in problems}
    for q in result.problems:
        p = originals[q.meta["original_id"]]
        assert q.id == f"{p.id}:{kind}" and q.meta["perturbation"] == kind
        assert q.meta["people"] == p.meta["people"]
        assert score(TASK, q, q.solution, "logic_rl").reward == 3.0
        assert q.prompt != p.prompt
        assert solutions(q.meta["statements"]) == [q.meta["solution"]]
        if kind in MATH_LEVEL:
            assert q.meta["solution"] != p.meta["solution"]
            assert q.meta["names"] == p.meta["names"] and q.meta["roles"] == p.meta["roles"]
            # the memorised old answer no longer earns full reward
            assert score(TASK, q, p.solution, "logic_rl").reward < 3.0
        else:
            assert q.meta["statements"] == p.meta["statements"]
            assert q.meta["solution"] == p.meta["solution"]


def test_math_level_edits_are_local(problems):
    for kind in MATH_LEVEL:
        for q in perturb_problems(problems, kind, seed=1).problems:
            p = next(x for x in problems if x.id == q.meta["original_id"])
            changed = [
                i for i, (a, b) in enumerate(zip(p.meta["statements"], q.meta["statements"], strict=True)) if a != b
            ]
            assert len(changed) == 1
            if kind == "leaf":
                old, new = (
                    to_tuple(p.meta["statements"][changed[0]]),
                    to_tuple(q.meta["statements"][changed[0]]),
                )
                assert leaf_paths(old) == leaf_paths(new)  # same tree shape, one leaf differs
                diff = [path for path in leaf_paths(old) if _at(old, path) != _at(new, path)]
                assert len(diff) == 1


def _at(node: tuple, path: tuple[int, ...]) -> tuple:
    for pos in path:
        node = node[pos]
    return node


def test_language_level_details(problems):
    p = problems[0]
    q = perturb_problem(p, "uncommon_name", seed=0)
    assert set(q.meta["names"]) <= set(name_pool("uncommon")) and not set(q.meta["names"]) & set(p.meta["names"])
    assert all(name in q.prompt and name in q.answer for name in q.meta["names"])
    q = perturb_problem(p, "random_pair", seed=0)
    assert tuple(q.meta["roles"]) in ROLE_PAIRS and q.meta["roles"] != p.meta["roles"]
    assert all(word in q.prompt for word in q.meta["roles"])
    q = perturb_problem(p, "flip_role", seed=0)
    assert q.meta["roles"] == ["knave", "knight"]
    assert "knaves always tell the truth and knights always lie" in q.prompt
    first = p.answer.split("\n")[0]
    flipped = first.replace("knight", "@").replace("knave", "knight").replace("@", "knave")
    assert q.answer.split("\n")[0] == flipped
    q = perturb_problem(p, "reorder_statement", seed=0)
    order = q.meta["order"]
    assert sorted(order) == list(range(p.meta["people"])) and order != list(range(p.meta["people"]))
    body = q.prompt.split("inhabitants:", 1)[1]  # the statements follow the list of inhabitants
    starts = [min(body.find(t) for t in _speaker_marks(q.meta["names"][i]) if body.find(t) >= 0) for i in order]
    assert starts == sorted(starts)


def _speaker_marks(name: str) -> list[str]:
    return [
        f"{name} says",
        f"{name} remarks",
        f"words of {name}",
        f"{name} tells",
        f"{name} claims",
        f"{name} states",
        f"According to {name}",
        f"{name} declares",
        f"{name} insists",
        f"says {name}.",
        f"{name} mentions",
        f"{name} asserts",
        f"{name} reports",
        f"{name} informs",
        f"As {name} puts",
    ]


def test_perturbation_is_deterministic_and_failures_are_reported():
    small = list(TASK.generate(TASK.params(people=2), 40, seed=0))
    a = perturb_problems(small, "leaf", seed=3)
    b = perturb_problems(small, "leaf", seed=3)
    assert [p.to_dict() for p in a.problems] == [p.to_dict() for p in b.problems]
    assert a.failures == b.failures
    assert a.failures, "2-person leaf edits often cannot change the solution; these must be reported"
    assert len(a.problems) + len(a.failures) == len(small)
    assert all("leaf edit" in why for _, why in a.failures)
    broken = Problem("x", "knights", "", "", "", {"names": ["Ann"], "roles": ["knight", "knave"]})
    bad = perturb_problems([broken, small[0]], "reorder_statement")
    assert [pid for pid, _ in bad.failures] == ["x"] and len(bad.problems) == 1
    assert perturb_problems([Problem("y", "knights", "", "", "", {})], "leaf").failures[0][0] == "y"


# ----------------------------------------------------------------------------- LiMem


def test_limem_pure_functions():
    assert consistency_ratio(1, 2) == 0.5
    assert consistency_ratio(0, 0) == 0.0
    assert limem_value(2 / 3, 0.5) == pytest.approx(1 / 3)


def test_limem_table_hand_computed():
    orig = [
        {"id": "a", "correct": True},
        {"id": "b", "correct": True},
        {"id": "c", "correct": False},
        {"id": "d", "correct": True},
    ]
    pert = [
        {"id": "a:leaf", "correct": True},
        {"id": "b:leaf", "correct": False},
        {"id": "c:leaf", "correct": True},
        {"id": "a:flip_role", "correct": False},
        {"id": "d:flip_role", "correct": False},
    ]
    people = {"a": 3, "b": 3, "c": 5, "d": 5}
    rows = {(r.kind, r.people): r for r in limem_table(orig, pert, people)}
    leaf = rows[("leaf", None)]
    # aligned a, b, c: Acc = 2/3, CR = 1/2 (a survives, b not), LiMem = 1/3 = (b)/3; d has no leaf item
    assert (leaf.n, leaf.n_missing) == (3, 1)
    assert leaf.acc == pytest.approx(2 / 3) and leaf.cr == pytest.approx(0.5) and leaf.limem == pytest.approx(1 / 3)
    assert leaf.acc_perturbed == pytest.approx(2 / 3)
    assert rows[("leaf", 3)].limem == pytest.approx(0.5) and rows[("leaf", 3)].acc == 1.0
    assert rows[("leaf", 5)].limem == 0.0 and rows[("leaf", 5)].n_missing == 1
    flip = rows[("flip_role", None)]
    # a and d solved, both fail after flipping: CR = 0, LiMem = Acc = 1
    assert (flip.n, flip.acc, flip.cr, flip.limem) == (2, 1.0, 0.0, 1.0)
    assert list(rows) == [
        ("flip_role", 3),
        ("flip_role", 5),
        ("flip_role", None),
        ("leaf", 3),
        ("leaf", 5),
        ("leaf", None),
    ]


def test_limem_averages_samples_and_rejects_orphans():
    orig = [{"id": "a", "correct": True}, {"id": "a", "correct": False}]
    pert = [{"id": "a:leaf", "correct": True}, {"id": "a:leaf", "correct": True}]
    (row,) = limem_table(orig, pert)
    assert row.acc == 0.5 and row.cr == 1.0 and row.limem == 0.0
    with pytest.raises(ReasonlabError, match="zzz:leaf"):
        limem_table(orig, [{"id": "zzz:leaf", "correct": True}])
    with pytest.raises(ReasonlabError, match="correct"):
        limem_table([{"id": "a"}], [])


def test_limem_on_generated_records(problems):
    perturbed = perturb_problems(problems, "leaf", seed=0).problems
    # a "memoriser" answers every item with the original solution
    memorised = {p.id: p.solution for p in problems}
    orig_scores = [score(TASK, p, p.solution).to_dict() for p in problems]
    pert_scores = [score(TASK, q, memorised[q.meta["original_id"]]).to_dict() for q in perturbed]
    rows = limem_table(orig_scores, pert_scores, people_by_id(p.to_dict() for p in problems))
    overall = next(r for r in rows if r.people is None)
    assert overall.acc == 1.0 and overall.cr == 0.0 and overall.limem == 1.0
    assert {r.people for r in rows} == {None, 3, 4, 5, 6}


# ----------------------------------------------------------------------------- CLI


def test_cli_generate_score_perturb(tmp_path, capsys):
    data = tmp_path / "kk.jsonl"
    argv = ["data", "generate", "knights", "--people", "3-7", "--depth", "2", "--width", "2"]
    assert main([*argv, "-n", "1000", "--seed", "0", "--out", str(data)]) == 0
    rows = read_records(data)
    assert len(rows) == 1000 and {r["meta"]["people"] for r in rows} == set(range(3, 8))
    assert len({r["id"] for r in rows}) == 1000

    completions = [{"id": r["id"], "completion": r["solution"]} for r in rows[:200]]
    completions += [{"id": r["id"], "completion": "<answer>" + r["answer"] + "</answer>"} for r in rows[200:300]]
    comp = tmp_path / "comp.jsonl"
    write_records(comp, completions)
    scores_path = tmp_path / "scores.jsonl"
    assert (
        main(
            [
                "score",
                "--problems",
                str(data),
                "--completions",
                str(comp),
                "--reward",
                "logic_rl",
                "--out",
                str(scores_path),
                "--by",
                "people",
            ]
        )
        == 0
    )
    scores = read_records(scores_path)
    assert [s["reward"] for s in scores[:200]] == [3.0] * 200
    assert {s["reward"] for s in scores[200:]} == {-3.0}
    assert all("person_accuracy" in s for s in scores)
    err = " ".join(capsys.readouterr().err.split())
    assert "people=3" in err and "people=7" in err

    out = tmp_path / "flip.parquet"
    assert main(["data", "perturb", "--kind", "flip_role", "--in", str(data), "--out", str(out), "--seed", "1"]) == 0
    flipped = read_records(out)
    assert len(flipped) == 1000 and all(r["id"].endswith(":flip_role") for r in flipped)
    assert "perturbed 1000 of 1000" in " ".join(capsys.readouterr().err.split())


def test_cli_perturb_reports_failures_and_errors(tmp_path, capsys):
    data = tmp_path / "two.jsonl"
    assert main(["data", "generate", "knights", "--people", "2", "-n", "30", "--out", str(data)]) == 0
    fails = tmp_path / "fails.jsonl"
    out = tmp_path / "leaf.jsonl"
    assert (
        main(
            [
                "data",
                "perturb",
                "--kind",
                "leaf",
                "--in",
                str(data),
                "--out",
                str(out),
                "--failures",
                str(fails),
            ]
        )
        == 0
    )
    n_ok, n_fail = len(read_records(out)), len(read_records(fails))
    assert n_ok + n_fail == 30 and n_fail > 0
    assert f"{n_fail} failed" in " ".join(capsys.readouterr().err.split())

    other = tmp_path / "other.jsonl"
    row = dict(read_records(data)[0], task="arith")
    other.write_text(json.dumps(row) + "\n")
    assert main(["data", "perturb", "--kind", "leaf", "--in", str(other), "--out", str(out)]) == 2
    assert "only 'knights'" in " ".join(capsys.readouterr().err.split())
    assert main(["data", "perturb", "--kind", "nope", "--in", str(data), "--out", str(out)]) == 2
    assert main(["data", "generate", "knights", "--people", "1-3", "-n", "3", "--out", str(out)]) == 2
    assert "people" in " ".join(capsys.readouterr().err.split())
