"""The teacher-forced fact-accuracy script (scripts/arith_fact_accuracy.py): its queries and its count."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from reasonlab.model.tokenizer import TaskTokenizer
from reasonlab.tasks import get_task

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "arith_fact_accuracy.py"
_spec = importlib.util.spec_from_file_location("arith_fact_accuracy", _PATH)
assert _spec is not None and _spec.loader is not None
fa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fa)

TASK = get_task("arith")
PROBLEMS = list(TASK.generate(TASK.params(ops="3-5", distractors=0, modulus=7, operators="+"), 6, 0))
TOK = TaskTokenizer.build([t for p in PROBLEMS for t in TASK.render(p)], 600, number_tokens=23)


def test_queries_end_at_the_equals_sign_and_continue_as_the_document() -> None:
    for p in PROBLEMS:
        prompt, solution = TASK.render(p)
        document = [TOK.bos_id, *TOK.encode(prompt), *TOK.encode(solution)]
        queries = fa.fact_queries(p, TOK)
        computed = [n for n in p.meta["graph"]["nodes"] if len(n["parents"]) + (n["const"] is not None) >= 2]
        assert len(queries) == len(computed)  # one per step that computes (not per copied value)
        for ids, value in queries:
            assert TOK.decode(ids[-1:]).strip() == "="
            assert document[: len(ids)] == ids  # a prefix of the training document
            assert TOK.decode([document[len(ids)]]).strip() == value  # the next token is the value


class _Oracle(torch.nn.Module):
    """Puts all mass on the token that follows each query in the gold document (or on id 0)."""

    def __init__(self, answers: dict[tuple[int, ...], int], vocab: int) -> None:
        super().__init__()
        self.answers, self.vocab = answers, vocab

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(1, ids.shape[1], self.vocab)
        out[0, -1, self.answers.get(tuple(ids[0].tolist()), 0)] = 1.0
        return out


def test_fact_accuracy_counts_right_and_wrong() -> None:
    queries = [(ids, value) for p in PROBLEMS for ids, value in fa.fact_queries(p, TOK)]
    assert len(queries) >= len(PROBLEMS)
    right_half = {tuple(ids): TOK.encode(f" {value}")[0] for ids, value in queries[::2]}
    right, total = fa.fact_accuracy(_Oracle(right_half, TOK.vocab_size), TOK, PROBLEMS)
    assert total == len(queries)
    assert right == len(right_half)
