#!/usr/bin/env bash
# GRPO with verl on the op edge (ops 11-14) with reasonlab's process reward, mirroring the CMU lab's
# settings (docs/scaling.md; /work/shared/reference/arith_graph.md "The CMU lab settings"):
#   1024 prompts/step x 6 rollouts at T=1.0, PPO mini-batch 256, lr 1e-6, KL in the loss (k3, i.e.
#   verl's low_var_kl) at 0.001, no entropy bonus, clip 0.2, token-mean loss, 1 PPO epoch, prompts and
#   responses up to 1024 tokens, ~200 steps; process reward (w_a 0.2, w_s 0.8), 0 when the answer is wrong.
# Run on a GPU node after `pip install verl==0.9.1 vllm` (its own environment) and `pip install -e .`:
#   MODEL=/path/to/hf_model DATA=/path/to/verl_data NGPUS=8 bash examples/verl/run_grpo_edge.sh
# MODEL: `reasonlab export hf runs/<pretrain>/model $MODEL` (a Qwen2 directory with the exported tokenizer).
# DATA:  `reasonlab export verl --task arith --ops 11-14 --context zoo --mode mix --num-mode range \
#           --train-n 200000 --test-n 800 --seed 0 --out $DATA --reward process`
set -euo pipefail
MODEL="${MODEL:?set MODEL to an HF export}"
DATA="${DATA:?set DATA to a reasonlab export verl directory}"
NGPUS="${NGPUS:-8}"
NNODES="${NNODES:-1}"
REWARD_FILE="$(python3 -c 'import reasonlab.integrations.verl as m; print(m.__file__)')"

python3 -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.use_kl_in_reward=False \
  algorithm.norm_adv_by_std_in_grpo=True \
  data.train_files="$DATA/train.parquet" \
  data.val_files="$DATA/test.parquet" \
  data.prompt_key=prompt \
  data.train_batch_size=1024 \
  data.max_prompt_length=1024 \
  data.max_response_length=1024 \
  data.filter_overlong_prompts=True \
  data.truncation=error \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.model.use_remove_padding=True \
  actor_rollout_ref.model.enable_gradient_checkpointing=False \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=256 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=32 \
  actor_rollout_ref.actor.ppo_epochs=1 \
  actor_rollout_ref.actor.clip_ratio=0.2 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  actor_rollout_ref.actor.use_kl_loss=True \
  actor_rollout_ref.actor.kl_loss_coef=0.001 \
  actor_rollout_ref.actor.kl_loss_type=low_var_kl \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=6 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.top_p=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=64 \
  actor_rollout_ref.rollout.val_kwargs.temperature=0.7 \
  actor_rollout_ref.rollout.val_kwargs.do_sample=True \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=64 \
  reward.custom_reward_function.path="$REWARD_FILE" \
  reward.custom_reward_function.name=compute_score \
  +reward.custom_reward_function.reward_kwargs.reward=process \
  +reward.custom_reward_function.reward_kwargs.w_a=0.2 \
  +reward.custom_reward_function.reward_kwargs.w_s=0.8 \
  trainer.project_name=reasonlab \
  trainer.experiment_name=grpo_edge_process \
  trainer.logger='["console","tensorboard"]' \
  trainer.n_gpus_per_node="$NGPUS" \
  trainer.nnodes="$NNODES" \
  trainer.total_training_steps=200 \
  trainer.save_freq=50 \
  trainer.test_freq=25 \
  trainer.val_before_train=True \
  "$@"
