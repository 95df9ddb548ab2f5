"""Teacher-forced fact accuracy inside arith solutions: does a checkpoint know ``a op b = c``?

Greedy accuracy by op mixes three skills (copying names and values, chaining the steps, and the
arithmetic facts). This isolates the last one. For every numeric expression ``a op b (op ...) = c`` in
the gold solutions of ``--n`` problems, the model reads ``<bos> prompt`` and the gold solution up to
its ``=`` and we check its argmax next token against ``c``. Guessing scores ``1/modulus``. It is how we watched the
modulo-7 table arrive during pre-training (docs/results.md, train section)::

    .venv/bin/python scripts/arith_fact_accuracy.py runs/pretrain_arith_mod7/checkpoints/step-* \
        --modulus 7 --operators +

Prints one JSON line per checkpoint: facts scored, facts right, accuracy.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from typing import Any

import torch

from reasonlab.model import load_model
from reasonlab.tasks import get_task
from reasonlab.tasks.base import Problem

#: a numeric expression and its value, e.g. ``1 + 3 = 4`` or ``2 + 3 + 6 = 4`` (a total over three items)
_FACT_RE = re.compile(r"\d+(?: [+*-] \d+)+ = (\d+)")


def fact_queries(problem: Problem, tokenizer: Any) -> list[tuple[list[int], str]]:
    """``(context ids, gold value)`` for every fact of the gold solution; the context ends with the ``=``.

    Prompt and solution are tokenised separately, as in the training documents, so every context is a
    prefix of the document the model was trained on.
    """
    prompt, solution = get_task(problem.task).render(problem)
    head = [tokenizer.bos_id, *tokenizer.encode(prompt)]
    return [(head + tokenizer.encode(solution[: m.start(1)].rstrip()), m.group(1)) for m in _FACT_RE.finditer(solution)]


@torch.no_grad()
def fact_accuracy(model: Any, tokenizer: Any, problems: Iterable[Problem]) -> tuple[int, int]:
    """``(right, total)``: facts whose argmax next token decodes to the gold value."""
    model.eval()
    right = total = 0
    for problem in problems:
        for ids, value in fact_queries(problem, tokenizer):
            logits = model(torch.tensor([ids]))
            right += tokenizer.decode([int(logits[0, -1].argmax())]).strip() == value
            total += 1
    return right, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model or checkpoint directories")
    ap.add_argument("--modulus", type=int, default=23)
    ap.add_argument("--operators", default="+-*")
    ap.add_argument("--ops", default="3-5", help="op counts of the problems (op 2 has no fact)")
    ap.add_argument("--n", type=int, default=200, help="problems (each has one or more facts)")
    ap.add_argument("--seed", type=int, default=0, help="problem seed (0 lies outside the training seeds)")
    args = ap.parse_args()
    task = get_task("arith")
    params = task.params(ops=args.ops, distractors=0, modulus=args.modulus, operators=args.operators)
    problems = list(task.generate(params, args.n, args.seed))
    for path in args.models:
        model, tokenizer = load_model(path)
        right, total = fact_accuracy(model, tokenizer, problems)
        print(
            json.dumps(
                {
                    "model": path,
                    "facts": total,
                    "right": right,
                    "accuracy": round(right / total, 4),
                    "chance": round(1 / args.modulus, 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
