"""The run report: one static HTML page per run (``runs/<run_id>/index.html``), and the facts behind it.

``write_report`` renders a run's page from its artifacts and stores it beside them; ``load_run`` reads
the run's records, which ``factory runs`` shows on the console too.
"""

from jobs.report.facts import OUTCOMES, RunFacts, load_run, phase_cost, phase_seconds, tone
from jobs.report.links import REPORT_NAME, report_key
from jobs.report.page import render_report, write_report

__all__ = [
    "OUTCOMES",
    "REPORT_NAME",
    "RunFacts",
    "load_run",
    "phase_cost",
    "phase_seconds",
    "render_report",
    "report_key",
    "tone",
    "write_report",
]
