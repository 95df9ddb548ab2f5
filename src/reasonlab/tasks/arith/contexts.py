"""Context templates of the ``arith`` task: three layers of names and the wording of sentences.

Templates live in ``tasks/contexts/*.yaml`` (one per context: zoo, school, movie festival, library);
the same logical graph renders in any of them, so difficulty and surface content are independent knobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reasonlab.errors import ReasonlabError

CONTEXT_DIR = Path(__file__).resolve().parent.parent / "contexts"


@dataclass(frozen=True)
class Context:
    """A context template: three layers of names and the wording of parameters and sentences."""

    name: str
    description: str
    l1: tuple[str, ...]
    l2: tuple[tuple[str, str], ...]  # (plural, singular)
    l3: tuple[str, ...]
    params: dict[str, str]
    short: dict[str, str]
    sentences: dict[str, str]

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of names in each of the three layers."""
        return len(self.l1), len(self.l2), len(self.l3)

    def fill(self, template: str, key: tuple[Any, ...]) -> str:
        """Name the parameter ``key`` with ``template`` (a ``params`` or ``short`` entry)."""
        kind = key[0]
        if kind == "i12":
            plural, single = self.l2[key[2]]
            return template.format(a=self.l1[key[1]], b=plural, b1=single)
        if kind == "i23":
            plural, single = self.l2[key[1]]
            return template.format(b=plural, b1=single, c=self.l3[key[2]])
        if kind == "u":
            plural, single = self.l2[key[1]]
            return template.format(b=plural, b1=single)
        return template.format(a=self.l1[key[1]])

    def phrase(self, key: tuple[Any, ...]) -> str:
        """The parameter ``key`` in the wording of problem sentences."""
        return self.fill(self.params[key[0]], key)

    def short_name(self, key: tuple[Any, ...]) -> str:
        """The parameter ``key`` as solution steps name it."""
        return self.fill(self.short[key[0]], key)

    def step_name(self, key: tuple[Any, ...], names: str = "short") -> str:
        """A parameter's name in solution steps: its short name, or its phrase (``names: long``)."""
        return self.phrase(key) if names == "long" else self.short_name(key)


_PARAM_KINDS = ("i12", "i23", "t2", "u", "t3")
_SENTENCE_KINDS = ("const", "add", "sub", "mul", "sum2", "diff2", "unknown", "question", "question_reverse")


def _load_context(path: Path) -> Context:
    src = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReasonlabError(f"{src}: cannot read context template ({exc.__class__.__name__})") from None
    try:
        l1, l2, l3 = data["layers"]
        ctx = Context(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            l1=tuple(str(x) for x in l1),
            l2=tuple((str(p), str(s)) for p, s in l2),
            l3=tuple(str(x) for x in l3),
            params={k: str(data["params"][k]) for k in _PARAM_KINDS},
            short={k: str(data["short"][k]) for k in _PARAM_KINDS},
            sentences={k: str(data["sentences"][k]) for k in _SENTENCE_KINDS},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReasonlabError(f"{src}: malformed context template (missing or bad entry {exc})") from None
    for layer, names in (("1", ctx.l1), ("2", ctx.l2), ("3", ctx.l3)):
        if not 5 <= len(names) <= 10:
            raise ReasonlabError(f"{src}: layer {layer} has {len(names)} names; a template needs 5..10")
    return ctx


@cache
def contexts() -> dict[str, Context]:
    """All context templates shipped in ``tasks/contexts/``, by name."""
    out = {}
    for path in sorted(CONTEXT_DIR.glob("*.yaml")):
        ctx = _load_context(path)
        out[ctx.name] = ctx
    return out


def get_context(name: str) -> Context:
    """The named context template, or a one-line error listing the known ones."""
    known = contexts()
    if name not in known:
        raise ReasonlabError(f"unknown arith context {name!r}; known contexts: {', '.join(sorted(known))}")
    return known[name]


def context_names() -> list[str]:
    """Names of every shipped context template, sorted."""
    return sorted(contexts())
