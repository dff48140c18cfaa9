"""End to end: the deployed stack in the local emulator, from an S3 upload to the SNS alert.

S3 -> EventBridge rule -> Step Functions -> Lambdas (deployed zip, in-process) -> Bedrock
(emulated) -> DynamoDB -> SNS -> the SQS subscriber. Nothing is called directly: every run starts
from an object upload (or a re-sent event), as in AWS.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from local import demo
from local.server import emulator_control
from tests.e2e.conftest import drop_dataset, history_errors

pytestmark = pytest.mark.slow


def _path(deployment, arn: str) -> list[str]:
    return [row["name"] for row in demo.state_rows(deployment.history(arn))]


def _messages_for(deployment, run_id: str, *, wait: float = 10) -> list[dict]:
    return [m for m in deployment.messages(wait=wait, count=1) if m["attributes"].get("run_id") == run_id]


def _jobs(deployment, run_id: str) -> list[dict]:
    return deployment.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"]


def test_a_dataset_upload_runs_the_pipeline_and_alerts_on_low_scores(stack, dataset, tmp_path):
    # Given the deployed stack and the example suite, when a user uploads the example dataset
    key = "datasets/support-assistant/e2e-happy.jsonl"
    run = drop_dataset(stack, key, dataset, tmp_path)

    # Then S3's real Object Created event started the execution...
    event = run["event"]
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["detail"]["bucket"]["name"] == stack.bucket
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=key)
    assert event["detail"]["object"]["key"] == key
    assert event["detail"]["object"]["size"] == len(dataset)
    assert event["detail"]["object"]["etag"] == head["ETag"].strip('"')
    assert event["detail"]["object"]["version-id"] == head["VersionId"]
    assert event["detail"]["reason"] == "PutObject"
    assert event["time"].endswith("Z")

    # ... which walked validate -> submit -> poll loop -> parse -> notify and succeeded
    assert run["description"]["status"] == "SUCCEEDED"
    path = _path(stack, run["arn"])
    assert path[:3] == ["Validate", "CheckOutcome", "Submit"]
    assert path[-3:] == ["Parse", "Notify", "Done"]
    assert "Poll" in path

    # And the run is in DynamoDB with its summary
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    assert (item.status, item.verdict) == ("COMPLETED", "LOW_SCORES")
    assert item.record_count == len(dataset.splitlines())
    assert item.metrics["Builtin.Helpfulness"].low_count >= 1
    assert item.categories

    # And Bedrock ran one job, which left its results in the bucket
    [job] = _jobs(stack, run_id)
    assert job["status"] == "Completed"
    results = stack.client("s3").list_objects_v2(
        Bucket=stack.bucket, Prefix=f"results/support-assistant/{run_id}/"
    )
    assert any(obj["Key"].endswith("_output.jsonl") for obj in results.get("Contents", []))

    # And the subscriber got exactly one alert, with filterable attributes
    [message] = _messages_for(stack, run_id)
    assert message["subject"].startswith("[evalpipe] support-assistant: LOW_SCORES")
    assert message["attributes"] == {
        "suite": "support-assistant",
        "verdict": "LOW_SCORES",
        "status": "COMPLETED",
        "severity": "warning",
        "run_id": run_id,
    }
    assert "Flagged records" in message["body"]

    # And the demo's rendering of all this works on the real data
    console = Console(file=io.StringIO(), width=120)
    rows = demo.state_rows(stack.history(run["arn"]))
    console.print(demo.execution_table(rows))
    for table in demo.summary_tables(item):
        console.print(table)
    demo.print_message(console, message)
    text = console.file.getvalue()
    assert "Builtin.Helpfulness" in text and "LOW_SCORES" in text
    assert demo.path_line(rows).startswith("Validate → CheckOutcome → Submit")


def test_a_job_that_bedrock_fails_is_notified_with_its_messages(stack, dataset, tmp_path):
    # Given Bedrock failing the next job
    emulator_control(stack.endpoint, "fail-jobs", {"messages": ["Model mapping error on line 3"]})
    # When a dataset arrives
    run = drop_dataset(stack, "datasets/support-assistant/e2e-failed.jsonl", dataset, tmp_path)
    # Then nothing is parsed, the run is FAILED and the alert carries the service's message
    assert run["description"]["status"] == "SUCCEEDED"
    path = _path(stack, run["arn"])
    assert "Parse" not in path
    assert path[-2:] == ["Notify", "Done"]
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    assert (stack.run(run_id).status, stack.run(run_id).verdict) == ("FAILED", "FAILED")
    [message] = _messages_for(stack, run_id)
    assert (message["attributes"]["verdict"], message["attributes"]["severity"]) == ("FAILED", "error")
    assert "Model mapping error on line 3" in message["body"]


def test_a_throttled_submit_is_retried_until_the_job_is_created(stack, dataset, tmp_path):
    # Given Bedrock throttling more CreateEvaluationJob calls than botocore retries in one invocation
    emulator_control(stack.endpoint, "throttle", {"count": 6})
    # When a dataset arrives
    run = drop_dataset(stack, "datasets/support-assistant/e2e-throttled.jsonl", dataset, tmp_path)
    # Then Submit failed with BedrockThrottled, the state machine retried it, and the run completed
    assert run["description"]["status"] == "SUCCEEDED"
    assert "BedrockThrottled" in history_errors(stack, run["arn"])
    path = _path(stack, run["arn"])
    assert path.count("Submit") == 1  # the Retrier stays inside the state
    assert path[-1] == "Done"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    assert len(_jobs(stack, run_id)) == 1
    assert len(_messages_for(stack, run_id)) == 1


def test_a_rejected_dataset_is_notified_and_never_submitted(stack, dataset, tmp_path):
    # Given a dataset whose second line has no modelResponses
    lines = dataset.splitlines()
    broken = json.loads(lines[1])
    del broken["modelResponses"]
    body = b"\n".join([lines[0], json.dumps(broken).encode(), *lines[2:]]) + b"\n"
    key = "datasets/support-assistant/e2e-rejected.jsonl"
    # When it arrives
    run = drop_dataset(stack, key, body, tmp_path)
    # Then validation rejects it: no job, and the alert names the line and the field
    assert run["description"]["status"] == "SUCCEEDED"
    assert _path(stack, run["arn"]) == ["Validate", "CheckOutcome", "Notify", "Done"]
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    assert _jobs(stack, run_id) == []
    [message] = _messages_for(stack, run_id)
    assert message["attributes"]["verdict"] == "REJECTED"
    assert f"{key}:2: modelResponses" in message["body"]


def test_the_same_object_event_delivered_twice_starts_one_job(stack, dataset, tmp_path):
    # Given a dataset whose run completed
    key = "datasets/support-assistant/e2e-duplicate.jsonl"
    first = drop_dataset(stack, key, dataset, tmp_path)
    assert first["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(first["description"]["output"])["run"]["run_id"]
    assert len(_messages_for(stack, run_id)) == 1
    # When EventBridge delivers the same S3 event again (at-least-once delivery)
    event = first["event"]
    response = stack.client("events").put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "Time": event["time"],
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    second_arn = stack.execution_for(key, exclude={first["arn"]})
    second = stack.wait_for_execution(second_arn)
    # Then the second execution finds the run claimed and stops: one job, one notification
    assert second["status"] == "SUCCEEDED"
    assert json.loads(second["input"])["detail"] == event["detail"]
    assert _path(stack, second_arn) == ["Validate", "CheckOutcome", "Duplicate"]
    assert len(_jobs(stack, run_id)) == 1
    assert _messages_for(stack, run_id, wait=2) == []
