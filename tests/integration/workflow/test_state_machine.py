"""Every path of the synthesized state machine, executed in moto with the handlers in-process."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from local import bedrock_emulator

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples/suites/support-assistant.json").read_text())
DATASET = (ROOT / "examples/datasets/support-assistant/sample.jsonl").read_bytes()
KEY = "datasets/support-assistant/sample.jsonl"


def drop(pipeline, dataset: bytes = DATASET, key: str = KEY) -> dict:
    pipeline.upload_suite("support-assistant", SUITE)
    return pipeline.drop_dataset(key, dataset)


def jobs() -> list[dict]:
    return boto3.client("bedrock", region_name="us-east-1").list_evaluation_jobs()["jobSummaries"]


def test_completed_job_is_parsed_and_notified(deploy):
    # Given the deployed pipeline and the example suite + dataset dropped as a user would
    pipeline = deploy()
    # ... and a job still running at the first poll and done at the second. Counted in reads, not
    # seconds: with a 2 s job, a loaded machine made the first poll late and the loop untested.
    bedrock_emulator.controls.finish_jobs_on_read(2)
    event = drop(pipeline)
    # When the execution runs
    result = pipeline.run(event)
    # Then it walks validate -> submit -> poll, waits again on InProgress, polls -> parse -> notify
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == [
        "Validate",
        "CheckOutcome",
        "Jobs",
        "Submit",
        "CheckSlot",
        "WaitForJob",
        "Poll",
        "CheckJobStatus",
        "WaitForJob",
        "Poll",
        "CheckJobStatus",
        "JobEnded",
        "Parse",
        "Notify",
        "Done",
    ]
    poll_statuses = [
        json.loads(exited["stateExitedEventDetails"]["output"])["job"]["status"]
        for exited in result.events_of_type("TaskStateExited")
        if exited["stateExitedEventDetails"]["name"] == "Poll"
    ]
    assert poll_statuses == ["InProgress", "Completed"]
    run = pipeline.runs().get(result.output["run"]["run_id"])
    assert run.status == "COMPLETED"
    assert run.record_count == len(DATASET.splitlines())
    assert "Builtin.Helpfulness" in run.metrics
    # And exactly one notification went out, with the run's verdict
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == run.verdict
    assert message["attributes"]["suite"] == "support-assistant"


def test_failed_job_is_notified_with_its_failure_messages(deploy):
    # Given a job that Bedrock fails
    pipeline = deploy()
    bedrock_emulator.controls.fail_next_job(["Model mapping error: identifier mismatch on line 3"])
    # When the execution runs
    result = pipeline.run(drop(pipeline))
    # Then its shard ends (a run of one job is not resubmitted), Parse finds nothing to read and
    # records the run FAILED, and the notification carries the service's message
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path.count("Submit") == 1
    assert result.path[-4:] == ["JobEnded", "Parse", "Notify", "Done"]
    run = pipeline.runs().get(result.output["run"]["run_id"])
    assert (run.status, run.verdict) == ("FAILED", "FAILED")
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "FAILED"
    assert "identifier mismatch on line 3" in message["message"]


def test_a_job_past_its_deadline_is_stopped_and_notified(deploy):
    # Given jobs that take a minute and a pipeline that gives them one second
    pipeline = deploy(JOB_TIMEOUT_SECONDS="1")
    bedrock_emulator.controls.set_delays(job_seconds=60, stop_seconds=1)
    # When the execution runs
    result = pipeline.run(drop(pipeline))
    # Then the poll loop times out, StopEvaluationJob is sent and the run is TIMED_OUT
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path[-5:] == ["StopJob", "JobEnded", "Parse", "Notify", "Done"]
    run = pipeline.runs().get(result.output["run"]["run_id"])
    assert (run.status, run.verdict) == ("TIMED_OUT", "TIMED_OUT")
    assert [job["status"] for job in jobs()] in (["Stopping"], ["Stopped"])
    [message] = pipeline.messages()  # exactly one
    assert message["attributes"]["verdict"] == "TIMED_OUT"


def test_a_throttled_submit_is_retried_by_the_state_machine(deploy):
    # Given Bedrock throttling more CreateEvaluationJob calls than botocore retries inside one invocation
    pipeline = deploy()
    bedrock_emulator.controls.throttle_next_creates(count=6)
    # When the execution runs
    result = pipeline.run(drop(pipeline), timeout=90)
    # Then Submit failed once with BedrockThrottled, was retried, and the run completed with one job
    assert result.status == "SUCCEEDED", result.describe()
    assert "BedrockThrottled" in result.task_errors()
    assert result.path.count("Submit") == 1  # retries stay inside the state
    assert result.path[-1] == "Done"
    assert len(jobs()) == 1


def test_a_rejected_dataset_is_notified_and_never_submitted(deploy):
    # Given a dataset whose second line has no modelResponses
    pipeline = deploy()
    lines = DATASET.splitlines()
    broken = json.loads(lines[1])
    del broken["modelResponses"]
    dataset = b"\n".join([lines[0], json.dumps(broken).encode(), *lines[2:]]) + b"\n"
    # When the execution runs
    result = pipeline.run(drop(pipeline, dataset))
    # Then the path skips submission, the run is REJECTED and the message names line and field
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == ["Validate", "CheckOutcome", "Notify", "Done"]
    assert jobs() == []
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "REJECTED"
    assert f"{KEY}:2: modelResponses" in message["message"]


def test_the_same_event_delivered_twice_starts_one_job(deploy):
    # Given an event that EventBridge delivers twice
    pipeline = deploy()
    event = drop(pipeline)
    # When both deliveries run
    first = pipeline.run(event)
    second = pipeline.run(event)
    # Then the second stops at Duplicate: one job, one notification
    assert first.status == second.status == "SUCCEEDED"
    assert second.path == ["Validate", "CheckOutcome", "Duplicate"]
    assert len(jobs()) == 1
    assert len(pipeline.messages()) == 1


def test_an_unexpected_error_is_recorded_notified_and_fails_the_execution(deploy):
    # Given Bedrock refusing the job (not retryable)
    pipeline = deploy()
    bedrock_emulator.controls.inject_error("CreateEvaluationJob", "AccessDeniedException", count=1)
    # When the execution runs
    result = pipeline.run(drop(pipeline))
    # Then RecordError and NotifyError run and the execution fails (so the alarm fires too)
    assert result.status == "FAILED"
    assert result.path[-3:] == ["RecordError", "NotifyError", "PipelineFailed"]
    assert result.error == "BedrockRejected"
    run = pipeline.runs().get(result.output["run"]["run_id"] if result.output else jobs_run_id(pipeline))
    assert (run.status, run.error.type) == ("ERROR", "BedrockRejected")
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"


def jobs_run_id(pipeline) -> str:
    """The only run in the table (a failed execution has no output to read it from)."""
    [item] = pipeline.runs().history("support-assistant")
    return item.run_id


def test_a_file_that_is_not_jsonl_is_rejected_with_the_way_to_fix_it(deploy):
    # Given a JSON array saved as .json under the suite's folder (the rule matches every key there)
    pipeline = deploy()
    records = [json.loads(line) for line in DATASET.splitlines()]
    key = "datasets/support-assistant/records.json"
    # When its execution runs
    result = pipeline.run(drop(pipeline, json.dumps(records).encode(), key=key))
    # Then nothing is submitted, and the suite's team is told which files are evaluated and how to fix it
    assert result.path == ["Validate", "CheckOutcome", "Notify", "Done"]
    assert jobs() == []
    [message] = pipeline.messages()
    assert (message["attributes"]["verdict"], message["attributes"]["suite"]) == (
        "REJECTED",
        "support-assistant",
    )
    text = " ".join(message["message"].split())  # the body is wrapped for e-mail clients
    assert f"{key}: only .jsonl files (JSON Lines: one JSON object per line)" in text
    assert "jq -c '.[]' FILE.json > FILE.jsonl" in text


def test_a_folder_created_in_the_console_starts_nothing(deploy):
    # Given the S3 console's "Create folder" under datasets/ (a key ending in "/")
    pipeline = deploy()
    # When its execution runs / Then it ends at once: no run, no notification
    result = pipeline.run(drop(pipeline, b"", key="datasets/support-assistant/"))
    assert result.path == ["Validate", "CheckOutcome", "Ignored"]
    assert pipeline.messages() == []
    assert pipeline.runs().history("support-assistant") == []
