"""Reinforcement learning for reasoning: pure algorithm functions (:mod:`.algorithms`) and the trainer."""
