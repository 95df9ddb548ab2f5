"""The teacher-forced K&K chain probe (scripts/knights_chain_probe.py): its token categories on hand-built
chains, compact, lookup, short, roles and bound."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from reasonlab.tasks.knights.render import render_completion

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "knights_chain_probe.py"
_spec = importlib.util.spec_from_file_location("knights_chain_probe", _PATH)
assert _spec is not None and _spec.loader is not None
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)

# Ann: "Bob is a knave and I am a knight."  Bob: "Ann is a knight."  Solution: both knaves (4 tries).
STATEMENTS = (("and", ("lying", 1), ("telling-truth", 0)), ("telling-truth", 0))


def _cats(cot: str) -> tuple[list[str], list[str]]:
    text = render_completion(STATEMENTS, ["Ann", "Bob"], ["knight", "knave"], [False, False], cot)
    lines = text.split("\n")
    cats = probe.char_categories(text, cot=cot)
    out, start = [], 0
    for line in lines:
        out.append(cats[start : start + len(line)])
        start += len(line) + 1
    return lines, out


def _at(lines: list[str], cats: list[list[str]], row: int, needle: str, nth: int = 0) -> str:
    line, pos = lines[row], -1
    for _ in range(nth + 1):
        pos = line.index(needle, pos + 1)
    return cats[row][pos]


def test_compact_chain_categories() -> None:
    lines, cats = _cats("compact")
    # row 0 is the empty line after <think>; row 2:
    # '- Ann says, "Bob is a knave and I am a knight." Bob knave F and Ann knight T = F, knight no.'
    assert lines[2].startswith("- Ann says")
    assert _at(lines, cats, 2, "Bob") == "quote"
    assert _at(lines, cats, 2, "Bob", 1) == "leaf_name"
    assert _at(lines, cats, 2, "knave", 1) == "leaf_role"
    assert _at(lines, cats, 2, " F ") == "other" and cats[2][lines[2].index(" F ") + 1] == "leaf_tf"
    assert cats[2][lines[2].index("= F") + 2] == "value"
    assert _at(lines, cats, 2, "knight no") == "spk_role" and _at(lines, cats, 2, "no.") == "verdict"
    assert _at(lines, cats, 1, "Ann") == "try_name" and _at(lines, cats, 1, "knight") == "try_role"
    assert cats[1][:2] == ["line_kind", "line_kind"] and lines[0] == ""
    # row 4: the same line under the next try: Bob's leaf flips F -> T, Ann's stays T
    assert lines[4].startswith("- Ann says")
    assert _at(lines, cats, 4, "Bob") == "quote_rep" and _at(lines, cats, 4, "Bob", 1) == "leaf_name_rep"
    assert cats[4][lines[4].index("knave T") + 6] == "leaf_tf_rep_flip"
    assert cats[4][lines[4].index("knight T") + 7] == "leaf_tf_rep_same"
    assert _at(lines, cats, len(lines) - 3, "knave") == "answer_role"


def test_lookup_chain_categories() -> None:
    lines, cats = _cats("lookup")
    # row 2: '- Ann knight, Bob knight: Ann says, "..." Bob is a knave F and Ann is a knight T = F, Ann knight no.'
    line, row = lines[2], cats[2]
    assert line.startswith("- Ann knight, Bob knight: Ann says")
    assert row[2] == "prefix_name" and row[line.index("knight")] == "prefix_role"
    assert row[line.index("Ann says")] == "quote"
    leaf = line.index("Bob is a knave F")
    assert row[leaf] == "leaf_name" and row[leaf + 9] == "leaf_role" and row[leaf + 15] == "leaf_tf"
    assert row[line.index("Ann knight no") + 4] == "spk_role" and row[line.index("no.")] == "verdict"
    rep = lines[4]  # the same line under the next try: Bob's leaf flips F -> T
    assert rep.startswith("- Ann knight, Bob knave: Ann says")
    assert cats[4][rep.index("Ann says")] == "quote_rep"
    assert cats[4][rep.index("Bob is a knave T") + 15] == "leaf_tf_rep_flip"


def test_short_chain_categories() -> None:
    lines, cats = _cats("short")
    line, row = lines[2], cats[2]  # '- Ann: Bob knave F and Ann knight T = F, knight no.'
    assert line.startswith("- Ann: Bob knave F")
    assert row[2] == "quote" and row[line.index("Bob")] == "leaf_name" and row[line.index(" F ") + 1] == "leaf_tf"
    assert row[line.index("knight no")] == "spk_role" and row[line.index("no.")] == "verdict"
    assert cats[4][lines[4].index("knave T") + 6] == "leaf_tf_rep_flip"


def test_roles_chain_categories() -> None:
    lines, cats = _cats("roles")
    line, row = lines[2], cats[2]  # '- Ann: Bob knave vs knight F and Ann knight vs knight T = F, knight no.'
    assert line.startswith("- Ann: Bob knave vs knight F")
    assert row[line.index("Bob")] == "leaf_name" and row[line.index("knave")] == "leaf_role"
    assert row[line.index("vs knight") + 3] == "leaf_try" and row[line.index(" F ") + 1] == "leaf_tf"
    assert row[line.index("vs")] == "other" and row[line.index("knight no")] == "spk_role"
    rep = lines[4]  # '- Ann: Bob knave vs knave T and Ann knight vs knight T = T, knight ok.': Bob's role flips
    assert cats[4][rep.index("vs knave") + 3] == "leaf_try_rep_flip"
    assert cats[4][rep.index("knave T") + 6] == "leaf_tf_rep_flip"
    assert cats[4][rep.index("vs knight") + 3] == "leaf_try_rep_same"


def test_bound_chain_categories() -> None:
    lines, cats = _cats("bound")
    line, row = lines[2], cats[2]  # '- Ann: Bob knight is a knave F and Ann knight is a knight T = F, knight no.'
    assert line.startswith("- Ann: Bob knight is a knave F")
    assert row[line.index("Bob")] == "leaf_name" and row[line.index("knight")] == "leaf_try"
    assert row[line.index("knave")] == "leaf_role" and row[line.index(" F ") + 1] == "leaf_tf"
    rep = lines[4]  # '- Ann: Bob knave is a knave T and Ann knight is a knight T = T, knight ok.': Bob's role flips
    assert cats[4][rep.index("Bob knave") + 4] == "leaf_try_rep_flip"
    assert cats[4][rep.index("Ann knight") + 4] == "leaf_try_rep_same"
