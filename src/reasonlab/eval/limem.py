"""LiMem: the local-inconsistency memorisation score of Xie et al. (arXiv 2410.23123).

A model that solves a puzzle but fails a small perturbation of it (a changed leaf, new names, other
role words) has likely memorised rather than reasoned. With ``Acc`` the accuracy on the original
items and ``CR`` the consistency ratio (share of originally solved items still solved after the
perturbation)::

    LiMem = Acc * (1 - CR) = (# solved originally but failed after perturbation) / N

Score records align by id: a perturbed item's id is ``<original id>:<kind>`` (as written by
``reasonlab data perturb``). Several samples per id are averaged into a per-item solve rate ``p``;
with rates the formulas become ``Acc = mean(p_o)``, ``CR = sum(p_o p_p) / sum(p_o)`` and
``LiMem = mean(p_o (1 - p_p))``, which equal the counts above for single samples. Originals whose
perturbation failed (no perturbed record) are left out of that kind's ``N`` and counted in
``n_missing``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from reasonlab.errors import ReasonlabError


def consistency_ratio(solved_both: float, solved_original: float) -> float:
    """``CR = solved_both / solved_original`` (solved before and after over solved before); 0 if none solved."""
    return solved_both / solved_original if solved_original > 0 else 0.0


def limem_value(acc: float, cr: float) -> float:
    """``LiMem = Acc * (1 - CR)``."""
    return acc * (1.0 - cr)


@dataclass
class LiMemRow:
    """LiMem for one perturbation kind and people count (``people`` None = all people counts)."""

    kind: str
    people: int | None
    n: int
    n_missing: int
    acc: float
    acc_perturbed: float
    cr: float
    limem: float

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict (JSON)."""
        return asdict(self)


def _solve_rates(scores: Iterable[Mapping[str, Any]], source: str) -> dict[str, float]:
    hits: dict[str, list[bool]] = defaultdict(list)
    for i, row in enumerate(scores):
        pid, correct = row.get("id"), row.get("correct")
        if not isinstance(pid, str) or not isinstance(correct, bool):
            raise ReasonlabError(f"{source} record {i + 1}: needs a string 'id' and a boolean 'correct'")
        hits[pid].append(correct)
    return {pid: sum(v) / len(v) for pid, v in hits.items()}


def people_by_id(problems: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``id -> meta.people`` for knights problem records (the grouping key of :func:`limem_table`)."""
    return {p["id"]: int(p["meta"]["people"]) for p in problems if "people" in p.get("meta", {})}


def limem_table(
    original_scores: Iterable[Mapping[str, Any]],
    perturbed_scores: Iterable[Mapping[str, Any]],
    people: Mapping[str, int] | None = None,
) -> list[LiMemRow]:
    """LiMem per perturbation kind, overall and (when ``people`` maps ids to counts) per people count.

    ``original_scores`` / ``perturbed_scores`` are score records (``id``, ``correct``); a perturbed
    id must be ``<original id>:<kind>`` with the original among ``original_scores``. Rows are sorted
    by kind, then people count with the overall row (``people=None``) last.
    """
    orig = _solve_rates(original_scores, "original scores")
    pert_by_kind: dict[str, dict[str, float]] = defaultdict(dict)
    for pid, rate in _solve_rates(perturbed_scores, "perturbed scores").items():
        base, sep, kind = pid.rpartition(":")
        if not sep or base not in orig:
            raise ReasonlabError(f"perturbed score id {pid!r} does not name an original item as '<original id>:<kind>'")
        pert_by_kind[kind][base] = rate
    rows = []
    for kind in sorted(pert_by_kind):
        pert = pert_by_kind[kind]
        groups: dict[int | None, list[str]] = defaultdict(list)
        for pid in orig:
            groups[None].append(pid)
            if people is not None and pid in people:
                groups[people[pid]].append(pid)
        for group in sorted(groups, key=lambda g: (g is None, g or 0)):
            ids = groups[group]
            aligned = [pid for pid in ids if pid in pert]
            n = len(aligned)
            p_o = [orig[pid] for pid in aligned]
            p_p = [pert[pid] for pid in aligned]
            solved = sum(p_o)
            both = sum(a * b for a, b in zip(p_o, p_p, strict=True))
            acc = solved / n if n else 0.0
            cr = consistency_ratio(both, solved)
            rows.append(
                LiMemRow(
                    kind=kind,
                    people=group,
                    n=n,
                    n_missing=len(ids) - n,
                    acc=acc,
                    acc_perturbed=sum(p_p) / n if n else 0.0,
                    cr=cr,
                    limem=limem_value(acc, cr),
                )
            )
    return rows


def accuracy(scores: Iterable[Mapping[str, Any]]) -> float:
    """``Acc = mean_i p_i``: the mean over problems of each problem's solve rate (0 with no records)."""
    rates = _solve_rates(scores, "scores")
    return sum(rates.values()) / len(rates) if rates else 0.0


def limem_by_kind(
    original_scores: Iterable[Mapping[str, Any]], perturbed_scores: Iterable[Mapping[str, Any]], kinds: Iterable[str]
) -> dict[str, Any]:
    """The overall row (all people counts) of :func:`limem_table` for each of ``kinds``, and the means over kinds.

    Returns ``{"kinds": {kind: row dict or None}, "limem_mean", "cr_mean"}``: a kind without perturbed records
    (every perturbation of it failed) is None, and the means run over the K kinds measured,
    ``limem_mean = (1/K) sum_k LiMem_k`` and ``cr_mean = (1/K) sum_k CR_k`` (None when K = 0), so one kind
    that could not be perturbed does not pull the mean towards 0.
    """
    overall = {r.kind: r for r in limem_table(original_scores, perturbed_scores) if r.people is None}
    rows = {kind: overall[kind].to_dict() if kind in overall else None for kind in kinds}
    measured = [r for r in rows.values() if r is not None]
    return {
        "kinds": rows,
        "limem_mean": sum(r["limem"] for r in measured) / len(measured) if measured else None,
        "cr_mean": sum(r["cr"] for r in measured) / len(measured) if measured else None,
    }
