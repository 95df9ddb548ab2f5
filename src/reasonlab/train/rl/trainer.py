"""The RL trainer behind ``reasonlab rl CONFIG``.

One step:

1. **rollout**: draw ``batch_size / group_size`` prompts from the task (knobs from the curriculum), or
   take them from a problems file (``task.prompts``, in the order of :mod:`reasonlab.train.rl.prompts`),
   sample ``group_size`` completions each with the native KV-cache sampler (per-row seeds derived from
   the config seed, the step and the row, so a resumed run draws the same samples);
2. **reward**: :func:`reasonlab.rewards.score` under the configured scheme, plus the DAPO overlong
   penalty when configured; DAPO dynamic sampling drops groups whose rewards are all equal and draws
   new prompts until the batch is full (or ``max_refill_rounds`` is reached);
3. **old / reference / value passes** (no grad): the policy's log-probs before the update (needed for
   PPO ratios and KL-in-reward; skipped when one on-policy update makes them equal to the update's own
   detached log-probs), the frozen reference model's log-probs when KL is on, the value head's values
   for PPO;
4. **advantages** with the estimator named in ``algorithm.name`` (looked up, never branched on);
5. **update**: ``ppo_epochs`` passes over ``mini_batches`` shuffled mini-batches: clipped surrogate +
   ``kl_coef * KL`` (KL in the loss) - ``entropy_coef * entropy`` + ``vf_coef * value loss``.

Metrics use the engines' names (``critic/score/mean``, ``actor/pg_clipfrac``, ``timing_s/gen``, ...);
compute is counted with :mod:`reasonlab.compute` per phase. Checkpoints go through
:class:`reasonlab.rundir.RunDir`; a killed run resumes from its newest checkpoint.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch

from reasonlab.compute import ComputeLedger, attention_shape, inference_flops, train_flops
from reasonlab.errors import ReasonlabError
from reasonlab.eval.problems import held_out_hashes
from reasonlab.eval.protocol import run_eval
from reasonlab.eval.record import device_record, versions
from reasonlab.io import atomic_write_text, read_records, write_records
from reasonlab.model import load_model
from reasonlab.model.chat import Prompter
from reasonlab.rewards import score_verification
from reasonlab.rundir import RunDir, resolve_device, resolve_model_path, resume_checkpoint, write_prompt_hashes
from reasonlab.sampling import amp_dtype, autocast
from reasonlab.seeds import prompt_hash, rl_prompt_seed, rl_rollout_seed, stable_seed
from reasonlab.train.optim import lr_at, make_optimizer
from reasonlab.train.rl import algorithms as alg
from reasonlab.train.rl.config import RLConfig
from reasonlab.train.rl.curriculum import build_curriculum
from reasonlab.train.rl.metrics import batch_metrics, eval_metrics
from reasonlab.train.rl.prefix import policy_forward_shared
from reasonlab.train.rl.prompts import draw_mixture, load_prompt_pool
from reasonlab.train.rl.rollout import Rollouts, ValueHead, pack_sequences
from reasonlab.train.rl.workers import RolloutWorkers

__all__ = ["RLTrainer", "train_rl"]


class RLTrainer:
    """Owns the policy, reference model, value head, optimizer, curriculum and run directory."""

    def __init__(self, config: RLConfig, *, overwrite: bool = False, log: Any = None) -> None:
        self.config = config
        self.log = log if log is not None else (lambda msg: print(msg, file=sys.stderr, flush=True))
        torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        self.amp = amp_dtype(self.device, config.precision)
        self.task = config.task.task
        self.estimator = alg.get_estimator(config.algorithm.name)
        init_from = resolve_model_path(config.init_from, "init_from")
        torch.manual_seed(config.seed)
        random.seed(config.seed)

        self.model, self.tokenizer = load_model(init_from, device=str(self.device))
        self.prompter = Prompter(config.task.style, self.tokenizer, str(init_from))
        self.model.train()
        self.rollout_workers = RolloutWorkers(
            self.model, self.tokenizer, config.rollout.workers, self.amp, config.threads
        )
        self.ref_model = None
        if config.algorithm.kl.placement != "none":
            self.ref_model, _ = load_model(init_from, device=str(self.device))
            self.ref_model.eval().requires_grad_(False)
        self.held_out = held_out_hashes(config.holdout)
        self.prompt_pool = (
            load_prompt_pool(config.task.prompts, self.task.name, self.held_out, config.task.prompt_order, config.seed)
            if config.task.prompts is not None
            else None
        )
        # everything is checked and loaded before the run directory exists
        self.run = RunDir.create(
            config.out_dir, config.name, config, overwrite=overwrite, may_change=config.RESUME_MAY_CHANGE
        )
        self.value_head = (
            ValueHead(self.model.config.hidden_size).to(self.device) if self.estimator.needs_critic else None
        )
        params = list(self.model.parameters()) + (list(self.value_head.parameters()) if self.value_head else [])
        self.optimizer = make_optimizer(params, config.optim)
        kl = config.algorithm.kl
        self.kl_ctl: alg.FixedKLController | alg.AdaptiveKLController = (
            alg.AdaptiveKLController(kl.coef, kl.target, kl.horizon) if kl.adaptive else alg.FixedKLController(kl.coef)
        )
        self.curriculum = build_curriculum(config.curriculum)
        self.n_params = self.model.num_params()
        self.attn = attention_shape(self.model.config)
        self.ledger = ComputeLedger()
        self.totals = {"prompts": 0, "rollouts": 0, "generated_tokens": 0}
        self.flops_by_phase = {"rollout": 0.0, "old": 0.0, "ref": 0.0, "update": 0.0}
        self.step = 0
        self.train_prompts: dict[str, str] = {}  # problem prompt -> id, for the held-out check of evaluations
        self._resume()

    # ------------------------------------------------------------------ resume
    def _resume(self) -> None:
        state = resume_checkpoint(self.run, self.model, self.optimizer, self.device)
        if state is None:
            return
        try:
            if self.value_head is not None and "value_head" in state:
                self.value_head.load_state_dict({k: torch.tensor(v) for k, v in state["value_head"].items()})
            self.step = int(state["step"])
            self.ledger.load_state_dict(state["ledger"])
            self.totals = {k: int(v) for k, v in state["totals"].items()}
            self.flops_by_phase = {k: float(v) for k, v in state["flops_by_phase"].items()}
            self.kl_ctl.value = float(state["kl_coef"])
            self.curriculum.load_state_dict(state["curriculum"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            ckpt = self.run.latest_checkpoint()
            raise ReasonlabError(f"{ckpt}: corrupt trainer state ({type(exc).__name__}: {exc})") from None
        if self.prompts_path.is_file():
            self.train_prompts = {r["prompt"]: r["id"] for r in read_records(self.prompts_path)}
        self.log(f"[rl] resumed from {self.run.checkpoint_path(self.step)} at step {self.step}")

    @property
    def prompts_path(self) -> Path:
        """Every problem prompt the policy was trained on (``id``, ``prompt`` records): an eval holdout file."""
        return self.run.path / "data" / "train_prompts.jsonl"

    def _save_prompts(self) -> None:
        """Write the trained-on prompts as records and as prompt hashes (the eval lineage check)."""
        write_records(self.prompts_path, [{"id": i, "prompt": p} for p, i in self.train_prompts.items()])
        write_prompt_hashes(self.run.path, [prompt_hash(p) for p in self.train_prompts])

    def _save(self) -> None:
        self._save_prompts()
        state = {
            "ledger": self.ledger.state_dict(),
            "totals": self.totals,
            "flops_by_phase": self.flops_by_phase,
            "kl_coef": self.kl_ctl.value,
            "curriculum": self.curriculum.state_dict(),
        }
        if self.value_head is not None:
            state["value_head"] = {k: v.detach().cpu().tolist() for k, v in self.value_head.state_dict().items()}
        self.run.save_checkpoint(
            self.step,
            self.model,
            self.tokenizer,
            optimizer=self.optimizer,
            trainer_state=state,
            keep_last=self.config.keep_checkpoints,
        )

    # ------------------------------------------------------------------ budget
    def budget_reached(self) -> str | None:
        """Name of the first exhausted budget, or None."""
        b = self.config.budget
        for key in ("prompts", "rollouts", "generated_tokens"):
            limit = getattr(b, key)
            if limit is not None and self.totals[key] >= limit:
                return key
        if b.flops is not None and self.ledger.flops_total >= b.flops:
            return "flops"
        return None

    # ------------------------------------------------------------------ rollout
    def _sample_round(self, step: int, round_: int, n_prompts: int, group_offset: int) -> tuple[Rollouts, float]:
        cfg, r = self.config, self.config.rollout
        if self.prompt_pool is not None:
            a = cfg.algorithm
            rounds = 1 + (a.max_refill_rounds if a.dynamic_sampling else 0)
            problems = self.prompt_pool.take(step, round_, n_prompts, r.batch_size // r.group_size, rounds)
        else:
            parts = cfg.task.weighted_params(self.curriculum.knobs(step))
            problems = draw_mixture(self.task, parts, n_prompts, rl_prompt_seed(cfg.seed, step, round_), self.held_out)
        prompts = [self.prompter.prompt(self.task, p) for p in problems]
        rows_prompts = [prompts[i // r.group_size] for i in range(n_prompts * r.group_size)]
        seeds = [rl_rollout_seed(cfg.seed, step, round_, i) for i in range(len(rows_prompts))]
        sp = r.sampling_params([self.tokenizer.eos_id])
        self.model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            bos = self.prompter.add_bos  # per-row caches: one flipped token would take a run off its committed path
            gens = self.rollout_workers.generate(rows_prompts, sp, seeds, add_bos=bos)
        gen_time = time.perf_counter() - t0
        self.model.train()
        for p in problems:
            self.train_prompts.setdefault(p.prompt, p.id)
        out = Rollouts()
        for i, g in enumerate(gens):
            out.problems.append(problems[i // r.group_size])
            out.prompt_ids.append(list(g.prompt_ids))
            out.response_ids.append(list(g.token_ids))
            out.texts.append(g.text)
            out.finish.append(g.finish_reason)
            out.group.append(group_offset + i // r.group_size)
        return out, gen_time

    def _score(self, ro: Rollouts) -> None:
        cfg = self.config
        a = cfg.algorithm
        for p, text, ids in zip(ro.problems, ro.texts, ro.response_ids, strict=True):
            v = self.task.verify(p, text)
            s = score_verification(p.id, v, cfg.task.reward, **cfg.task.reward_kwargs)
            ro.failure.append(self.task.failure_kind(v))
            ro.task_scores.append(float(s.reward))
            ro.correct.append(bool(s.correct))
            ro.process_ok.append(s.process_ok)
            ro.format_ok.append(bool(s.format_ok))
            value = float(s.reward)
            if a.overlong_buffer is not None:
                value += float(
                    alg.overlong_penalty(
                        torch.tensor([len(ids)]), cfg.rollout.max_new_tokens, a.overlong_buffer, a.overlong_factor
                    )[0]
                )
            ro.scores.append(value)

    def collect(self, step: int) -> tuple[Rollouts, dict[str, float]]:
        """Generate and score one batch (with DAPO refills when dynamic sampling is on)."""
        cfg, r = self.config, self.config.rollout
        need = r.batch_size // r.group_size
        batch = Rollouts()
        timing = {"gen": 0.0, "reward": 0.0}
        stats = {"prompts": 0, "rollouts": 0, "generated_tokens": 0, "prompt_tokens": 0, "ctx_sum": 0.0}
        zero_std_fracs: list[float] = []
        for round_ in range(1 + (cfg.algorithm.max_refill_rounds if cfg.algorithm.dynamic_sampling else 0)):
            n_groups_have = len(batch) // r.group_size
            ro, gen_time = self._sample_round(step, round_, need - n_groups_have, round_ * 10**6)
            timing["gen"] += gen_time
            t0 = time.perf_counter()
            self._score(ro)
            timing["reward"] += time.perf_counter() - t0
            stats["prompts"] += len(ro) // r.group_size
            stats["rollouts"] += len(ro)
            for p_ids, g_ids in zip(ro.prompt_ids, ro.response_ids, strict=True):
                stats["generated_tokens"] += len(g_ids)
                stats["prompt_tokens"] += len(p_ids)
                stats["ctx_sum"] += (len(p_ids) + len(g_ids) + 1) / 2 * (len(p_ids) + len(g_ids))
            scores, index = torch.tensor(ro.scores), torch.tensor(ro.group)
            zero_std_fracs.append(alg.frac_reward_zero_std(scores, index))
            if not cfg.algorithm.dynamic_sampling:
                batch = ro
                break
            keep = alg.keep_groups_with_signal(scores, index).tolist()
            rows = [i for i, k in enumerate(keep) if k]
            kept_groups = list(dict.fromkeys(ro.group[i] for i in rows))[: need - n_groups_have]
            kept = set(kept_groups)
            batch.extend(ro, [i for i in rows if ro.group[i] in kept])
            if len(batch) // r.group_size >= need:
                break
        metrics = {
            "frac_reward_zero_std": zero_std_fracs[0],
            "dynamic_sampling/rounds": float(len(zero_std_fracs)),
            "dynamic_sampling/kept_groups": float(len(batch) // r.group_size),
        }
        self._account_rollout(stats)
        metrics.update({f"timing_s/{k}": v for k, v in timing.items()})
        metrics["perf/rollout_tokens_per_s"] = stats["generated_tokens"] / max(timing["gen"], 1e-9)
        return batch, metrics

    def _account_rollout(self, stats: dict[str, float]) -> None:
        tokens = int(stats["prompt_tokens"] + stats["generated_tokens"])
        mean_ctx = stats["ctx_sum"] / max(tokens, 1)
        self._step_flops["rollout"] = inference_flops(self.n_params, tokens, attn=self.attn, mean_context=mean_ctx)
        self._step_tokens += tokens
        for k in ("prompts", "rollouts", "generated_tokens"):
            self.totals[k] += int(stats[k])

    def _account_step(self) -> dict[str, float]:
        out = {}
        for phase, flops in self._step_flops.items():
            self.flops_by_phase[phase] = self.flops_by_phase.get(phase, 0.0) + flops
            out[f"perf/flops_{phase}"] = flops
        out.update(self.ledger.add(self._step_tokens, sum(self._step_flops.values())))
        out.update({f"compute/{k}_total": float(v) for k, v in self.totals.items()})
        return out

    # ------------------------------------------------------------------ one step
    def train_step(self) -> dict[str, float]:
        """Roll out, score, compute advantages and update; returns the step's metrics."""
        cfg, a = self.config, self.config.algorithm
        step = self.step
        self._step_flops: dict[str, float] = {}
        self._step_tokens = 0
        t_step = time.perf_counter()
        ro, metrics = self.collect(step)
        metrics["curriculum/level"] = float(self.curriculum.level(step))
        if len(ro) == 0:  # dynamic sampling found no group with a learning signal: no update this step
            metrics.update(self._account_step())
            self.curriculum.update(0.0)
            self.step += 1
            metrics["timing_s/step"] = time.perf_counter() - t_step
            return metrics

        input_ids, responses, mask, positions = pack_sequences(ro.prompt_ids, ro.response_ids, self.tokenizer.pad_id)
        input_ids, responses, mask, positions = (t.to(self.device) for t in (input_ids, responses, mask, positions))
        B = responses.shape[0]
        n_tok = int(input_ids.numel())
        ctx = (input_ids.shape[1] + 1) / 2
        scores = torch.tensor(ro.scores, dtype=torch.float32)
        index = torch.tensor(ro.group)
        temp = cfg.rollout.temperature if cfg.rollout.temperature > 0 else 1.0
        need_old = a.ppo_epochs > 1 or a.mini_batches > 1 or a.kl.placement == "reward" or self.value_head is not None

        # ---- old policy / values (no grad)
        old_logp = values = None
        t0 = time.perf_counter()
        if need_old:
            with torch.no_grad(), autocast(self.device, self.amp):
                old_logp, _, values = policy_forward_shared(
                    self.model, input_ids, positions, responses, mask, temperature=temp, value_head=self.value_head
                )
            self._step_flops["old"] = inference_flops(self.n_params, n_tok, attn=self.attn, mean_context=ctx)
            self._step_tokens += n_tok
        metrics["timing_s/old_log_prob"] = time.perf_counter() - t0
        # ---- reference
        ref_logp = None
        t0 = time.perf_counter()
        if self.ref_model is not None:
            with torch.no_grad(), autocast(self.device, self.amp):
                ref_logp, _, _ = policy_forward_shared(
                    self.ref_model, input_ids, positions, responses, mask, temperature=temp
                )
            self._step_flops["ref"] = inference_flops(self.n_params, n_tok, attn=self.attn, mean_context=ctx)
            self._step_tokens += n_tok
        metrics["timing_s/ref"] = time.perf_counter() - t0

        # ---- advantages
        t0 = time.perf_counter()
        token_rewards = alg.last_token_scores(scores, mask.cpu()).to(self.device)
        if a.kl.placement == "reward":
            assert old_logp is not None and ref_logp is not None
            token_rewards, seq_kl = alg.kl_in_reward(
                token_rewards, old_logp, ref_logp, mask, self.kl_ctl.value, a.kl.estimator
            )
            metrics["actor/reward_kl_penalty"] = float(seq_kl)
            metrics["actor/reward_kl_penalty_coeff"] = self.kl_ctl.value
            self.kl_ctl.update(float(seq_kl), B)
        adv, returns = self.estimator.fn(
            alg.AdvantageInputs(token_rewards, mask, index.to(self.device), values),
            alg.AdvantageParams(gamma=a.gamma, lam=a.lam, eps=a.eps, std_scaling=a.std_scaling),
        )
        metrics["timing_s/adv"] = time.perf_counter() - t0

        # ---- update
        t0 = time.perf_counter()
        upd = self._update(input_ids, positions, responses, mask, adv, returns, old_logp, ref_logp, values, temp)
        metrics["timing_s/update"] = time.perf_counter() - t0
        self._step_flops["update"] = train_flops(
            self.n_params, n_tok * a.ppo_epochs, attn=self.attn, seq_len=input_ids.shape[1]
        )
        self._step_tokens += n_tok * a.ppo_epochs
        metrics.update(upd)

        # ---- metrics
        acc = sum(ro.correct) / len(ro)
        metrics.update(batch_metrics(ro, scores, token_rewards, adv, returns, values, mask))
        metrics.update(self._account_step())
        metrics["perf/throughput"] = metrics["perf/rollout_tokens_per_s"]
        self.curriculum.update(acc)
        self.step += 1
        metrics["timing_s/step"] = time.perf_counter() - t_step
        self._maybe_log_samples(step, ro)
        return metrics

    def _update(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        responses: torch.Tensor,
        mask: torch.Tensor,
        adv: torch.Tensor,
        returns: torch.Tensor,
        old_logp: torch.Tensor | None,
        ref_logp: torch.Tensor | None,
        old_values: torch.Tensor | None,
        temp: float,
    ) -> dict[str, float]:
        cfg, a = self.config, self.config.algorithm
        B = input_ids.shape[0]
        o = cfg.optim
        lr = lr_at(self.step, cfg.steps, o.lr, o.warmup_steps, o.min_lr_ratio)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        gen = torch.Generator().manual_seed(stable_seed("rl-minibatch", cfg.seed, self.step) % (2**31))
        acc: dict[str, list[float]] = {}
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        norm_len = cfg.rollout.max_new_tokens
        for _ in range(a.ppo_epochs):
            perm = torch.randperm(B, generator=gen) if a.mini_batches > 1 else torch.arange(B)
            for rows in perm.chunk(a.mini_batches):
                rows = rows.to(self.device)
                mb_mask = mask[rows]
                with autocast(self.device, self.amp):
                    logp, entropy, values = policy_forward_shared(
                        self.model,
                        input_ids[rows],
                        positions[rows],
                        responses[rows],
                        mb_mask,
                        temperature=temp,
                        value_head=self.value_head,
                        with_entropy=True,
                        entropy_grad=a.entropy_coef > 0,  # else a metric only: no graph over [B, T, V]
                    )
                mb_old = old_logp[rows] if old_logp is not None else logp.detach()
                pg = alg.ppo_clip_loss(
                    logp, mb_old, adv[rows], mb_mask, a.clip_eps_low, a.clip_eps_high, a.dual_clip, a.loss_agg, norm_len
                )
                loss = pg.loss
                assert entropy is not None
                ent = alg.aggregate_loss(entropy, mb_mask, a.loss_agg, norm_len)
                if a.entropy_coef > 0:
                    loss = loss - a.entropy_coef * ent
                stats = {
                    "actor/pg_loss": pg.loss,
                    "actor/pg_clipfrac": pg.clipfrac,
                    "actor/ppo_kl": pg.approx_kl,
                    "actor/pg_clipfrac_lower": pg.clipfrac_lower,
                    "actor/entropy": alg.masked_mean(entropy, mb_mask),
                }
                if ref_logp is not None:
                    kl_val = alg.kl_loss(logp, ref_logp[rows], mb_mask, a.kl.estimator, a.loss_agg, norm_len)
                    stats["actor/kl_loss"] = kl_val
                    if a.kl.placement == "loss":
                        loss = loss + self.kl_ctl.value * kl_val
                        stats["actor/kl_coef"] = torch.tensor(self.kl_ctl.value)
                if values is not None and old_values is not None:
                    vf, vf_clip = alg.value_loss(
                        values, old_values[rows], returns[rows], mb_mask, a.value_clip, a.loss_agg, norm_len
                    )
                    loss = loss + a.vf_coef * vf
                    stats["critic/vf_loss"] = vf
                    stats["critic/vf_clipfrac"] = vf_clip
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
                if torch.isfinite(grad_norm):
                    self.optimizer.step()
                stats["actor/grad_norm"] = grad_norm
                stats["actor/loss"] = loss
                for k, v in stats.items():
                    acc.setdefault(k, []).append(float(v.detach()) if isinstance(v, torch.Tensor) else float(v))
        out = {k: sum(v) / len(v) for k, v in acc.items()}
        out["actor/lr"] = lr
        return out

    # ------------------------------------------------------------------ logging
    def _maybe_log_samples(self, step: int, ro: Rollouts) -> None:
        cfg = self.config
        if not cfg.sample_every or cfg.samples_logged == 0 or step % cfg.sample_every:
            return
        rows = ro.sample_records(step, cfg.samples_logged, lambda p: self.prompter.prompt(self.task, p))
        write_records(self.run.path / "samples" / f"step-{step}.jsonl", rows)
        first = rows[0]
        self.log(f"[rl] sample step {step} (score {first['score']:.2f}): {first['completion'][:160]!r}")

    def _periodic_eval(self, final: bool) -> dict[str, float]:
        hook = self.config.eval
        if not hook.every or (not final and self.step % hook.every):
            return {}
        ecfg = hook.eval_config(str(self.run.path))  # its config.yaml names the training seeds (clash check)
        self.model.eval()
        summary = run_eval(
            ecfg,
            self.run.path / "evals" / f"step-{self.step}",
            model=self.model,
            tokenizer=self.tokenizer,
            progress=False,
            log=lambda _m: None,
        )
        self.model.train()
        return eval_metrics(summary, ecfg.task)

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train until ``steps`` or a budget is reached; save the final model; return a summary."""
        t_start = time.perf_counter()
        self.run.open_tracker(self.config.logging, resume_step=self.step)
        try:
            stop_reason = self._fit_loop(t_start)
        finally:
            self.rollout_workers.close()
            self.run.close_tracker()
        self._save()
        self.run.save_final_model(self.model, self.tokenizer)
        summary = {
            "steps": self.step,
            "stop_reason": stop_reason,
            "totals": self.totals,
            "flops_by_phase": self.flops_by_phase,
            "flops_total": self.ledger.flops_total,
            "model": str(self.run.model_dir),
            "train_prompts": str(self.prompts_path),
            "seconds": time.perf_counter() - t_start,
            "machine": {**device_record(str(self.device)), "versions": versions()},
        }
        atomic_write_text(self.run.path / "summary.json", json.dumps(summary, indent=1))
        return summary

    def _fit_loop(self, t_start: float) -> str:
        """Steps until ``steps`` or a budget is reached; returns the stop reason."""
        cfg = self.config
        done_here = 0
        while self.step < cfg.steps:
            reached = self.budget_reached()
            if reached:
                return f"budget:{reached}"
            metrics = self.train_step()
            done_here += 1
            val = self._periodic_eval(final=self.step == cfg.steps)
            metrics.update(val)
            if self.step % cfg.log_every == 0 or self.step == cfg.steps or val:
                self.run.log_metrics(self.step, metrics)
                elapsed = time.perf_counter() - t_start
                eta = elapsed / done_here * (cfg.steps - self.step)
                self.log(
                    f"[rl] step {self.step}/{cfg.steps} score {metrics.get('critic/score/mean', 0):.3f} "
                    f"acc {metrics.get('acc/mean', 0):.3f} len {metrics.get('response_length/mean', 0):.1f} "
                    f"zero_std {metrics.get('frac_reward_zero_std', 0):.2f} "
                    f"gen tok/s {metrics.get('perf/rollout_tokens_per_s', 0):,.0f} "
                    f"step {metrics.get('timing_s/step', 0):.1f}s eta {eta:.0f}s"
                )
            if cfg.save_every and self.step % cfg.save_every == 0:
                self._save()
        return "steps"


def train_rl(config: RLConfig, *, overwrite: bool = False, log: Any = None) -> dict[str, Any]:
    """Run (or resume) RL training for ``config``; returns the run summary.

    ``overwrite`` deletes an existing run of this name first (only a directory with the run marker).
    """
    return RLTrainer(config, overwrite=overwrite, log=log).fit()
