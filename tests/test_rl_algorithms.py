"""RL math against hand-computed numbers (each expected value is worked out in the comment beside it)."""

from __future__ import annotations

import math

import pytest
import torch

from reasonlab.errors import ReasonlabError
from reasonlab.train.rl import algorithms as A

T = torch.tensor


def close(x: torch.Tensor, expected: list | float, tol: float = 1e-5) -> None:
    assert torch.allclose(x.double(), torch.as_tensor(expected, dtype=torch.float64), atol=tol), (x, expected)


# ----------------------------------------------------------------------------- group statistics


def test_group_mean_std_bessel_and_singleton() -> None:
    # group 0: [1, 0, 0, 1] -> mu 0.5, sigma = sqrt(4 * 0.25 / 3) = sqrt(1/3); group 7: [3] -> mu 0, sigma 1.
    mean, std, count = A.group_mean_std(T([1.0, 0, 0, 1, 3]), T([0, 0, 0, 0, 7]))
    close(mean, [0.5, 0.5, 0.5, 0.5, 0.0])
    close(std, [math.sqrt(1 / 3)] * 4 + [1.0])
    close(count, [4, 4, 4, 4, 1])


def test_grpo_group_batch_none() -> None:
    scores, index = T([1.0, 0, 0, 1, 1]), T([0, 0, 0, 0, 1])
    # group: +-0.5 / sqrt(1/3) = +-0.8660254; singleton: (1 - 0) / (1 + eps).
    close(A.grpo_advantage(scores, index, eps=0.0), [0.8660254, -0.8660254, -0.8660254, 0.8660254, 1.0])
    # batch: std of [1,0,0,1,1] = sqrt(((0.4^2)*3 + (0.6^2)*2)/4) = sqrt(0.3) = 0.5477226.
    batch = A.grpo_advantage(scores, index, eps=0.0, std_scaling="batch")
    close(batch, [0.9128709, -0.9128709, -0.9128709, 0.9128709, 1.8257419])
    close(A.grpo_advantage(scores, index, std_scaling="none"), [0.5, -0.5, -0.5, 0.5, 1.0])
    with pytest.raises(ReasonlabError, match="std_scaling"):
        A.grpo_advantage(scores, index, std_scaling="bogus")


def test_grpo_eps_and_zero_variance_group() -> None:
    # all-equal group: centred scores are 0 and sigma 0 -> 0 / (0 + eps) = 0, never NaN.
    close(A.grpo_advantage(T([1.0, 1.0]), T([0, 0]), eps=1e-6), [0.0, 0.0])
    # eps enters the denominator: [1, 0] -> +-0.5 / (0.7071068 + 0.1) = +-0.6194933.
    close(A.grpo_advantage(T([1.0, 0.0]), T([0, 0]), eps=0.1), [0.6194933, -0.6194933])


def test_registered_grpo_broadcasts_to_tokens() -> None:
    mask = T([[1.0, 1, 0], [1, 1, 1]])
    rewards = A.last_token_scores(T([1.0, 0.0]), mask)
    close(rewards, [[0, 1, 0], [0, 0, 0]])
    adv, ret = A.compute_advantages("grpo", A.AdvantageInputs(rewards, mask, T([0, 0])), A.AdvantageParams(eps=0.0))
    # [1, 0]: mu 0.5, sigma sqrt(0.5) -> +-0.7071068 on every valid token, 0 on padding.
    close(adv, [[0.7071068, 0.7071068, 0], [-0.7071068, -0.7071068, -0.7071068]])
    close(ret, adv)


def test_dr_grpo_has_no_std_scaling() -> None:
    mask = torch.ones(3, 2)
    rewards = A.last_token_scores(T([1.0, 0.0, 0.0]), mask)
    adv, _ = A.compute_advantages("dr_grpo", A.AdvantageInputs(rewards, mask, T([5, 5, 5])))
    close(adv[:, 0], [2 / 3, -1 / 3, -1 / 3])


def test_rloo() -> None:
    # [1, 0, 0]: A_0 = 1 - mean(0, 0) = 1; A_1 = 0 - mean(1, 0) = -0.5; singleton [2] -> baseline 0 -> 2.
    close(A.rloo_advantage(T([1.0, 0, 0, 2]), T([0, 0, 0, 1])), [1.0, -0.5, -0.5, 2.0])


def test_reinforce_pp_returns_and_whitening() -> None:
    mask = T([[1.0, 1, 1], [1, 1, 0]])
    rewards = T([[-0.1, 0.0, 1.0], [0.0, 2.0, 0.0]])
    # gamma = 1 returns: row 0 [0.9, 1, 1], row 1 [2, 2, (pad) 0].
    adv, ret = A.compute_advantages("reinforce_pp", A.AdvantageInputs(rewards, mask, T([0, 1])))
    close(ret, [[0.9, 1.0, 1.0], [2.0, 2.0, 0.0]])
    # valid returns 0.9, 1, 1, 2, 2: mean 1.38, Bessel var 1.288 / 4 = 0.322, std 0.5674504.
    s = math.sqrt(0.322 + 1e-8)
    close(adv, [[(0.9 - 1.38) / s, (1 - 1.38) / s, (1 - 1.38) / s], [(2 - 1.38) / s, (2 - 1.38) / s, 0.0]])
    # gamma = 0.5 on row 0: G_2 = 1, G_1 = 0 + 0.5, G_0 = -0.1 + 0.25 = 0.15.
    close(A.discounted_returns(rewards, mask, 0.5)[0], [0.15, 0.5, 1.0])


def test_reinforce_pp_baseline_subtracts_group_mean() -> None:
    mask = torch.ones(2, 2)
    rewards = A.last_token_scores(T([1.0, 0.0]), mask)
    _, ret = A.compute_advantages("reinforce_pp_baseline", A.AdvantageInputs(rewards, mask, T([3, 3])))
    # group mean 0.5 removed at the last token: returns [[0.5, 0.5], [-0.5, -0.5]].
    close(ret, [[0.5, 0.5], [-0.5, -0.5]])
    adv, _ = A.compute_advantages("reinforce_pp_baseline", A.AdvantageInputs(rewards, mask, T([3, 3])))
    # whitened: mean 0, Bessel var (4 * 0.25) / 3 = 1/3 -> +-0.5 * sqrt(3) = +-0.8660254.
    close(adv, [[0.8660254, 0.8660254], [-0.8660254, -0.8660254]], tol=1e-4)


def test_gae_hand_computed() -> None:
    rewards, values, mask = T([[0.0, 1.0]]), T([[0.5, 0.8]]), torch.ones(1, 2)
    # gamma = lam = 1: delta_1 = 1 - 0.8 = 0.2; delta_0 = 0 + 0.8 - 0.5 = 0.3; A = [0.5, 0.2]; R = A + V = [1, 1].
    adv, ret = A.gae_advantage(rewards, values, mask, 1.0, 1.0)
    close(adv, [[0.5, 0.2]])
    close(ret, [[1.0, 1.0]])
    # gamma 0.9, lam 0.5: delta_0 = 0.72 - 0.5 = 0.22; A_0 = 0.22 + 0.45 * 0.2 = 0.31; R = [0.81, 1.0].
    adv, ret = A.gae_advantage(rewards, values, mask, 0.9, 0.5)
    close(adv, [[0.31, 0.2]])
    close(ret, [[0.81, 1.0]])


def test_gae_ignores_padding_values() -> None:
    # a padded position's (garbage) value must not leak into the last valid token's delta.
    adv, ret = A.gae_advantage(T([[1.0, 0.0]]), T([[0.25, 9.0]]), T([[1.0, 0.0]]), 1.0, 1.0)
    close(adv, [[0.75, 0.0]])
    close(ret, [[1.0, 0.0]])


def test_ppo_estimator_needs_values_and_is_marked() -> None:
    assert A.get_estimator("ppo").needs_critic and not A.get_estimator("grpo").needs_critic
    with pytest.raises(ReasonlabError, match="value head"):
        A.compute_advantages("ppo", A.AdvantageInputs(torch.zeros(1, 2), torch.ones(1, 2), T([0])))


def test_unknown_algorithm_lists_allowed() -> None:
    with pytest.raises(ReasonlabError, match=r"unknown algorithm 'nope'; allowed: .*grpo.*rloo"):
        A.get_estimator("nope")


# ----------------------------------------------------------------------------- KL


def test_kl_estimators_hand_computed() -> None:
    logp, ref = T([-1.0, -2.0]), T([-2.0, -2.0])
    # x = [1, 0]: k1 = x; k2 = x^2/2; k3 = exp(-1) - 1 + 1 = 0.3678794.
    close(A.kl_penalty(logp, ref, "k1"), [1.0, 0.0])
    close(A.kl_penalty(logp, ref, "k2"), [0.5, 0.0])
    close(A.kl_penalty(logp, ref, "k3"), [0.3678794, 0.0])
    # k3 is clamped at 10: x = -20 gives exp(20) - 21 -> 10.
    close(A.kl_penalty(T([-30.0]), T([-10.0]), "k3"), [10.0])
    with pytest.raises(ReasonlabError, match="allowed: k1, k2, k3"):
        A.kl_penalty(logp, ref, "k9")


def test_kl_in_reward_and_controllers() -> None:
    scores = T([[0.0, 1.0]])
    shaped, seq_kl = A.kl_in_reward(scores, T([[-1.0, -1.0]]), T([[-1.5, -0.5]]), torch.ones(1, 2), beta=0.1)
    # k1 = [0.5, -0.5] -> r = [0 - 0.05, 1 + 0.05]; sequence KL 0.
    close(shaped, [[-0.05, 1.05]])
    close(seq_kl, 0.0)
    ctl = A.AdaptiveKLController(0.1, target=6.0, horizon=10000)
    ctl.update(9.0, 100)  # error 9/6 - 1 = 0.5 -> clipped 0.2; beta = 0.1 * (1 + 0.2 * 100 / 10000) = 0.1002
    assert ctl.value == pytest.approx(0.1002)
    ctl.update(5.4, 1000)  # error -0.1 -> beta *= 1 - 0.01
    assert ctl.value == pytest.approx(0.1002 * 0.99)
    fixed = A.FixedKLController(0.05)
    fixed.update(100.0, 10)
    assert fixed.value == 0.05


def test_kl_loss_sign_pulls_towards_reference() -> None:
    # the loss ADDS coef * KL: a gradient step on it must move logp towards ref_logp.
    logp = T([-1.0], requires_grad=True)
    loss = 0.5 * A.kl_loss(logp, T([-2.0]), torch.ones(1), "k3")
    assert loss.item() > 0
    loss.backward()
    assert logp.grad is not None and logp.grad.item() > 0  # descending lowers logp towards -2


# ----------------------------------------------------------------------------- policy / value losses


def test_clipped_surrogate_clip_higher_and_dual_clip() -> None:
    mask = torch.ones(1, 1)
    up = T([[math.log(1.5)]])
    # A = 1, ratio 1.5: max(-1.5, -1.2) = -1.2 (clipped); with eps_high 0.28: -1.28.
    out = A.ppo_clip_loss(up, T([[0.0]]), T([[1.0]]), mask, 0.2, 0.2)
    close(out.loss, -1.2)
    close(out.clipfrac, 1.0)
    close(A.ppo_clip_loss(up, T([[0.0]]), T([[1.0]]), mask, 0.2, 0.28).loss, -1.28)
    # A = -1, ratio 0.5: max(0.5, 0.8) = 0.8.
    close(A.ppo_clip_loss(T([[math.log(0.5)]]), T([[0.0]]), T([[-1.0]]), mask).loss, 0.8)
    # A = -1, ratio 5: max(5, 1.2) = 5; dual clip c = 3 caps it at -A * 3 = 3.
    big = T([[math.log(5.0)]])
    close(A.ppo_clip_loss(big, T([[0.0]]), T([[-1.0]]), mask).loss, 5.0)
    out = A.ppo_clip_loss(big, T([[0.0]]), T([[-1.0]]), mask, dual_clip=3.0)
    close(out.loss, 3.0)
    close(out.clipfrac_lower, 1.0)
    # approx_kl = mean(old - new) = -log 5.
    close(out.approx_kl, -math.log(5.0))


def test_on_policy_loss_is_zero_but_gradient_is_not() -> None:
    logp = T([[-1.0, -2.0]], requires_grad=True)
    out = A.ppo_clip_loss(logp, logp.detach(), T([[2.0, 2.0]]), torch.ones(1, 2))
    close(out.loss, -2.0)  # ratio 1: loss = -mean(A) (not 0 here since A is not centred)
    out.loss.backward()
    # d/dlogp of -A * exp(logp - old) at ratio 1 = -A, divided by 2 tokens: -1 each.
    close(logp.grad, [[-1.0, -1.0]])


def test_value_loss_clipped() -> None:
    # V = 1, V_old = 0.5, R = 2, clip 0.2: (V - R)^2 = 1; V_clip = 0.7, (0.7 - 2)^2 = 1.69 -> 0.5 * 1.69.
    loss, frac = A.value_loss(T([[1.0]]), T([[0.5]]), T([[2.0]]), torch.ones(1, 1), clip=0.2)
    close(loss, 0.845)
    close(frac, 1.0)
    loss, _ = A.value_loss(T([[1.0]]), T([[0.5]]), T([[2.0]]), torch.ones(1, 1), clip=None)
    close(loss, 0.5)


def test_loss_aggregations() -> None:
    loss = T([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
    mask = T([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    close(A.aggregate_loss(loss, mask, "token-mean"), 10 / 4)
    close(A.aggregate_loss(loss, mask, "seq-mean-token-mean"), (2 + 4) / 2)
    close(A.aggregate_loss(loss, mask, "seq-mean-token-sum"), (6 + 4) / 2)
    close(A.aggregate_loss(loss, mask, "seq-mean-token-sum-norm", norm_len=5), 10 / (2 * 5))
    close(A.aggregate_loss(loss, mask, "seq-mean-token-sum-norm"), 10 / (2 * 3))
    with pytest.raises(ReasonlabError, match="allowed: token-mean"):
        A.aggregate_loss(loss, mask, "mean")


def test_entropy_and_token_logprobs() -> None:
    close(A.entropy_from_logits(torch.zeros(1, 4)), [math.log(4)])
    close(A.entropy_from_logits(T([[100.0, 0.0, 0.0]])), [0.0], tol=1e-4)
    logits = T([[[0.0, math.log(3.0)]]])  # softmax = [1/4, 3/4]
    close(A.token_logprobs(logits, T([[1]])), [[math.log(0.75)]])


# ----------------------------------------------------------------------------- DAPO


def test_overlong_penalty() -> None:
    # L_max 20, buffer 5: no penalty up to 15; 17 -> -(17 - 15)/5 = -0.4; 20 -> -1; factor 0.5 halves it.
    close(A.overlong_penalty(T([10, 15, 17, 20]), 20, 5), [0.0, 0.0, -0.4, -1.0])
    close(A.overlong_penalty(T([17]), 20, 5, factor=0.5), [-0.2])
    with pytest.raises(ReasonlabError, match="buffer"):
        A.overlong_penalty(T([1]), 20, 0)


def test_dynamic_sampling_filter_and_zero_std_fraction() -> None:
    scores, index = T([1.0, 1.0, 0.0, 1.0, 0.0, 0.0]), T([0, 0, 1, 1, 2, 2])
    assert A.keep_groups_with_signal(scores, index).tolist() == [False, False, True, True, False, False]
    assert A.frac_reward_zero_std(scores, index) == pytest.approx(2 / 3)


def test_masked_whiten_ignores_padding() -> None:
    x, mask = T([[1.0, 3.0, 100.0]]), T([[1.0, 1.0, 0.0]])
    # valid [1, 3]: mean 2, Bessel var 2 -> (+-1)/sqrt(2).
    close(A.masked_whiten(x, mask), [[-1 / math.sqrt(2), 1 / math.sqrt(2), 0.0]])


def test_hacking_metrics_by_hand() -> None:
    from reasonlab.train.rl.metrics import hacking_metrics

    m = hacking_metrics([True, True, False, True], [True, False, False, None], [True, True, False, True])
    assert m["reward/hacked_frac"] == pytest.approx(1 / 3)
    assert m["acc/process"] == pytest.approx(1 / 3)
    assert m["reward/format_fail_frac"] == pytest.approx(1 / 4)
    assert "reward/hacked_frac" not in hacking_metrics([True], [None], [True])  # no process check: no figure


def test_failure_metrics_by_hand() -> None:
    from reasonlab.train.rl.metrics import failure_metrics

    m = failure_metrics(
        [None, "missing_step", "wrong_value", "missing_step"], [True, True, False, False], [True, False, False, False]
    )
    assert m == {"failure/missing_step": 0.5, "failure/wrong_value": 0.25, "hacked/missing_step": 0.25}
    assert failure_metrics([None, None], [True, True], [None, None]) == {}


def test_length_metrics_by_hand() -> None:
    from reasonlab.train.rl.metrics import length_metrics

    assert length_metrics([10, 20, 30], [True, False, False]) == {
        "response_length/correct_mean": 10.0,
        "response_length/wrong_mean": 25.0,
    }
    assert length_metrics([7, 9], [False, False]) == {"response_length/wrong_mean": 8.0}


def test_word_metrics_by_hand() -> None:
    from reasonlab.train.rl.metrics import word_metrics

    m = word_metrics(["Wait, no.", "ok", "wait"], [1.0, 0.0, 0.0])
    assert m == {"words/wait/freq": pytest.approx(2 / 3), "words/wait/reward_gap": pytest.approx(0.5)}
    # whole words only: "recheck" and "re-check" are not "check", "waiting" is not "wait", "but" not in "butter"
    m = word_metrics(["I recheck it", "re-check", "waiting for butter"], [0.0, 1.0, 2.0])
    assert m == {"words/recheck/freq": pytest.approx(1 / 3), "words/recheck/reward_gap": pytest.approx(-1.5)}
    # a word in every response has a frequency but no gap; no reflection word at all gives nothing
    assert word_metrics(["But yes", "but no"], [1.0, 0.0]) == {"words/but/freq": 1.0}
    assert word_metrics(["Try Alice knight.", "x" * 100_000], [1.0, 0.0]) == {}
