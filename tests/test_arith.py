"""arith task: knobs, generation semantics, gold solutions, and an independent reader of the text."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from reasonlab.errors import ReasonlabError
from reasonlab.rewards import compute_reward, score
from reasonlab.tasks import get_task
from reasonlab.tasks.arith import ArithParams, contexts, fmt_affine, parse_value
from reasonlab.tasks.arith.contexts import CONTEXT_DIR, context_names
from reasonlab.tasks.arith.graph import MOD, in_edges
from reasonlab.tasks.arith.render import question_text
from reasonlab.tasks.arith.task import MAX_OPS
from reasonlab.tasks.arith.values import build_graph
from reasonlab.tasks.knobs import Mix

TASK = get_task("arith")
CONTEXTS = ("zoo", "school", "movie_festival", "library", "wildlife")


def gen(n: int, seed: int = 0, **knobs: object) -> list:
    return list(TASK.generate(TASK.params(**knobs), n, seed))


# ----------------------------------------------------------------------------- knobs


def test_params_accept_cli_strings_and_normalise() -> None:
    p = TASK.params(ops="2-10", context="zoo=0.99,school=0.01", mode="mix", distractors="0", depth="3")
    assert str(p.ops) == "2-10" and p.depth == 3 and p.distractors == 0
    assert str(p.context) == "zoo=0.99,school=0.01"
    assert str(TASK.params(ops=5).ops) == "5"
    assert str(TASK.params(ops=" 7 ").ops) == "7"
    assert str(TASK.params(context="school").context) == "school"
    assert p.model_dump(mode="json")["ops"] == "2-10"  # written back in its text form
    defaults = ArithParams()
    assert (str(defaults.ops), str(defaults.context), defaults.mode, defaults.num_mode, defaults.depth) == (
        "2-10",
        "zoo",
        "forward",
        "mod",
        2,
    )
    for name, field in ArithParams.model_fields.items():
        assert field.description, name


@pytest.mark.parametrize(
    ("knobs", "needle"),
    [
        ({"context": "zo"}, "known contexts: library, movie_festival, school, wildlife, zoo"),
        ({"context": "zoo=0.9,school"}, "malformed"),
        ({"context": "zoo="}, "not a number"),
        ({"context": "=0.5"}, "malformed"),
        ({"context": "zoo=abc"}, "not a number"),
        ({"context": "zoo=-1"}, ">= 0"),
        ({"context": "zoo=0"}, "positive sum"),
        ({"context": "zoo=0.5,zoo=0.5"}, "twice"),
        ({"context": "zoo=nan"}, ">= 0"),
        ({"ops": "1"}, "impossible"),
        ({"ops": "0"}, "impossible"),
        ({"ops": f"2-{MAX_OPS + 1}"}, "impossible"),
        ({"ops": "10-2"}, "empty"),
        ({"ops": "two"}, "not an integer"),
        ({"ops": 2.5}, "integer"),
        ({"mode": "sideways"}, "mode"),
        ({"num_mode": "hex"}, "num_mode"),
        ({"depth": "4"}, "depth"),
        ({"modulus": 9}, "modulus must be a prime from 3 to 1000"),
        ({"modulus": 2}, "modulus must be a prime"),
        ({"modulus": 1009}, "modulus must be a prime"),
        ({"distractors": "-1"}, "distractors"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"operators": "-*"}, "must include '+'"),
        ({"operators": "+/"}, "distinct characters from '+-*'"),
        ({"operators": "++"}, "distinct characters"),
        ({"operators": ""}, "distinct characters"),
        ({"operators": "+-", "depth": 3}, "depth 3 needs '*'"),
    ],
)
def test_bad_knobs_are_one_line_errors(knobs: dict, needle: str) -> None:
    with pytest.raises(ReasonlabError) as exc:
        TASK.params(**knobs)
    msg = str(exc.value)
    assert "\n" not in msg
    assert needle in msg


def test_operators_knob_is_canonical_and_default_keeps_every_operator() -> None:
    assert TASK.params().operators == "+-*"
    assert TASK.params(operators="*+").operators == "+*"


@pytest.mark.parametrize(
    ("operators", "allowed"),
    [
        ("+", {"const", "add", "sum2", "sum"}),
        ("+-", {"const", "add", "sub", "sum2", "diff2", "sum"}),
        ("+*", {"const", "add", "mul", "sum2", "sum"}),
    ],
)
def test_operators_knob_limits_relations_and_gold_still_verifies(operators: str, allowed: set[str]) -> None:
    seen: set[str] = set()
    for p in gen(150, seed=3, ops="2-12", mode="mix", distractors=3, operators=operators):
        assert p.meta["operators"] == operators
        ops = {n["op"] for n in p.meta["graph"]["nodes"]}
        assert ops <= allowed, (operators, ops - allowed)
        seen |= ops
        if p.meta["mode"] == "forward":
            body = p.solution.split("Answer:")[0]
            assert ("*" in body) == ("*" in operators and "mul" in ops)
        assert score(TASK, p, p.solution, reward="strict").reward == 1.0
    assert seen == allowed  # every allowed relation does occur


def test_operators_knob_reaches_distractors_too() -> None:
    for seed in range(40):
        g = build_graph(random.Random(seed), (7, 8, 6), 2, 6, MOD, 6, operators="+")
        if g is not None:
            assert {g.nodes[i].op for i in g.distractors} <= {"const", "add", "sum2"}


def test_context_mix_weights_down_to_a_thousandth() -> None:
    assert Mix.parse("zoo=0.999,school=0.001", "context", context_names()).items == (("zoo", 0.999), ("school", 0.001))
    mix1 = Mix.parse("zoo=0.999,school=0.001", "context", context_names())
    mix2 = Mix.parse("zoo=3,library=1", "context", context_names())
    rng = random.Random(0)
    counts = Counter(mix1.draw(rng) for _ in range(50_000))
    assert 20 <= counts["school"] <= 85  # expected 50
    counts = Counter(mix2.draw(rng) for _ in range(8000))
    assert 0.72 < counts["zoo"] / 8000 < 0.78


def test_context_templates_are_data_with_enough_names() -> None:
    ctxs = contexts()
    assert set(CONTEXTS) <= set(ctxs)
    assert {p.stem for p in Path(CONTEXT_DIR).glob("*.yaml")} >= set(CONTEXTS)
    for ctx in ctxs.values():
        for layer in (ctx.l1, ctx.l2, ctx.l3):
            assert 5 <= len(layer) <= 10
        n1, n2, n3 = ctx.sizes
        keys = [("i12", a, b) for a in range(n1) for b in range(n2)]
        keys += [("i23", b, c) for b in range(n2) for c in range(n3)]
        keys += [("t2", a) for a in range(n1)] + [("t3", a) for a in range(n1)] + [("u", b) for b in range(n2)]
        shorts = [ctx.short_name(k) for k in keys]
        phrases = [ctx.phrase(k) for k in keys]
        # solution names and sentence phrases must identify a parameter uniquely
        assert len(set(shorts)) == len(shorts)
        assert len(set(phrases)) == len(phrases)
        for text in shorts + phrases:
            assert not re.search(r"[.;?]| as | and ", text), text


# ----------------------------------------------------------------------------- generation


def test_same_seed_same_problems_and_seeds_differ() -> None:
    a = [p.to_dict() for p in gen(30, seed=5, ops="2-12", mode="mix", context="zoo=0.5,school=0.5")]
    b = [p.to_dict() for p in gen(30, seed=5, ops="2-12", mode="mix", context="zoo=0.5,school=0.5")]
    c = [p.to_dict() for p in gen(30, seed=6, ops="2-12", mode="mix", context="zoo=0.5,school=0.5")]
    assert a == b
    assert [r["prompt"] for r in a] != [r["prompt"] for r in c]
    assert len({r["prompt"] for r in a}) == 30


def test_generation_uses_no_global_random_state() -> None:
    random.seed(1)
    a = [p.prompt for p in gen(5, seed=2, ops="3-9")]
    random.seed(999)
    b = [p.prompt for p in gen(5, seed=2, ops="3-9")]
    assert a == b


def test_record_shape_and_meta() -> None:
    for p in gen(20, seed=1, ops="2-15", mode="mix", depth=3, distractors=3):
        assert p.task == "arith" and p.id.startswith("arith-s1-")
        assert p.prompt.startswith("<question> ") and p.prompt.endswith(" </question> <solution>")
        assert p.solution.endswith(f"Answer: {p.answer}. </solution> <answer> {p.answer} </answer>")
        assert p.solution.startswith(" Define ")
        meta = p.meta
        for knob in ("ops", "context", "mode", "num_mode", "depth", "distractors", "seed"):
            assert knob in meta
        g = meta["graph"]
        assert {"nodes", "target", "hidden"} <= set(g)
        for node in g["nodes"]:
            assert {"name", "parents", "op", "value", "letter"} <= set(node)
        assert meta["n_steps"] == len(g["nodes"]) == p.solution.count("Define ")


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("ops", [2, 3, 5, 10, 15, 20, 30, 50])
def test_exact_op_count_by_construction(depth: int, ops: int) -> None:
    made = 0
    for seed in range(60):
        g = build_graph(random.Random(seed), (7, 8, 6), depth, ops, MOD, 2)
        if g is None:
            continue
        made += 1
        assert g.ops() == ops
        assert sum(in_edges(g.nodes[i]) for i in g.order) == ops
        assert set(g.order) | set(g.distractors) == set(range(len(g.nodes)))
        # every necessary node is an ancestor of the target: the order is a closure over parents
        pos = {v: i for i, v in enumerate(g.order)}
        for v in g.order:
            assert all(pos[p] < pos[v] for p in g.nodes[v].parents)
    # construction, not blind rejection: many draws land exactly on the target op
    assert made >= (25 if ops <= 20 else 10)


def test_op_counts_follow_the_reference_definition() -> None:
    for p in gen(300, seed=2, ops="2-20", depth=3):
        nodes = p.meta["graph"]["nodes"]
        edges = sum(len(n["parents"]) + (n["const"] is not None) for n in nodes)
        assert edges == p.meta["ops"]
        for n in nodes:
            if n["op"] == "const":
                assert not n["parents"]
            if n["op"] in ("add", "sub", "mul"):
                assert len(n["parents"]) == 1 and n["const"] is not None
            if n["op"] in ("sum2", "diff2"):
                assert len(n["parents"]) == 2 and n["const"] is None
            if n["op"] == "sumprod":
                assert len(n["parents"]) % 2 == 0


def test_mode_mix_is_roughly_balanced_and_reverse_solves_for_x() -> None:
    probs = gen(200, seed=3, ops="2-10", mode="mix")
    modes = Counter(p.meta["mode"] for p in probs)
    assert 70 < modes["reverse"] < 130
    for p in probs:
        if p.meta["mode"] == "reverse":
            g = p.meta["graph"]
            assert g["hidden"] is not None and "given" in g
            assert "is unknown." in p.prompt
            assert f"so x = {p.answer}." in p.solution or f", x = {p.answer}." in p.solution
            x = int(p.answer)
            for node in g["nodes"]:
                a, b = node["affine"]
                assert (a * x + b) % MOD == node["value"]


def test_range_mode_values_follow_gsm_infinite_rules() -> None:
    for p in gen(300, seed=4, ops="2-20", num_mode="range", mode="mix", depth=3):
        for node in p.meta["graph"]["nodes"]:
            assert 1 <= node["value"] <= 1000
            if node["op"] != "sub" and node["const"] is not None:
                assert 1 <= node["const"] <= 4


def test_mod_mode_values_are_residues() -> None:
    for p in gen(200, seed=4, ops="2-20", mode="mix"):
        for node in p.meta["graph"]["nodes"]:
            assert 0 <= node["value"] < MOD


def test_modulus_knob_shrinks_the_residues_and_keeps_every_solution_exact() -> None:
    probs = gen(200, seed=5, ops="2-12", mode="mix", modulus=7, distractors=2, depth=3)
    assert {p.meta["modulus"] for p in probs} == {7}
    assert {p.meta["mode"] for p in probs} == {"forward", "reverse"}
    for p in probs:
        for node in p.meta["graph"]["nodes"]:
            assert 0 <= node["value"] < 7
            if p.meta["mode"] == "reverse":
                a, b = node["affine"]
                assert (a * int(p.answer) + b) % 7 == node["value"]
        v = TASK.verify(p, p.solution)
        assert v.correct and v.process.ok, p.solution
    assert "All arithmetic is modulo 7." in TASK.render(probs[0], "chat")[0]
    assert gen(1, seed=5, num_mode="range")[0].meta["modulus"] is None


def test_distractor_count_knob() -> None:
    for d in (0, 1, 4):
        for p in gen(30, seed=d, ops="2-8", distractors=d):
            assert p.meta["distractors"] == d
            stated = sum(1 for n in p.meta["graph"]["nodes"] if n["op"] not in ("sum", "sumprod"))
            assert p.prompt.count(" equals ") + p.prompt.count(" is unknown.") == stated + d


# ----------------------------------------------------------------------------- gold solutions


def test_every_gold_solution_verifies_perfect_over_10k_problems() -> None:
    """>= 10,000 problems: ops 2..20, both modes, all contexts, both number modes, both depths."""
    total = 0
    for ci, ctx in enumerate(CONTEXTS):
        for num_mode in ("mod", "range"):
            for depth in (2, 3):
                for mode in ("forward", "reverse"):
                    probs = gen(330, seed=ci, ops="2-20", context=ctx, num_mode=num_mode, depth=depth, mode=mode)
                    for k, p in enumerate(probs):
                        styles = ("plain", "chat") if k % 8 == 0 else ("plain",)
                        for style in styles:
                            _, completion = TASK.render(p, style)
                            v = TASK.verify(p, completion)
                            assert v.correct and v.format_ok and v.process is not None and v.process.ok, (
                                style,
                                p.prompt,
                                completion,
                                v,
                            )
                            assert v.process.matched_ok == v.process.n_gold and v.process.extra == 0
                            for reward in ("outcome", "process", "strict"):
                                assert compute_reward(reward, v) == 1.0
                        total += 1
    assert total >= 10_000


def test_ops_span_covers_2_to_20() -> None:
    ops = {p.meta["ops"] for p in gen(400, seed=9, ops="2-20")}
    assert ops == set(range(2, 21))


def test_chat_render() -> None:
    p = gen(1, seed=0, ops=6, mode="reverse")[0]
    prompt, completion = TASK.render(p, "chat")
    assert "<question>" not in prompt and "Answer: N." in prompt and "modulo 23" in prompt
    assert question_text(p.prompt) in prompt
    assert completion.endswith(f"Answer: {p.answer}.") and "<answer>" not in completion
    assert TASK.render(p, "plain") == (p.prompt, p.solution)
    with pytest.raises(ReasonlabError):
        TASK.render(p, "fancy")


def test_solution_grammar_matches_reference_example_shape() -> None:
    p = gen(1, seed=0, ops=2, context="movie_festival")[0]
    steps = re.findall(r"Define [^;.]+ as [A-Za-z]; so [^.]+\.", p.solution)
    assert len(steps) == 2
    leaf, total = steps
    assert re.fullmatch(r"Define .+ in .+ as (\w); so \1 = \d+\.", leaf)
    assert re.fullmatch(r"Define total movies in .+ as (\w); so \1 = \w = \d+\.", total)


def test_affine_format_round_trip() -> None:
    for a in (-3, -1, 0, 1, 2, 17):
        for b in (-5, 0, 4):
            assert parse_value(fmt_affine(a, b)) == (a, b)
    assert fmt_affine(2, 3) == "2x + 3" and fmt_affine(-1, -4) == "-x - 4" and fmt_affine(0, 7) == "7"


# ----------------------------------------------------------------------------- independent reader


class Reader:
    """Solves a problem from its rendered text alone, using only the context's wording (YAML).

    It never looks at ``meta["graph"]``: it parses every sentence into a stated parameter, treats a
    phrase that no sentence states as an implicit total (sum over every stated parameter of its kind,
    or sum of products for depth-3 totals), and in reverse mode tries every candidate x.
    """

    def __init__(self, ctx_name: str, template: str = "full", long_names: bool = False) -> None:
        data = yaml.safe_load((CONTEXT_DIR / f"{ctx_name}.yaml").read_text())
        if template != "full":  # equations over the solution names (wording written out here, not imported)
            if not long_names:
                data["params"] = data["short"]
            data["sentences"] = {
                "const": "{P} = {n}.",
                "add": "{P} = {Q} + {n}.",
                "sub": "{P} = {Q} - {n}.",
                "mul": "{P} = {n} * {Q}.",
                "sum2": "{P} = {Q} + {R}.",
                "diff2": "{P} = {Q} - {R}.",
                "unknown": "{P} is unknown.",
                "question": "Find {P}.",
                "question_reverse": "If {Q} = {n}, find {P}.",
            }
            if template == "reversed":  # the expression on the left, the defined name on the right
                for kind in ("const", "add", "sub", "mul", "sum2", "diff2"):
                    lhs, rhs = data["sentences"][kind][:-1].split(" = ")
                    data["sentences"][kind] = f"{rhs} = {lhs}."
        l1, l2, l3 = data["layers"]
        alt = lambda names: "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))  # noqa: E731
        self.singular = {s: p for p, s in l2}
        groups = {"a": alt(l1), "b": alt(p for p, _ in l2), "b1": alt(s for _, s in l2), "c": alt(l3)}
        self.params = []
        for kind, tpl in data["params"].items():
            rx = re.escape(tpl)
            for g, body in groups.items():
                rx = rx.replace(re.escape("{" + g + "}"), f"(?P<{g}>{body})")
            self.params.append((kind, re.compile(rx)))
        self.sentences = []
        for kind in ("unknown", "add", "sub", "mul", "sum2", "diff2", "const"):
            rx = re.escape(data["sentences"][kind])
            for slot, body in (("P", "(?P<P>.+?)"), ("Q", "(?P<Q>.+?)"), ("R", "(?P<R>.+?)"), ("n", r"(?P<n>\d+)")):
                rx = rx.replace(re.escape("{" + slot + "}"), body)
            self.sentences.append((kind, re.compile(rx)))
        q = re.escape(data["sentences"]["question"]).replace(re.escape("{P}"), "(?P<P>.+?)")
        qr = re.escape(data["sentences"]["question_reverse"])
        for slot, body in (("P", "(?P<P>.+?)"), ("Q", "(?P<Q>.+?)"), ("n", r"(?P<n>\d+)")):
            qr = qr.replace(re.escape("{" + slot + "}"), body)
        self.question, self.question_reverse = re.compile(q), re.compile(qr)

    def param(self, phrase: str) -> tuple:
        phrase = phrase[:1].lower() + phrase[1:]
        for kind, rx in self.params:
            m = rx.fullmatch(phrase)
            if m:
                d = m.groupdict()
                b = d.get("b") or self.singular.get(d.get("b1") or "", None)
                if kind == "i12":
                    return ("i12", d["a"], b)
                if kind == "i23":
                    return ("i23", b, d["c"])
                if kind == "u":
                    return ("u", b)
                return (kind, d["a"])
        raise AssertionError(f"unparseable phrase {phrase!r}")

    def solve(self, text: str, modulus: int | None) -> int:
        parts = re.split(r"(?<=[.?]) ", text)
        *statements, question = parts
        stated: dict[tuple, tuple] = {}
        for s in statements:
            for kind, rx in self.sentences:
                m = rx.fullmatch(s)
                if m:
                    d = m.groupdict()
                    key = self.param(d["P"])
                    assert key not in stated, f"stated twice: {key}"
                    refs = [self.param(d[k]) for k in ("Q", "R") if d.get(k)]
                    stated[key] = (kind, refs, int(d["n"]) if d.get("n") else None)
                    break
            else:
                raise AssertionError(f"unparseable sentence {s!r}")

        def value(key: tuple, x: int, memo: dict) -> int:
            if key in memo:
                return memo[key]
            memo[key] = None  # cycle guard
            if key in stated:
                kind, refs, n = stated[key]
                vals = [value(r, x, memo) for r in refs]
                out = {
                    "unknown": lambda: x,
                    "const": lambda: n,
                    "add": lambda: vals[0] + n,
                    "sub": lambda: vals[0] - n,
                    "mul": lambda: vals[0] * n,
                    "sum2": lambda: vals[0] + vals[1],
                    "diff2": lambda: vals[0] - vals[1],
                }[kind]()
            elif key[0] == "t2":
                kids = [k for k in stated if k[0] == "i12" and k[1] == key[1]]
                assert kids, f"total over nothing: {key}"
                out = sum(value(k, x, memo) for k in kids)
            elif key[0] == "u":
                kids = [k for k in stated if k[0] == "i23" and k[1] == key[1]]
                assert kids, f"total over nothing: {key}"
                out = sum(value(k, x, memo) for k in kids)
            elif key[0] == "t3":
                kids = [k for k in stated if k[0] == "i12" and k[1] == key[1]]
                assert kids, f"total over nothing: {key}"
                out = sum(value(k, x, memo) * value(("u", k[2]), x, memo) for k in kids)
            else:
                raise AssertionError(f"{key} is neither stated nor a total")
            assert out is not None
            if modulus is not None:
                out %= modulus
            memo[key] = out
            return out

        m = self.question.fullmatch(question)
        if m and not self.question_reverse.fullmatch(question):
            return value(self.param(m["P"]), 0, {})
        m = self.question_reverse.fullmatch(question)
        assert m, question
        asked, given_key, given = self.param(m["P"]), self.param(m["Q"]), int(m["n"])
        assert stated[asked][0] == "unknown"
        candidates = range(modulus) if modulus is not None else range(0, 1001)
        sols = [x for x in candidates if value(given_key, x, {}) == given]
        assert len(sols) == 1, f"{len(sols)} solutions"
        return sols[0]


@pytest.mark.parametrize("ctx", CONTEXTS)
def test_independent_reader_solves_the_text_alone(ctx: str) -> None:
    reader = Reader(ctx)
    n = 0
    for num_mode, modulus in (("mod", MOD), ("mod", 7), ("range", None)):
        for depth in (2, 3):
            for p in gen(
                40,
                seed=21,
                ops="2-16",
                mode="mix",
                context=ctx,
                num_mode=num_mode,
                depth=depth,
                distractors=3,
                modulus=modulus or MOD,
            ):
                got = reader.solve(question_text(p.prompt), modulus)
                assert str(got) == p.answer, (p.prompt, p.solution)
                n += 1
    assert n == 240


@pytest.mark.parametrize("ctx", CONTEXTS)
@pytest.mark.parametrize(
    ("template", "names"),
    [("full", "short"), ("compact", "short"), ("compact", "long"), ("reversed", "short"), ("reversed", "long")],
)
def test_independent_reader_solves_every_rendering(ctx: str, template: str, names: str) -> None:
    """The rendering knobs (letters, sentence order, template, names, partial sums) keep the text solvable alone."""
    reader = Reader(ctx, template=template, long_names=names == "long")
    n = 0
    for num_mode, modulus in (("mod", 7), ("range", None)):
        for depth in (2, 3):
            for order in ("shuffled", "topo"):
                for p in gen(
                    15,
                    seed=22,
                    ops="2-16",
                    mode="mix",
                    context=ctx,
                    num_mode=num_mode,
                    depth=depth,
                    distractors=2,
                    modulus=modulus or MOD,
                    template=template,
                    order=order,
                    letters="ordered",
                    sums="partial",
                    names=names,
                    number_line=True,
                ):
                    text = question_text(p.prompt)
                    if modulus is not None:  # the number line opens the question; the reader skips it
                        line = " ".join(map(str, range(modulus))) + ". "
                        assert text.startswith(line)
                        text = text[len(line) :]
                    got = reader.solve(text, modulus)
                    assert str(got) == p.answer, (p.prompt, p.solution)
                    n += 1
    assert n == 120


def test_reader_detects_a_changed_text() -> None:
    """Sanity check of the reader itself: changing a stated number changes (or keeps) the answer it reads."""
    reader = Reader("zoo")
    p = gen(1, seed=2, ops=2, distractors=0)[0]
    text = question_text(p.prompt)
    m = re.search(r"equals (\d+)\.", text)
    assert m
    changed = text[: m.start(1)] + str((int(m.group(1)) + 1) % MOD) + text[m.end(1) :]
    assert str(reader.solve(changed, MOD)) != p.answer


def test_school_shares_no_sentence_template_with_zoo() -> None:
    """The context-transfer recipe's new context must be a real change of surface, not new nouns."""
    zoo, school = (yaml.safe_load((CONTEXT_DIR / f"{c}.yaml").read_text())["sentences"] for c in ("zoo", "school"))
    assert not set(zoo.values()) & set(school.values())
    words = lambda s: set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", s).lower()))  # noqa: E731
    # only the copula is shared: no connective (equals, more, less, times, sum, difference, what) carries over
    assert set().union(*map(words, zoo.values())) & set().union(*map(words, school.values())) == {"is"}
