"""Greedy Knights & Knaves probe: is a model's failure the logic or the names?

For each people count, ``--n`` fresh puzzles (seed 777) rendered as the model was trained (compact chain,
fixed phrasing, the given name pool), one greedy completion each, and two scores: the exact answer by the
task's verifier (names and roles), and the roles read by position from the answer block with the names
ignored (``(i) ANYNAME is a knight|knave`` in order against the solution). A model that reasons but cannot
copy names scores 0 on the first and well above chance (2^-n) on the second.

    .venv/bin/python scripts/knights_role_probe.py runs/NAME/model --names few --people 2 3 4 5 --n 40
"""

from __future__ import annotations

import argparse
import re

import torch

from reasonlab.eval.quick import greedy_generate
from reasonlab.model import load_model
from reasonlab.tasks import get_task

ROLE_LINE = re.compile(r"\((\d+)\) \S+ is an? (knight|knave)")


def roles_by_position(completion: str) -> list[str]:
    """The role words of the last answer block's numbered lines, in order (names ignored)."""
    return [role for _, role in ROLE_LINE.findall(completion.split("<answer>")[-1])]


def main() -> None:
    """Print one line per people count: exact answers and roles by position."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--names", default="fixed", choices=["common", "uncommon", "mixed", "fixed", "few"])
    ap.add_argument("--people", type=int, nargs="+", default=[2, 3, 4, 5])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-new-tokens", type=int, default=1900)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_model(args.model)
    task = get_task("knights")
    for n in args.people:
        params = task.params(people=n, cot="compact", names=args.names, phrasing="fixed")
        problems = list(task.generate(params, args.n, seed=777))
        prompts = [task.render(p, "plain")[0] for p in problems]
        outs = greedy_generate(model, tok, prompts, args.max_new_tokens, batch_size=20)
        exact = sum(task.verify(p, o).correct for p, o in zip(problems, outs, strict=True))
        want = [["knight" if r else "knave" for r in p.meta["solution"]] for p in problems]
        roles = sum(roles_by_position(o) == w for o, w in zip(outs, want, strict=True))
        print(
            f"people {n}: exact {exact}/{args.n}, roles by position (names ignored) {roles}/{args.n} "
            f"(chance {args.n / 2**n:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
