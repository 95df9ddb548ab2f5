"""RL math as small pure functions over torch tensors, registered by name.

Conventions (shared with verl's ``core_algos``): a batch holds ``B`` responses right-padded to ``T``
tokens; ``mask`` [B, T] is 1 on generated tokens and 0 on padding; ``index`` [B] (int) names the group
(prompt) each response belongs to; ``token_rewards`` [B, T] holds the task score on the last valid
token, minus any KL penalty placed in the reward, so ``token_rewards.sum(-1)`` is the sequence reward
that the outcome estimators (GRPO, RLOO, ...) use.

The trainer never branches on algorithm names: it looks an estimator up in :data:`ADV_ESTIMATORS`
(which also says whether a value head is needed), a KL estimator in :data:`KL_ESTIMATORS`, a loss
aggregation in :data:`LOSS_AGG`. Adding a variant is one decorated function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from reasonlab.errors import ReasonlabError

# ----------------------------------------------------------------------------- masked statistics


def masked_sum(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """``sum(x * mask)`` over ``dim`` (all elements when None)."""
    return (x * mask).sum() if dim is None else (x * mask).sum(dim)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """``sum(x * mask) / sum(mask)`` (0 where the mask is empty)."""
    return masked_sum(x, mask, dim) / (mask.sum() if dim is None else mask.sum(dim)).clamp_min(1e-8)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of the masked entries: ``sum(mask (x - mean)^2) / (N - 1)`` (``/ N`` if not unbiased)."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    ss = masked_sum((x - mean) ** 2, mask)
    denom = n - 1 if unbiased else n
    return ss / denom.clamp_min(1.0)


def masked_whiten(x: Tensor, mask: Tensor, eps: float = 1e-8, shift_mean: bool = True) -> Tensor:
    """Whitening over all valid tokens of the batch: ``(x - mean) / sqrt(var + eps)`` (Bessel var).

    With ``shift_mean=False`` the mean is added back (scale only). Padding positions come out as 0.
    """
    mean = masked_mean(x, mask)
    var = masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask


def group_mean_std(scores: Tensor, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample group mean, Bessel std and group size.

    ``mu_g = mean of the group's scores``, ``sigma_g = sqrt(sum (r - mu_g)^2 / (n - 1))``; a group of
    size 1 gets ``mu = 0, sigma = 1`` (verl's convention, so its advantage is the raw score).
    Returns tensors of shape [B] aligned with ``scores``.
    """
    scores = scores.double()
    _, inv = torch.unique(index, return_inverse=True)
    n_groups = int(inv.max().item()) + 1 if inv.numel() else 0
    count = scores.new_zeros(n_groups).scatter_add_(0, inv, torch.ones_like(scores))
    total = scores.new_zeros(n_groups).scatter_add_(0, inv, scores)
    mean = total / count
    sq = scores.new_zeros(n_groups).scatter_add_(0, inv, (scores - mean[inv]) ** 2)
    std = torch.sqrt(sq / (count - 1).clamp_min(1.0))
    single = count == 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    return mean[inv], std[inv], count[inv]


def zero_std_groups(scores: Tensor, index: Tensor) -> Tensor:
    """Bool [B]: True where the sample's group has all-equal scores (no learning signal in GRPO)."""
    _, inv = torch.unique(index, return_inverse=True)
    n = int(inv.max().item()) + 1 if inv.numel() else 0
    s = scores.double()
    lo = s.new_full((n,), float("inf")).scatter_reduce(0, inv, s, "amin")
    hi = s.new_full((n,), float("-inf")).scatter_reduce(0, inv, s, "amax")
    return (hi - lo <= 1e-12)[inv]


def frac_reward_zero_std(scores: Tensor, index: Tensor) -> float:
    """Share of *groups* whose rewards are all equal (TRL's ``frac_reward_zero_std``)."""
    if scores.numel() == 0:
        return 0.0
    _, first = _first_of_group(index)
    return float(zero_std_groups(scores, index)[first].double().mean().item())


def _first_of_group(index: Tensor) -> tuple[Tensor, Tensor]:
    uniq, inv = torch.unique(index, return_inverse=True)
    pos = torch.arange(index.numel(), device=index.device)
    first = pos.new_full((uniq.numel(),), index.numel()).scatter_reduce(0, inv, pos, "amin")
    return uniq, first


def last_token_scores(scores: Tensor, mask: Tensor) -> Tensor:
    """[B, T] tensor with ``scores[b]`` on the last valid token of row ``b`` and 0 elsewhere."""
    out = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    lengths = mask.long().sum(-1)
    rows = torch.nonzero(lengths > 0).flatten()
    out[rows, lengths[rows] - 1] = scores[rows].float()
    return out


def discounted_returns(token_rewards: Tensor, mask: Tensor, gamma: float = 1.0) -> Tensor:
    """``G_t = r_t + gamma * G_{t+1}`` over valid tokens (padding contributes 0 and gets 0)."""
    rewards = token_rewards * mask
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out * mask


# ----------------------------------------------------------------------------- advantage estimators


@dataclass
class AdvantageInputs:
    """What an advantage estimator may read. ``values`` only for estimators that need a critic."""

    token_rewards: Tensor
    mask: Tensor
    index: Tensor
    values: Tensor | None = None


@dataclass
class AdvantageParams:
    """Estimator knobs: ``gamma``/``lam`` (returns, GAE), ``eps`` (GRPO denominator), ``std_scaling``."""

    gamma: float = 1.0
    lam: float = 1.0
    eps: float = 1e-6
    std_scaling: Literal["group", "batch", "none"] = "group"


AdvantageFn = Callable[[AdvantageInputs, AdvantageParams], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class AdvantageEstimator:
    """A registered estimator: ``fn(inputs, params) -> (advantages [B,T], returns [B,T])``."""

    name: str
    fn: AdvantageFn
    needs_critic: bool
    description: str


ADV_ESTIMATORS: dict[str, AdvantageEstimator] = {}


def register_advantage(
    name: str, *, needs_critic: bool = False, description: str = ""
) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator adding an advantage estimator to :data:`ADV_ESTIMATORS` under ``name``."""

    def deco(fn: AdvantageFn) -> AdvantageFn:
        ADV_ESTIMATORS[name] = AdvantageEstimator(name, fn, needs_critic, description or (fn.__doc__ or "").strip())
        return fn

    return deco


def get_estimator(name: str) -> AdvantageEstimator:
    """The named estimator, or a one-line error listing the allowed names."""
    if name not in ADV_ESTIMATORS:
        raise ReasonlabError(f"unknown algorithm {name!r}; allowed: {', '.join(sorted(ADV_ESTIMATORS))}")
    return ADV_ESTIMATORS[name]


def grpo_advantage(scores: Tensor, index: Tensor, eps: float = 1e-6, std_scaling: str = "group") -> Tensor:
    """GRPO sequence advantages [B].

    ``A_i = (r_i - mu_g) / (sigma_g + eps)`` with ``sigma_g`` the group's Bessel std (``group``),
    the std of all rewards in the batch (``batch``), or no scaling ``A_i = r_i - mu_g`` (``none``,
    Dr. GRPO). A group of size 1 has ``mu = 0, sigma = 1``.
    """
    mean, std, _ = group_mean_std(scores, index)
    centred = scores.double() - mean
    if std_scaling == "group":
        adv = centred / (std + eps)
    elif std_scaling == "batch":
        batch_std = scores.double().std() if scores.numel() > 1 else scores.new_ones((), dtype=torch.float64)
        adv = centred / (batch_std + eps)
    elif std_scaling == "none":
        adv = centred
    else:
        raise ReasonlabError(f"unknown std_scaling {std_scaling!r}; allowed: group, batch, none")
    return adv.float()


def rloo_advantage(scores: Tensor, index: Tensor) -> Tensor:
    """RLOO sequence advantages [B]: ``A_i = r_i - mean_{j != i} r_j = n/(n-1) (r_i - mu_g)``.

    A group of size 1 has no other sample, so its baseline is 0 and ``A_i = r_i``.
    """
    _, _, count = group_mean_std(scores, index)
    mean_true = _plain_group_mean(scores, index)
    adv = torch.where(count > 1, count / (count - 1).clamp_min(1.0) * (scores.double() - mean_true), scores.double())
    return adv.float()


def _plain_group_mean(scores: Tensor, index: Tensor) -> Tensor:
    _, inv = torch.unique(index, return_inverse=True)
    n = int(inv.max().item()) + 1 if inv.numel() else 0
    s = scores.double()
    count = s.new_zeros(n).scatter_add_(0, inv, torch.ones_like(s))
    total = s.new_zeros(n).scatter_add_(0, inv, s)
    return (total / count)[inv]


def gae_advantage(
    token_rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation; returns ``(advantages (unwhitened), returns)``.

    ``delta_t = r_t + gamma V_{t+1} - V_t`` (``V`` is 0 beyond the last valid token),
    ``A_t = delta_t + gamma lam A_{t+1}``, ``returns_t = A_t + V_t``.
    """
    v = values * mask
    r = token_rewards * mask
    adv = torch.zeros_like(r)
    last = torch.zeros(r.shape[0], dtype=r.dtype, device=r.device)
    T = r.shape[1]
    for t in range(T - 1, -1, -1):
        next_v = v[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = r[:, t] + gamma * next_v - v[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    adv = adv * mask
    return adv, (adv + v) * mask


def _broadcast(seq_adv: Tensor, mask: Tensor) -> Tensor:
    return seq_adv.float().unsqueeze(-1) * mask


@register_advantage("grpo", description="GRPO: (r - group mean) / (group std + eps) on every token")
def _grpo(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    adv = _broadcast(grpo_advantage(inp.token_rewards.sum(-1), inp.index, p.eps, p.std_scaling), inp.mask)
    return adv, adv


@register_advantage(
    "dr_grpo", description="Dr. GRPO: r - group mean (no std scaling); pair with seq-mean-token-sum-norm"
)
def _dr_grpo(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    adv = _broadcast(grpo_advantage(inp.token_rewards.sum(-1), inp.index, p.eps, "none"), inp.mask)
    return adv, adv


@register_advantage("rloo", description="RLOO: r - mean of the other samples of the group")
def _rloo(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    adv = _broadcast(rloo_advantage(inp.token_rewards.sum(-1), inp.index), inp.mask)
    return adv, adv


@register_advantage("reinforce_pp", description="REINFORCE++: gamma-returns of KL-shaped token rewards, batch-whitened")
def _reinforce_pp(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    returns = discounted_returns(inp.token_rewards, inp.mask, p.gamma)
    return masked_whiten(returns, inp.mask), returns


@register_advantage(
    "reinforce_pp_baseline", description="REINFORCE++-baseline: subtract the group mean score, then returns, whitened"
)
def _reinforce_pp_baseline(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    # The group mean of the task score (the sequence reward without KL shaping) is removed at the last token.
    mean, _, _ = group_mean_std(inp.token_rewards.sum(-1), inp.index)
    shaped = inp.token_rewards - last_token_scores(mean.float(), inp.mask)
    returns = discounted_returns(shaped, inp.mask, p.gamma)
    return masked_whiten(returns, inp.mask), returns


@register_advantage("ppo", needs_critic=True, description="PPO: GAE(gamma, lambda) with a value head, batch-whitened")
def _ppo(inp: AdvantageInputs, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    if inp.values is None:
        raise ReasonlabError("algorithm 'ppo' needs values from a value head")
    adv, returns = gae_advantage(inp.token_rewards, inp.values, inp.mask, p.gamma, p.lam)
    return masked_whiten(adv, inp.mask), returns


def compute_advantages(
    name: str, inputs: AdvantageInputs, params: AdvantageParams | None = None
) -> tuple[Tensor, Tensor]:
    """Dispatch to the named estimator; returns ``(advantages [B,T], returns [B,T])``."""
    return get_estimator(name).fn(inputs, params or AdvantageParams())


# ----------------------------------------------------------------------------- KL


KL_ESTIMATORS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {}


def register_kl(name: str) -> Callable[[Callable[[Tensor, Tensor], Tensor]], Callable[[Tensor, Tensor], Tensor]]:
    """Decorator adding a per-token KL estimator ``fn(logp, ref_logp) -> kl`` under ``name``."""

    def deco(fn: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        KL_ESTIMATORS[name] = fn
        return fn

    return deco


@register_kl("k1")
def kl_k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``k1 = x`` with ``x = log pi - log pi_ref`` (unbiased, can be negative)."""
    return logp - ref_logp


@register_kl("k2")
def kl_k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``k2 = x^2 / 2`` (low variance, biased)."""
    return 0.5 * (logp - ref_logp) ** 2


@register_kl("k3")
def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``k3 = exp(-x) - 1 + x`` (non-negative, unbiased; "low_var_kl"), clamped to [-10, 10] as in verl."""
    x = (logp - ref_logp).clamp(-20.0, 20.0)
    return (torch.exp(-x) - 1.0 + x).clamp(-10.0, 10.0)


def kl_penalty(logp: Tensor, ref_logp: Tensor, kind: str) -> Tensor:
    """Per-token KL estimate of the named kind; one-line error for an unknown kind."""
    if kind not in KL_ESTIMATORS:
        raise ReasonlabError(f"unknown KL estimator {kind!r}; allowed: {', '.join(sorted(KL_ESTIMATORS))}")
    return KL_ESTIMATORS[kind](logp, ref_logp)


class FixedKLController:
    """A constant KL coefficient ``beta``."""

    def __init__(self, coef: float) -> None:
        self.value = float(coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        """No-op (kept for a uniform interface)."""


class AdaptiveKLController:
    """Adaptive KL coefficient (Ziegler et al.): ``beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon``."""

    def __init__(self, init_coef: float, target: float, horizon: int) -> None:
        if target <= 0 or horizon <= 0:
            raise ReasonlabError(f"adaptive KL needs target > 0 and horizon > 0, got {target}, {horizon}")
        self.value = float(init_coef)
        self.target = float(target)
        self.horizon = int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Move ``beta`` towards keeping the KL near ``target``; ``n_steps`` is the batch size consumed."""
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon


def kl_in_reward(
    token_scores: Tensor, logp: Tensor, ref_logp: Tensor, mask: Tensor, beta: float, kind: str = "k1"
) -> tuple[Tensor, Tensor]:
    """KL-shaped token rewards ``r_t = score_t - beta * KL_t`` and the batch's mean sequence KL.

    The mean sequence KL (``sum_t KL_t`` averaged over sequences) is what an adaptive controller reads.
    """
    kl = kl_penalty(logp, ref_logp, kind) * mask
    seq_kl = kl.sum(-1).mean()
    return (token_scores - beta * kl) * mask, seq_kl


# ----------------------------------------------------------------------------- loss aggregation


LOSS_AGG: dict[str, Callable[..., Tensor]] = {}


def register_agg(name: str) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Decorator adding a loss aggregation ``fn(loss [B,T], mask [B,T], norm_len) -> scalar``."""

    def deco(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        LOSS_AGG[name] = fn
        return fn

    return deco


@register_agg("token-mean")
def agg_token_mean(loss: Tensor, mask: Tensor, norm_len: int | None = None) -> Tensor:
    """``sum(loss * mask) / sum(mask)``: every valid token of the batch weighs the same (verl default)."""
    return masked_mean(loss, mask)


@register_agg("seq-mean-token-mean")
def agg_seq_mean_token_mean(loss: Tensor, mask: Tensor, norm_len: int | None = None) -> Tensor:
    """``mean_b [sum_t loss mask / sum_t mask]``: original GRPO (long answers get less weight per token)."""
    rows = mask.sum(-1) > 0
    per_seq = masked_sum(loss, mask, -1) / mask.sum(-1).clamp_min(1.0)
    return per_seq[rows].mean() if rows.any() else loss.sum() * 0.0


@register_agg("seq-mean-token-sum")
def agg_seq_mean_token_sum(loss: Tensor, mask: Tensor, norm_len: int | None = None) -> Tensor:
    """``mean_b [sum_t loss mask]``: mean over sequences of each sequence's token sum."""
    return masked_sum(loss, mask, -1).mean()


@register_agg("seq-mean-token-sum-norm")
def agg_seq_mean_token_sum_norm(loss: Tensor, mask: Tensor, norm_len: int | None = None) -> Tensor:
    """Dr. GRPO: ``sum(loss * mask) / (B * L)`` with ``L = norm_len`` (max response length; T when None)."""
    denom = loss.shape[0] * (norm_len if norm_len is not None else loss.shape[1])
    return masked_sum(loss, mask) / denom


def aggregate_loss(loss: Tensor, mask: Tensor, mode: str, norm_len: int | None = None) -> Tensor:
    """Aggregate a per-token loss with the named mode; one-line error for an unknown mode."""
    if mode not in LOSS_AGG:
        raise ReasonlabError(f"unknown loss_agg {mode!r}; allowed: {', '.join(LOSS_AGG)}")
    return LOSS_AGG[mode](loss, mask, norm_len)


# ----------------------------------------------------------------------------- policy and value losses


@dataclass
class PolicyLossOutput:
    """Policy loss and its diagnostics (verl names: pg_loss, pg_clipfrac, ppo_kl, pg_clipfrac_lower)."""

    loss: Tensor
    clipfrac: Tensor
    approx_kl: Tensor
    clipfrac_lower: Tensor


def ppo_clip_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    dual_clip: float | None = None,
    agg: str = "token-mean",
    norm_len: int | None = None,
) -> PolicyLossOutput:
    """Clipped surrogate with clip-higher and optional dual-clip.

    ``ratio = exp(clamp(logp - old_logp, -20, 20))``;
    ``l_t = max(-A ratio, -A clip(ratio, 1 - eps_low, 1 + eps_high))``;
    dual-clip (``c = dual_clip > 1``): for ``A < 0`` the token loss is ``min(l_t, -A c)``.
    ``clipfrac`` = share of valid tokens where the clipped term is the larger one;
    ``clipfrac_lower`` = share where the dual clip was active; ``approx_kl`` = masked mean of
    ``old_logp - logp`` (k1 between old and new policy).
    """
    neg_log_ratio = (logp - old_logp).clamp(-20.0, 20.0)
    ratio = torch.exp(neg_log_ratio)
    loss1 = -advantages * ratio
    loss2 = -advantages * ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    clipped = torch.maximum(loss1, loss2)
    clipfrac = masked_mean((loss2 > loss1).float(), mask)
    lower = torch.zeros_like(clipped, dtype=torch.bool)
    if dual_clip is not None:
        if dual_clip <= 1.0:
            raise ReasonlabError(f"dual_clip must be > 1 (typically 3), got {dual_clip}")
        cap = -advantages * dual_clip
        lower = (advantages < 0) & (clipped > cap)
        clipped = torch.where(advantages < 0, torch.minimum(clipped, cap), clipped)
    loss = aggregate_loss(clipped, mask, agg, norm_len)
    return PolicyLossOutput(
        loss=loss,
        clipfrac=clipfrac.detach(),
        approx_kl=masked_mean(-neg_log_ratio, mask).detach(),
        clipfrac_lower=masked_mean(lower.float(), mask).detach(),
    )


def value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    clip: float | None = 0.2,
    agg: str = "token-mean",
    norm_len: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Clipped value loss ``0.5 max((V - R)^2, (V_clip - R)^2)``, ``V_clip = V_old + clip(V - V_old, -c, c)``.

    Without ``clip`` it is ``0.5 (V - R)^2``. Returns ``(loss, clipfrac)`` where clipfrac is the share
    of valid tokens where the clipped term is the larger one.
    """
    l1 = (values - returns) ** 2
    if clip is None:
        return 0.5 * aggregate_loss(l1, mask, agg, norm_len), torch.zeros((), device=mask.device)
    v_clip = old_values + (values - old_values).clamp(-clip, clip)
    l2 = (v_clip - returns) ** 2
    loss = 0.5 * aggregate_loss(torch.maximum(l1, l2), mask, agg, norm_len)
    return loss, masked_mean((l2 > l1).float(), mask).detach()


def kl_loss(
    logp: Tensor, ref_logp: Tensor, mask: Tensor, kind: str = "k3", agg: str = "token-mean", norm_len: int | None = None
) -> Tensor:
    """KL-in-loss term (to be ADDED to the loss with a positive coefficient): aggregated per-token KL."""
    return aggregate_loss(kl_penalty(logp, ref_logp, kind), mask, agg, norm_len)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Per-position entropy ``H = logsumexp(z) - sum softmax(z) z`` over the last dimension."""
    logits = logits.float()
    p = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (p * logits).sum(-1)


def token_logprobs(logits: Tensor, tokens: Tensor) -> Tensor:
    """``log softmax(logits)[..., token]`` gathered for each position: [B, T, V], [B, T] -> [B, T]."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1)


# ----------------------------------------------------------------------------- DAPO pieces


def overlong_penalty(lengths: Tensor, max_len: int, buffer: int, factor: float = 1.0) -> Tensor:
    """DAPO soft overlong punishment per sequence.

    ``p = clamp(-(|o| - (L_max - L_buf)) / L_buf * factor, -factor, 0)``: zero up to
    ``L_max - L_buf`` tokens, then falling linearly to ``-factor`` at ``L_max``.
    """
    if buffer <= 0 or buffer > max_len:
        raise ReasonlabError(f"overlong buffer must be in 1..max_len ({max_len}), got {buffer}")
    expected = max_len - buffer
    raw = -(lengths.double() - expected) / buffer * factor
    return raw.clamp(-factor, 0.0).float()


def keep_groups_with_signal(scores: Tensor, index: Tensor) -> Tensor:
    """DAPO dynamic sampling filter: bool [B], True for samples whose group has non-zero reward variance."""
    return ~zero_std_groups(scores, index)
