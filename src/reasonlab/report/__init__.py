"""Reports from run directories: matplotlib plots (:mod:`.plots`) and markdown (:mod:`.markdown`).

``reasonlab report RUN_DIR`` (re)writes ``report.md`` and ``plots/*.png`` from ``eval/summary.json`` and
``eval/samples.jsonl``; the plots use matplotlib's Agg backend, so no display is needed.
"""

from reasonlab.report.markdown import compare_markdown, render_report, write_report

__all__ = ["compare_markdown", "render_report", "write_report"]
