"""End to end in the local mode: a classic automated suite (Accuracy / Robustness / Toxicity).

No judge model: the Bedrock emulator answers the prompts with its offline stand-in for Amazon
Nova Lite (allowed by local.demo.LOCAL_INFERENCE_MODELS) and computes the classic metrics
offline; its output names them without the ``Builtin.`` prefix, as the service's classic outputs
may. The run goes through the same validation, parsing, history and notification as any other.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROOT, drop_dataset

pytestmark = pytest.mark.slow

SUITE = "support-assistant-classic"
SUITE_FILE = ROOT / "examples" / "suites" / f"{SUITE}.json"
DATASET_FILE = ROOT / "examples" / "datasets" / SUITE / "sample.jsonl"
LIVE_MODEL = "amazon.nova-lite-v1:0"
ACCURACY, ROBUSTNESS, TOXICITY = "Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"


def test_a_classic_suite_runs_through_the_pipeline(stack, tmp_path):
    # Given the classic example suite (Nova Lite answering live, no judge)
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    dataset = DATASET_FILE.read_bytes()

    # When a user uploads its question-and-answer dataset
    run = drop_dataset(stack, f"datasets/{SUITE}/e2e-classic.jsonl", dataset, tmp_path)

    # Then the execution succeeded and the run completed with every record
    assert run["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    assert item.status == "COMPLETED"
    assert item.record_count == len(dataset.splitlines())
    assert set(item.categories) >= {"orders", "returns", "shipping", "account"}

    # And the job's output names the metrics without the prefix, the run item with the suite's names
    [job] = stack.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"]
    assert job["status"] == "Completed"
    s3 = stack.client("s3")
    contents = s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"results/{SUITE}/{run_id}/").get(
        "Contents", []
    )
    [key] = [obj["Key"] for obj in contents if obj["Key"].endswith("_output.jsonl")]
    assert f"/models/{LIVE_MODEL}/taskTypes/QuestionAndAnswer/datasets/bookstore-faq/" in key
    first = json.loads(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode().splitlines()[0])
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
    records = stack.records(run_id)
    assert len(records) == item.record_count
    assert all(r.response_excerpt.startswith("Thanks for reaching out.") for r in records)
    assert {(r.dataset, r.task_type) for r in records} == {("bookstore-faq", "QuestionAndAnswer")}

    # And the subscriber got exactly one notification, saying which metrics are lower-is-better
    messages = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert len(messages) == 1
    assert messages[0]["attributes"]["verdict"] == "LOW_SCORES"
    assert "Lower is better for Builtin.Robustness, Builtin.Toxicity." in messages[0]["body"]
    assert "Builtin.Robustness is a percentage (0-100)." in messages[0]["body"]
