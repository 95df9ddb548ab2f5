"""Training: corpora from task mixtures, pre-training, mid-training (SFT / continued next-token), RL.

- :mod:`reasonlab.train.data`: mixture spec -> problems -> tokens -> packed rows (training seed space).
- :mod:`reasonlab.train.loop`: the one loop (AdamW, warmup + cosine, clipping, checkpoints, resume).
- :mod:`reasonlab.train.pretrain` / :mod:`reasonlab.train.midtrain`: the two phases' configs and runs.
- :mod:`reasonlab.train.quick_eval`: greedy accuracy by bucket after a run.
- :mod:`reasonlab.train.rl`: the RL trainer and its algorithms.
"""
