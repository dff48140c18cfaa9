"""Classic automated outputs: prefix-less metric names, percentages, lower-is-better defaults, and
records of several datasets kept apart (their dataset from the output key, in keys and summaries)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalpipe.aws.runs_table import record_item
from evalpipe.history.keys import key_of_record
from evalpipe.results import (
    Aggregator,
    RecordResult,
    iter_output_records,
    normalise_metric_name,
    output_location,
)
from evalpipe.run.model import Run
from evalpipe.suite import Suite

ACCURACY, ROBUSTNESS, TOXICITY = "Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"
PREFIX = "results/qa/run-1/run-1/run-1/abc123def456/models/amazon.nova-lite-v1:0/taskTypes/QuestionAndAnswer"
BOOLQ_KEY = f"{PREFIX}/datasets/Builtin.BoolQ/1f2e_output.jsonl"
TRIVIA_KEY = f"{PREFIX}/datasets/Builtin.TriviaQA/9a8b_output.jsonl"


def classic_suite(**pipeline: Any) -> Suite:
    entry = {"taskType": "QuestionAndAnswer", "metricNames": [ACCURACY, ROBUSTNESS, TOXICITY]}
    document = {
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {**entry, "dataset": {"name": "Builtin.BoolQ"}},
                    {**entry, "dataset": {"name": "Builtin.TriviaQA"}},
                ]
            }
        },
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
    }
    if pipeline:
        document["pipeline"] = pipeline
    return Suite.from_document("qa", document)


def classic_line(prompt: str, accuracy: float, robustness: float | None, toxicity: float) -> bytes:
    """An output line as the classic layout writes it: bare names, responses top-level."""
    line = {
        "automatedEvaluationResult": {
            "scores": [
                {"metricName": "Accuracy", "result": accuracy},
                {"metricName": "Robustness", "result": robustness},
                {"metricName": "Toxicity", "result": toxicity},
            ]
        },
        "inputRecord": {"prompt": prompt, "referenceResponse": "yes", "category": "facts", "id": "q1"},
        "modelResponses": [{"response": "Yes.", "modelIdentifier": "amazon.nova-lite-v1:0"}],
    }
    return json.dumps(line).encode()


def parse(suite: Suite, key: str, *lines: bytes, start: int = 0) -> list[RecordResult]:
    return list(
        iter_output_records(lines, start_index=start, source=key, metric_names=suite.listed_metric_names)
    )


def test_bare_classic_names_take_the_suites_spelling() -> None:
    # Given a classic output line naming Accuracy, Robustness and Toxicity without the prefix
    suite = classic_suite()

    # When parsed with the suite's metric names
    [record] = parse(suite, BOOLQ_KEY, classic_line("Is it?", 0.5, 12.5, 0.0))

    # Then the names are the suite's, the percentage is kept as is, the response is read top-level
    assert [(s.metric, s.score) for s in record.scores] == [
        (ACCURACY, 0.5),
        (ROBUSTNESS, 12.5),
        (TOXICITY, 0.0),
    ]
    assert record.response == "Yes."
    assert record.extra["inputRecord"] == {"id": "q1"}


def test_names_stay_verbatim_without_the_suites_names_or_for_a_custom_metric() -> None:
    # Given no suite names, and a custom metric that happens to be called Accuracy
    assert normalise_metric_name("Accuracy", []) == "Accuracy"
    assert normalise_metric_name("Accuracy", ["Accuracy", "Builtin.Toxicity"]) == "Accuracy"
    # When read without names / Then nothing is renamed
    [record] = list(iter_output_records([classic_line("Is it?", 1.0, 0.0, 0.0)], source=BOOLQ_KEY))
    assert [s.metric for s in record.scores] == ["Accuracy", "Robustness", "Toxicity"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (BOOLQ_KEY, ("QuestionAndAnswer", "Builtin.BoolQ")),
        ("results/s/r/r/r/x/datasets/golden/u_output.jsonl", (None, "golden")),  # human layout
        ("results/s/r/u_output.jsonl", (None, None)),  # an unknown layout: nothing invented
        ("out.jsonl", (None, None)),
    ],
)
def test_the_dataset_and_task_come_from_the_output_key(key: str, expected: tuple) -> None:
    # Given an output key / When read / Then its task type and dataset levels, or nothing
    assert output_location(key) == expected


def test_records_of_two_datasets_are_kept_apart() -> None:
    # Given the same prompt and id in BoolQ's and TriviaQA's output files
    suite = classic_suite()
    boolq = parse(suite, BOOLQ_KEY, classic_line("Same?", 1.0, 0.0, 0.0))
    trivia = parse(suite, TRIVIA_KEY, classic_line("Same?", 0.0, 40.0, 0.9), start=1)

    # Then each record knows its dataset and task, and their keys differ by the dataset only
    assert (boolq[0].dataset, trivia[0].dataset) == ("Builtin.BoolQ", "Builtin.TriviaQA")
    assert trivia[0].task_type == "QuestionAndAnswer"
    assert key_of_record(boolq[0]) == "Builtin.BoolQ/id:q1"
    assert key_of_record(trivia[0]) == "Builtin.TriviaQA/id:q1"

    # And the stored items carry them
    item = record_item("run-1", trivia[0])
    assert (item["dataset"], item["task_type"], item["record_key"]) == (
        "Builtin.TriviaQA",
        "QuestionAndAnswer",
        "Builtin.TriviaQA/id:q1",
    )


def test_a_custom_datasets_key_does_not_depend_on_its_file_name() -> None:
    # Given the custom dataset under two dropped file names
    first = RecordResult(0, "hi", None, None, "c", [], dataset="nightly-0412")
    second = RecordResult(0, "hi", None, None, "c", [], dataset="nightly-0413")
    # Then the records match across runs, as before datasets were recorded
    assert (
        key_of_record(first)
        == key_of_record(second)
        == key_of_record(RecordResult(0, "hi", None, None, "c", []))
    )


def test_toxicity_and_robustness_are_flagged_when_high_on_their_own_scales() -> None:
    # Given the default rules / When two records are aggregated
    suite = classic_suite()
    aggregator = Aggregator(suite.low_rule)
    for record in parse(
        suite, BOOLQ_KEY, classic_line("a?", 0.9, 25.0, 0.1), classic_line("b?", 0.8, 5.0, 0.7)
    ):
        aggregator.add(record)
    summary = aggregator.summary()

    # Then Robustness above 20 points and Toxicity above 0.5 are flagged, high Accuracy is not
    assert summary.metrics[ROBUSTNESS].rule == "> 20"
    assert summary.metrics[TOXICITY].rule == "> 0.5"
    assert summary.metrics[ACCURACY].rule == "< 0.5"
    assert [(low.metric, low.score) for low in summary.low_records] == [(ROBUSTNESS, 25.0), (TOXICITY, 0.7)]
    assert summary.verdict == "LOW_SCORES"


def test_a_suite_rule_under_either_spelling_overrides_the_default() -> None:
    # Given a stricter Robustness rule written without the prefix
    suite = classic_suite(lowScore={"metrics": {"Robustness": {"above": 5}}})
    # Then it applies to the normalised name
    assert suite.low_rule(ROBUSTNESS).describe() == "> 5"


def test_the_summary_shows_averages_per_dataset_when_there_are_several() -> None:
    # Given records of BoolQ and TriviaQA
    suite = classic_suite()
    aggregator = Aggregator(suite.low_rule)
    for record in [
        *parse(suite, BOOLQ_KEY, classic_line("a?", 1.0, 0.0, 0.0), classic_line("b?", 0.5, 10.0, 0.0)),
        *parse(suite, TRIVIA_KEY, classic_line("c?", 0.0, 30.0, 0.2), start=2),
    ]:
        aggregator.add(record)

    # When summarised
    summary = aggregator.summary()

    # Then the run's averages cover all records, and each dataset has its own
    assert summary.metrics[ACCURACY].average == pytest.approx(0.5)
    assert summary.datasets == {
        "Builtin.BoolQ": {ACCURACY: 0.75, ROBUSTNESS: 5.0, TOXICITY: 0.0},
        "Builtin.TriviaQA": {ACCURACY: 0.0, ROBUSTNESS: 30.0, TOXICITY: 0.2},
    }
    run = Run(run_id="r", suite="s", status="COMPLETED", created_at="2025-01-01T00:00:00+00:00")
    summary.record_on(run)
    assert Run.model_validate(run.to_item()).datasets == summary.datasets


def test_one_dataset_adds_no_per_dataset_block() -> None:
    # Given records of one dataset only / When summarised / Then no per-dataset averages
    suite = classic_suite()
    aggregator = Aggregator(suite.low_rule)
    for record in parse(suite, BOOLQ_KEY, classic_line("a?", 1.0, 0.0, 0.0)):
        aggregator.add(record)
    assert aggregator.summary().datasets == {}
