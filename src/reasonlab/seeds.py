"""Every seed namespace of the lab, and the prompt hash that enforces held-out evaluation.

Who draws problems, and from which seeds (``Task.generate(params, n, seed)``; draw ``i`` of a seed uses
``random.Random(stable_seed(task, seed, i))``):

- pre-/mid-training data: ``TRAIN_SEED_BASE + 1000 * run_seed + phase + component``
  (:func:`train_data_seed`; phase 0 or 500, component < 500; tokenizer extras use component ``400 + j``),
  in ``[1e9, 1e9 + 1000 * (run_seed + 1))``;
- RL prompts: ``stable_seed("rl-train", seed, step, round) mod 2^31`` (:func:`rl_prompt_seed`), in ``[0, 2^31)``;
- quick evaluation after training: the quick-eval config's ``seed``, in ``[0, TRAIN_SEED_BASE)``;
- evaluation harness: ``2^62 + stable_seed("reasonlab-eval", ...) mod 2^62`` (:func:`eval_problem_seed`),
  in ``[2^62, 2^63)``;
- a memorisation test's fixed training and test sets (:mod:`reasonlab.experiments.memorisation`):
  ``2^62 + stable_seed("reasonlab-memorisation", data_seed) mod 2^62`` (:func:`memorisation_data_seed`), in
  the evaluation range too: sets a base model never drew as training data, trained on only by the test's arms.

Seeds give reproducibility, not held-out-ness: two seeds can draw the same prompt (small problem
spaces repeat), and the RL range overlaps the quick evaluation's (kept as it was, so RL runs
reproduce). What guarantees that an evaluation problem was never trained on is the **prompt hash**:
every training phase writes the 64-bit :func:`prompt_hash` of each problem prompt it trained on to
``data/prompt_hashes.npy`` in its run directory (:func:`reasonlab.rundir.prompt_hashes_path`), and the
evaluation harness drops any problem whose prompt hash occurs anywhere in the model's training
lineage. The seed check on top of it (an evaluation problem seed must not appear in a training
config) catches configuration mistakes early.
"""

from __future__ import annotations

import hashlib

from reasonlab.errors import ReasonlabError

__all__ = [
    "EVAL_SEED_BASE",
    "PHASE_OFFSETS",
    "TRAIN_SEED_BASE",
    "eval_problem_seed",
    "eval_sample_seed",
    "is_training_seed",
    "memorisation_data_seed",
    "prompt_hash",
    "rl_prompt_seed",
    "rl_rollout_seed",
    "stable_seed",
    "train_data_seed",
]

#: Every pre-/mid-training data seed is >= this (and quick-evaluation seeds stay below it).
TRAIN_SEED_BASE = 1_000_000_000
#: Offset of each training phase inside a run seed's block of 1000 seeds.
PHASE_OFFSETS = {"pretrain": 0, "midtrain": 500}
#: Evaluation-harness problem seeds live in [2^62, 2^63), far from every training seed.
EVAL_SEED_BASE = 2**62


def stable_seed(*parts: object) -> int:
    """A 64-bit seed derived from ``parts`` with SHA-256: identical on every machine and Python.

    ``int.from_bytes(sha256(":".join(map(str, parts)))[:8], "little")``.
    """
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def prompt_hash(prompt: str) -> int:
    """Signed 64-bit hash of a prompt (SHA-1 prefix): the unit of the held-out check."""
    return int.from_bytes(hashlib.sha1(prompt.encode()).digest()[:8], "little", signed=True)


def train_data_seed(run_seed: int, component: int, phase: str = "pretrain") -> int:
    """``TRAIN_SEED_BASE + 1000 * run_seed + PHASE_OFFSETS[phase] + component`` (component < 500)."""
    if phase not in PHASE_OFFSETS:
        raise ReasonlabError(f"unknown training phase {phase!r} (allowed: {', '.join(PHASE_OFFSETS)})")
    if not 0 <= component < 500:
        raise ReasonlabError(f"a mixture may have at most 500 components, got index {component}")
    if run_seed < 0:
        raise ReasonlabError(f"seed must be >= 0, got {run_seed}")
    return TRAIN_SEED_BASE + 1000 * run_seed + PHASE_OFFSETS[phase] + component


def is_training_seed(seed: int) -> bool:
    """True when ``seed`` lies in the pre-/mid-training data range (quick-eval seeds must not)."""
    return seed >= TRAIN_SEED_BASE


def rl_prompt_seed(run_seed: int, step: int, round_: int) -> int:
    """Problem seed of one RL rollout round: ``stable_seed("rl-train", seed, step, round) mod 2^31``."""
    return stable_seed("rl-train", run_seed, step, round_) % (2**31)


def rl_rollout_seed(run_seed: int, step: int, round_: int, row: int) -> int:
    """Sampler seed of one RL rollout row: ``stable_seed("rl-rollout", seed, step, round, row) mod 2^31``."""
    return stable_seed("rl-rollout", run_seed, step, round_, row) % (2**31)


def eval_problem_seed(config_seed: int, task: str, knob: str, value: int | str) -> int:
    """Seed of one evaluation bucket's problems: ``2^62 + stable_seed("reasonlab-eval", ...) mod 2^62``."""
    return EVAL_SEED_BASE + stable_seed("reasonlab-eval", config_seed, task, knob, value) % EVAL_SEED_BASE


def memorisation_data_seed(data_seed: int) -> int:
    """Seed of a memorisation test's training + test sets: ``2^62 + stable_seed("reasonlab-memorisation",
    data_seed) mod 2^62``."""
    return EVAL_SEED_BASE + stable_seed("reasonlab-memorisation", data_seed) % EVAL_SEED_BASE


def eval_sample_seed(config_seed: int, problem_id: str, seed_index: int, sample_index: int) -> int:
    """Sampler seed of one evaluation sample: a stable 63-bit hash, independent of batching."""
    return stable_seed("reasonlab-eval-sample", config_seed, problem_id, seed_index, sample_index) % 2**63
