"""RL: :mod:`~.config` (what a run is), :mod:`~.rollout` (samples and their tensors), :mod:`~.algorithms`
(advantage estimators and losses, registered by name), :mod:`~.curriculum`, :mod:`~.metrics` and
:mod:`~.trainer` (the loop behind ``reasonlab rl``)."""
