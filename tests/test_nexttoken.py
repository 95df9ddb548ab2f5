"""The ``nexttoken`` task (RPT): byte boundaries under a BPE tokenizer, the prefix-match rewards, the prediction
slot, entropy buckets, splits and determinism."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from reasonlab.bytelevel import bytelevel_decoder
from reasonlab.cli import main
from reasonlab.errors import ReasonlabError
from reasonlab.rewards import (
    compute_reward,
    first_token_reward,
    prefix_dense_reward,
    prefix_match_reward,
    supported_schemes,
)
from reasonlab.tasks import Problem, get_task
from reasonlab.tasks.nexttoken import (
    bucket_of,
    build_pool,
    extract_prediction,
    get_segmenter,
    last_boxed,
    position_kind,
    split_of,
    write_table,
)

TASK = get_task("nexttoken")


def bpe_tokenizer(path: Path) -> Path:
    """A hand-built byte-level BPE: merges make `` cat``, `` sat``, `` on`` and `` the`` single tokens."""
    byte_chars = {ch: i for i, ch in enumerate(sorted(bytelevel_decoder()))}
    vocab = dict(byte_chars)
    merges = [("a", "t"), ("Ġ", "c"), ("Ġc", "at"), ("Ġ", "s"), ("Ġs", "at"), ("Ġ", "o"), ("Ġo", "n")]
    merges += [("t", "h"), ("Ġ", "th"), ("Ġth", "e")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    out = path / "tokenizer.json"
    tok.save(str(out))
    return out


@pytest.fixture()
def bpe(tmp_path: Path) -> Path:
    return bpe_tokenizer(tmp_path)


def corpus_dir(path: Path, texts: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        (path / f"doc{i:03d}.txt").write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the reward, by hand


def test_bpe_boundaries_are_the_tokens_byte_ends(bpe: Path) -> None:
    seg = get_segmenter(str(bpe))
    tok = Tokenizer.from_file(str(bpe))
    text = "a cat sat on the cats"
    pieces = tok.encode(text).tokens
    assert pieces == ["a", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġcat", "s"]
    assert seg.boundaries(text) == [1, 5, 9, 12, 16, 20, 21]


def test_prefix_match_by_hand_on_bpe_boundaries() -> None:
    # continuation " cat sat on" in tokens " cat" | " sat" | " on": boundaries 4, 8, 11
    g, L = b" cat sat on", (4, 8, 11)
    cases = {
        b" cat": 1.0,  # one whole token
        b" cat sat": 1.0,  # two tokens
        b" cat sat on": 1.0,  # the whole stored continuation
        b" ca": 0.0,  # a prefix that ends inside a token
        b" cat s": 0.0,  # crosses a boundary and stops inside the next token
        b" cat sat on the": 0.0,  # over-long: past the stored continuation
        b"cat": 0.0,  # the leading space is part of the token
        b" dog": 0.0,
        b"": 0.0,  # empty
    }
    for pred, want in cases.items():
        assert prefix_match_reward(pred, g, L) == want, pred
    assert first_token_reward(b" cat", g, L) == 1.0
    assert first_token_reward(b" cat sat", g, L) == 0.0  # the first-token variant wants exactly one token
    assert first_token_reward(b" ca", g, L) == 0.0
    assert prefix_dense_reward(b" cat sat", g, L) == 1.0
    assert prefix_dense_reward(b" cat sit", g, L) == pytest.approx(1 / 2)  # 1 of the 2 spanned tokens
    assert prefix_dense_reward(b" cat sat of", g, L) == pytest.approx(2 / 3)
    assert prefix_dense_reward(b" cat sat on the", g, L) == pytest.approx(3 / 4)  # spans past the continuation
    assert prefix_dense_reward(b" dog", g, L) == 0.0
    assert prefix_dense_reward(b"", g, L) == 0.0


def test_the_same_prediction_scores_differently_under_another_tokenizer(bpe: Path, tmp_path: Path) -> None:
    """Boundaries matter only on a multi-byte tokenizer: ' ca' is a byte prefix of ' cat', valid only bytewise."""
    root = corpus_dir(tmp_path / "c", ["a cat sat on the mat"])
    for tokenizer, want in ((str(bpe), False), ("bytes", True)):
        params = TASK.params(corpus=str(root), tokenizer=tokenizer, split="all", min_context=1, continuation_tokens=12)
        problem = _problem_at(params, offset=1)
        assert TASK.verify(problem, " </think> <answer> ca</answer>").correct is want, tokenizer
        assert TASK.verify(problem, problem.solution).correct


def _problem_at(params: object, offset: int) -> Problem:
    """A problem whose context ends at byte ``offset`` of the document (drawn with probe seeds)."""
    seen = set()
    for i in range(2000):
        p = TASK.sample(params, random.Random(i))
        assert p is not None
        seen.add(p.meta["offset"])
        if p.meta["offset"] == offset:
            return p
    raise AssertionError(f"no problem at byte offset {offset}; offsets seen {sorted(seen)}")


def test_meta_keeps_continuation_bytes_boundaries_position_and_document(bpe: Path, tmp_path: Path) -> None:
    root = corpus_dir(tmp_path / "c", ["a cat sat on the cats"])
    params = TASK.params(corpus=str(root), tokenizer=str(bpe), split="all", min_context=1, continuation_tokens=3)
    p = _problem_at(params, offset=1)
    assert p.prompt == "a<think>"
    assert p.answer == " cat"
    assert p.meta["continuation"] == " cat sat on"
    assert p.meta["boundaries"] == [4, 8, 11]
    assert p.meta["position"] == 1 and p.meta["doc"] == "doc000.txt"
    assert TASK.render(p, "ntp") == ("a", " cat")
    assert TASK.verify(p, " </think> <answer> cat sat</answer>").correct
    assert not TASK.verify(p, " </think> <answer> cat s</answer>").correct


def test_unicode_split_across_bytes(tmp_path: Path, bpe: Path) -> None:
    """'é' is two byte tokens under this BPE: no position ends inside it, and only whole characters match."""
    root = corpus_dir(tmp_path / "c", ["a café au lait"])
    params = TASK.params(corpus=str(root), tokenizer=str(bpe), split="all", min_context=1, continuation_tokens=8)
    pool = build_pool(params)
    data = pool.seg.data[0]
    for t in pool.pos:  # every context and every next token ends on a character boundary
        b = pool.seg.bounds[0]
        assert (data[b[t - 1] : b[t - 1] + 1] or b"x")[0] & 0xC0 != 0x80
        assert b[t] == len(data) or data[b[t]] & 0xC0 != 0x80
    assert data.index(b"f") + 1 not in {int(pool.seg.bounds[0][t - 1]) for t in pool.pos}  # "a caf|é": no position
    p = _problem_at(params, offset=1)  # context "a", continuation " c" "a" "f" + the two byte tokens of é + ...
    assert p.meta["continuation"].startswith(" café")
    assert p.meta["boundaries"][:5] == [2, 3, 4, 5, 6]  # 5 is a token boundary inside é (byte-level BPE)
    assert not TASK.verify(p, " </think> <answer> caf\ufffd</answer>").correct  # a decoded half character
    assert TASK.verify(p, " </think> <answer> caf</answer>").correct
    assert TASK.verify(p, " </think> <answer> café</answer>").correct  # both byte tokens: a whole character
    # the rule on raw bytes accepts the half character (it ends on a token boundary); text never can be one
    assert prefix_match_reward(b"\xc3", "é".encode(), (1, 2)) == 1.0


# ----------------------------------------------------------------------------- the slot


@pytest.mark.parametrize(
    ("completion", "pred", "why"),
    [
        (" </think> <answer> cat</answer>", " cat", None),
        (" reason </think><answer> cat</answer> trailing", " cat", None),
        (" </think> \\boxed{ cat}", " cat", None),
        (" </think> \\boxed{a{b}c}", "a{b}c", None),
        (" </think> <answer> a</answer> <answer> b</answer>", " b", None),  # several slots: the last decides
        (" </think> \\boxed{x} <answer>y</answer>", "y", None),
        (" </think> <answer>y</answer> \\boxed{x}", "x", None),
        (" <answer> cat</answer> </think>", None, "no <answer>"),  # a prediction hidden in the reasoning
        (" <answer> cat</answer> </think> nothing", None, "no <answer>"),
        (" <answer> cat</answer>", None, "no </think>"),
        ("", None, "no </think>"),
        (" </think> <answer> cat", None, "no <answer>"),  # unclosed
        (" </think> \\boxed{ cat", None, "no <answer>"),
        (" </think> <answer></answer>", "", None),
    ],
)
def test_prediction_slot(completion: str, pred: str | None, why: str | None) -> None:
    got, reason = extract_prediction(completion)
    assert got == pred
    if why is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(why)


def test_adversarial_completions_get_no_credit(bpe: Path, tmp_path: Path) -> None:
    root = corpus_dir(tmp_path / "c", ["a cat sat on the cats"])
    params = TASK.params(corpus=str(root), tokenizer=str(bpe), split="all", min_context=1, continuation_tokens=3)
    p = _problem_at(params, offset=1)
    wrong = [
        " </think> <answer></answer>",  # empty
        " </think> <answer> cat sat on the</answer>",  # over-long
        " </think> <answer> ca</answer>",  # inside a token
        " </think> <answer> cat s</answer>",  # crosses a boundary
        " <answer> cat</answer> </think> <answer> dog</answer>",  # the right one hidden in the reasoning
        " </think> <answer> cat</answer> <answer> dog</answer>",  # several slots: the last decides
        " </think> <answer> cat</answer" + "<answer>" * 1000,
        "<answer> cat</answer>",  # no reasoning end at all
    ]
    for c in wrong:
        v = TASK.verify(p, c)
        assert not v.correct and v.error, c
        for scheme in ("prefix_match", "first_token", "outcome"):
            assert compute_reward(scheme, v) == 0.0, (scheme, c)
        assert compute_reward("prefix_dense", v) < 1.0
    v = TASK.verify(p, " </think> <answer> dog</answer> </think> <answer> cat</answer>")
    assert v.correct and compute_reward("prefix_match", v) == 1.0


def test_huge_adversarial_completions_are_linear() -> None:
    problem = next(TASK.generate(TASK.params(), 1, 0))
    bombs = [
        "\\boxed{" * 200_000,
        "{" * 300_000 + "}" * 300_000,
        "</think>" + "<answer>" * 100_000 + "</answer>" * 100_000,
        "</think>" * 100_000 + "\\boxed{" * 50_000 + "}",
    ]
    for c in bombs:
        t0 = time.process_time()
        v = TASK.verify(problem, c)
        assert time.process_time() - t0 < 1.0
        assert not v.correct
    assert last_boxed("\\boxed{a}\\boxed{b{c}}") == (len("\\boxed{a}\\boxed{b{c}}"), "b{c}")


def test_gold_completions_of_every_style_verify() -> None:
    params = TASK.params(corpus_docs=30)
    for p in TASK.generate(params, 20, 3):
        for style in ("plain", "chat"):
            gold = TASK.render(p, style)[1]
            v = TASK.verify(p, gold)
            assert v.correct and v.format_ok and compute_reward("prefix_match", v) == 1.0, (style, gold)
        assert TASK.render(p, "plain")[0].endswith("<think>")


def test_rewards_supported_and_malformed_meta() -> None:
    schemes = supported_schemes(TASK)
    assert {"prefix_match", "first_token", "prefix_dense", "outcome"} <= set(schemes)
    assert "process" not in schemes
    p = next(TASK.generate(TASK.params(), 1, 0))
    p.meta["boundaries"] = [99]
    v = TASK.verify(p, p.solution)
    assert not v.correct and v.error and v.error.startswith("verifier error")


# ----------------------------------------------------------------------------- pools, buckets, splits


def test_determinism_under_a_seed() -> None:
    params = TASK.params(corpus_docs=50)
    a = [p.to_dict() for p in TASK.generate(params, 30, 7)]
    b = [p.to_dict() for p in TASK.generate(params, 30, 7)]
    c = [p.to_dict() for p in TASK.generate(params, 30, 8)]
    assert a == b
    assert a != c
    assert len({p["prompt"] for p in a}) == 30  # de-duplicated


@pytest.mark.parametrize(
    ("prefix", "token", "kind"),
    [
        ("<question> There are", " 5", "question number"),
        ("<question> q", "  7", "question number"),  # leading spaces aside
        ("<question> q </question> <solution> so a =", " 5", "solution number"),
        ("<question> q </question> <solution> Define lions as", " b", "solution word"),
        ("<question> q </question> <solution> a = 5", ".", "solution symbol"),
        ("<question> q </question> <solution> x </solution>", " ", "text symbol"),  # after the document
        ("plain text without tags", " word", "text word"),
        ("<solution> s </solution> <question> b", "x", "question word"),  # the last opened tag counts
        ("", "", "text symbol"),
    ],
)
def test_position_kind_by_hand(prefix: str, token: str, kind: str) -> None:
    assert position_kind(prefix, token) == kind


def test_generated_problems_carry_their_kind() -> None:
    problems = TASK.generate(TASK.params(corpus_docs=50), 200, 0)
    kinds = {p.meta["kind"] for p in problems}
    assert {"question word", "question number", "solution number", "solution word"} <= kinds
    for p in problems:  # the whole document precedes the position here (short documents, no context cut)
        assert p.meta["kind"] == position_kind(p.prompt.removesuffix("<think>"), p.answer)


def test_splits_hold_out_documents_and_documents_are_deduplicated(tmp_path: Path) -> None:
    texts = [f"document number {i} says hello to the world" for i in range(60)]
    root = corpus_dir(tmp_path / "c", [*texts, texts[0]])  # a duplicate document
    train = TASK.params(corpus=str(root), split="train", test_fraction=0.3)
    test = TASK.params(corpus=str(root), split="test", test_fraction=0.3)
    allp = TASK.params(corpus=str(root), split="all", test_fraction=0.3)
    assert build_pool(allp).counts["documents"] == 60
    tr = {p.meta["doc_sha1"] for p in TASK.generate(train, 40, 0)}
    te = {p.meta["doc_sha1"] for p in TASK.generate(test, 20, 0)}
    assert tr and te and not tr & te
    assert all(split_of(h, 0.3) == "test" for h in te)


def test_jsonl_and_parquet_corpora(tmp_path: Path) -> None:
    rows = [{"body": f"a line of text number {i} with words", "other": i} for i in range(5)]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from reasonlab.io import write_records

    parquet = tmp_path / "c.parquet"
    write_records(parquet, rows)
    for path in (jsonl, parquet):
        params = TASK.params(corpus=str(path), text_column="body", split="all")
        p = next(TASK.generate(params, 1, 0))
        assert p.meta["doc"].startswith(path.name + ":")
    with pytest.raises(ReasonlabError, match="text_column"):
        list(TASK.generate(TASK.params(corpus=str(jsonl), split="all"), 1, 0))


def _table_for(params: object, path: Path, fn: object) -> Path:
    pool = build_pool(params)
    seg = pool.seg
    ent = {
        d.sha1: np.array([fn(t) for t in range(len(b))], dtype=np.float32)
        for d, b in zip(seg.docs, seg.bounds, strict=True)
    }
    return write_table(path, ent, {"tokenizer_fingerprint": seg.fingerprint})


def test_buckets_nest_and_filter_by_entropy(tmp_path: Path) -> None:
    base = TASK.params(corpus_docs=20, split="all")
    table = _table_for(base, tmp_path / "t.npz", lambda t: (t % 9) * 0.25)  # entropies 0, 0.25, ..., 2.0
    pools = {}
    for bucket in ("all", "easy", "medium", "hard"):
        params = TASK.params(corpus_docs=20, split="all", entropy_table=str(table), bucket=bucket)
        pool = build_pool(params)
        pools[bucket] = set(zip(pool.doc.tolist(), pool.pos.tolist(), strict=True))
    assert pools["hard"] < pools["medium"] < pools["easy"] < pools["all"]
    hard = TASK.params(corpus_docs=20, split="all", entropy_table=str(table), bucket="hard")
    for p in TASK.generate(hard, 20, 0):
        assert p.meta["entropy"] > 1.5 and p.meta["level"] == "hard"
    filt = TASK.params(corpus_docs=20, split="all", entropy_table=str(table), min_entropy=1.0)
    assert all(p.meta["entropy"] >= 1.0 for p in TASK.generate(filt, 20, 0))
    custom = TASK.params(corpus_docs=20, split="all", entropy_table=str(table), bucket="easy", thresholds="1,1.2,1.9")
    assert all(p.meta["entropy"] > 1.0 for p in TASK.generate(custom, 10, 0))
    assert [bucket_of(h, (0.5, 1.0, 1.5)) for h in (0.2, 0.5, 0.7, 1.2, 1.6, float("nan"))] == [
        "low",
        "low",
        "easy",
        "medium",
        "hard",
        None,
    ]


def test_bad_knobs_are_one_line_errors(tmp_path: Path, bpe: Path) -> None:
    with pytest.raises(ReasonlabError, match="need an entropy_table"):
        TASK.params(bucket="hard")
    with pytest.raises(ReasonlabError, match="ascending"):
        TASK.params(thresholds="1,0.5,2")
    with pytest.raises(ReasonlabError, match="corpus"):
        TASK.params(corpus=str(tmp_path / "missing"))
    with pytest.raises(ReasonlabError, match="tokenizer"):
        TASK.params(tokenizer=str(tmp_path / "nope.json"))
    other = _table_for(TASK.params(corpus_docs=5), tmp_path / "w.npz", lambda t: 1.0)
    with pytest.raises(ReasonlabError, match="tokenizer"):
        list(TASK.generate(TASK.params(corpus_docs=5, tokenizer=str(bpe), entropy_table=str(other)), 1, 0))
    assert TASK.params(corpus_knobs="{ops: 2-3, modulus: 7}").corpus_knobs == {"ops": "2-3", "modulus": 7}


def test_cli_generate_score_and_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.jsonl"
    assert main(["data", "generate", "nexttoken", "-n", "8", "--out", str(out), "--corpus-docs", "20"]) == 0
    problems = [json.loads(line) for line in out.read_text().splitlines()]
    comps = tmp_path / "c.jsonl"
    rows = [{"id": p["id"], "completion": p["solution"]} for p in problems]
    rows[0]["completion"] = " </think> <answer>nope</answer>"
    comps.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = tmp_path / "s.jsonl"
    assert main(["score", "--problems", str(out), "--completions", str(comps), "--reward", "prefix_match"]) == 0
    assert (
        main(
            [
                "score",
                "--problems",
                str(out),
                "--completions",
                str(comps),
                "--reward",
                "prefix_match",
                "--out",
                str(scores),
            ]
        )
        == 0
    )
    got = [json.loads(line)["reward"] for line in scores.read_text().splitlines()]
    assert got == [0.0] + [1.0] * 7
    assert main(["tasks"]) == 0
    assert "nexttoken" in capsys.readouterr().err
