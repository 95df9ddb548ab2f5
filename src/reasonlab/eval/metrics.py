"""Pure statistics for evaluation: pass@k, maj@k, seed spread, standard errors, bootstrap, paired tests.

Every function is small and side-effect free; randomness only ever comes from an explicit ``seed``
(``numpy.random.default_rng(seed)``), so the same inputs and seed give the same numbers on every
machine. Conventions used throughout (and recorded in every eval summary):

* sample standard deviations use ``ddof=1`` (Bessel's correction);
* a "score" is one number per problem (e.g. that problem's pass@1 estimate ``c/n``), and standard
  errors, bootstrap intervals and paired tests treat problems as the independent units;
* maj@k ties are broken by expected value over a uniformly random tie-break ("fractional");
* permutation p-values are two-sided, computed as ``(1 + #{|T_b| >= |T_obs|}) / (1 + B)`` with Monte
  Carlo sign flips, or exactly over all ``2^n`` sign vectors when that is no more work.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reasonlab.errors import ReasonlabError

#: Standard deviation convention for every spread in this module (stated in summaries).
DDOF = 1
#: maj@k tie rules: "fractional" = expected credit under a uniformly random tie-break among the tied
#: answers; "wrong" = any tie for first place scores 0.
TIE_RULES = ("fractional", "wrong")

# ----------------------------------------------------------------------------- pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021).

    ``pass@k = 1 - C(n-c, k) / C(n, k)``, the probability that a uniformly random k-subset of the
    n samples contains at least one correct one. Computed in the numerically stable product form
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, and exactly 1 when ``n - c < k``.
    """
    if not (0 <= c <= n):
        raise ReasonlabError(f"pass@k needs 0 <= c <= n, got n={n}, c={c}")
    if not (1 <= k <= n):
        raise ReasonlabError(f"pass@k needs 1 <= k <= n, got k={k} with n={n} samples")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_problems(n: Sequence[int], c: Sequence[int], k: int) -> np.ndarray:
    """Per-problem unbiased pass@k (see :func:`pass_at_k`) for arrays of sample and correct counts."""
    return np.array([pass_at_k(int(ni), int(ci), k) for ni, ci in zip(n, c, strict=True)], dtype=float)


# ----------------------------------------------------------------------------- maj@k


def majority_credit(
    answers: Sequence[Hashable | None], correct: Sequence[float], tie_rule: str = "fractional"
) -> float:
    """Credit of one majority vote over ``answers`` (canonical answers; ``None`` = unparseable).

    Unparseable samples do not vote; if nobody votes the credit is 0. The winning answer(s) are those
    with the most votes. The credit of an answer is the mean ``correct`` value of the samples that
    gave it (for outcome correctness every sample with the same canonical answer has the same value,
    so this is 0 or 1; for process-verified correctness it is the share of supporting samples whose
    process checks out). With several winners, ``tie_rule="fractional"`` averages their credits
    (the expected credit of a uniformly random tie-break) and ``"wrong"`` gives 0.
    """
    if tie_rule not in TIE_RULES:
        raise ReasonlabError(f"unknown maj@k tie rule {tie_rule!r}; choose from {', '.join(TIE_RULES)}")
    votes: Counter[Hashable] = Counter(a for a in answers if a is not None)
    if not votes:
        return 0.0
    top = max(votes.values())
    winners = [a for a, v in votes.items() if v == top]
    if len(winners) > 1 and tie_rule == "wrong":
        return 0.0
    credits = []
    for w in winners:
        vals = [float(x) for a, x in zip(answers, correct, strict=True) if a == w]
        credits.append(sum(vals) / len(vals))
    return sum(credits) / len(credits)


def maj_at_k(
    answers: Sequence[Hashable | None],
    correct: Sequence[float],
    k: int,
    *,
    n_subsamples: int = 1000,
    seed: int = 0,
    tie_rule: str = "fractional",
) -> float:
    """maj@k of one problem: expected :func:`majority_credit` of a uniformly random k-subset of n samples.

    ``maj@k = E_{S subset of [n], |S| = k} [credit(vote over S)]``. Computed exactly by enumerating
    all ``C(n, k)`` subsets when there are at most ``n_subsamples`` of them, otherwise estimated as the
    mean over ``n_subsamples`` subsets drawn without replacement with ``default_rng(seed)``. The votes
    of all subsets are counted at once with numpy; :func:`majority_credit` is the one-subset reference.
    """
    n = len(answers)
    if len(correct) != n:
        raise ReasonlabError(f"maj@k: {n} answers but {len(correct)} correctness values")
    if not (1 <= k <= n):
        raise ReasonlabError(f"maj@k needs 1 <= k <= n, got k={k} with n={n} samples")
    if tie_rule not in TIE_RULES:
        raise ReasonlabError(f"unknown maj@k tie rule {tie_rule!r}; choose from {', '.join(TIE_RULES)}")
    if math.comb(n, k) <= n_subsamples:
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
    else:
        rng = np.random.default_rng(seed)
        subsets = np.argsort(rng.random((n_subsamples, n)), axis=1)[:, :k]
    distinct = list(dict.fromkeys(a for a in answers if a is not None))
    if not distinct:
        return 0.0
    code = {a: i for i, a in enumerate(distinct)}
    codes = np.array([-1 if a is None else code[a] for a in answers])
    corr = np.asarray(correct, dtype=float)
    onehot = codes[subsets][..., None] == np.arange(len(distinct))  # [B, k, A]
    counts = onehot.sum(axis=1)  # votes per answer in each subset
    sums = (onehot * corr[subsets][..., None]).sum(axis=1)  # correctness mass per answer
    top = counts.max(axis=1, keepdims=True)
    winners = (counts == top) & (top > 0)
    credit = np.where(winners, sums / np.maximum(counts, 1), 0.0).sum(axis=1)
    n_win = winners.sum(axis=1)
    per_subset = np.where(n_win > 0, credit / np.maximum(n_win, 1), 0.0)
    if tie_rule == "wrong":
        per_subset = np.where(n_win > 1, 0.0, per_subset)
    return float(per_subset.mean())


# ----------------------------------------------------------------------------- spread and standard errors


def mean_std(values: Sequence[float], ddof: int = DDOF) -> tuple[float, float]:
    """``(mean, std)`` with ``std = sqrt(sum (x - mean)^2 / (m - ddof))``; std is 0 for a single value."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ReasonlabError("mean/std of an empty list")
    std = float(np.std(x, ddof=ddof)) if x.size > ddof else 0.0
    return float(np.mean(x)), std


def standard_error(scores: Sequence[float]) -> float:
    """Standard error of the mean over problems: ``sd(s, ddof=1) / sqrt(m)`` (0 for m < 2)."""
    x = np.asarray(scores, dtype=float)
    if x.size < 2:
        return 0.0
    return float(np.std(x, ddof=1) / math.sqrt(x.size))


def clustered_standard_error(scores: Sequence[float], clusters: Sequence[Hashable]) -> float:
    """Cluster-robust SE of the mean for problems that come in groups (questions sharing a source).

    ``SE_cl = sqrt( C/(C-1) * sum_c ( sum_{i in c} (s_i - mean) )^2 ) / m`` with ``C`` clusters and ``m``
    problems, i.e. the double sum ``sum_c sum_i sum_j (s_ic - mean)(s_jc - mean)`` with the small-sample
    correction ``C/(C-1)``. With one problem per cluster it equals :func:`standard_error`. Returns 0
    when there is only one cluster (the correction is undefined).
    """
    s = np.asarray(scores, dtype=float)
    if len(clusters) != s.size:
        raise ReasonlabError(f"clustered SE: {s.size} scores but {len(clusters)} cluster labels")
    if s.size == 0:
        raise ReasonlabError("clustered SE of an empty list")
    dev = s - s.mean()
    sums: dict[Hashable, float] = {}
    for d, c in zip(dev, clusters, strict=True):
        sums[c] = sums.get(c, 0.0) + float(d)
    n_clusters = len(sums)
    if n_clusters < 2:
        return 0.0
    var = n_clusters / (n_clusters - 1) * sum(v * v for v in sums.values())
    return float(math.sqrt(var) / s.size)


def bootstrap_ci(
    scores: Sequence[float], *, n_boot: int = 2000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over problems, deterministic under ``seed``.

    Draw ``n_boot`` resamples of the m problems with replacement (``default_rng(seed)``), take each
    resample's mean, and return the ``(1-ci)/2`` and ``(1+ci)/2`` quantiles of those means.
    """
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ReasonlabError("bootstrap CI of an empty list")
    if not (0 < ci < 1):
        raise ReasonlabError(f"confidence level must be in (0, 1), got {ci}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- paired comparison


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of two score vectors on the same problems (``d_i = a_i - b_i``)."""

    n: int
    mean_diff: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str

    def to_dict(self) -> dict[str, float | int | str]:
        """The result as a plain dict (JSON)."""
        return asdict(self)


def sign_flip_p_value(diffs: Sequence[float], *, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value for ``H0: the d_i are symmetric about 0``.

    Statistic ``T = |mean(d)|``. Under H0 every sign vector ``e in {-1, +1}^m`` is equally likely, so
    ``p = #{e : |mean(e * d)| >= |mean(d)|} / 2^m``, computed exactly when ``2^m <= n_perm``; otherwise
    with ``n_perm`` random sign vectors from ``default_rng(seed)`` as ``(1 + #{b : |T_b| >= T}) / (1 +
    n_perm)`` (the observed labelling counts once, so p is never 0 and the test stays valid). A
    relative tolerance of 1e-12 guards ties against floating-point noise. All-zero differences give 1.
    """
    d = np.asarray(diffs, dtype=float)
    m = d.size
    if m == 0:
        raise ReasonlabError("paired test of an empty list")
    t_obs = abs(d.mean())
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if 2**m <= n_perm:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=m)))
        t = np.abs(signs @ d / m)
        return float(np.mean(t >= t_obs - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 2048):
        b = min(2048, n_perm - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(b, m))
        hits += int(np.sum(np.abs(signs @ d / m) >= t_obs - tol))
    return (1 + hits) / (1 + n_perm)


def paired_t_ci(diffs: Sequence[float], ci: float = 0.95) -> tuple[float, float]:
    """t-interval for the mean paired difference: ``mean(d) +- t_{m-1,(1+ci)/2} * sd(d, ddof=1)/sqrt(m)``."""
    from scipy import stats  # heavy (~0.3 s): imported only when an interval is computed

    d = np.asarray(diffs, dtype=float)
    if d.size < 2:
        mean = float(d.mean()) if d.size else 0.0
        return mean, mean
    se = standard_error(d.tolist())
    half = float(stats.t.ppf((1 + ci) / 2, d.size - 1)) * se
    return float(d.mean() - half), float(d.mean() + half)


def paired_test(
    a: Sequence[float], b: Sequence[float], *, ci: float = 0.95, n_perm: int = 10000, seed: int = 0
) -> PairedResult:
    """Paired comparison of per-problem scores ``a`` and ``b`` (same problems, same order).

    ``d_i = a_i - b_i``; reports ``mean(d)``, ``SE = sd(d, ddof=1)/sqrt(m)``, the paired t-interval
    (:func:`paired_t_ci`) and the two-sided sign-flip permutation p-value (:func:`sign_flip_p_value`).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ReasonlabError(f"paired test needs equal-length score lists, got {x.size} and {y.size}")
    d = x - y
    lo, hi = paired_t_ci(d, ci)
    return PairedResult(
        n=int(d.size),
        mean_diff=float(d.mean()),
        se=standard_error(d),
        ci_low=lo,
        ci_high=hi,
        p_value=sign_flip_p_value(d, n_perm=n_perm, seed=seed),
        method=f"sign-flip permutation (two-sided, n_perm={n_perm}, exact if 2^n <= n_perm) + paired t CI",
    )


# ----------------------------------------------------------------------------- seeds


def seed_band(per_seed: Sequence[float]) -> dict[str, float]:
    """Seed-to-seed spread of a metric: ``mean``, ``std`` (ddof=1), ``min`` and ``max`` over seed runs."""
    mean, std = mean_std(per_seed)
    return {"mean": mean, "std": std, "min": float(np.min(per_seed)), "max": float(np.max(per_seed))}


def inside_seed_band(new_mean: float, baseline_per_seed: Sequence[float]) -> bool:
    """True when ``new_mean`` lies within ``[min, max]`` of the baseline's per-seed values.

    That is, a single lucky (or unlucky) seed of the baseline alone could have produced the new
    model's mean score, so the apparent gain is not distinguishable from seed noise.
    """
    return float(np.min(baseline_per_seed)) <= new_mean <= float(np.max(baseline_per_seed))


def seed_stability(per_seed: Sequence[float], *, n_resamples: int = 2000, seed: int = 0) -> list[dict[str, float]]:
    """Seed-count stability curve: spread of the mean of K seed runs, for K = 1..S.

    For each K, draw ``n_resamples`` sets of K seed runs with replacement from the S observed runs
    (``default_rng(seed)``) and report the std (ddof=1) of their means, next to the analytic
    ``sd(per_seed, ddof=1) / sqrt(K)`` and the 2.5/97.5% quantiles of the resampled means.
    """
    x = np.asarray(per_seed, dtype=float)
    if x.size == 0:
        raise ReasonlabError("seed stability of an empty list")
    rng = np.random.default_rng(seed)
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    out = []
    for k in range(1, x.size + 1):
        means = x[rng.integers(0, x.size, size=(n_resamples, k))].mean(axis=1)
        lo, hi = np.quantile(means, [0.025, 0.975])
        out.append(
            {
                "k": k,
                "std_of_mean": float(np.std(means, ddof=1)),
                "analytic_std": sd / math.sqrt(k),
                "q025": float(lo),
                "q975": float(hi),
            }
        )
    return out


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment for testing ``m`` hypotheses at once (family-wise error control).

    With the p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value of the ``i``-th is
    ``max_{j <= i} min(1, (m - j + 1) * p_(j))``, returned in the input order. Reject hypothesis ``i`` at
    level ``alpha`` iff its adjusted p-value is ``<= alpha``.
    Example: ``[0.01, 0.04, 0.03]`` -> ``[0.03, 0.06, 0.06]``.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def chance_pass_at_k(answers: int, k: int) -> float:
    """pass@k of uniform guessing over ``answers`` equally likely answers: ``1 - (1 - 1/answers)^k``.

    Example: modulo-7 answers, k = 8: ``1 - (6/7)^8 = 0.709``.
    """
    if answers < 1 or k < 1:
        raise ReasonlabError(f"chance pass@k needs answers >= 1 and k >= 1, got {answers} and {k}")
    return 1.0 - (1.0 - 1.0 / answers) ** k
