"""Can a tiny decoder learn the mod-23 arithmetic facts that arith solutions need? A controlled drill.

Every arith step ends in one lookup such as ``13 * 19 = 17`` (mod 23). Pre-trained 1M models learn the
solution structure but get these lookups wrong (docs/results.md, train section). This script isolates
the lookup: rows of ``a op b = c ;`` facts (one token per number, operator, ``=`` and ``;``), loss on
``c`` only, the model presets of :mod:`reasonlab.model.decoder`, AdamW with a constant learning rate.
Every ``--eval-every`` steps it prints the greedy accuracy on the whole table (each fact alone at the
start of a row) by operator, next to the **op-blind optimum**: the best accuracy and loss of any
predictor that sees ``a`` and ``b`` but not the operator (:func:`op_blind_optimum`). A run whose
accuracy and loss sit at that optimum has learned the operands but not to condition on the operator.

    .venv/bin/python scripts/mod23_fact_drill.py --operators "+-*" --steps 2000
    .venv/bin/python scripts/mod23_fact_drill.py --operators "+" --steps 800
    .venv/bin/python scripts/mod23_fact_drill.py --first-operators "+" --first-steps 800 --steps 2400
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter

import torch
import torch.nn.functional as F

from reasonlab.model.decoder import Decoder, ModelConfig

OPERATORS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def fact_table(operators: str, modulus: int) -> torch.Tensor:
    """All facts ``[a, op_index, b, (a op b) mod modulus]`` for ``a, b`` in ``0..modulus-1``, shape ``[N, 4]``."""
    rows = [
        (a, i, b, OPERATORS[op](a, b) % modulus)
        for a in range(modulus)
        for i, op in enumerate(operators)
        for b in range(modulus)
    ]
    return torch.tensor(rows, dtype=torch.long)


def op_blind_optimum(operators: str, modulus: int) -> tuple[float, float]:
    """Best greedy accuracy and cross-entropy of a predictor that sees ``(a, b)`` but not the operator.

    Facts are uniform over ``(a, op, b)``. For a pair ``(a, b)`` let ``m_r`` be how many of the ``K``
    operators give result ``r``. The best op-blind distribution is ``p(r) = m_r / K``, so

        accuracy = mean over (a, b) of max_r m_r / K,
        loss     = mean over (a, b) of -sum_r (m_r / K) ln(m_r / K).

    Example: ``+`` and ``*`` mod 2 -> pairs (0,0): {0,0}, (0,1): {1,0}, (1,0): {1,0}, (1,1): {0,1}:
    accuracy (1 + 1/2 + 1/2 + 1/2) / 4 = 0.625, loss 3 ln 2 / 4 = 0.5199.
    """
    k = len(operators)
    acc = loss = 0.0
    for a in range(modulus):
        for b in range(modulus):
            counts = Counter(OPERATORS[op](a, b) % modulus for op in operators)
            acc += max(counts.values()) / k
            loss -= sum(m / k * math.log(m / k) for m in counts.values())
    n = modulus * modulus
    return acc / n, loss / n


def fact_rows(facts: torch.Tensor, modulus: int, n_ops: int, spaced: bool = False) -> torch.Tensor:
    """Token rows ``a, op, b, =, c, ;`` per fact: ``facts[B, n, 4] -> [B, 6n]``.

    Numbers are ids ``0..modulus-1``, operator ``i`` is ``modulus + i``, ``=`` and ``;`` follow.
    ``spaced`` puts a space token (the next id) before every number, as the task tokenizer writes
    ``" 8 + 12 = 20"`` (``' ', '8', ' +', ' ', '12', ' =', ' ', '20', ' ;'``): ``[B, 9n]``.
    """
    eq, sep = modulus + n_ops, modulus + n_ops + 1
    a, op, b, c = facts.unbind(-1)
    if spaced:
        sp = torch.full_like(a, modulus + n_ops + 2)
        cols = [sp, a, modulus + op, sp, b, torch.full_like(a, eq), sp, c, torch.full_like(a, sep)]
    else:
        cols = [a, modulus + op, b, torch.full_like(a, eq), c, torch.full_like(a, sep)]
    return torch.stack(cols, -1).reshape(facts.shape[0], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--operators", default="+-*", help="subset of +-* (default all three)")
    ap.add_argument("--modulus", type=int, default=23)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--facts-per-row", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--rope-theta", type=float, default=1e4)
    ap.add_argument("--init-std", type=float, default=0.02, help="std of the normal weight init (model default 0.02)")
    ap.add_argument("--untied", action="store_true", help="separate input and output embeddings")
    ap.add_argument(
        "--first-operators",
        default="",
        help="operator curriculum: train only on these (a subset of --operators) for --first-steps",
    )
    ap.add_argument("--first-steps", type=int, default=0)
    ap.add_argument(
        "--loss-on",
        choices=("result", "all"),
        default="result",
        help="targets: the result after each '=' (default) or every next token, as in pre-training",
    )
    ap.add_argument(
        "--pad-vocab",
        type=int,
        default=0,
        help="vocabulary size with unused ids added (a task tokenizer has ~750); 0 = only the used ids",
    )
    ap.add_argument(
        "--softmax-used-only",
        action="store_true",
        help="with --pad-vocab: the training loss normalises over the used ids only",
    )
    ap.add_argument(
        "--prefix",
        type=int,
        default=0,
        help="tokens of one constant id before the facts of every row (as a prompt precedes them)",
    )
    ap.add_argument(
        "--prefix-random",
        action="store_true",
        help="with --prefix: draw the prefix tokens from the numbers, afresh for every row",
    )
    ap.add_argument("--spaced", action="store_true", help="a space token before every number (task tokenizer layout)")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if not args.operators or set(args.operators) - set(OPERATORS) or len(set(args.operators)) != len(args.operators):
        ap.error(f"--operators must be distinct characters from {''.join(OPERATORS)}, got {args.operators!r}")
    if set(args.first_operators) - set(args.operators):
        ap.error(f"--first-operators must be a subset of --operators {args.operators!r}, got {args.first_operators!r}")
    if args.prefix < 0 or (args.prefix_random and not args.prefix):
        ap.error(f"--prefix must be >= 0, and > 0 with --prefix-random; got {args.prefix}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    p, k = args.modulus, len(args.operators)
    # numbers, operators, "=", ";" (then the space token when spaced, the prefix token with --prefix)
    used = p + k + 2 + args.spaced + (args.prefix > 0)
    cfg = ModelConfig.from_preset(
        args.preset,
        vocab_size=max(args.pad_vocab, used),
        rope_theta=args.rope_theta,
        tie_embeddings=not args.untied,
        init_std=args.init_std,
    )
    model = Decoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.95))
    table = fact_table(args.operators, p)
    blind_acc, blind_loss = op_blind_optimum(args.operators, p)
    print(
        json.dumps(
            {
                "params": model.num_params(),
                "facts": len(table),
                "op_blind_accuracy": round(blind_acc, 4),
                "op_blind_loss": round(blind_loss, 4),
                **vars(args),
            }
        )
    )
    gen = torch.Generator().manual_seed(args.seed + 1)
    prefix_gen = torch.Generator().manual_seed(args.seed + 2)  # its own stream: the facts stay the same
    width, result_at = (9, 6) if args.spaced else (6, 3)  # tokens per fact; target index of c in rows[:, 1:]

    def prefix_block(n: int, generator: torch.Generator) -> torch.Tensor:
        """``[n, prefix]`` tokens before the facts, as a prompt precedes them: one constant id, or numbers."""
        if args.prefix_random:
            return torch.randint(p, (n, args.prefix), generator=generator)
        return torch.full((n, args.prefix), used - 1, dtype=torch.long)

    eval_rows = fact_rows(table[:, None, :], p, k, args.spaced)[:, : result_at + 1]
    eval_rows = torch.cat([prefix_block(len(eval_rows), torch.Generator().manual_seed(args.seed + 3)), eval_rows], 1)
    first_ids = [args.operators.index(op) for op in args.first_operators]
    first_rows = torch.nonzero(torch.isin(table[:, 1], torch.tensor(first_ids, dtype=torch.long))).squeeze(1)
    # Loss only on results: in ``rows[:, 1:]`` the token after each "=" sits at prefix + result_at + i * width
    not_result = torch.ones(args.batch, args.prefix + width * args.facts_per_row - 1, dtype=torch.bool)
    not_result[:, args.prefix + result_at :: width] = False
    if args.loss_on == "all":
        not_result[:] = False
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        if step <= args.first_steps and len(first_rows):
            idx = first_rows[torch.randint(len(first_rows), (args.batch, args.facts_per_row), generator=gen)]
        else:
            idx = torch.randint(len(table), (args.batch, args.facts_per_row), generator=gen)
        rows = torch.cat([prefix_block(args.batch, prefix_gen), fact_rows(table[idx], p, k, args.spaced)], dim=1)
        x, y = rows[:, :-1], rows[:, 1:].masked_fill(not_result, -100)
        logits = model(x)[..., :used] if args.softmax_used_only else model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                logits = model(eval_rows)[:, -1, :used] if args.softmax_used_only else model(eval_rows)[:, -1]
                right = (logits.argmax(-1) == table[:, 3]).float()
                table_loss = F.cross_entropy(logits, table[:, 3]).item()
            by_op = {op: round(right[table[:, 1] == i].mean().item(), 3) for i, op in enumerate(args.operators)}
            print(
                json.dumps(
                    {
                        "step": step,
                        "train_loss": round(loss.item(), 3),
                        "table_loss": round(table_loss, 3),
                        "accuracy": round(right.mean().item(), 3),
                        "by_operator": by_op,
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
