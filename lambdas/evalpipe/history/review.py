"""Review: compare a parsed run with its baseline and write its HTML report.

Runs at the end of the parse step, once the run's summary and records are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.history import compare_records, compare_runs, find_baseline, render_report, verdict
from evalpipe.run.triggers import report_key

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.suite import Suite

# How many earlier runs the report's trend charts show.
TREND_RUNS = 30


def review(run: dict, suite: Suite, ports: Ports) -> str:
    """Store the comparison with the baseline run and the report; return the run's final verdict.

    Parameters
    ----------
    run
        The run item as stored after parsing (status COMPLETED, metrics, verdict).
    suite
        The suite as validated for this run (regression rules, low-score rules).
    """
    run_id = run["run_id"]
    baseline = find_baseline(ports.runs, run, suite)
    changes = (
        compare_records(ports.runs.iter_records(run_id), ports.runs.iter_records(baseline["run_id"]), suite)
        if baseline
        else []
    )
    comparison = compare_runs(run, baseline, suite, record_changes=changes)
    final = verdict(comparison, run["verdict"])
    key = report_key(suite.name, run_id)
    reviewed = ports.runs.update_run(run_id, comparison=comparison.as_item(), verdict=final, report_key=key)
    html = render_report(
        reviewed,
        list(ports.runs.iter_records(run_id)),
        ports.runs.suite_history(suite.name, limit=TREND_RUNS),
        comparison,
    )
    ports.objects.put_text(key, html, "text/html; charset=utf-8")
    return final
