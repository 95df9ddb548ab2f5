"""Experiments: recipes (YAML pipelines of pretrain -> rl -> eval -> compare -> report) in
:mod:`~reasonlab.experiments.pipeline`, and the verifier demo (:mod:`~reasonlab.experiments.verifier_demo`)."""
