"""Tokens per arithmetic problem (BOS + prompt + gold solution + EOS) by number of operations.

Trains the task tokenizer on a training-like arith corpus (plain rendering) at several vocabulary sizes
and prints one JSON line per (vocab size, ops) with the mean/max token count, plus characters and
UTF-8 bytes per token. Sequence length drives training cost, so this sets the context length presets.

With ``--number-tokens 23`` the problems are mod-23 (``num_mode=mod``) and the tokenizer has whole
tokens for 0..22, bare and with their leading space; ``spaced_numbers`` is the mean count of the
spaced ones per problem: each would cost two tokens (``' '`` + number) without the spaced form.

Usage: .venv/bin/python benchmarks/bench_tokenizer.py [--ops 2-20] [--n 100] [--vocab 512,1024,2200]
       [--number-tokens 23]
"""

from __future__ import annotations

import argparse
import json
import statistics

from reasonlab.model import TaskTokenizer
from reasonlab.tasks import get_task


def corpus(ops: list[int], n: int, seed: int, context: str, **knobs: str) -> dict[int, list[str]]:
    """``n`` rendered training texts (prompt + gold completion) per op count."""
    task = get_task("arith")
    out = {}
    for op in ops:
        problems = task.generate(task.params(ops=str(op), context=context, **knobs), n, seed + op)
        out[op] = ["".join(task.render(p, "plain")) for p in problems]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", default="2-20")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--vocab", default="512,1024,2200")
    ap.add_argument("--context", default="zoo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--number-tokens", type=int, default=0, help="whole-number tokens 0..N-1 (mod-23 problems)")
    args = ap.parse_args()
    knobs = {"num_mode": "mod"} if args.number_tokens else {}
    lo, _, hi = args.ops.partition("-")
    ops = list(range(int(lo), int(hi or lo) + 1))
    train = corpus(ops, args.n, args.seed, args.context, **knobs)
    held = corpus(ops, args.n, args.seed + 10_000, args.context, **knobs)
    texts = [t for op in ops for t in train[op]]
    for vocab in (int(v) for v in args.vocab.split(",")):
        tok = TaskTokenizer.build(texts, vocab, number_tokens=args.number_tokens)
        spaced_ids = {tok.encode(f" {i}")[0] for i in range(args.number_tokens)}
        for op in ops:
            encoded = [tok.encode(t, add_bos=True, add_eos=True) for t in held[op]]
            counts = [len(ids) for ids in encoded]
            spaced = statistics.mean(sum(i in spaced_ids for i in ids) for ids in encoded)
            assert all(tok.decode(tok.encode(t)) == t for t in held[op])
            chars = statistics.mean(len(t) for t in held[op])
            print(
                json.dumps(
                    {
                        "vocab": vocab,
                        "actual_vocab": tok.vocab_size,
                        "ops": op,
                        "context": args.context,
                        "number_tokens": args.number_tokens,
                        "spaced_numbers": round(spaced, 1),
                        "mean_tokens": round(statistics.mean(counts), 1),
                        "max_tokens": max(counts),
                        "mean_chars": round(chars, 1),
                        "chars_per_token": round(chars / statistics.mean(counts), 2),
                    }
                )
            )


if __name__ == "__main__":
    main()
