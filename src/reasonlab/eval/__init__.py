"""Evaluation: the "Sober Look" protocol (seeds x samples, run record), statistics and analyses.

- :mod:`~reasonlab.eval.config`: :class:`EvalConfig` (what to evaluate), validated when it loads;
- :mod:`~reasonlab.eval.problems`: held-out problems per bucket;
- :mod:`~reasonlab.eval.protocol`: :func:`run_eval` (sample, verify, record);
- :mod:`~reasonlab.eval.stats` and :mod:`~reasonlab.eval.metrics`: the statistics and their formulas;
- :mod:`~reasonlab.eval.record`: the run record and :func:`load_run`;
- :mod:`~reasonlab.eval.analyses`, :mod:`~reasonlab.eval.compare`, :mod:`~reasonlab.eval.limem`: analyses
  over sample records, the paired comparison of two runs, LiMem;
- :mod:`~reasonlab.eval.quick`: greedy accuracy by bucket, the check a training run ends with.

Reports are written by :mod:`reasonlab.report`, never here.
"""
