"""GPT-2's byte-level alphabet: the printable character that stands for each byte in a byte-level BPE vocabulary.

One home for the table, read by the native tokenizer (:meth:`reasonlab.model.tokenizer.TaskTokenizer.token_bytes`)
and by the ``nexttoken`` task, which cuts documents at the exact byte boundaries of a tokenizer's tokens.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["bytelevel_decoder"]


@lru_cache(maxsize=1)
def bytelevel_decoder() -> dict[str, int]:
    """GPT-2's byte -> printable-character table, inverted (character -> byte).

    Printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) stand for themselves; the other 68
    bytes map to ``chr(256 + n)`` in byte order (so a space is ``Ġ``, a newline ``Ċ``).
    """
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}
