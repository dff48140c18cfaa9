"""Faults injected into the synthesized state machine in moto: every one ends in a true run status,
exactly one notification, no Bedrock job left running and no record attributed to the wrong data.

Issue 11 lists the faults; each test here injects one (the emulator's controls, a handler made to
fail, an object overwritten mid-run) and asserts the outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from handlers import _runtime
from local import bedrock_emulator
from local.inprocess_lambda import current_runner

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples/suites/support-assistant.json").read_text())
DATASET = (ROOT / "examples/datasets/support-assistant/sample.jsonl").read_bytes()
KEY = "datasets/support-assistant/sample.jsonl"
SUITE_NAME = "support-assistant"


def drop(pipeline, dataset: bytes = DATASET, key: str = KEY) -> dict:
    pipeline.upload_suite("support-assistant", SUITE)
    return pipeline.drop_dataset(key, dataset)


def jobs() -> list[dict]:
    return boto3.client("bedrock", region_name="us-east-1").list_evaluation_jobs()["jobSummaries"]


def run_of(pipeline, result):
    run_id = (
        result.output["run"]["run_id"]
        if result.output
        else pipeline.runs().history("support-assistant")[0].run_id
    )
    return pipeline.runs().load(run_id)


def test_a_dataset_overwritten_while_its_job_runs_is_evaluated_as_dropped(deploy):
    # Given an 18-line dataset dropped, and a 3-line version uploaded to the same key while the job
    # runs (the job reads its dataset when it finishes: on its fourth status read here)
    pipeline = deploy()
    bedrock_emulator.controls.finish_jobs_on_read(4)
    event = drop(pipeline)
    second_version = b"".join(DATASET.splitlines(keepends=True)[:3])
    submitted = threading.Event()

    def overwrite_once_submitted() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if has_job(pipeline):
                with between_invocations():
                    pipeline.clients["s3"].put_object(Bucket=pipeline.bucket, Key=KEY, Body=second_version)
                submitted.set()
                return
            time.sleep(0.02)

    writer = threading.Thread(target=overwrite_once_submitted)
    writer.start()
    # When the execution runs
    result = pipeline.run(event, timeout=90)
    writer.join()
    # Then the overwrite happened during the run, and the run is about the 18 dropped lines
    assert submitted.is_set() and result.status == "SUCCEEDED", result.describe()
    run = run_of(pipeline, result)
    assert run.record_count == 18 and run.coverage is not None and run.coverage.complete
    # And the run records both the user's object and its own copy, which the job read
    assert run.dataset is not None and run.input_dataset is not None
    assert (run.dataset.key, run.dataset.version_id) == (KEY, event["detail"]["object"]["version-id"])
    assert run.input_dataset.key == f"inputs/support-assistant/{run.run_id}/sample.jsonl"
    [job] = jobs()
    described = boto3.client("bedrock", region_name="us-east-1").get_evaluation_job(
        jobIdentifier=job["jobArn"]
    )
    location = described["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"][
        "datasetLocation"
    ]
    assert location["s3Uri"] == f"s3://{pipeline.bucket}/{run.input_dataset.key}"
    copied = (
        pipeline.clients["s3"].get_object(Bucket=pipeline.bucket, Key=run.input_dataset.key)["Body"].read()
    )
    assert copied == DATASET


def test_results_missing_for_some_records_are_incomplete_and_named(deploy):
    # Given a job whose output lacks its last three records
    pipeline = deploy()
    bedrock_emulator.controls.shorten_next_outputs(drop=3)
    # When the execution runs
    result = pipeline.run(drop(pipeline))
    # Then the run completed but cannot pass: INCOMPLETE, naming lines 16-18, in one notification
    assert result.status == "SUCCEEDED", result.describe()
    run = run_of(pipeline, result)
    assert (run.status, run.verdict, run.record_count) == ("COMPLETED", "INCOMPLETE", 15)
    assert run.coverage is not None
    assert (run.coverage.expected, run.coverage.missing_count) == (18, 3)
    assert [m.line for m in run.coverage.missing] == [16, 17, 18]
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "INCOMPLETE"
    assert "3 of 18 records not evaluated" in message["subject"]
    assert "missing: line 16" in message["message"]


def test_surplus_results_are_incomplete_too(deploy):
    # Given a job whose output repeats its last record twice (20 results for 18 lines)
    pipeline = deploy()
    bedrock_emulator.controls.shorten_next_outputs(repeat=2)
    result = pipeline.run(drop(pipeline))
    run = run_of(pipeline, result)
    assert (run.verdict, run.record_count) == ("INCOMPLETE", 20)
    assert run.coverage is not None and (run.coverage.missing_count, run.coverage.surplus_count) == (0, 2)
    [message] = pipeline.messages()
    assert "2 results match no dataset record" in message["subject"]


# -- orphaned jobs and lost notifications --------------------------------------------------------


def table_error(operation: str = "UpdateItem") -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected outage"}}, operation
    )


def job_statuses() -> list[str]:
    return [job["status"] for job in jobs()]


def status_change(pipeline, result, status: str | None = None) -> dict:
    """The "Execution Status Change" event Step Functions sends when the execution ends."""
    sfn = pipeline.clients["stepfunctions"]
    described = sfn.describe_execution(executionArn=result.execution_arn)
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": result.execution_arn,
            "stateMachineArn": pipeline.state_machine_arn,
            "name": described["name"],
            "status": status or described["status"],
            "input": described["input"],
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


class FakeContext:
    function_name = "reconcile"
    aws_request_id = "fault-test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:reconcile"
    memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@contextlib.contextmanager
def pipeline_environment(pipeline) -> Iterator[None]:
    """The reconcile function's environment (it is invoked by a rule, not by the state machine)."""
    env = {
        "RUNS_TABLE_NAME": pipeline.table_name,
        "BUCKET_NAME": pipeline.bucket,
        "TOPIC_ARN": pipeline.topic_arn,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    _runtime.reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _runtime.reset()


def reconcile(pipeline, event: dict) -> dict:
    from handlers import reconcile as reconcile_handler

    with pipeline_environment(pipeline):
        return reconcile_handler.handler(event, FakeContext())


def test_a_poll_that_keeps_failing_stops_the_job_and_is_notified_once(deploy, monkeypatch):
    # Given a Poll function that fails on every call (the runs table is unavailable to it)
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=60, stop_seconds=1)

    def failing_poll(*args, **kwargs):
        raise table_error("GetItem")

    monkeypatch.setattr("handlers.poll.poll", failing_poll)
    # When the execution runs
    result = pipeline.run(drop(pipeline), timeout=120)
    # Then Poll was retried, the run is ERROR, its job was stopped, and one notification says so
    assert result.status == "FAILED"
    assert result.path.count("Poll") == 1 and result.task_errors().count("ClientError") > 1
    run = run_of(pipeline, result)
    assert (run.status, run.verdict) == ("ERROR", "ERROR")
    assert run.error is not None and run.error.job_stopped is True
    assert job_statuses() in (["Stopping"], ["Stopped"])
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"
    assert "the evaluation job was stopped" in message["message"]


def test_a_failing_shard_stops_every_job_of_the_run_and_gives_back_its_slots(deploy, monkeypatch):
    # Given a run of two jobs (jobs of 10 records) whose second job's Poll fails on every call
    import handlers.poll

    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=60, stop_seconds=1)
    real = handlers.poll.poll

    def second_shard_fails(run_id, shard, *args, **kwargs):
        if shard == 2:
            raise table_error("GetItem")
        return real(run_id, shard, *args, **kwargs)

    monkeypatch.setattr("handlers.poll.poll", second_shard_fails)
    sharded = {**SUITE, "pipeline": {**SUITE["pipeline"], "shardSize": 10}}
    pipeline.upload_suite(SUITE_NAME, sharded)
    # When the execution runs
    result = pipeline.run(pipeline.drop_dataset(KEY, DATASET), timeout=120)
    # Then the Map failed into the error path: the run is ERROR and both its jobs were stopped
    assert result.status == "FAILED"
    run = run_of(pipeline, result)
    assert len(run.shards) == 2
    assert (run.status, run.verdict) == ("ERROR", "ERROR")
    assert run.error is not None and run.error.job_stopped is True
    assert sorted(job["jobName"] for job in jobs()) == [f"{run.run_id}-s01", f"{run.run_id}-s02"]
    assert set(job_statuses()) <= {"Stopping", "Stopped"}
    # And no slot of the account's pool stays taken, nothing was scored, and one notification went out
    assert pipeline.runs().job_slots(lambda: None).holders("automated") == {}
    assert run.record_count is None and list(pipeline.runs().iter_records(run.run_id)) == []
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"
    assert "2 jobs were stopped" in message["message"]


def test_a_review_that_cannot_read_back_the_records_it_shows_ends_error_and_notifies_once(
    deploy, monkeypatch
):
    # Given the runs table refusing every BatchGetItem (the review reads the shown records' texts)
    pipeline = deploy()

    def failing_get_records(self, run_id, indices):
        raise table_error("BatchGetItem")

    monkeypatch.setattr("evalpipe.aws.runs_table.RunsTable.get_records", failing_get_records)
    # When the execution runs (the example's records have flagged scores to show)
    result = pipeline.run(drop(pipeline), timeout=120)
    # Then Parse failed after its retries, the run is ERROR (never PASSED), no job is left running,
    # and exactly one notification says so
    assert result.status == "FAILED"
    assert "Parse" in result.path and result.task_errors().count("ClientError") >= 1
    run = run_of(pipeline, result)
    assert (run.status, run.verdict) == ("ERROR", "ERROR")
    assert all(status in ("Completed", "Stopped", "Failed") for status in job_statuses())
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"


def test_a_full_scratch_disk_ends_the_run_error_with_no_record_stored_and_notifies_once(deploy, monkeypatch):
    # Given the parse function's /tmp full: every write to its scratch tables fails, as SQLite says
    import sqlite3

    pipeline = deploy()

    def disk_full(self, table, rows):
        if rows:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("evalpipe.scratch.Tables.insert", disk_full)
    # When the execution runs
    result = pipeline.run(drop(pipeline), timeout=120)
    # Then Parse failed after its retries, the run is ERROR (never PASSED) with no record stored
    # (none attributed to a run that scored nothing), no job is left running, and exactly one
    # notification says so
    assert result.status == "FAILED"
    assert "Parse" in result.path and result.task_errors().count("OperationalError") >= 1
    run = run_of(pipeline, result)
    assert (run.status, run.verdict) == ("ERROR", "ERROR")
    assert run.record_count is None and list(pipeline.runs().iter_records(run.run_id)) == []
    assert all(status in ("Completed", "Stopped", "Failed") for status in job_statuses())
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"


def test_a_poll_that_fails_once_is_retried_and_the_run_completes(deploy, monkeypatch):
    import handlers.poll

    pipeline = deploy()
    real, calls = handlers.poll.poll, []

    def flaky_poll(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise table_error("GetItem")
        return real(*args, **kwargs)

    monkeypatch.setattr("handlers.poll.poll", flaky_poll)
    result = pipeline.run(drop(pipeline), timeout=120)
    assert result.status == "SUCCEEDED", result.describe()
    assert run_of(pipeline, result).status == "COMPLETED"
    assert len(pipeline.messages()) == 1


def test_a_transient_sns_failure_is_retried_and_notifies_once(deploy, monkeypatch):
    from evalpipe.notification import delivery

    pipeline = deploy()
    real, calls = delivery.publish, []

    def flaky_publish(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "Publish")
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "publish", flaky_publish)
    result = pipeline.run(drop(pipeline), timeout=120)
    assert result.status == "SUCCEEDED", result.describe()
    assert "NotificationNotSent" in result.task_errors()
    run = run_of(pipeline, result)
    [message] = pipeline.messages()
    assert run.notification_id == message["message_id"]


def test_a_runs_table_outage_still_reaches_the_topic_and_is_reconciled_later(deploy, monkeypatch):
    # Given a run that reached its job, then a runs table that refuses every write and read
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=60, stop_seconds=1)
    from evalpipe.aws.runs_table import RunsTable

    real_get = RunsTable.get
    outage = {"on": False}

    def get(self, run_id):
        if outage["on"]:
            raise table_error("GetItem")
        return real_get(self, run_id)

    def failing_poll(*args, **kwargs):
        outage["on"] = True
        raise table_error("GetItem")

    monkeypatch.setattr(RunsTable, "get", get)
    monkeypatch.setattr("handlers.poll.poll", failing_poll)
    # When the execution runs
    result = pipeline.run(drop(pipeline), timeout=120)
    # Then the error path still notified the team (from the execution's own state) and failed
    assert result.status == "FAILED"
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"
    assert "the runs table could not record this run" in message["message"]
    # When the table is back and the execution's status change is reconciled
    outage["on"] = False
    outcome = reconcile(pipeline, status_change(pipeline, result))
    # Then the run is ERROR with that notification recorded, its job stopped, and nothing sent again
    run = run_of(pipeline, result)
    assert outcome["outcome"] == "RECORDED"
    assert (run.status, run.notification_id) == ("ERROR", message["message_id"])
    assert job_statuses() in (["Stopping"], ["Stopped"])
    assert pipeline.messages() == []


class Ended:
    def __init__(self, execution_arn: str) -> None:
        self.execution_arn = execution_arn
        self.output = None


def between_invocations():
    """Held while a test thread touches moto as an execution runs (moto is not thread-safe)."""
    runner = current_runner()
    assert runner is not None
    return runner.exclusive()


def has_job(pipeline) -> bool:
    with between_invocations():
        return any(r.job_arn for r in pipeline.runs().history(SUITE_NAME))


def stopped_while_its_job_runs(pipeline) -> Ended:
    """Start an execution, wait until its run has a job, then StopExecution it."""
    sfn = pipeline.clients["stepfunctions"]
    event = json.dumps(drop(pipeline))
    arn = sfn.start_execution(stateMachineArn=pipeline.state_machine_arn, input=event)["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not has_job(pipeline):
        time.sleep(0.1)
    sfn.stop_execution(executionArn=arn)
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.1)
    return Ended(arn)


def test_an_execution_stopped_by_hand_stops_its_job_and_is_notified_once(deploy):
    # Given a run whose job is in progress
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=600, stop_seconds=1)
    # When someone stops the execution, and its status change is reconciled
    result = stopped_while_its_job_runs(pipeline)
    outcome = reconcile(pipeline, status_change(pipeline, result))
    # Then the run is STOPPED, its job stopped, and the team got one notification
    run = pipeline.runs().history("support-assistant")[0]
    assert outcome["outcome"] == "NOTIFIED"
    assert (run.status, run.verdict) == ("STOPPED", "STOPPED")
    assert run.error is not None and run.error.type == "ExecutionAborted" and run.error.job_stopped is True
    assert job_statuses() in (["Stopping"], ["Stopped"])
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "STOPPED"
    # And a second delivery of the same event sends nothing more
    assert reconcile(pipeline, status_change(pipeline, result))["outcome"] == "UNCHANGED"
    assert pipeline.messages() == []


def test_a_timed_out_execution_is_reconciled_as_timed_out(deploy):
    # Given a run in progress whose execution Step Functions timed out (the event says TIMED_OUT)
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=600, stop_seconds=1)
    result = stopped_while_its_job_runs(pipeline)
    reconcile(pipeline, status_change(pipeline, result, status="TIMED_OUT"))
    run = pipeline.runs().history("support-assistant")[0]
    assert (run.status, run.verdict) == ("TIMED_OUT", "TIMED_OUT")
    assert job_statuses() in (["Stopping"], ["Stopped"])
    assert [m["attributes"]["verdict"] for m in pipeline.messages()] == ["TIMED_OUT"]
