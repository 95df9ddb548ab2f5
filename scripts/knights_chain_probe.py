"""Teacher-forced Knights & Knaves probe: which step of the compact chain does a model get wrong?

Feeds new puzzles' gold chains (``cot: compact``, ``lookup``, ``short``, ``roles`` or ``bound``, ``names: cycle``,
fixed phrasing, seed 4242) through the model and scores every completion token by category: the quote of a statement
(``quote``: the first time that speaker's line is written in the chain, copied from the prompt; ``quote_rep``: a
later try, copied from an earlier line; in a short chain only the speaker's name), in a lookup chain the try that
opens each check line (``prefix_name``, ``prefix_role``), a leaf's person (``leaf_name``), the claimed role
(``leaf_role``), in a roles or bound chain the person's role under the try (``leaf_try``: the lookup in the
try line), the leaf's truth (``leaf_tf``; on a repeated line ``leaf_tf`` and ``leaf_try`` split into
``_same`` / ``_flip``: the same token as the previous try's line or the other one), the statement's value,
the speaker's role, the verdict, the try lines' names and roles, the answer block's roles. Per category: the
argmax accuracy and the expected error of one sample at ``--temperature`` (``1 - p_T(gold token)``), summed
per chain to show where the mass of errors lies.

    .venv/bin/python scripts/knights_chain_probe.py runs/NAME/model --people 3 --n 40 [--cot lookup|short|roles|bound]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import torch

from reasonlab.model import load_model
from reasonlab.tasks import get_task

ROLE = re.compile(r"\b(knight|knave)\b")
PAIR = re.compile(r"(\w+) (knight|knave)")  # a bare NAME ROLE pair: a try line, a lookup line's opening
LEAF = re.compile(r"(?P<name>\w+) (?P<claim>knight|knave) (?P<tf>[TF])")
LOOKUP_LEAF = re.compile(r"(?P<name>\w+) is an? (?P<claim>knight|knave) (?P<tf>[TF])")
ROLES_LEAF = re.compile(r"(?P<name>\w+) (?P<claim>knight|knave) vs (?P<try>knight|knave) (?P<tf>[TF])")
BOUND_LEAF = re.compile(r"(?P<name>\w+) (?P<try>knight|knave) is an? (?P<claim>knight|knave) (?P<tf>[TF])")
SPEAKER = re.compile(r", (?:\w+ )?(?P<role>knight|knave) (?P<verdict>ok|no)\.$")


def _flip(prev: list[str] | None, i: int, token: str) -> str:
    """``_same`` / ``_flip``: whether the ``i``-th leaf token equals the previous try's, or "" on a first line."""
    return "" if prev is None or i >= len(prev) else ("_same" if prev[i] == token else "_flip")


def char_categories(think: str, cot: str = "compact") -> list[str]:
    """One category per character of a completion (``other`` where none applies); see the module doc."""
    lookup = cot == "lookup"
    leaf_re = {"lookup": LOOKUP_LEAF, "roles": ROLES_LEAF, "bound": BOUND_LEAF}.get(cot, LEAF)
    cats = ["other"] * len(think)
    seen: set[str] = set()
    last_tf: dict[str, list[str]] = {}
    last_try: dict[str, list[str]] = {}
    start = 0
    for line in think.split("\n"):

        def mark(a: int, b: int, cat: str, base: int = start) -> None:
            cats[base + a : base + b] = [cat] * (b - a)

        if line:
            mark(0, min(len(line), 2), "line_kind")
        if line.startswith("Try "):
            for m in PAIR.finditer(line):
                mark(m.start(1), m.end(1), "try_name")
                mark(m.start(2), m.end(2), "try_role")
        elif line.startswith("- ") and ('." ' in line or ": " in line):
            if '." ' in line:
                close = line.index('." ') + 2
                quote = line.index(": ") + 2 if lookup else 2
            else:  # a short chain: ``- NAME: `` and the leaves
                quote, close = 2, line.index(": ")
            if lookup:  # the line opens with the try: ``NAME ROLE, ...: ``
                for m in PAIR.finditer(line, 0, quote):
                    mark(m.start(1), m.end(1), "prefix_name")
                    mark(m.start(2), m.end(2), "prefix_role")
            speaker = line[quote:].split(" ", 1)[0]
            rep = "_rep" if speaker in seen else ""
            seen.add(speaker)
            mark(quote, close, "quote" + rep)
            tfs, tries = [], []
            for i, m in enumerate(leaf_re.finditer(line, close)):
                mark(m.start("name"), m.end("name"), "leaf_name" + rep)
                mark(m.start("claim"), m.end("claim"), "leaf_role")
                if "try" in m.groupdict():
                    mark(m.start("try"), m.end("try"), "leaf_try" + rep + _flip(last_try.get(speaker), i, m["try"]))
                    tries.append(m["try"])
                mark(m.start("tf"), m.end("tf"), "leaf_tf" + rep + _flip(last_tf.get(speaker), i, m["tf"]))
                tfs.append(m["tf"])
            last_tf[speaker], last_try[speaker] = tfs, tries
            for m in re.finditer(r"= ([TF])", line[close:]):
                mark(close + m.start(1), close + m.end(1), "value")
            end = SPEAKER.search(line)
            if end:
                mark(end.start("role"), end.end("role"), "spk_role")
                mark(end.start("verdict"), end.end("verdict"), "verdict")
        elif line.startswith("("):
            for m in ROLE.finditer(line):
                mark(m.start(), m.end(), "answer_role")
        start += len(line) + 1
    return cats


def main() -> None:
    """Print, per people count, one row per token category, largest expected error mass first."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--people", type=int, nargs="+", default=[3])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--cot", default="compact", choices=["compact", "lookup", "short", "roles", "bound"])
    ap.add_argument("--temperature", type=float, default=0.7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_model(args.model)
    model.eval()
    task = get_task("knights")
    pieces_of = tok.token_bytes()
    for n in args.people:
        params = task.params(people=n, cot=args.cot, names="cycle", phrasing="fixed")
        acc: dict[str, list[float]] = defaultdict(list)
        err: dict[str, list[float]] = defaultdict(list)
        for problem in task.generate(params, args.n, seed=4242):
            prompt, gold = task.render(problem, "plain")
            p_ids, c_ids = tok.encode(prompt, add_bos=True), tok.encode(gold)
            pieces = [pieces_of[i].decode("utf-8", "replace") for i in c_ids]
            if "".join(pieces) != gold:
                raise SystemExit(f"{args.model}: the tokenizer's pieces do not rebuild the gold completion")
            cats = char_categories(gold, cot=args.cot)
            with torch.inference_mode():
                logits = model(torch.tensor([p_ids + c_ids]))[0, len(p_ids) - 1 : -1].float()
            target = torch.tensor(c_ids)
            hit = logits.argmax(-1) == target
            p_gold = torch.softmax(logits / args.temperature, -1).gather(1, target[:, None])[:, 0]
            offset = 0
            for j, piece in enumerate(pieces):
                first = offset + len(piece) - len(piece.lstrip()) if piece.strip() else offset
                cat = cats[min(first, len(cats) - 1)]
                acc[cat].append(float(hit[j]))
                err[cat].append(float(1 - p_gold[j]))
                offset += len(piece)
        print(f"people {n}: {args.n} gold chains ({args.cot}), T = {args.temperature}")
        print(f"  {'category':18s} {'tokens':>7s} {'argmax acc':>10s} {'E[err]':>7s} {'E[err]/chain':>12s}")
        for cat in sorted(acc, key=lambda c: -sum(err[c])):
            k = len(acc[cat])
            print(
                f"  {cat:18s} {k:7d} {sum(acc[cat]) / k:10.4f} {sum(err[cat]) / k:7.4f} {sum(err[cat]) / args.n:12.3f}"
            )


if __name__ == "__main__":
    main()
