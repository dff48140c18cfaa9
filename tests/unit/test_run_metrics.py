"""What a run publishes to CloudWatch: score statistics (parse) and the verdict (notify)."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.run.metrics import Datum, MetricGroup, score_metric_groups, verdict_metric_groups
from evalpipe.run.model import Run


def summary(average: float | None, scored: int, na: int, low: int, na_rate: float) -> dict[str, Any]:
    return {
        "average": average,
        "scored": scored,
        "na": na,
        "na_rate": na_rate,
        "low_count": low,
        "min": average,
        "max": average,
        "rule": "< 0.5",
    }


def completed_run(**extra: Any) -> Run:
    run: dict[str, Any] = {
        "run_id": "smoke-20261123-190000-1a2b3c4d",
        "suite": "smoke",
        "status": "COMPLETED",
        "created_at": "2026-11-23T19:00:00+00:00",
        "verdict": "REGRESSED",
        "metrics": {
            "confirmation_check": summary(None, scored=0, na=3, low=0, na_rate=1.0),
            "Builtin.Helpfulness": summary(0.5833, scored=3, na=0, low=2, na_rate=0.0),
            "Builtin.Correctness": summary(1, scored=1, na=2, low=0, na_rate=0.6667),
        },
    }
    run.update(extra)
    return Run.model_validate(run)


def test_one_group_per_metric_sorted() -> None:
    # Given a completed run with three metrics, one of them N/A on every record
    groups = score_metric_groups(completed_run())

    # Then each metric is a group of its own (sorted); the verdict is not among them
    assert groups == [
        MetricGroup(
            {"suite": "smoke", "metric": "Builtin.Correctness"},
            [
                Datum("ScoreAverage", "None", 1.0),
                Datum("NaRate", "Percent", 66.67),
                Datum("LowScores", "Count", 0.0),
            ],
        ),
        MetricGroup(
            {"suite": "smoke", "metric": "Builtin.Helpfulness"},
            [
                Datum("ScoreAverage", "None", 0.5833),
                Datum("NaRate", "Percent", 0.0),
                Datum("LowScores", "Count", 2.0),
            ],
        ),
        # no average when every score was N/A (never a made-up 0)
        MetricGroup(
            {"suite": "smoke", "metric": "confirmation_check"},
            [Datum("NaRate", "Percent", 100.0), Datum("LowScores", "Count", 0.0)],
        ),
    ]


@pytest.mark.parametrize("status", ["REJECTED", "FAILED", "ERROR", "IN_PROGRESS"])
def test_runs_that_did_not_complete_publish_no_scores(status) -> None:
    assert score_metric_groups(completed_run(status=status)) == []


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("COMPLETED", "REGRESSED"),
        ("COMPLETED", "PASSED"),
        ("REJECTED", "REJECTED"),
        ("FAILED", "FAILED"),
        ("TIMED_OUT", "TIMED_OUT"),
        ("STOPPED", "STOPPED"),
        ("ERROR", "ERROR"),
    ],
)
def test_every_notified_run_publishes_its_verdict_with_a_suite_less_roll_up(status, verdict) -> None:
    # Given a run as notified, completed or not
    run = completed_run(status=status, verdict=verdict)

    # Then its verdict is one data point per suite, rolled up over every suite
    assert verdict_metric_groups(run) == [
        MetricGroup(
            {"suite": "smoke", "verdict": verdict},
            [Datum("RunVerdict", "Count", 1.0)],
            rollups=[("verdict",)],
        ),
    ]


def test_no_verdict_metric_without_a_suite_or_a_verdict() -> None:
    assert verdict_metric_groups(completed_run(suite="  ")) == []
    assert verdict_metric_groups(completed_run(verdict=None)) == []


def test_a_blank_suite_or_metric_name_publishes_nothing_for_it() -> None:
    assert score_metric_groups(completed_run(suite="  ")) == []
    run = completed_run(
        verdict=None, metrics={"ok": summary(0.5, 1, 0, 0, 0.0), " ": summary(1, 1, 0, 0, 0.0)}
    )
    assert score_metric_groups(run) == [
        MetricGroup(
            {"suite": "smoke", "metric": "ok"},
            [
                Datum("ScoreAverage", "None", 0.5),
                Datum("NaRate", "Percent", 0.0),
                Datum("LowScores", "Count", 0.0),
            ],
        )
    ]
