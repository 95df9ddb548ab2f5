"""Evaluation statistics against hand-computed values, brute force and small simulations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonlab.errors import ReasonlabError
from reasonlab.eval import metrics as M

# ----------------------------------------------------------------------------- pass@k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (3, 2, 2, 1.0),  # n - c < k
        (10, 0, 5, 0.0),
        (10, 10, 1, 1.0),
        (8, 3, 4, 1 - 5 / 70),  # 1 - C(5,4)/C(8,4)
    ],
)
def test_pass_at_k_hand_values(n: int, c: int, k: int, expected: float) -> None:
    assert M.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def _pass_at_k_brute(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_matches_subset_enumeration() -> None:
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert M.pass_at_k(n, c, k) == pytest.approx(_pass_at_k_brute(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_k_stable_for_large_n() -> None:
    # the direct binomial ratio would overflow floats here; the product form does not
    value = M.pass_at_k(2000, 3, 100)
    assert value == pytest.approx(1 - math.comb(1997, 100) / math.comb(2000, 100), rel=1e-9)


def test_pass_at_k_rejects_bad_arguments() -> None:
    with pytest.raises(ReasonlabError, match="1 <= k <= n"):
        M.pass_at_k(4, 1, 5)
    with pytest.raises(ReasonlabError, match="0 <= c <= n"):
        M.pass_at_k(4, 5, 1)


def test_pass_at_k_problems_vector() -> None:
    out = M.pass_at_k_problems([5, 4], [2, 1], 2)
    assert out.tolist() == pytest.approx([0.7, 0.5])


# ----------------------------------------------------------------------------- maj@k


def test_majority_credit_constructed_votes() -> None:
    assert M.majority_credit(["4", "4", "5"], [1, 1, 0]) == 1.0
    assert M.majority_credit(["4", "5", "5"], [1, 0, 0]) == 0.0
    # a tie between a right and a wrong answer
    assert M.majority_credit(["4", "5"], [1, 0], "fractional") == 0.5
    assert M.majority_credit(["4", "5"], [1, 0], "wrong") == 0.0
    # unparseable samples do not vote; nobody voting scores 0
    assert M.majority_credit([None, None, "5"], [0, 0, 1]) == 1.0
    assert M.majority_credit([None, None], [0, 0]) == 0.0
    # process-verified credit: share of the winning answer's supporters whose process checks out
    assert M.majority_credit(["4", "4", "4", "5"], [1, 1, 0, 0]) == pytest.approx(2 / 3)


def test_maj_at_k_exact_enumeration() -> None:
    answers, correct = ["4", "4", "5"], [1, 1, 0]
    # subsets {0,1}: 1; {0,2}: tie -> 1/2; {1,2}: tie -> 1/2
    assert M.maj_at_k(answers, correct, 2) == pytest.approx(2 / 3)
    assert M.maj_at_k(answers, correct, 2, tie_rule="wrong") == pytest.approx(1 / 3)
    assert M.maj_at_k(answers, correct, 3) == 1.0


def test_maj_at_1_is_mean_correctness() -> None:
    answers = ["1", "2", None, "1", "3"]
    correct = [1, 0, 0, 1, 0]
    assert M.maj_at_k(answers, correct, 1) == pytest.approx(2 / 5)


def test_maj_at_k_subsampling_is_seeded_and_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    answers = [str(x) for x in rng.integers(0, 3, size=12)]
    correct = [int(a == "0") for a in answers]
    exact = M.maj_at_k(answers, correct, 6, n_subsamples=10**6)
    est1 = M.maj_at_k(answers, correct, 6, n_subsamples=400, seed=1)
    est2 = M.maj_at_k(answers, correct, 6, n_subsamples=400, seed=1)
    assert est1 == est2
    assert est1 == pytest.approx(exact, abs=0.06)


def test_maj_at_k_matches_per_subset_reference() -> None:
    rng = np.random.default_rng(4)
    for trial in range(40):
        n = int(rng.integers(1, 8))
        k = int(rng.integers(1, n + 1))
        answers = [None if rng.random() < 0.2 else str(rng.integers(0, 3)) for _ in range(n)]
        correct = [float(a == "0") if trial % 2 else float(rng.random() < 0.5) for a in answers]
        for rule in M.TIE_RULES:
            subsets = list(itertools.combinations(range(n), k))
            ref = sum(
                M.majority_credit([answers[i] for i in sub], [correct[i] for i in sub], rule) for sub in subsets
            ) / len(subsets)
            assert M.maj_at_k(answers, correct, k, tie_rule=rule) == pytest.approx(ref, abs=1e-12)


def test_maj_at_k_errors() -> None:
    with pytest.raises(ReasonlabError, match="tie rule"):
        M.majority_credit(["1"], [1], "coin")
    with pytest.raises(ReasonlabError, match="1 <= k <= n"):
        M.maj_at_k(["1"], [1], 2)


# ----------------------------------------------------------------------------- spread, SE, bootstrap


def test_mean_std_ddof1() -> None:
    mean, std = M.mean_std([1, 2, 3, 4])
    assert mean == 2.5
    assert std == pytest.approx(math.sqrt(5 / 3))
    assert M.mean_std([0.3]) == (0.3, 0.0)


def test_standard_error_hand_value() -> None:
    # sd(ddof=1) of [0,1,0,1] = sqrt(1/3); / sqrt(4)
    assert M.standard_error([0, 1, 0, 1]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert M.standard_error([1.0]) == 0.0


def test_clustered_se_hand_value() -> None:
    # mean 0.5; cluster sums +1 and -1; var = 2/1 * (1 + 1) = 4; sqrt / m = 2 / 4
    assert M.clustered_standard_error([1, 1, 0, 0], ["a", "a", "b", "b"]) == pytest.approx(0.5)
    assert M.clustered_standard_error([1, 0, 1], ["a", "a", "a"]) == 0.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=30))
def test_clustered_se_with_singletons_equals_se(scores: list[float]) -> None:
    clusters = list(range(len(scores)))
    assert M.clustered_standard_error(scores, clusters) == pytest.approx(M.standard_error(scores), abs=1e-12)


def test_clustered_se_grows_with_within_cluster_correlation() -> None:
    scores = [1, 1, 1, 1, 0, 0, 0, 0]
    independent = M.standard_error(scores)
    clustered = M.clustered_standard_error(scores, [0, 0, 0, 0, 1, 1, 1, 1])
    assert clustered > independent


def test_bootstrap_deterministic_under_seed() -> None:
    scores = np.random.default_rng(0).random(40)
    a = M.bootstrap_ci(scores, seed=7)
    b = M.bootstrap_ci(scores, seed=7)
    c = M.bootstrap_ci(scores, seed=8)
    assert a == b
    assert a != c
    assert a[0] < scores.mean() < a[1]
    assert M.bootstrap_ci([0.25] * 5) == (0.25, 0.25)


def test_bootstrap_width_close_to_normal_interval() -> None:
    scores = np.random.default_rng(1).random(400)
    lo, hi = M.bootstrap_ci(scores, n_boot=4000, seed=0)
    assert (hi - lo) / 2 == pytest.approx(1.96 * M.standard_error(scores), rel=0.1)


# ----------------------------------------------------------------------------- paired test


def test_sign_flip_exact_hand_values() -> None:
    # only the all-plus and all-minus sign vectors reach |mean| = 1: 2 of 8
    assert M.sign_flip_p_value([1, 1, 1]) == pytest.approx(0.25)
    # means of (+,+),(-,-),(+,-),(-,+) = 1.5,-1.5,-0.5,0.5 -> 2 of 4 reach 1.5
    assert M.sign_flip_p_value([1, 2]) == pytest.approx(0.5)
    assert M.sign_flip_p_value([0, 0, 0]) == 1.0


def test_sign_flip_monte_carlo_seeded_and_near_exact() -> None:
    d = np.random.default_rng(2).normal(0.3, 1, size=14)  # 2^14 = 16384 sign vectors
    exact = M.sign_flip_p_value(d, n_perm=20000)
    mc = M.sign_flip_p_value(d, n_perm=4000, seed=5)
    assert mc == M.sign_flip_p_value(d, n_perm=4000, seed=5)
    assert mc == pytest.approx(exact, abs=0.03)


def test_paired_t_ci_hand_value() -> None:
    # d = [1,2,3]: mean 2, sd 1, se 1/sqrt(3), t_{2,0.975} = 4.302653
    lo, hi = M.paired_t_ci([1, 2, 3])
    half = 4.302652729911275 / math.sqrt(3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))


def test_paired_test_detects_planted_effect() -> None:
    rng = np.random.default_rng(11)
    base = rng.random(200)
    a = (rng.random(200) < np.clip(base + 0.15, 0, 1)).astype(float)
    b = (rng.random(200) < base).astype(float)
    res = M.paired_test(a, b, n_perm=4000, seed=0)
    assert res.mean_diff > 0
    assert res.p_value < 0.01
    assert res.ci_low > 0
    assert res.n == 200


def test_paired_test_roughly_uniform_under_null() -> None:
    from scipy import stats

    rng = np.random.default_rng(12)
    pvals = []
    for i in range(300):
        p = rng.random(30)
        a = (rng.random(30) < p).astype(float)
        b = (rng.random(30) < p).astype(float)
        pvals.append(M.sign_flip_p_value(a - b, n_perm=400, seed=i))
    pvals_arr = np.array(pvals)
    # 0/1 scores make the statistic discrete, so the test is conservative: P(p <= alpha) <= alpha
    for alpha in (0.05, 0.1, 0.25, 0.5):
        assert np.mean(pvals_arr <= alpha) <= alpha + 0.04, alpha
    # continuous differences: close to uniform
    pc = [M.sign_flip_p_value(rng.normal(size=25), n_perm=400, seed=i) for i in range(300)]
    assert stats.kstest(pc, "uniform").pvalue > 0.001
    assert np.mean(np.array(pc) < 0.05) == pytest.approx(0.05, abs=0.04)


def test_paired_test_length_mismatch() -> None:
    with pytest.raises(ReasonlabError, match="equal-length"):
        M.paired_test([1, 0], [1])


# ----------------------------------------------------------------------------- seeds


def test_seed_band_and_inside_flag() -> None:
    band = M.seed_band([0.4, 0.5, 0.6])
    assert band == pytest.approx({"mean": 0.5, "std": 0.1, "min": 0.4, "max": 0.6})
    assert M.inside_seed_band(0.55, [0.4, 0.5, 0.6])
    assert not M.inside_seed_band(0.65, [0.4, 0.5, 0.6])


def test_seed_stability_curve() -> None:
    per_seed = [0.30, 0.42, 0.35, 0.50, 0.38, 0.45]
    curve = M.seed_stability(per_seed, n_resamples=3000, seed=0)
    assert [row["k"] for row in curve] == [1, 2, 3, 4, 5, 6]
    sd = float(np.std(per_seed, ddof=1))
    assert curve[0]["analytic_std"] == pytest.approx(sd)
    assert curve[3]["analytic_std"] == pytest.approx(sd / 2)
    assert curve[-1]["std_of_mean"] < curve[0]["std_of_mean"]
    assert M.seed_stability(per_seed, n_resamples=50, seed=1) == M.seed_stability(per_seed, n_resamples=50, seed=1)
    flat = M.seed_stability([0.5, 0.5, 0.5], n_resamples=10)
    assert all(row["std_of_mean"] == 0 for row in flat)


def test_holm_adjust_by_hand() -> None:
    from reasonlab.eval.metrics import holm_adjust

    # sorted 0.01, 0.03, 0.04 -> 3*0.01 = 0.03, 2*0.03 = 0.06, max(0.06, 1*0.04) = 0.06
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm_adjust([0.001]) == [0.001]
    assert holm_adjust([]) == []


def test_chance_pass_at_k_by_hand() -> None:
    from reasonlab.eval.metrics import chance_pass_at_k

    assert chance_pass_at_k(7, 1) == pytest.approx(1 / 7)
    assert chance_pass_at_k(7, 8) == pytest.approx(1 - (6 / 7) ** 8)
    assert chance_pass_at_k(1, 3) == 1.0
    with pytest.raises(ReasonlabError):
        chance_pass_at_k(0, 1)
