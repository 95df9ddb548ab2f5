"""Evaluation: the "Sober Look" protocol (seeds x samples, run record), statistics and analyses.

``reasonlab.eval.metrics`` holds the pure statistics, ``reasonlab.eval.protocol`` the harness
(:class:`EvalConfig`, :func:`run_eval`), ``reasonlab.eval.analyses`` the analyses over sample records
and ``reasonlab.eval.compare`` the paired comparison of two evaluation runs.
"""
