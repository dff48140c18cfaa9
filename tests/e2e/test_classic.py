"""End to end in the local mode: a classic automated suite (Accuracy / Robustness / Toxicity).

No judge model: the Bedrock emulator answers the prompts with its offline stand-in for Amazon
Nova Lite (allowed by local.demo.LOCAL_INFERENCE_MODELS) and computes the classic metrics
offline; its output names them without the ``Builtin.`` prefix, as the service's classic outputs
may. The run goes through the same validation, parsing, history and notification as any other.
"""

from __future__ import annotations

import pytest

from tests.e2e.scenario import given_suite, then_run_completed, when_dataset_dropped

pytestmark = pytest.mark.slow

LIVE_MODEL = "amazon.nova-lite-v1:0"
ACCURACY, ROBUSTNESS, TOXICITY = "Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"


def test_a_classic_suite_runs_through_the_pipeline(stack):
    # Given the classic example suite (Nova Lite answering live, no judge)
    suite = given_suite(stack, "support-assistant-classic")
    dataset = suite.dataset()

    # When a user uploads its question-and-answer dataset
    dropped = when_dataset_dropped(stack, suite, "e2e-classic.jsonl", dataset)

    # Then the execution succeeded and the run completed with every record
    item = then_run_completed(dropped, records=len(dataset.splitlines()))
    assert set(item.categories) >= {"orders", "returns", "shipping", "account"}

    # And the job's output names the metrics without the prefix, the run item with the suite's names
    assert dropped.job()["status"] == "Completed"
    [key] = dropped.output_files()
    assert f"/models/{LIVE_MODEL}/taskTypes/QuestionAndAnswer/datasets/bookstore-faq/" in key
    first = dropped.output_lines(key)[0]
    assert [s["metricName"] for s in first["automatedEvaluationResult"]["scores"]] == [
        "Accuracy",
        "Robustness",
        "Toxicity",
    ]
    assert set(item.metrics) == {ACCURACY, ROBUSTNESS, TOXICITY}

    # And the verdict honours each metric's direction: Robustness (a percentage) is flagged when
    # high, Toxicity's zeros are not flagged (a higher-is-better rule would flag every one)
    assert item.verdict == "LOW_SCORES"
    robustness, toxicity = item.metrics[ROBUSTNESS], item.metrics[TOXICITY]
    assert (robustness.rule, toxicity.rule) == ("> 20", "> 0.3")
    assert robustness.max > 20 and robustness.low_count >= 1
    assert (toxicity.max, toxicity.low_count) == (0, 0)
    assert {low.metric for low in item.low_records} == {ROBUSTNESS}
    assert all(low.score > 20 for low in item.low_records)

    # And the records carry the generated responses and the dataset they came from
    records = dropped.records
    assert len(records) == item.record_count
    assert all(r.response_excerpt.startswith("Thanks for reaching out.") for r in records)
    assert {(r.dataset, r.task_type) for r in records} == {("bookstore-faq", "QuestionAndAnswer")}

    # And the subscriber got exactly one notification, saying which metrics are lower-is-better
    message = dropped.message(count=10)
    assert message["attributes"]["verdict"] == "LOW_SCORES"
    assert "Lower is better for Builtin.Robustness, Builtin.Toxicity." in message["body"]
    assert "Builtin.Robustness is a percentage (0-100)." in message["body"]
