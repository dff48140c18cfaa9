"""Regressions of classic metrics: lower-is-better Toxicity and Robustness, Robustness in percent."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.history.compare import compare_runs
from evalpipe.history.records import compare_records
from evalpipe.run.model import MetricStatus, RecordItem
from evalpipe.suite import Suite
from tests.unit.history.builders import metric, run_item

ACCURACY, ROBUSTNESS, TOXICITY = "Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"


def classic_suite(**regression: Any) -> Suite:
    document: dict[str, Any] = {
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "QuestionAndAnswer",
                        "dataset": {"name": "faq"},
                        "metricNames": [ACCURACY, ROBUSTNESS, TOXICITY],
                    }
                ]
            }
        },
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
    }
    if regression:
        document["pipeline"] = {"regression": regression}
    return Suite.from_document("faq", document)


def compare(name: str, before: float, after: float, suite: Suite | None = None) -> Any:
    rule = {ROBUSTNESS: "> 20", TOXICITY: "> 0.5"}.get(name, "< 0.5")
    baseline = run_item("base-run", {name: metric(before, rule=rule)})
    current = run_item("this-run", {name: metric(after, rule=rule)})
    entry = compare_runs(current, baseline, suite or classic_suite()).metric(name)
    assert entry is not None
    return entry


def test_robustness_rising_by_more_than_a_tenth_of_its_scale_regressed() -> None:
    # Given Robustness (a percentage, lower is better) rising from 50 to 62 points
    entry = compare(ROBUSTNESS, 50.0, 62.0)

    # Then the inherited 0.1 absolute limit counts as 10 points and the rise regressed
    assert entry.lower_is_better
    assert entry.max_absolute_drop == pytest.approx(10.0)
    assert entry.status == MetricStatus.REGRESSED
    assert "rose by 12.000 (limit 10)" in entry.reason


def test_robustness_moving_within_ten_points_and_a_fifth_is_ok() -> None:
    # Given 60 -> 68 points: 8 points (< 10) and 13% of the baseline (< 20%)
    entry = compare(ROBUSTNESS, 60.0, 68.0)
    # Then it is within limits; a fall is an improvement
    assert entry.status == MetricStatus.OK
    assert compare(ROBUSTNESS, 60.0, 40.0).reason == "improved by 20.000"


def test_a_limit_set_for_robustness_itself_is_in_points() -> None:
    # Given maxAbsoluteDrop 5 for Robustness (its own units) and 0.05 as the default
    suite = classic_suite(default={"maxAbsoluteDrop": 0.05}, metrics={"Robustness": {"maxAbsoluteDrop": 5}})

    # Then Robustness uses 5 points as written, while the default scales to 5 points as well
    assert compare(ROBUSTNESS, 60.0, 66.0, suite).max_absolute_drop == 5
    assert compare(
        ROBUSTNESS, 60.0, 66.0, classic_suite(default={"maxAbsoluteDrop": 0.05})
    ).max_absolute_drop == (pytest.approx(5.0))
    # And 0-1 metrics keep the default as written
    assert compare(ACCURACY, 0.9, 0.8, suite).max_absolute_drop == 0.05


def test_toxicity_rising_is_a_regression() -> None:
    # Given Toxicity (0-1, lower is better) rising from 0.1 to 0.25
    entry = compare(TOXICITY, 0.1, 0.25)
    # Then it regressed on the unscaled 0.1 limit
    assert entry.lower_is_better
    assert entry.max_absolute_drop == pytest.approx(0.1)
    assert entry.regressed


def test_record_changes_of_robustness_are_rises() -> None:
    # Given one prompt whose Robustness rose from 10 to 40 points
    def item(score: float) -> RecordItem:
        return RecordItem.model_validate(
            {
                "index": 0,
                "record_key": "Builtin.BoolQ/id:1",
                "category": "c",
                "scores": {ROBUSTNESS: {"score": score}},
            }
        )

    # When records are compared / Then the rise is a worsening by 30 points
    [change] = compare_records([item(40.0)], [item(10.0)], classic_suite())
    assert (change.kind, change.worsened_by) == ("WORSENED", pytest.approx(30.0))
