"""Paired comparison with confidence (issue 13): the bootstrap, noise that must not regress, a real drop
on a minority of records that must, the unpaired fallback, and comparable baselines."""

from __future__ import annotations

import copy
from random import Random
from typing import Any

import pytest

from evalpipe.history.compare import (
    compare_runs,
    differences,
    find_comparable_baseline,
    run_facts,
)
from evalpipe.history.records import score_samples
from evalpipe.history.stats import paired_interval, unpaired_interval
from evalpipe.run.model import MetricStatus, RecordItem, Run
from evalpipe.suite import Suite
from tests.unit.history.builders import (
    CUSTOM,
    HARMFULNESS,
    HELPFULNESS,
    SUITE_NAME,
    make_suite,
    record,
    run_item,
    suite_document,
)

# Bedrock's 5-point judge scale, normalised.
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
SUITE = make_suite()
THRESHOLD_SUITE = make_suite(regression={"method": "threshold"})


# -- the bootstrap: golden vectors -----------------------------------------------------------------

PAIRS = [
    (1.0, 0.5),
    (0.5, 0.5),
    (0.75, 0.5),
    (1.0, 1.0),
    (0.25, 0.75),
    (0.5, 0.25),
    (1.0, 0.75),
    (0.75, 0.75),
    (0.0, 0.5),
    (1.0, 1.0),
    (0.5, 0.5),
    (0.75, 1.0),
]


def test_the_paired_interval_is_pinned_for_the_default_seed() -> None:
    # Given twelve (this run, baseline) pairs whose differences average 0
    change = paired_interval(PAIRS)
    # Then the interval is the golden one (the default seed, 2000 resamples, the percentiles
    # -1/6 and 1/6 widened for 12 pairs), the same every time
    assert change.mean == pytest.approx(0.0)
    assert (change.low, change.high) == pytest.approx((-0.1954743, 0.1954743), abs=1e-6)
    assert change.pairs == 12
    assert change.paired
    assert change.standard_error == pytest.approx(0.0870388, abs=1e-6)
    assert paired_interval(PAIRS) == change


def test_the_unpaired_interval_is_pinned_for_the_default_seed() -> None:
    change = unpaired_interval([1.0, 0.5, 0.75, 0.25, 1.0], [0.5, 0.5, 1.0, 0.75, 0.25, 0.0])
    assert change.mean == pytest.approx(0.2)
    assert (change.low, change.high) == pytest.approx((-0.3660771, 0.7660771), abs=1e-6)
    assert not change.paired
    assert change.pairs == 0
    # The smallest drop it could detect: tolerance + (1.96 + 0.84) x standard error
    assert change.detectable(0.05) == pytest.approx(0.6247234, abs=1e-6)


def test_another_seed_gives_another_interval_but_the_same_mean() -> None:
    spread = [(x, 0.0) for x in (0.1, 0.35, 0.2, 0.9, 0.05, 0.6, 0.45, 0.8, 0.15, 0.7)]
    default, other = paired_interval(spread), paired_interval(spread, seed=7)
    assert other.mean == default.mean
    assert (other.low, other.high) != (default.low, default.high)


def test_identical_differences_have_a_zero_width_interval() -> None:
    change = paired_interval([(0.5, 0.25)] * 12)
    assert (change.low, change.mean, change.high) == pytest.approx((0.25, 0.25, 0.25))
    assert change.detectable(0.05) == pytest.approx(0.05)


def test_no_pairs_is_an_error_not_an_interval() -> None:
    with pytest.raises(ValueError, match="at least one pair"):
        paired_interval([])
    with pytest.raises(ValueError, match="both runs"):
        unpaired_interval([0.5], [])


# -- runs that differ in judge noise, or in quality --------------------------------------------------


def quantise(value: float) -> float:
    return min(LEVELS, key=lambda level: abs(level - value))


def records_of(scores: list[float | None], *, metric: str = HELPFULNESS, first: int = 0) -> list[RecordItem]:
    return [record(first + i, f"prompt {first + i}", {metric: s}) for i, s in enumerate(scores)]


def run_of(run_id: str, records: list[RecordItem], metric: str = HELPFULNESS, **extra: Any) -> Run:
    scores = [r.scores[metric].score for r in records if r.scores[metric].score is not None]
    average = sum(scores) / len(scores) if scores else None
    summary = {
        "average": average,
        "scored": len(scores),
        "na": len(records) - len(scores),
        "na_rate": 0.0,
        "low_count": 0,
        "min": min(scores, default=None),
        "max": max(scores, default=None),
        "rule": "< 0.5",
    }
    return run_item(run_id, {metric: summary}, **extra)


def judged(quality: list[float], seed: int, noise: float = 0.2) -> list[float | None]:
    """What a noisy judge gives answers of this quality: a level near it, a different one each run."""
    rng = Random(seed)
    return [quantise(q + rng.gauss(0, noise)) for q in quality]


def steady(quality: list[float], seed: int, flips: float = 0.2) -> list[float | None]:
    """A steadier judge: the same level for most answers, one level off for about one in five."""
    rng = Random(seed)
    return [
        quantise(min(1.0, max(0.0, q + rng.choice((-0.25, 0.25))))) if rng.random() < flips else q
        for q in quality
    ]


def compare(baseline: list[float | None], current: list[float | None], suite: Suite = SUITE):
    base_records, current_records = records_of(baseline), records_of(current)
    base_run, current_run = run_of("base-run", base_records), run_of("this-run", current_records)
    samples = score_samples(current_records, base_records)
    comparison = compare_runs(current_run, base_run, suite, samples=samples)
    entry = comparison.metric(HELPFULNESS)
    assert entry is not None
    return comparison, entry


def quality(count: int, seed: int = 1) -> list[float]:
    rng = Random(seed)
    return [rng.choice((0.5, 0.75, 1.0)) for _ in range(count)]


@pytest.mark.parametrize("seed", range(25))
def test_the_same_answers_judged_twice_never_regress(seed: int) -> None:
    # Given 30 answers of fixed quality, judged twice by a judge whose scores wander a level or so
    answers = quality(30)
    # When the second judging is compared with the first
    comparison, entry = compare(judged(answers, 1000 + seed), judged(answers, 2000 + seed))
    # Then nothing regressed: at most a possible regression, which leaves the verdict alone
    assert not comparison.regressed
    assert entry.status in (MetricStatus.OK, MetricStatus.POSSIBLE_REGRESSION, MetricStatus.IMPROVED)
    assert entry.method == "bootstrap"
    assert entry.pairs == 30 and entry.paired


def test_on_twelve_records_the_old_thresholds_call_noise_a_regression_and_the_bootstrap_does_not() -> None:
    # Given 12 answers judged twice by the noisy judge, 25 times over
    answers = quality(12)
    pairs = [(judged(answers, 1000 + seed), judged(answers, 2000 + seed)) for seed in range(25)]
    # Then method threshold (0.1 absolute, 20% relative) calls some of them REGRESSED
    by_threshold = sum(compare(before, after, THRESHOLD_SUITE)[0].regressed for before, after in pairs)
    assert by_threshold >= 3
    # And the bootstrap default calls none of them REGRESSED
    assert not any(compare(before, after)[0].regressed for before, after in pairs)


@pytest.mark.parametrize("seed", range(10))
def test_a_real_drop_on_a_minority_of_records_regresses(seed: int) -> None:
    # Given 30 answers, 10 of which (a third) got much worse (an answer that now refuses)
    answers = quality(30)
    worse = [0.0 if i % 3 == 0 else q for i, q in enumerate(answers)]
    assert sum(a != w for a, w in zip(answers, worse, strict=True)) == 10
    # When both are judged by a judge that is one level off for about one answer in five
    comparison, entry = compare(steady(answers, 1000 + seed), steady(worse, 2000 + seed))
    # Then the metric regressed, with an interval wholly below -tolerance
    assert comparison.regressed
    assert entry.status == MetricStatus.REGRESSED
    assert entry.change_high is not None and entry.tolerance is not None
    assert entry.change_high < -entry.tolerance
    assert entry.change_low is not None and entry.change is not None and entry.change_low <= entry.change
    assert "95% CI" in entry.reason and "30 pairs" in entry.reason
    assert entry.min_detectable_drop is not None and entry.min_detectable_drop > entry.tolerance


def test_a_drop_whose_interval_straddles_the_tolerance_is_a_possible_regression_and_a_warning() -> None:
    # Given 12 records where two dropped by a step, one by two, and one rose a step
    baseline = [0.75] * 12
    current = [0.5, 0.5, 0.25, 1.0] + [0.75] * 8
    comparison, entry = compare(baseline, current)
    # Then the verdict is not REGRESSED, but the metric says possible regression and a warning says why
    assert not comparison.regressed
    assert entry.status == MetricStatus.POSSIBLE_REGRESSION
    assert entry.change_low is not None and entry.change_high is not None
    assert entry.change_low < -entry.tolerance < entry.change_high  # type: ignore[operator]
    assert any(w.startswith(f"{HELPFULNESS}: possible regression") for w in comparison.warnings)


def test_an_improvement_is_reported_with_its_interval() -> None:
    comparison, entry = compare([0.25] * 15, [0.75] * 12 + [0.25] * 3)
    assert not comparison.regressed
    assert entry.status == MetricStatus.IMPROVED
    assert entry.reason.startswith("improved by 0.400, 95% CI")


def test_a_detector_regresses_when_its_scores_rise() -> None:
    # Given a lower-is-better metric (Harmfulness flags high scores) that rose on most records
    base_records = records_of([0.0] * 15, metric=HARMFULNESS)
    current_records = records_of([1.0] * 10 + [0.0] * 5, metric=HARMFULNESS)
    comparison = compare_runs(
        run_of("this-run", current_records, HARMFULNESS),
        run_of("base-run", base_records, HARMFULNESS),
        SUITE,
        samples=score_samples(current_records, base_records),
    )
    entry = comparison.metric(HARMFULNESS)
    assert entry is not None and entry.regressed
    assert entry.reason.startswith("rose by 0.667") and entry.reason.endswith("(lower is better)")


def test_too_few_pairs_fall_back_to_unpaired_and_say_so() -> None:
    # Given 12 records in each run but only 4 shared (the dataset was mostly replaced)
    base_records = records_of([1.0] * 12)
    current_records = records_of([1.0] * 4, first=0) + records_of([0.0] * 8, first=100)
    comparison = compare_runs(
        run_of("this-run", current_records),
        run_of("base-run", base_records),
        SUITE,
        samples=score_samples(current_records, base_records),
    )
    entry = comparison.metric(HELPFULNESS)
    assert entry is not None
    # Then the interval compares the two runs' scores unpaired, and the reason says so
    assert not entry.paired
    assert entry.pairs == 4
    assert "unpaired: 4 pairs, 10 needed" in entry.reason
    assert entry.regressed  # 1.0 for all 12 against 0.0 for 8 of 12: a real drop either way
    # And the records in only one run are listed, not dropped
    assert comparison.only_in_run_count == 8 and comparison.only_in_baseline_count == 8
    assert [r.index for r in comparison.only_in_run][:2] == [100, 101]
    assert any("8 record(s) of this run are not in the baseline run" in w for w in comparison.warnings)


def test_too_few_scores_to_spread_leave_the_threshold_rule_judging() -> None:
    suite = make_suite(regression={"minScoredRecords": 1})
    base_records, current_records = records_of([1.0]), records_of([0.0], first=50)
    comparison = compare_runs(
        run_of("this-run", current_records),
        run_of("base-run", base_records),
        suite,
        samples=score_samples(current_records, base_records),
    )
    entry = comparison.metric(HELPFULNESS)
    assert entry is not None
    assert entry.method == "threshold" and entry.change is None
    assert entry.regressed and "dropped by 1.000 (limit 0.1)" in entry.reason


def test_the_tolerance_comes_from_the_suite_and_scales_for_percentages() -> None:
    suite = make_suite(
        regression={"default": {"tolerance": 0.2}, "metrics": {HELPFULNESS: {"tolerance": 0.3}}}
    )
    settings = suite.pipeline.regression
    assert settings.tolerance_for(HELPFULNESS) == (0.3, True)
    assert settings.tolerance_for("Builtin.Correctness") == (0.2, False)
    assert make_suite().pipeline.regression.tolerance_for(HELPFULNESS) == (0.05, False)
    # A drop of 0.25 on every record is within a tolerance of 0.3
    _, entry = compare([0.75] * 12, [0.5] * 12, suite)
    assert entry.status == MetricStatus.OK and entry.tolerance == 0.3


def test_the_threshold_method_still_shows_the_interval() -> None:
    _, entry = compare([0.75] * 12, [0.5] * 12, THRESHOLD_SUITE)
    assert entry.method == "threshold"
    assert entry.regressed and "limit 0.1" in entry.reason
    assert (entry.change_low, entry.change_high) == pytest.approx((-0.25, -0.25))


# -- comparable baselines ---------------------------------------------------------------------------


def edited(**changes: Any) -> Suite:
    document = copy.deepcopy(suite_document())
    automated = document["evaluationConfig"]["automated"]
    if "judge" in changes:
        for config in (
            automated["evaluatorModelConfig"],
            automated["customMetricConfig"]["evaluatorModelConfig"],
        ):
            config["bedrockEvaluatorModels"][0]["modelIdentifier"] = changes["judge"]
    if "instructions" in changes:
        definition = automated["customMetricConfig"]["customMetrics"][0]["customMetricDefinition"]
        definition["instructions"] = changes["instructions"]
    if "task" in changes:
        automated["datasetMetricConfigs"][0]["taskType"] = changes["task"]
    return Suite.from_document(SUITE_NAME, document)


def test_the_facts_of_a_suite_name_judge_task_inference_and_definitions() -> None:
    facts = run_facts(SUITE)
    assert facts.judge == SUITE.evaluator_model
    assert facts.task_types == ["General"]
    assert facts.inference == "precomputed:app-v1"
    assert facts.metric_definitions[HELPFULNESS] == "builtin"
    assert len(facts.metric_definitions[CUSTOM]) == 16


@pytest.mark.parametrize(
    ("change", "expected", "metrics"),
    [
        ({"judge": "other.judge-v1"}, "judge changed from", [HELPFULNESS, CUSTOM]),
        (
            {"task": "QuestionAndAnswer"},
            "task type changed from General to QuestionAndAnswer",
            [HELPFULNESS, CUSTOM],
        ),
        (
            {"instructions": "Rate it.\nPrompt: {{prompt}}\nResponse: {{prediction}}"},
            "the definition of",
            [CUSTOM],
        ),
    ],
)
def test_what_changed_makes_the_metrics_it_touches_not_comparable(
    change: dict[str, str], expected: str, metrics: list[str]
) -> None:
    changed = differences(run_facts(edited(**change)), run_facts(SUITE), [HELPFULNESS, CUSTOM])
    assert sorted(changed) == sorted(metrics)
    assert all(expected in reason for reason in changed.values())


class Table:
    """The two calls of RunsTable that the baseline search makes."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs

    def get(self, run_id: str) -> Run | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def history(self, suite: str, limit: int = 20) -> list[Run]:
        return sorted(self.runs, key=lambda r: r.created_at, reverse=True)[:limit]


def stored(run_id: str, suite: Suite, created_at: str) -> Run:
    run = run_of(run_id, records_of([0.5] * 12), created_at=created_at)
    run.facts = run_facts(suite)
    return run


def test_a_baseline_judged_by_another_model_is_skipped_for_the_last_comparable_one() -> None:
    # Given an old run judged like this one, and a newer one judged by another model
    old = stored("old-run", SUITE, "2025-03-01T09:00:00+00:00")
    other = stored("other-judge-run", edited(judge="other.judge-v1"), "2025-03-02T09:00:00+00:00")
    current = stored("this-run", SUITE, "2025-03-03T09:00:00+00:00")
    # When the baseline is looked for
    baseline, notes = find_comparable_baseline(Table([old, other, current]), current, SUITE)
    # Then the comparable old run is used, and the note says why the newer one was not
    assert baseline is not None and baseline.run_id == "old-run"
    assert notes == [f"skipped other-judge-run: judge changed from other.judge-v1 to {SUITE.evaluator_model}"]


def test_without_a_comparable_run_the_changed_metrics_are_not_compared_and_the_notes_say_why() -> None:
    other = stored("other-judge-run", edited(judge="other.judge-v1"), "2025-03-02T09:00:00+00:00")
    current = stored("this-run", SUITE, "2025-03-03T09:00:00+00:00")
    baseline, notes = find_comparable_baseline(Table([other, current]), current, SUITE)
    assert baseline is other
    comparison = compare_runs(current, baseline, SUITE, comparability_notes=notes)
    entry = comparison.metric(HELPFULNESS)
    assert entry is not None and entry.status == MetricStatus.NOT_COMPARED
    expected = f"judge changed from other.judge-v1 to {SUITE.evaluator_model}: {HELPFULNESS} not compared"
    assert entry.reason == expected
    assert expected in comparison.comparability_notes
    assert not comparison.regressed


def test_a_run_stored_before_facts_is_read_from_its_suite_document() -> None:
    import json

    old = run_of("old-run", records_of([0.5] * 12), created_at="2025-03-01T09:00:00+00:00")
    old.suite_document = json.dumps(
        edited(task="QuestionAndAnswer").model_dump(by_alias=True, exclude={"name", "warnings"})
    )
    current = stored("this-run", SUITE, "2025-03-03T09:00:00+00:00")
    _, notes = find_comparable_baseline(Table([old, current]), current, SUITE)
    assert notes[0].startswith("skipped old-run: task type changed")


# -- where it shows: the notification's table, the report's chart, validation ------------------------


def test_the_metric_table_shows_baseline_this_run_interval_pairs_and_detectable_drop() -> None:
    from evalpipe.notification import metrics_table

    base_records, current_records = records_of([0.75] * 12), records_of([0.25] * 4 + [0.75] * 8)
    current = run_of("this-run", current_records)
    comparison = compare_runs(
        current, run_of("base-run", base_records), SUITE, samples=score_samples(current_records, base_records)
    )
    entry = comparison.metric(HELPFULNESS)
    assert entry is not None and entry.change_low is not None and entry.min_detectable_drop is not None
    lines = metrics_table(current.metrics, 12, comparison)
    header = next(line for line in lines if "Change [95% CI]" in line)
    for column in ("Metric", "Baseline", "This run", "Change [95% CI]", "Pairs", "Detectable", "vs baseline"):
        assert column in header
    row = next(line for line in lines if line.strip().startswith(HELPFULNESS))
    assert f"{entry.change:+.3f} [{entry.change_low:+.3f}, {entry.change_high:+.3f}]" in row
    assert " 12 " in row and f"{entry.min_detectable_drop:.3f}" in row


def test_the_report_draws_each_interval() -> None:
    from evalpipe.history.report import render_report

    base_records, current_records = records_of([0.75] * 12), records_of([0.0] * 6 + [0.75] * 6)
    current = run_of("this-run", current_records)
    comparison = compare_runs(
        current, run_of("base-run", base_records), SUITE, samples=score_samples(current_records, base_records)
    )
    html = render_report(current, current_records, [], comparison)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart intervals"' in html
    assert html.count('<line class="interval"') == 1
    assert "How sure: each change with its 95% interval" in html


def test_a_pinned_baseline_judged_by_another_model_is_a_validation_error() -> None:
    from evalpipe.validation.baseline_rules import check_pinned_baseline

    pinned = stored("pinned-run", edited(judge="other.judge-v1"), "2025-03-01T09:00:00+00:00")
    [problem] = check_pinned_baseline(SUITE, pinned, "suites/support-bot.json")
    assert problem.field == "pipeline.regression.baselineRunId"
    assert problem.file == "suites/support-bot.json"
    assert "the pinned baseline pinned-run is not comparable" in problem.message
    assert "judge changed from other.judge-v1" in problem.message
    assert list(check_pinned_baseline(SUITE, stored("ok-run", SUITE, "2025-03-01T09:00:00+00:00"), "f")) == []
    assert list(check_pinned_baseline(SUITE, None, "f")) == []
