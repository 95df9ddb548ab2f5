"""Reports: the only writer of ``report.md`` files and plots.

- :mod:`~reasonlab.report.markdown`: one evaluation run (``reasonlab report RUN_DIR``) and a paired comparison;
- :mod:`~reasonlab.report.pipeline`: the report of a recipe run (``reasonlab run``), verdict first;
- :mod:`~reasonlab.report.study`: every recipe run under a folder on one page (``reasonlab report --study``);
- :mod:`~reasonlab.report.plots`: matplotlib figures (Agg backend, no display needed), written atomically.
"""
