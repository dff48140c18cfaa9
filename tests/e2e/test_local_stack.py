"""End to end: the deployed stack in the local emulator, from an S3 upload to the SNS alert.

S3 -> EventBridge rule -> Step Functions -> Lambdas (deployed zip, in-process) -> Bedrock
(emulated) -> DynamoDB -> SNS -> the SQS subscriber. Nothing is called directly: every run starts
from an object upload (or a re-sent event), as in AWS.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from local import demo
from local.server import emulator_control
from tests.e2e.scenario import SUPPORT_ASSISTANT, ended, when_dataset_dropped

pytestmark = pytest.mark.slow


def test_a_dataset_upload_runs_the_pipeline_and_alerts_on_low_scores(stack, dataset):
    # Given the deployed stack and the example suite, when a user uploads the example dataset
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-happy.jsonl", dataset)

    # Then S3's real Object Created event started the execution...
    event = dropped.event
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["detail"]["bucket"]["name"] == stack.bucket
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=dropped.key)
    assert event["detail"]["object"]["key"] == dropped.key == "datasets/support-assistant/e2e-happy.jsonl"
    assert event["detail"]["object"]["size"] == len(dataset)
    assert event["detail"]["object"]["etag"] == head["ETag"].strip('"')
    assert event["detail"]["object"]["version-id"] == head["VersionId"]
    assert event["detail"]["reason"] == "PutObject"
    assert event["time"].endswith("Z")

    # ... which walked validate -> submit -> poll loop -> parse -> notify and succeeded
    assert dropped.status == "SUCCEEDED"
    path = dropped.states()
    assert path[:4] == ["Validate", "CheckOutcome", "Jobs", "Submit"]
    assert path[-4:] == ["JobEnded", "Parse", "Notify", "Done"]
    assert "Poll" in path

    # And the run is in DynamoDB with its summary
    item = dropped.run
    assert (item.status, item.verdict) == ("COMPLETED", "LOW_SCORES")
    assert item.record_count == len(dataset.splitlines())
    assert item.metrics["Builtin.Helpfulness"].low_count >= 1
    assert item.categories

    # And Bedrock ran one job, which left its results in the bucket
    assert dropped.job()["status"] == "Completed"
    assert dropped.output_files()

    # And the subscriber got exactly one alert, with filterable attributes
    message = dropped.message()
    assert message["subject"].startswith("[evalpipe] support-assistant: LOW_SCORES")
    assert message["attributes"] == {
        "suite": "support-assistant",
        "verdict": "LOW_SCORES",
        "status": "COMPLETED",
        "severity": "warning",
        "run_id": dropped.run_id,
    }
    assert "Flagged records" in message["body"]

    # And the demo's rendering of all this works on the real data
    console = Console(file=io.StringIO(), width=120)
    rows = demo.state_rows(stack.history(dropped.arn))
    console.print(demo.execution_table(rows))
    for table in demo.summary_tables(item):
        console.print(table)
    demo.print_message(console, message)
    text = console.file.getvalue()
    assert "Builtin.Helpfulness" in text and "LOW_SCORES" in text
    assert demo.path_line(rows).startswith("Validate → CheckOutcome → Jobs → Submit")


def test_a_job_that_bedrock_fails_is_notified_with_its_messages(stack, dataset):
    # Given Bedrock failing the next job
    emulator_control(stack.endpoint, "fail-jobs", {"messages": ["Model mapping error on line 3"]})
    # When a dataset arrives
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-failed.jsonl", dataset)
    # Then its one job is not resubmitted, Parse finds no completed job, the run is FAILED and the
    # alert carries the service's message
    assert dropped.status == "SUCCEEDED"
    path = dropped.states()
    assert path.count("Submit") == 1
    assert path[-4:] == ["JobEnded", "Parse", "Notify", "Done"]
    assert (dropped.run.status, dropped.run.verdict) == ("FAILED", "FAILED")
    message = dropped.message()
    assert (message["attributes"]["verdict"], message["attributes"]["severity"]) == ("FAILED", "error")
    assert "Model mapping error on line 3" in message["body"]


def test_a_throttled_submit_is_retried_until_the_job_is_created(stack, dataset):
    # Given Bedrock throttling more CreateEvaluationJob calls than botocore retries in one invocation
    emulator_control(stack.endpoint, "throttle", {"count": 6})
    # When a dataset arrives
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-throttled.jsonl", dataset)
    # Then Submit failed with BedrockThrottled, the state machine retried it, and the run completed
    assert dropped.status == "SUCCEEDED"
    assert "BedrockThrottled" in dropped.errors()
    path = dropped.states()
    assert path.count("Submit") == 1  # the Retrier stays inside the state
    assert path[-1] == "Done"
    assert len(dropped.jobs()) == 1
    assert len(dropped.messages()) == 1


def test_a_rejected_dataset_is_notified_and_never_submitted(stack, dataset):
    # Given a dataset whose second line has no modelResponses
    lines = dataset.splitlines()
    broken = json.loads(lines[1])
    del broken["modelResponses"]
    body = b"\n".join([lines[0], json.dumps(broken).encode(), *lines[2:]]) + b"\n"
    # When it arrives
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-rejected.jsonl", body)
    # Then validation rejects it: no job, and the alert names the line and the field
    assert dropped.status == "SUCCEEDED"
    assert dropped.states() == ["Validate", "CheckOutcome", "Notify", "Done"]
    assert dropped.jobs() == []
    message = dropped.message()
    assert message["attributes"]["verdict"] == "REJECTED"
    assert f"{dropped.key}:2: modelResponses" in message["body"]


def test_the_same_object_event_delivered_twice_starts_one_job(stack, dataset):
    # Given a dataset whose run completed
    first = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-duplicate.jsonl", dataset)
    assert first.status == "SUCCEEDED"
    assert len(first.messages()) == 1
    # When EventBridge delivers the same S3 event again (at-least-once delivery)
    event = first.event
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
    second = ended(stack, SUPPORT_ASSISTANT.name, stack.execution_for(first.key, exclude={first.arn}))
    # Then the second execution finds the run claimed and stops: one job, one notification
    assert second.status == "SUCCEEDED"
    assert second.event["detail"] == event["detail"]
    assert second.states() == ["Validate", "CheckOutcome", "Duplicate"]
    assert len(first.jobs()) == 1
    assert first.messages(wait=2) == []


def test_make_locals_watcher_shows_the_alert_and_leaves_the_users_queue_alone(stack, dataset):
    # Given `make local`'s watcher on its own subscription, as `python -m local serve` starts it
    output = io.StringIO()
    console = Console(file=output, width=200)
    watcher = demo.Watcher(console, stack, stack.subscribed_queue(demo.WATCHER_QUEUE))
    watcher.once()  # what already ran before this test is reported, not asserted
    output.truncate(0)
    output.seek(0)
    # When a dataset is dropped and its run ends
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-watched.jsonl", dataset)
    deadline = time.monotonic() + 20
    while "Verdict:" not in output.getvalue() and time.monotonic() < deadline:
        watcher.once()
        time.sleep(0.2)
    # Then the watcher printed the execution's end and the alert's body, not only its subject
    text = output.getvalue()
    assert "SUCCEEDED" in text
    assert f"Verdict: {dropped.run.verdict.replace('_', ' ')} —" in text
    # And the queue the printed `aws sqs receive-message` command reads still holds the alert
    assert dropped.message()["attributes"]["verdict"] == dropped.run.verdict
