"""What a parsed run publishes to CloudWatch: per-suite, per-metric statistics and the verdict."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evalpipe.run_metrics import Datum, MetricGroup, run_metric_groups


def completed_run(**extra) -> dict:
    run = {
        "run_id": "smoke-20261123-190000-1a2b3c4d",
        "suite": "smoke",
        "status": "COMPLETED",
        "verdict": "REGRESSED",
        "metrics": {
            "confirmation_check": {"average": None, "scored": 0, "na": 3, "low_count": 0},
            "Builtin.Helpfulness": {"average": Decimal("0.5833"), "scored": 3, "na": 0, "na_rate": 0,
                                    "low_count": 2},
            "Builtin.Correctness": {"average": 1, "scored": 1, "na": 2, "na_rate": Decimal("0.6667"),
                                    "low_count": 0},
        },
    }
    run.update(extra)
    return run


def test_one_group_per_metric_sorted_then_the_verdict() -> None:
    # Given a completed run with three metrics, one of them N/A on every record
    groups = run_metric_groups(completed_run())

    # Then each metric is a group of its own (sorted), the verdict last with a suite-less roll-up
    assert groups == [
        MetricGroup(
            {"suite": "smoke", "metric": "Builtin.Correctness"},
            [Datum("ScoreAverage", "None", 1.0), Datum("NaRate", "Percent", 66.67),
             Datum("LowScores", "Count", 0.0)],
        ),
        MetricGroup(
            {"suite": "smoke", "metric": "Builtin.Helpfulness"},
            [Datum("ScoreAverage", "None", 0.5833), Datum("NaRate", "Percent", 0.0),
             Datum("LowScores", "Count", 2.0)],
        ),
        # no average when every score was N/A (never a made-up 0); the rate comes from the counts
        MetricGroup(
            {"suite": "smoke", "metric": "confirmation_check"},
            [Datum("NaRate", "Percent", 100.0), Datum("LowScores", "Count", 0.0)],
        ),
        MetricGroup({"suite": "smoke", "verdict": "REGRESSED"}, [Datum("RunVerdict", "Count", 1.0)],
                    rollups=[("verdict",)]),
    ]


@pytest.mark.parametrize("status", ["REJECTED", "FAILED", "ERROR", "IN_PROGRESS", None])
def test_runs_that_did_not_complete_publish_nothing(status) -> None:
    assert run_metric_groups(completed_run(status=status)) == []


def test_missing_suite_or_odd_metric_entries_are_skipped() -> None:
    assert run_metric_groups(completed_run(suite="  ")) == []
    run = completed_run(verdict=None, metrics={"ok": {"average": 0.5}, " ": {"average": 1}, "bad": "x"})
    assert run_metric_groups(run) == [
        MetricGroup({"suite": "smoke", "metric": "ok"},
                    [Datum("ScoreAverage", "None", 0.5), Datum("LowScores", "Count", 0.0)])
    ]
