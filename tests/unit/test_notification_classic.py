"""Notification and HTML report of a classic run over two built-in datasets: direction, percent
scale and per-dataset averages shown as such."""

from __future__ import annotations

import json

from evalpipe.aws.runs_table import from_dynamo, record_item, to_dynamo
from evalpipe.history.charts import score_domain
from evalpipe.history.compare import compare_runs
from evalpipe.history.report import render_report
from evalpipe.notification import build_notification
from evalpipe.results import Aggregator, iter_output_records
from evalpipe.run.model import RecordItem, Run
from evalpipe.run.status import RunStatus
from evalpipe.suite import Suite

RUN_ID = "qa-20250301-091500-5f2c9a1e"
ACCURACY, ROBUSTNESS, TOXICITY = "Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"
PREFIX = f"results/qa/{RUN_ID}/{RUN_ID}/{RUN_ID}/abc/models/amazon.nova-lite-v1:0/taskTypes/QuestionAndAnswer"


def suite() -> Suite:
    entry = {"taskType": "QuestionAndAnswer", "metricNames": [ACCURACY, ROBUSTNESS, TOXICITY]}
    return Suite.from_document(
        "qa",
        {
            "evaluationConfig": {
                "automated": {
                    "datasetMetricConfigs": [
                        {**entry, "dataset": {"name": "Builtin.BoolQ"}},
                        {**entry, "dataset": {"name": "Builtin.TriviaQA"}},
                    ]
                }
            },
            "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
        },
    )


def line(prompt: str, accuracy: float, robustness: float, toxicity: float) -> bytes:
    scores = [
        {"metricName": "Accuracy", "result": accuracy},
        {"metricName": "Robustness", "result": robustness},
        {"metricName": "Toxicity", "result": toxicity},
    ]
    return json.dumps(
        {
            "automatedEvaluationResult": {"scores": scores},
            "inputRecord": {"prompt": prompt, "referenceResponse": "yes"},
            "modelResponses": [{"response": "Thanks. yes", "modelIdentifier": "amazon.nova-lite-v1:0"}],
        }
    ).encode()


def completed_run() -> tuple[Run, list[RecordItem]]:
    """A COMPLETED run and its record items, built by the pipeline's own pieces."""
    the_suite = suite()
    files = {
        f"{PREFIX}/datasets/Builtin.BoolQ/a_output.jsonl": [
            line("a?", 0.5, 6.7, 0.0),
            line("b?", 0.3, 33.3, 0.0),
        ],
        f"{PREFIX}/datasets/Builtin.TriviaQA/b_output.jsonl": [line("c?", 0.3, 6.7, 0.6)],
    }
    aggregator = Aggregator(the_suite.low_rule)
    records = []
    index = 0
    for key, lines in files.items():
        for record in iter_output_records(
            lines, start_index=index, source=key, metric_names=the_suite.listed_metric_names
        ):
            record.category = "uncategorized"
            aggregator.add(record)
            # As the runs table writes the item and reads it back.
            records.append(RecordItem.model_validate(from_dynamo(to_dynamo(record_item(RUN_ID, record)))))
            index += 1
    run = Run(run_id=RUN_ID, suite="qa", status=RunStatus.COMPLETED, created_at="2025-03-01T09:15:00+00:00")
    aggregator.summary().record_on(run)
    run.comparison = compare_runs(run, None, the_suite)
    return run, records


def test_the_notification_marks_direction_and_scale_and_shows_each_dataset() -> None:
    # Given a classic run over BoolQ and TriviaQA with a fragile and a toxic answer
    run, _ = completed_run()

    # When its notification is built
    body = build_notification(run).message

    # Then the verdict leads, lower-is-better metrics and the percentage are named
    assert "LOW_SCORES" in build_notification(run).subject
    assert "Lower is better for Builtin.Robustness, Builtin.Toxicity." in body
    assert "Builtin.Robustness is a percentage (0-100)." in body
    # And the per-dataset table lists both datasets
    table = body.split("Average score by dataset", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[1].split() == ["Dataset", "Accuracy", "Robustness", "Toxicity"]
    assert table[3].split() == ["Builtin.BoolQ", "0.400", "20.000", "0.000"]
    assert table[4].split() == ["Builtin.TriviaQA", "0.300", "6.700", "0.600"]
    # And the flagged scores show the rule that flagged them, worst first by that rule
    assert "[Builtin.Robustness] score=33.30 (flagged: > 20)" in body
    assert "[Builtin.Toxicity] score=0.60 (flagged: > 0.5)" in body
    assert body.index("score=33.30") < body.index("score=0.60")


def test_the_report_draws_robustness_on_its_percent_scale_and_marks_direction() -> None:
    # Given the same run / When its HTML report is rendered
    run, records = completed_run()
    html = render_report(run, records, [run], None)

    # Then the metric table marks lower-is-better rules and the footer names the percent scale
    assert '&gt; 20 <span class="muted">(lower is better)</span>' in html
    assert "Builtin.Robustness, 0 to 100" in html
    # And a percent metric's axis is 0-100 even when its values are small
    assert score_domain([6.7, 33.3], scale=100.0) == (0.0, 100.0)
    assert score_domain([0.2, 0.4]) == (0.0, 1.0)
    assert score_domain([150.0, 20.0], scale=100.0) == (20.0, 150.0)
