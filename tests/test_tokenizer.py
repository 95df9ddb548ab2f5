"""Tokenizer: exact round-trip on any text, digit splitting, special tokens, save/load."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.model.tokenizer import SPECIAL_TOKENS, TaskTokenizer

CORPUS = [
    "<question>Let x = 12 + 7. y = x * 3 - 45. What is y?</question>"
    "<solution>x = 12 + 7 = 19. y = 19 * 3 - 45 = 12.</solution><answer>12</answer>",
    "<think>The number of adult owls in Maple Zoo equals 4.</think><answer>4</answer>",
    "A says: B is a knave. B says: A and C are both knights.",
] * 30


@pytest.fixture(scope="module")
def tok() -> TaskTokenizer:
    return TaskTokenizer.build(CORPUS, 400)


def test_special_tokens_are_single_ids(tok: TaskTokenizer) -> None:
    for s in SPECIAL_TOKENS:
        assert tok.encode(s) == [tok.special_ids[s]]
    assert len({tok.bos_id, tok.eos_id, tok.pad_id}) == 3
    ids = tok.encode("<answer>12</answer>", add_bos=True, add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == "<bos><answer>12</answer><eos>"
    assert tok.decode(ids, skip_special=True) == "<answer>12</answer>"


def test_digits_are_split(tok: TaskTokenizer) -> None:
    ids = tok.encode("x = 1234567")
    digits = [tok.decode([i]) for i in ids[-7:]]
    assert digits == list("1234567")


def test_roundtrip_corpus_and_edge_cases(tok: TaskTokenizer) -> None:
    edge = ["", " ", "  two  spaces ", "\n\n\t", "ünïcödé 日本語 🙂", "<eos>x<bos>", "<answer", "a\r\nb", "\x00\x01"]
    for text in [*CORPUS[:3], *edge]:
        assert tok.decode(tok.encode(text)) == text


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_roundtrip_any_text(text: str) -> None:
    tok = _shared()
    assert tok.decode(tok.encode(text)) == text
    assert b"".join(tok.token_bytes()[i] for i in tok.encode(text)) == text.encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*list(SPECIAL_TOKENS), "a", " b", "12", " = ", "\n", "é"]), max_size=20))
def test_roundtrip_mixed_specials(parts: list[str]) -> None:
    tok = _shared()
    text = "".join(parts)
    assert tok.decode(tok.encode(text)) == text


_CACHE: list[TaskTokenizer] = []


def _shared() -> TaskTokenizer:
    if not _CACHE:
        _CACHE.append(TaskTokenizer.build(CORPUS, 400))
    return _CACHE[0]


def test_compresses_task_text(tok: TaskTokenizer) -> None:
    text = CORPUS[0]
    assert len(tok.encode(text)) < len(text.encode()) / 2


def test_save_load(tmp_path, tok: TaskTokenizer) -> None:
    path = tok.save(tmp_path)
    assert path.name == "tokenizer.json"
    again = TaskTokenizer.load(tmp_path)
    assert again.encode(CORPUS[0]) == tok.encode(CORPUS[0])
    assert again.vocab_size == tok.vocab_size
    with pytest.raises(ReasonlabError, match="no such tokenizer"):
        TaskTokenizer.load(tmp_path / "missing")


def test_vocab_too_small() -> None:
    with pytest.raises(ReasonlabError, match="too small"):
        TaskTokenizer.build(CORPUS, 100)


def test_encode_batch_matches_encode(tok: TaskTokenizer) -> None:
    assert tok.encode_batch(CORPUS[:3], add_bos=True) == [tok.encode(t, add_bos=True) for t in CORPUS[:3]]


def _task_texts(name: str, n: int, seed: int, **knobs: str) -> list[str]:
    from reasonlab.tasks import get_task

    task = get_task(name)
    return [
        "".join(task.render(p, style)) for p in task.generate(task.params(**knobs), n, seed) for style in task.styles
    ]


def test_roundtrip_on_generated_task_texts() -> None:
    train = _task_texts("arith", 40, 0, ops="2-8")
    tok = TaskTokenizer.build(train, 1024)
    held = (
        _task_texts("arith", 30, 1, ops="2-20", context="school")
        + _task_texts("arith", 10, 2, ops="3", num_mode="range")
        + _task_texts("knights", 20, 3, people="2-8")
    )
    for text in held:
        ids = tok.encode(text, add_bos=True, add_eos=True)
        assert tok.decode(ids, skip_special=True) == text
    # numbers are digit sequences: every digit run in an arith text is one token per digit
    text = held[0]
    for tid in tok.encode(text):
        piece = tok.decode([tid])
        assert not (any(c.isdigit() for c in piece) and len(piece.strip()) > 1), piece


@pytest.fixture(scope="module")
def numtok() -> TaskTokenizer:
    return TaskTokenizer.build(CORPUS, 400, number_tokens=23)


def test_number_tokens_whole_with_and_without_space(numtok: TaskTokenizer) -> None:
    pieces = [numtok.decode([i]) for i in numtok.encode("a = 13 * 19 = 17. <answer> 22 </answer> (8)")]
    assert pieces == [
        "a",
        " =",
        " 13",
        " *",
        " 19",
        " =",
        " 17",
        ".",
        " ",
        "<answer>",
        " 22",
        " ",
        "</answer>",
        " ",
        "(",
        "8",
        ")",
    ]
    # a fact is five tokens, no separate space token before a number
    assert [numtok.decode([i]) for i in numtok.encode(" 8 + 12 = 20")] == [" 8", " +", " 12", " =", " 20"]
    assert [numtok.decode([i]) for i in numtok.encode("equals 12.")][-2:] == [" 12", "."]
    # without a leading space, inside a longer number or a word the integers stay digits
    assert [numtok.decode([i]) for i in numtok.encode("x=123")][-3:] == ["1", "2", "3"]
    assert "12" not in [numtok.decode([i]) for i in numtok.encode("a12")]
    assert not {"23", " 23"} & {numtok.decode([i]) for i in numtok.encode(" 23 23")}  # only 0..22 were added
    # 0..9 already are (byte) tokens, so the bare forms add 13 ids (10..22), the spaced forms 23
    assert numtok.vocab_size == TaskTokenizer.build(CORPUS, 400).vocab_size + 13 + 23
    with pytest.raises(ReasonlabError, match="number_tokens"):
        TaskTokenizer.build(CORPUS, 400, number_tokens=-1)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "12", "7", "123", " = ", ".", "x1", "<answer>", "22", "\n"]), max_size=25))
def test_number_tokens_roundtrip(numtok: TaskTokenizer, parts: list[str]) -> None:
    text = "".join(parts)
    ids = numtok.encode(text)
    assert numtok.decode(ids) == text
    assert b"".join(numtok.token_bytes()[i] for i in ids) == text.encode()


def test_number_tokens_survive_save_load(tmp_path, numtok: TaskTokenizer) -> None:
    numtok.save(tmp_path)
    again = TaskTokenizer.load(tmp_path)
    text = "so a = 13 * 19 = 17. Answer: 7."
    assert again.encode(text) == numtok.encode(text)
