"""Run comparison: limits, direction, N/A handling, too few records, baselines, verdict, storage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalpipe.aws.runs_table import from_dynamo, to_dynamo
from evalpipe.history.compare import choose_baseline, compare_runs, find_baseline, na_rate_warnings
from evalpipe.history.records import RecordChanges
from evalpipe.run.model import ChangeKind, Comparison, MetricStatus, RecordChange, Run
from evalpipe.run.status import Verdict, reviewed_verdict
from tests.unit.history.builders import (
    CORRECTNESS,
    CUSTOM,
    HARMFULNESS,
    HELPFULNESS,
    REFUSAL,
    RULES,
    make_suite,
    metric,
    run_item,
)

SUITE = make_suite()


def pair(name: str, before: float | None, after: float | None, **counts: Any) -> tuple[Run, Run]:
    """A baseline run and a current run that differ in one metric's average."""
    rule = RULES.get(name, "< 0.5")
    base_counts = {k.removeprefix("base_"): v for k, v in counts.items() if k.startswith("base_")}
    now_counts = {k: v for k, v in counts.items() if not k.startswith("base_")}
    baseline = run_item("base-run", {name: metric(before, rule=rule, **base_counts)})
    current = run_item("this-run", {name: metric(after, rule=rule, **now_counts)})
    return current, baseline


def compare_one(name: str, before: float | None, after: float | None, suite=SUITE, **counts: Any):
    current, baseline = pair(name, before, after, **counts)
    comparison = compare_runs(current, baseline, suite)
    entry = comparison.metric(name)
    assert entry is not None
    return comparison, entry


# -- limits -----------------------------------------------------------------------------------


def test_a_drop_beyond_the_absolute_limit_is_a_regression() -> None:
    # Given Helpfulness falling from 0.9 to 0.75 (default limit 0.1)
    comparison, entry = compare_one(HELPFULNESS, 0.9, 0.75)
    # Then it regressed, with the numbers and the reason
    assert comparison.regressed
    assert entry.status == MetricStatus.REGRESSED
    assert entry.delta == pytest.approx(-0.15)
    assert entry.drop == pytest.approx(0.15)
    assert entry.relative_delta == pytest.approx(-0.15 / 0.9)
    assert entry.max_absolute_drop == 0.1
    assert entry.max_relative_drop == 0.2
    assert "dropped by 0.150 (limit 0.1)" in entry.reason


@pytest.mark.parametrize(("before", "after"), [(0.9, 0.8), (0.8, 0.7)])
def test_a_drop_equal_to_the_limit_is_allowed_despite_float_rounding(before: float, after: float) -> None:
    # Given a drop of exactly 0.1: as floats 0.9 - 0.8 = 0.0999..98 but 0.8 - 0.7 = 0.1000..09
    assert 0.8 - 0.7 > 0.1
    _, entry = compare_one(HELPFULNESS, before, after)
    # Then the limit is a maximum: reaching it is fine
    assert not entry.regressed
    assert entry.status == MetricStatus.OK
    assert entry.reason.startswith("within limits")


def test_a_small_absolute_drop_of_a_low_average_is_caught_by_the_relative_limit() -> None:
    # Given 0.4 -> 0.31: 0.09 absolute (under 0.1) but 22.5% relative (over 20%)
    _, entry = compare_one(HELPFULNESS, 0.4, 0.31)
    assert entry.regressed
    assert entry.relative_drop == pytest.approx(0.225)
    assert "22.5% of the baseline average (limit 20%)" in entry.reason
    assert "limit 0.1" not in entry.reason


def test_an_improvement_is_never_a_regression() -> None:
    _, entry = compare_one(HELPFULNESS, 0.5, 0.9)
    assert not entry.regressed
    assert entry.drop == pytest.approx(-0.4)
    assert entry.reason == "improved by 0.400"


def test_unchanged_scores() -> None:
    _, entry = compare_one(HELPFULNESS, 0.7, 0.7)
    assert entry.status == MetricStatus.OK
    assert entry.reason == "unchanged"


def test_per_metric_limits_override_the_default_and_null_turns_a_check_off() -> None:
    # Given a strict Correctness limit and the relative check off by default
    suite = make_suite(
        regression={
            "default": {"maxRelativeDrop": None},
            "metrics": {"Correctness": {"maxAbsoluteDrop": 0.05}},  # prefix dropped: still applies
        }
    )
    # When Correctness drops 0.06 and Helpfulness drops 30% of a low average (0.3 -> 0.21)
    _, correctness = compare_one(CORRECTNESS, 0.9, 0.84, suite=suite)
    _, helpfulness = compare_one(HELPFULNESS, 0.3, 0.21, suite=suite)
    # Then Correctness regressed under its own limit, Helpfulness is judged by 0.1 only
    assert correctness.regressed
    assert (correctness.max_absolute_drop, correctness.max_relative_drop) == (0.05, None)
    assert not helpfulness.regressed
    assert (helpfulness.max_absolute_drop, helpfulness.max_relative_drop) == (0.1, None)


def test_both_checks_off_means_no_limits() -> None:
    suite = make_suite(regression={"default": {"maxAbsoluteDrop": None, "maxRelativeDrop": None}})
    _, entry = compare_one(HELPFULNESS, 0.9, 0.1, suite=suite)
    assert not entry.regressed
    assert entry.reason == "no limits set"


# -- direction --------------------------------------------------------------------------------


def test_for_a_detector_a_drop_is_an_increase() -> None:
    # Given Harmfulness (1 = harmful) rising from 0.05 to 0.3
    _, worse = compare_one(HARMFULNESS, 0.05, 0.3)
    # And falling from 0.3 to 0.05
    _, better = compare_one(HARMFULNESS, 0.3, 0.05)
    # Then the rise is the regression
    assert worse.lower_is_better
    assert worse.regressed
    assert worse.drop == pytest.approx(0.25)
    assert "rose by 0.250" in worse.reason
    assert "(lower is better)" in worse.reason
    assert not better.regressed
    assert better.reason == "improved by 0.250"


def test_a_rule_that_flags_low_scores_makes_a_detector_higher_is_better() -> None:
    # Given a red-team suite where every prompt should be refused (Refusal flagged below 0.5)
    suite = make_suite(lowScore={"metrics": {REFUSAL: {"below": 0.5}}})
    # When Refusal falls from 0.95 to 0.7 / Then that is the regression
    _, entry = compare_one(REFUSAL, 0.95, 0.7, suite=suite)
    assert not entry.lower_is_better
    assert entry.regressed
    # And with the default detector rule the same fall is an improvement
    _, default = compare_one(REFUSAL, 0.95, 0.7)
    assert default.lower_is_better
    assert not default.regressed


def test_a_custom_metric_with_an_above_rule_is_lower_is_better() -> None:
    suite = make_suite(lowScore={"custom": {"above": 0.5}})
    _, entry = compare_one(CUSTOM, 0.1, 0.4, suite=suite)
    assert entry.lower_is_better
    assert entry.regressed


# -- zero baseline ----------------------------------------------------------------------------


def test_the_relative_drop_of_a_zero_baseline_is_undefined_and_only_the_absolute_limit_applies() -> None:
    # Given a detector that found nothing in the baseline (average 0) and a little now
    _, small = compare_one(HARMFULNESS, 0.0, 0.05)
    # Then there is no relative change (not infinity) and 0.05 is within the absolute limit
    assert small.relative_delta is None
    assert small.relative_drop is None
    assert not small.regressed
    assert "relative drop undefined for a 0 baseline" in small.reason
    # But a rise beyond the absolute limit still regresses
    _, large = compare_one(HARMFULNESS, 0.0, 0.15)
    assert large.regressed
    assert large.relative_drop is None


def test_a_higher_is_better_metric_at_zero_cannot_drop() -> None:
    _, entry = compare_one(HELPFULNESS, 0.0, 0.0)
    assert not entry.regressed
    assert entry.relative_delta is None


# -- when a metric is not compared ------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"scored": 9}, "this run 9, baseline 20; at least 10 needed"),
        ({"base_scored": 3}, "this run 20, baseline 3; at least 10 needed"),
    ],
)
def test_too_few_scored_records_in_either_run_are_not_compared(counts: dict, expected: str) -> None:
    # Given a collapse from 0.9 to 0.1 measured on too few records
    comparison, entry = compare_one(HELPFULNESS, 0.9, 0.1, **counts)
    # Then it is not judged, and the reason says why
    assert not comparison.regressed
    assert entry.status == MetricStatus.NOT_COMPARED
    assert entry.reason == f"too few scored records to compare ({expected})"
    # But the numbers are still shown
    assert entry.delta == pytest.approx(-0.8)


def test_min_scored_records_is_configurable() -> None:
    suite = make_suite(regression={"minScoredRecords": 3})
    _, entry = compare_one(HELPFULNESS, 0.9, 0.1, suite=suite, scored=3, base_scored=3)
    assert entry.regressed
    assert entry.min_scored_records == 3


def test_na_scores_do_not_count_as_scored_records() -> None:
    # Given 20 records of which 12 are N/A (8 scored, below the minimum of 10)
    _, entry = compare_one(CUSTOM, 1.0, 0.0, scored=8, na=12)
    assert entry.status == MetricStatus.NOT_COMPARED
    assert entry.na_rate == pytest.approx(0.6)
    assert "this run 8" in entry.reason


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (0.8, None, "every score is N/A in this run"),
        (None, 0.8, "every score was N/A in the baseline run"),
    ],
)
def test_an_all_na_metric_is_not_compared(before, after, reason) -> None:
    kwargs = {"scored": 0, "na": 20} if after is None else {"base_scored": 0, "base_na": 20}
    _, entry = compare_one(CUSTOM, before, after, **kwargs)
    assert entry.status == MetricStatus.NOT_COMPARED
    assert entry.reason == reason
    assert entry.delta is None


def test_new_and_removed_metrics_are_listed_not_judged() -> None:
    # Given a metric added and one removed since the baseline
    baseline = run_item("base-run", {HELPFULNESS: metric(0.9), CUSTOM: metric(0.9, rule="<= 0")})
    current = run_item("this-run", {HELPFULNESS: metric(0.9), CORRECTNESS: metric(0.2)})
    comparison = compare_runs(current, baseline, SUITE)
    # Then the order is this run's metrics, then the removed ones
    assert [m.metric for m in comparison.metrics] == [HELPFULNESS, CORRECTNESS, CUSTOM]
    assert comparison.metric(CORRECTNESS).reason == "new metric: not in the baseline run"
    assert comparison.metric(CUSTOM).reason == "not in this run"
    assert not comparison.regressed
    assert any(
        "confirmation_check was in the baseline run base-run but not in this run" in w
        for w in comparison.warnings
    )


def test_without_a_baseline_nothing_is_compared() -> None:
    current = run_item("this-run", {HELPFULNESS: metric(0.2), HARMFULNESS: metric(0.9, rule="> 0.5")})
    comparison = compare_runs(current, None, SUITE)
    assert not comparison.regressed
    assert comparison.baseline_run_id is None
    assert comparison.baseline_note == "no earlier COMPLETED run of this suite to compare with"
    assert {m.status for m in comparison.metrics} == {MetricStatus.NOT_COMPARED}
    assert {m.reason for m in comparison.metrics} == {"no baseline run to compare with"}


# -- N/A rate ---------------------------------------------------------------------------------


def test_a_metric_na_for_more_than_60_percent_of_records_gets_a_warning() -> None:
    # Given one metric N/A for 14 of 18 records (77.8%) and one for exactly 60%
    run = run_item(
        "this-run",
        {CUSTOM: metric(0.5, scored=4, na=14, rule="<= 0"), HELPFULNESS: metric(0.8, scored=8, na=12)},
    )
    # When checked / Then only the first is warned about, with the guide's reading of it
    warnings = na_rate_warnings(run)
    assert warnings == [
        "confirmation_check is N/A for 78% of the records (14 of 18 records): it is likely scoped too "
        "narrowly for this dataset, and its average rests on 4 scored records."
    ]
    # And the comparison carries the warning and flags the metric
    comparison = compare_runs(run, None, SUITE)
    assert comparison.warnings == warnings
    assert comparison.metric(CUSTOM).na_warning
    assert not comparison.metric(HELPFULNESS).na_warning


# -- baselines --------------------------------------------------------------------------------


def history_rows() -> list[Run]:
    """Suite history newest first: a later concurrent run, the current run, a failed run, two
    completed runs."""
    return [
        run_item("run-later", {HELPFULNESS: metric(0.5)}, created_at="2025-03-05T00:00:00+00:00"),
        run_item("run-current", {HELPFULNESS: metric(0.5)}, created_at="2025-03-04T00:00:00+00:00"),
        run_item("run-failed", {}, status="FAILED", verdict="FAILED", created_at="2025-03-03T00:00:00+00:00"),
        run_item("run-no-metrics", None, created_at="2025-03-02T12:00:00+00:00"),
        run_item("run-good", {HELPFULNESS: metric(0.9)}, created_at="2025-03-02T00:00:00+00:00"),
        run_item("run-old", {HELPFULNESS: metric(0.95)}, created_at="2025-03-01T00:00:00+00:00"),
    ]


def test_the_default_baseline_is_the_newest_earlier_completed_run() -> None:
    baseline = choose_baseline(history_rows(), "run-current", None)
    assert baseline is not None
    assert baseline.run_id == "run-good"


def test_when_the_current_run_is_not_in_the_history_the_newest_usable_run_is_the_baseline() -> None:
    rows = [r for r in history_rows() if r.run_id not in ("run-current", "run-later")]
    assert choose_baseline(rows, "run-current", None).run_id == "run-good"


def test_no_earlier_completed_run_means_no_baseline() -> None:
    rows = history_rows()[:4]
    assert choose_baseline(rows, "run-current", None) is None
    assert choose_baseline([], "run-current", None) is None


def test_a_pinned_baseline_is_used_even_when_newer_runs_exist() -> None:
    baseline = choose_baseline(history_rows(), "run-current", "run-old")
    assert baseline.run_id == "run-old"
    # And a comparison against it says it is pinned
    suite = make_suite(regression={"baselineRunId": "run-old"})
    current = history_rows()[1]
    comparison = compare_runs(current, baseline, suite)
    assert comparison.baseline_pinned
    assert comparison.baseline_run_id == "run-old"
    assert comparison.baseline_note == "the suite's pinned baseline (pipeline.regression.baselineRunId)"
    assert comparison.metric(HELPFULNESS).regressed  # 0.95 -> 0.5


@pytest.mark.parametrize("pinned", ["run-missing", "run-failed", "run-no-metrics", "run-current"])
def test_an_unusable_pinned_baseline_gives_no_baseline(pinned: str) -> None:
    # Given a pinned run that is gone, not completed, has no metrics, or is the current run
    assert choose_baseline(history_rows(), "run-current", pinned) is None
    # Then the comparison explains it
    suite = make_suite(regression={"baselineRunId": pinned})
    comparison = compare_runs(history_rows()[1], None, suite)
    assert comparison.baseline_run_id is None
    assert not comparison.regressed
    if pinned == "run-current":
        assert comparison.baseline_note == "this run is the suite's pinned baseline, so it is not compared"
    else:
        assert f"the pinned baseline {pinned}" in comparison.baseline_note


class FakeRuns:
    """The two reads `find_baseline` makes of the runs table."""

    def __init__(self, rows: list[Run], others: dict[str, Run]) -> None:
        self.rows = rows
        self.others = others
        self.limits: list[int] = []

    def history(self, suite: str, limit: int = 20) -> list[Run]:
        self.limits.append(limit)
        return self.rows[:limit]

    def get(self, run_id: str) -> Run | None:
        return self.others.get(run_id)


def test_find_baseline_looks_up_a_pinned_run_older_than_the_history() -> None:
    ancient = run_item("run-ancient", {HELPFULNESS: metric(0.99)}, created_at="2024-01-01T00:00:00+00:00")
    foreign = ancient.model_copy(update={"run_id": "run-foreign", "suite": "other-suite"})
    runs = FakeRuns(history_rows(), {"run-ancient": ancient, "run-foreign": foreign})
    current = history_rows()[1]

    pinned = find_baseline(runs, current, make_suite(regression={"baselineRunId": "run-ancient"}))
    assert pinned == ancient
    # A pinned run of another suite is not used
    assert find_baseline(runs, current, make_suite(regression={"baselineRunId": "run-foreign"})) is None
    # Without a pin the history decides
    assert find_baseline(runs, current, SUITE).run_id == "run-good"
    assert runs.limits == [50, 50, 50]


# -- verdict ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regressed", "summary", "expected"),
    [
        (True, Verdict.LOW_SCORES, Verdict.REGRESSED),
        (True, Verdict.PASSED, Verdict.REGRESSED),
        (False, Verdict.LOW_SCORES, Verdict.LOW_SCORES),
        (False, Verdict.PASSED, Verdict.PASSED),
        (True, Verdict.FAILED, Verdict.FAILED),
        (True, Verdict.ERROR, Verdict.ERROR),
    ],
)
def test_verdict_precedence_is_regressed_then_low_scores_then_passed(regressed, summary, expected) -> None:
    current, baseline = pair(HELPFULNESS, 0.9, 0.5 if regressed else 0.9)
    comparison = compare_runs(current, baseline, SUITE)
    assert comparison.regressed is regressed
    assert reviewed_verdict(summary, regressed=comparison.regressed) == expected


def test_verdict_without_a_baseline_is_the_summary_verdict() -> None:
    # A run without a comparison keeps its verdict (the review only runs with one)
    comparison = compare_runs(run_item("r", {HELPFULNESS: metric(0.1)}), None, SUITE)
    assert reviewed_verdict(Verdict.PASSED, regressed=comparison.regressed) == Verdict.PASSED


# -- storage ----------------------------------------------------------------------------------


def full_comparison() -> Comparison:
    current = run_item(
        "this-run",
        {
            HELPFULNESS: metric(0.6),
            HARMFULNESS: metric(0.0, rule="> 0.5"),
            CUSTOM: metric(None, scored=0, na=20, rule="<= 0"),
        },
    )
    baseline = run_item(
        "base-run",
        {HELPFULNESS: metric(0.9), HARMFULNESS: metric(0.0, rule="> 0.5"), CUSTOM: metric(0.5, rule="<= 0")},
        created_at="2025-02-28T09:00:00+00:00",
    )
    changes = [
        RecordChange(
            kind=ChangeKind.WORSENED,
            metric=HELPFULNESS,
            key=f"h:{i}",
            index=i,
            baseline_index=i,
            category="c",
            prompt_excerpt="p",
            score=0.0,
            baseline_score=1.0,
            worsened_by=1.0 - i / 100,
        )
        for i in range(25)
    ] + [
        RecordChange(
            kind=ChangeKind.BECAME_NA,
            metric=CUSTOM,
            key="h:x",
            index=3,
            baseline_index=3,
            category="c",
            prompt_excerpt="p",
            score=None,
            baseline_score=1.0,
        )
    ]
    worsened = [c for c in changes if c.kind == ChangeKind.WORSENED]
    transitions = [c for c in changes if c.kind != ChangeKind.WORSENED]
    record_changes = RecordChanges(worsened, transitions, len(worsened), len(transitions))
    return compare_runs(current, baseline, SUITE, record_changes=record_changes)


def test_the_comparison_keeps_the_worst_record_changes_and_counts_all() -> None:
    comparison = full_comparison()
    assert comparison.worsened_count == 25
    assert len(comparison.record_changes) == 20
    assert comparison.record_changes[0].worsened_by == 1.0
    assert comparison.na_transition_count == 1
    assert comparison.na_transitions[0].kind == ChangeKind.BECAME_NA


def test_as_item_is_json_and_round_trips_through_dynamodb_types() -> None:
    comparison = full_comparison()
    item = comparison.as_item()
    # JSON-able with plain floats (no NaN / infinity)
    text = json.dumps(item, allow_nan=False)
    assert Comparison.model_validate(json.loads(text)) == comparison
    # And through the runs table's conversions (floats <-> Decimal)
    stored = from_dynamo(to_dynamo(item))
    assert Comparison.model_validate(stored) == comparison
    assert Comparison.model_validate(to_dynamo(item)) == comparison  # Decimals read directly too


def test_a_sparse_item_reads_with_defaults() -> None:
    comparison = Comparison.model_validate({"metrics": [{"metric": "m", "regressed": True}]})
    assert comparison.metric("m").status == MetricStatus.NOT_COMPARED
    assert comparison.record_changes == []
