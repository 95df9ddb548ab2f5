"""reasonlab: a controlled laboratory for how pre-training, mid-training and RL shape reasoning."""

__version__ = "0.1.0"
