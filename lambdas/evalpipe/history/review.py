"""Review: compare a parsed run with its baseline and write its HTML report.

Runs at the end of the parse step, once the run's summary and records are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.history.compare import compare_runs, find_comparable_baseline, run_facts
from evalpipe.history.records import compare_records, score_samples
from evalpipe.history.report import render_report
from evalpipe.run.status import reviewed_verdict
from evalpipe.run.triggers import report_key

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run
    from evalpipe.suite import Suite

# How many earlier runs the report's trend charts show.
TREND_RUNS = 30


def review(run: Run, suite: Suite, ports: Ports) -> Run:
    """Store the comparison with the baseline run, the final verdict and the report.

    Parameters
    ----------
    run
        The run as stored after parsing (status COMPLETED, metrics, verdict).
    suite
        The suite as validated for this run (regression rules, low-score rules).

    Returns
    -------
    Run
        The run as stored after the review.
    """
    # What a later run checks before it takes this one as its baseline.
    run.facts = run_facts(suite)
    baseline, notes = find_comparable_baseline(ports.runs, run, suite)
    records = list(ports.runs.iter_records(run.run_id))
    baseline_records = list(ports.runs.iter_records(baseline.run_id)) if baseline else []
    changes = compare_records(records, baseline_records, suite) if baseline else []
    samples = score_samples(records, baseline_records) if baseline else None
    comparison = compare_runs(
        run, baseline, suite, record_changes=changes, samples=samples, comparability_notes=notes
    )
    run.comparison = comparison
    if run.verdict is not None:
        incomplete = run.coverage is not None and not run.coverage.complete
        run.verdict = reviewed_verdict(run.verdict, regressed=comparison.regressed, incomplete=incomplete)
    run.report_key = report_key(suite.name, run.run_id)
    reviewed = ports.runs.save(run)
    html = render_report(
        reviewed,
        records,
        ports.runs.history(suite.name, limit=TREND_RUNS),
        comparison,
    )
    ports.objects.put_text(run.report_key, html, "text/html; charset=utf-8")
    return reviewed
