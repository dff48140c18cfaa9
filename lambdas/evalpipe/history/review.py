"""Review: compare a parsed run with its baseline and write its HTML report.

Runs at the end of the parse step, once the run's summary and records are stored. Both runs'
scores are `ScoreTable`s (the parse step's taken as it stores them, the baseline's read), held on
disk with their matching, so the review's memory does not grow with the runs; the texts of the few
records the comparison and the report show are read back by index.
"""

from __future__ import annotations

from contextlib import closing
from functools import partial
from typing import TYPE_CHECKING

from evalpipe.history.compare import (
    MAX_STORED_RECORD_CHANGES,
    compare_runs,
    find_comparable_baseline,
    run_facts,
)
from evalpipe.history.records import compare_records, score_samples
from evalpipe.history.report import render_report
from evalpipe.history.score_table import ScoreTable
from evalpipe.run.status import reviewed_verdict
from evalpipe.run.triggers import report_key

if TYPE_CHECKING:
    from evalpipe.aws.runs_table import RunsTable
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run
    from evalpipe.suite import Suite

# How many earlier runs the report's trend charts show.
TREND_RUNS = 30


def review(run: Run, suite: Suite, ports: Ports, records: ScoreTable | None = None) -> Run:
    """Store the comparison with the baseline run, the final verdict and the report.

    Parameters
    ----------
    run
        The run as stored after parsing (status COMPLETED, metrics, verdict).
    suite
        The suite as validated for this run (regression rules, low-score rules).
    records
        The run's scores, when the caller took them as it stored the records; else they are read.

    Returns
    -------
    Run
        The run as stored after the review.
    """
    # What a later run checks before it takes this one as its baseline.
    run.facts = run_facts(suite)
    if records is None:
        with closing(scores_of(run.run_id, ports.runs)) as read:
            return review(run, suite, ports, records=read)
    baseline, notes = find_comparable_baseline(ports.runs, run, suite)
    if baseline is not None:
        with closing(scores_of(baseline.run_id, ports.runs)) as baseline_records:
            samples = score_samples(records, baseline_records)
            changes = compare_records(
                records, baseline_records, suite, limit=MAX_STORED_RECORD_CHANGES, matching=samples.matching
            )
            comparison = compare_runs(
                run, baseline, suite, record_changes=changes, samples=samples, comparability_notes=notes
            )
    else:
        comparison = compare_runs(run, None, suite, comparability_notes=notes)
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


def scores_of(run_id: str, runs: RunsTable) -> ScoreTable:
    """The run's stored scores as a `ScoreTable`; texts are read back by index when shown."""
    return ScoreTable.read_stored(runs.iter_record_scores(run_id), partial(runs.get_records, run_id))
