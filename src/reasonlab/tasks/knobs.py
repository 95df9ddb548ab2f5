"""Typed knob values shared by task families: integer ranges and weighted mixes.

A knob is parsed once, when a config loads, into a value object that the generator uses directly;
the same object serialises back to the compact text a user writes, so a run's ``config.yaml`` reads
``ops: 2-10`` and ``context: zoo=0.99,school=0.01`` whatever form the user typed (``5``, ``"5"``,
``"2-10"``; a mapping ``{zoo: 0.99, school: 0.01}`` or the string).
"""

from __future__ import annotations

import math
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

__all__ = ["IntRange", "Mix", "MixKnob", "RangeKnob"]

_RANGE_RE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


@dataclass(frozen=True)
class IntRange:
    """An inclusive integer range ``lo..hi`` (``lo == hi`` for a single value); ``str`` gives ``"5"`` or ``"2-10"``."""

    lo: int
    hi: int

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.lo <= value <= self.hi

    def values(self) -> list[int]:
        """Every integer of the range, ascending."""
        return list(range(self.lo, self.hi + 1))

    def draw(self, rng: random.Random) -> int:
        """One value, uniformly (``rng.randint(lo, hi)``: a single value still consumes one draw)."""
        return rng.randint(self.lo, self.hi)

    @classmethod
    def parse(cls, value: Any, name: str, lo: int, hi: int, why: str = "") -> IntRange:
        """``5``, ``"5"``, ``"2-10"`` or an IntRange inside ``lo..hi``; ValueError naming ``name`` otherwise."""
        if isinstance(value, IntRange):
            a, b = value.lo, value.hi
        elif isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{name} must be an integer or a range such as {lo}-{hi}, got {value!r}")
        else:
            m = _RANGE_RE.fullmatch(str(value))
            if not m:
                raise ValueError(f"{name} {str(value)!r} is not an integer or a range such as {lo}-{hi}")
            a = int(m.group(1))
            b = int(m.group(2)) if m.group(2) else a
        if a > b:
            raise ValueError(f"{name} range {str(value)!r} is empty (low end above high end)")
        if a < lo or b > hi:
            raise ValueError(f"{name} {str(value)!r} must lie in {lo}..{hi}{why}")
        return cls(a, b)


class _TextKnob(ABC):
    """A pydantic annotation: parse with :meth:`parse`, write back as ``str(value)``, a string in schemas."""

    @abstractmethod
    def parse(self, value: Any) -> Any:
        """The knob's value object from what a user wrote (ValueError naming the knob otherwise)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(str, return_schema=core_schema.str_schema()),
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        return {"type": "string"}


@dataclass(frozen=True)
class RangeKnob(_TextKnob):
    """``Annotated[IntRange, RangeKnob("ops", 2, 50)]``: a knob holding an :class:`IntRange` within ``lo..hi``."""

    name: str
    lo: int
    hi: int
    why: str = ""

    def parse(self, value: Any) -> IntRange:
        """:meth:`IntRange.parse` with this knob's name and bounds."""
        return IntRange.parse(value, self.name, self.lo, self.hi, self.why)


@dataclass(frozen=True)
class Mix:
    """Named choices with weights (normalised when drawn); ``str`` gives ``"zoo"`` or ``"zoo=0.99,school=0.01"``.

    ``single`` marks a mix written as a bare name (weight 1, no ``=``).
    """

    items: tuple[tuple[str, float], ...]
    single: bool = False
    _cum: tuple[float, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        total = sum(w for _, w in self.items)
        acc, cum = 0.0, []
        for _, w in self.items:
            acc += w / total
            cum.append(acc)
        object.__setattr__(self, "_cum", tuple(cum))

    def __str__(self) -> str:
        if self.single:
            return self.items[0][0]
        return ",".join(f"{n}={w:g}" for n, w in self.items)

    @property
    def names(self) -> list[str]:
        """The names of the mix, in the order written."""
        return [n for n, _ in self.items]

    def draw(self, rng: random.Random) -> str:
        """One name (one ``rng.random()`` call unless the mix has a single name; exact for weights to 1e-9)."""
        if len(self.items) == 1:
            return self.items[0][0]
        r = rng.random()
        for (name, _), c in zip(self.items, self._cum, strict=True):
            if r < c:
                return name
        return self.items[-1][0]

    @classmethod
    def parse(cls, value: Any, name: str, known: Sequence[str]) -> Mix:
        """``"zoo"``, ``"zoo=0.99,school=0.01"``, ``{zoo: 0.99, school: 0.01}`` or a Mix; ValueError otherwise.

        Weights are finite numbers >= 0 with a positive sum; every name must be in ``known``.
        """
        if isinstance(value, Mix):
            return value
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a name or a mix such as a=0.99,b=0.01, got {value!r}")
        text = value.strip()
        items: list[tuple[str, float]] = []
        parts = [p.strip() for p in text.split(",")]
        for part in parts:
            key, eq, weight = part.partition("=")
            key = key.strip()
            if not key:
                raise ValueError(f"{name} mix {text!r} is malformed: expected NAME or NAME=WEIGHT,NAME=WEIGHT")
            if key not in known:
                raise ValueError(f"unknown {name} {key!r}; known {name}s: {', '.join(sorted(known))}")
            if any(key == n for n, _ in items):
                raise ValueError(f"{name} mix {text!r} names {key!r} twice")
            if not eq:
                if len(parts) > 1:
                    raise ValueError(f"{name} mix {text!r} is malformed: give every entry a weight (NAME=WEIGHT)")
                w = 1.0
            else:
                try:
                    w = float(weight)
                except ValueError:
                    raise ValueError(
                        f"{name} mix {text!r}: weight {weight.strip()!r} of {key!r} is not a number"
                    ) from None
                if not w >= 0 or not math.isfinite(w):
                    raise ValueError(f"{name} mix {text!r}: weight of {key!r} must be a finite number >= 0")
            # stored as written back (``f"{w:g}"``), so a run's config.yaml reproduces the draws exactly
            items.append((key, float(f"{w:g}")))
        if sum(w for _, w in items) <= 0:
            raise ValueError(f"{name} mix {text!r}: weights must have a positive sum")
        return cls(tuple(items), single=len(items) == 1 and "=" not in text)


@dataclass(frozen=True)
class MixKnob(_TextKnob):
    """``Annotated[Mix, MixKnob("context", names)]``: a knob holding a :class:`Mix` over ``known()`` names."""

    name: str
    known: Callable[[], Sequence[str]]

    def parse(self, value: Any) -> Mix:
        """:meth:`Mix.parse` with this knob's name and the names known now."""
        return Mix.parse(value, self.name, self.known())
