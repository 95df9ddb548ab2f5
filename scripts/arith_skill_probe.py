"""Teacher-forced accuracy of a model on the parts of gold arith solutions: which skill is missing.

Every token of a gold solution (ordered by the model's argmax under teacher forcing) falls in one part:

- ``name``: the parameter name after ``Define`` (copying the right quantity from the question);
- ``letter``: the variable letter after ``as``;
- ``deps``: the letters of the first expression (``so c = a + b``: wiring);
- ``operand``: the numbers substituted into the expression (copying values and constants);
- ``result``: the token after the last ``=`` of a step that computes (the arithmetic fact);
- ``answer``: the answer after ``Answer:``.

A part's accuracy is the share of its tokens predicted right; ``step`` is the share of steps whose every
token is right. Checkpoints in, one line each out:

    .venv/bin/python scripts/arith_skill_probe.py runs/NAME/checkpoints/step-* --ops 2-6 --n 200 \
        --knobs '{"distractors": 0, "modulus": 7, "operators": "+", "letters": "ordered"}'
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from typing import Any

PARTS = ("name", "letter", "deps", "operand", "result", "answer")
_STEP = re.compile(r"Define (?P<name>[^;.]+?) as (?P<letter>[A-Za-z])(?:; so (?P<body>[^.]*))?\.")


def char_parts(solution: str) -> tuple[list[str | None], list[int]]:
    """A part label for every character of a gold solution, and the step index of every character (-1 outside)."""
    labels: list[str | None] = [None] * len(solution)
    step_of = [-1] * len(solution)
    for k, m in enumerate(_STEP.finditer(solution)):
        for i in range(m.start(), m.end()):
            step_of[i] = k
        for part in ("name", "letter"):
            for i in range(m.start(part), m.end(part)):
                labels[i] = part
        if m.group("body") is None:
            continue
        base = m.start("body")
        terms = m.group("body").split(" = ")
        pos = base
        for j, term in enumerate(terms):
            part = None
            if j == 1:
                part = "deps"
            elif j >= 2 and j < len(terms) - 1:
                part = "operand"
            elif j == len(terms) - 1 and j >= 2:
                part = "result"
            elif j == len(terms) - 1 and j == 1:
                part = "deps" if re.search(r"[A-Za-z]", term) else "operand"
            if part:
                for i in range(pos, pos + len(term)):
                    if not term[i - pos].isspace():
                        labels[i] = part
            pos += len(term) + 3
    m = re.search(r"Answer: (\d+)", solution)
    if m:
        for i in range(m.start(1), m.end(1)):
            labels[i] = "answer"
    return labels, step_of


def probe(model: Any, tokenizer: Any, problems: list[Any], batch: int = 32) -> dict[str, float]:
    """Teacher-forced argmax accuracy by part (and whole steps) over the gold solutions of ``problems``."""
    import torch

    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    step_ok: dict[tuple[int, int], bool] = {}
    model.eval()
    for start in range(0, len(problems), batch):
        chunk = problems[start : start + batch]
        seqs, spans = [], []
        for p in chunk:
            prompt_ids = tokenizer.encode(p.prompt, add_bos=True)
            sol_ids = tokenizer.encode(p.solution)
            seqs.append(prompt_ids + sol_ids)
            spans.append((len(prompt_ids), sol_ids))
        width = max(map(len, seqs))
        x = torch.full((len(seqs), width), tokenizer.pad_id, dtype=torch.long)
        for r, s in enumerate(seqs):
            x[r, : len(s)] = torch.tensor(s)
        with torch.no_grad():
            pred = model(x).argmax(-1)
        for r, (p, (n_prompt, sol_ids)) in enumerate(zip(chunk, spans, strict=True)):
            labels, step_of = char_parts(p.solution)
            offset = 0
            for j, tid in enumerate(sol_ids):
                text = tokenizer.decode([tid])
                chars = range(offset, offset + len(text))
                offset += len(text)
                part = next((labels[c] for c in chars if c < len(labels) and labels[c]), None)
                step = next((step_of[c] for c in chars if c < len(step_of) and step_of[c] >= 0), -1)
                ok = int(pred[r, n_prompt + j - 1]) == tid
                if part:
                    totals[part] += 1
                    hits[part] += ok
                if step >= 0:
                    key = (start + r, step)
                    step_ok[key] = step_ok.get(key, True) and ok
    out = {part: hits[part] / totals[part] for part in PARTS if totals[part]}
    out["step"] = sum(step_ok.values()) / max(len(step_ok), 1)
    return out


def main() -> None:
    """CLI: one line of part accuracies per checkpoint or model dir."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--ops", default="2-6")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--knobs", default='{"distractors": 0, "modulus": 7, "operators": "+"}')
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from reasonlab.model import load_model
    from reasonlab.tasks import get_task

    torch.set_num_threads(args.threads)
    task = get_task("arith")
    problems = list(task.generate(task.params(**{**json.loads(args.knobs), "ops": args.ops}), args.n, args.seed))
    for path in args.models:
        model, tok = load_model(path)
        res = probe(model, tok, problems)
        print(f"{path}: " + "  ".join(f"{k} {v:.3f}" for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
