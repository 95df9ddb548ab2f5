"""Reading a ``nexttoken`` completion: the prediction slot after the reasoning, and the RPT check.

The model reasons inside ``<think> ... </think>`` and writes its prediction in an answer slot after the
last ``</think>``. Two slots are read (the one that ends last wins when both occur):

- ``<answer>PRED</answer>``: the plain slot for from-scratch models (the last complete tag after
  ``</think>``, as :func:`reasonlab.tasks.base.last_tag` reads it);
- ``\\boxed{PRED}``: the paper's slot for instruction models (the last brace-balanced ``\\boxed{...}``
  after ``</think>``).

``PRED`` is taken verbatim: spaces count (the next token of ``"x ="`` is ``" 5"``, not ``"5"``), since the
reward compares bytes. A slot before the last ``</think>`` is reasoning, never a prediction; no
``</think>`` at all, or no slot after it, is unparseable. Every scan is linear in the completion.
"""

from __future__ import annotations

from typing import Any

from reasonlab.tasks.base import PrefixCheck, Verification, last_tag

__all__ = ["BOXED", "END_THINK", "check_prediction", "extract_prediction", "last_boxed"]

END_THINK = "</think>"
BOXED = "\\boxed{"


def last_boxed(text: str) -> tuple[int, str] | None:
    """``(end, content)`` of the last brace-balanced ``\\boxed{...}`` in ``text`` (by where it closes), or None.

    One left-to-right pass with a stack of open braces: linear whatever the text holds.
    """
    stack: list[int] = []  # start of content for a \\boxed{ brace, -1 for a plain brace
    best: tuple[int, str] | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and text.startswith(BOXED, i):
            stack.append(i + len(BOXED))
            i += len(BOXED)
            continue
        if ch == "{":
            stack.append(-1)
        elif ch == "}" and stack:
            start = stack.pop()
            if start >= 0:
                best = (i + 1, text[start:i])
        i += 1
    return best


def extract_prediction(completion: str) -> tuple[str | None, str | None]:
    """``(prediction, None)`` from the last answer slot after the last ``</think>``, or ``(None, why)``."""
    cut = completion.rfind(END_THINK)
    if cut < 0:
        return None, "no </think>: the prediction must follow the reasoning"
    tail = completion[cut + len(END_THINK) :]
    slots: list[tuple[int, str]] = []
    tagged = last_tag(tail, "answer")
    if tagged is not None:
        slots.append((tail.rfind("</answer>") + len("</answer>"), tagged))
    boxed = last_boxed(tail)
    if boxed is not None:
        slots.append(boxed)
    if not slots:
        return None, "no <answer></answer> or \\boxed{} after </think>"
    return max(slots, key=lambda s: s[0])[1], None


def check_prediction(meta: dict[str, Any], completion: str) -> Verification:
    """The RPT verification of ``completion`` against ``meta`` (``continuation``, ``boundaries``)."""
    target = meta["continuation"].encode("utf-8")
    boundaries = tuple(int(b) for b in meta["boundaries"])
    if not boundaries or boundaries[-1] != len(target) or list(boundaries) != sorted(set(boundaries)):
        raise ValueError("boundaries must ascend and end at the continuation's byte length")
    pred, why = extract_prediction(completion)
    if pred is None:
        return Verification(
            correct=False,
            format_ok=False,
            pred=None,
            answer_status="unparseable",
            error=why,
            prefix=PrefixCheck(b"", target, boundaries),
        )
    data = pred.encode("utf-8")
    n = len(data)
    ok = n > 0 and n in set(boundaries) and target[:n] == data
    error = None
    if not ok:
        if n == 0:
            error = "empty prediction"
        elif n > len(target):
            error = f"prediction runs past the stored continuation ({n} > {len(target)} bytes)"
        elif target[:n] != data:
            error = "prediction differs from the continuation"
        else:
            error = "prediction ends inside a token (not on a token boundary)"
    return Verification(
        correct=ok,
        format_ok=True,
        pred=pred,
        answer_status="exact" if ok else "mismatch",
        error=error,
        prefix=PrefixCheck(data, target, boundaries),
        extra={"pred_tokens": boundaries.index(n) + 1 if ok else 0},
    )
