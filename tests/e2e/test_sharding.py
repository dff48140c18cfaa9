"""End to end: runs larger than one job (shards) and many runs at once under the account's job quota.

The local stack's pool is 2 slots (``LOCAL_JOB_SLOTS``) below the emulator's quota of 3
(``LOCAL_JOB_QUOTA``); a test may lower the emulator's quota further.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.server import LOCAL_JOB_QUOTA, emulator_control
from tests.e2e.scenario import SUPPORT_ASSISTANT, Execution, ended, given_suite, when_dataset_dropped

pytestmark = pytest.mark.slow


def numbered_dataset(records: int) -> bytes:
    """``records`` lines of the example dataset, cycled, each prompt prefixed with its line number."""
    sample = [json.loads(line) for line in SUPPORT_ASSISTANT.dataset().decode().splitlines()]
    lines = []
    for number in range(1, records + 1):
        record = dict(sample[(number - 1) % len(sample)])
        record["prompt"] = f"[{number}] {record['prompt']}"
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def sharded_suite(stack, name: str, shard_size: int):
    """The example suite under ``name``, split into jobs of ``shard_size`` records."""
    document = json.loads(SUPPORT_ASSISTANT.file.read_text())
    document.setdefault("pipeline", {})["shardSize"] = shard_size
    return given_suite(stack, SUPPORT_ASSISTANT.example, as_name=name, document=document)


def peak_running_jobs(stack) -> int:
    return emulator_control(stack.endpoint, "state")["peakRunningJobs"]


def test_a_dataset_of_2500_records_is_one_run_of_three_jobs_in_line_order(stack):
    # Given a dataset of 2,500 records (a job takes 1,000)
    body = numbered_dataset(2500)
    # When it is dropped
    dropped = when_dataset_dropped(stack, SUPPORT_ASSISTANT, "e2e-2500.jsonl", body)
    # Then one run of 2,500 records completed, from three jobs of 1,000, 1,000 and 500 records
    assert dropped.status == "SUCCEEDED", dropped.description.get("cause")
    run = dropped.run
    assert run is not None and (run.status, run.record_count) == ("COMPLETED", 2500)
    assert run.coverage is not None and run.coverage.complete
    shards = run.all_shards()
    assert [(s.first_line, s.last_line, s.status) for s in shards] == [
        (1, 1000, "COMPLETED"),
        (1001, 2000, "COMPLETED"),
        (2001, 2500, "COMPLETED"),
    ]
    names = sorted(job["jobName"] for job in dropped.jobs())
    assert names == [f"{run.run_id}-s01", f"{run.run_id}-s02", f"{run.run_id}-s03"]
    # And its records keep the dataset's line order and numbering across the jobs
    records = dropped.records
    assert [r.index for r in records] == list(range(2500))
    assert [int(r.prompt_excerpt.split("]")[0][1:]) for r in records] == list(range(1, 2501))
    # And one notification went out, for the whole run
    [message] = dropped.messages(count=1)
    assert message["attributes"]["run_id"] == run.run_id
    assert peak_running_jobs(stack) <= 2  # the deployment's pool


def test_eight_datasets_dropped_at_once_under_a_quota_of_two_all_complete(stack):
    # Given an account whose quota is 2 concurrent jobs (the pool is 2 as well)
    emulator_control(stack.endpoint, "config", {"maxConcurrentJobs": 2})
    s3 = stack.client("s3")
    keys = [SUPPORT_ASSISTANT.dataset_key(f"e2e-queue-{n}.jsonl") for n in range(8)]
    # When 8 datasets are dropped at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda key: s3.put_object(Bucket=stack.bucket, Key=key, Body=SUPPORT_ASSISTANT.dataset()),
                keys,
            )
        )
    executions = [ended(stack, SUPPORT_ASSISTANT.name, stack.execution_for(key), timeout=300) for key in keys]
    # Then every run completed, none failed
    for execution in executions:
        assert execution.status == "SUCCEEDED", execution.description.get("cause")
        assert execution.run is not None and execution.run.status == "COMPLETED"
    # And never more than 2 jobs ran at once, so some runs waited for a slot
    assert peak_running_jobs(stack) == 2
    assert any("WaitForSlot" in execution.states() for execution in executions)


def test_a_shard_that_fails_twice_fails_the_run_and_keeps_the_other_shards_scores(stack):
    # Given a suite split into jobs of 10 records, and Bedrock failing its second job every time
    suite = sharded_suite(stack, "support-shards-fail", 10)
    emulator_control(
        stack.endpoint,
        "fail-jobs",
        {"namePattern": "-s02", "messages": ["Throttled by the judge"], "count": 2},
    )
    # When the 18-record example is dropped
    dropped = when_dataset_dropped(stack, suite, "e2e-fail.jsonl")
    # Then the second shard was submitted twice, and the run ended FAILED naming it and its lines
    run = dropped.run
    assert run is not None and (run.status, run.verdict) == ("FAILED", "FAILED")
    second = run.shard(2)
    assert (second.status, second.attempt, len(second.earlier_attempts)) == ("FAILED", 2, 1)
    assert run.failure_messages == ["shard 2 (lines 11-18), after 2 attempts: Throttled by the judge"]
    assert sorted(job["jobName"] for job in dropped.jobs()) == sorted(
        [f"{run.run_id}-s01", f"{run.run_id}-s02", f"{run.run_id}-s02-r2"]
    )
    # And no job of it runs on (the two attempts of shard 2 failed, shard 1 completed)
    assert {job["status"] for job in dropped.jobs()} == {"Completed", "Failed"}
    # And the first shard's 10 scores are stored and shown
    assert run.record_count == 10 and len(dropped.records) == 10
    [message] = dropped.messages(count=1)
    assert message["attributes"]["verdict"] == "FAILED"
    assert "shard 2 (lines 11-18)" in message["body"]
    assert "Scores of the 1 of 2 jobs that completed (10 records)" in message["body"]
    assert "Builtin.Helpfulness" in message["body"]


def test_a_stopped_run_stops_every_job_of_it(stack):
    # Given a run of two jobs that are still running
    suite = sharded_suite(stack, "support-shards-stop", 10)
    emulator_control(stack.endpoint, "config", {"jobSeconds": 600, "maxConcurrentJobs": LOCAL_JOB_QUOTA})
    key = suite.dataset_key("e2e-stop.jsonl")
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=SUPPORT_ASSISTANT.dataset())
    arn = stack.execution_for(key)
    bedrock = stack.client("bedrock")

    def jobs() -> list[dict]:
        return bedrock.list_evaluation_jobs(nameContains=suite.name)["jobSummaries"]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(jobs()) < 2:
        time.sleep(0.5)
    assert sorted(job["status"] for job in jobs()) == ["InProgress", "InProgress"]
    run_id = jobs()[0]["jobName"].rsplit("-s", 1)[0]
    # When someone stops the execution
    stack.client("stepfunctions").stop_execution(executionArn=arn)
    # Then the run is STOPPED (reconciled from the execution's status change), both its jobs are
    # stopping, and the team is told once
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and getattr(stack.run(run_id), "status", None) != "STOPPED":
        time.sleep(0.5)
    run = stack.run(run_id)
    assert run is not None and (run.status, run.verdict) == ("STOPPED", "STOPPED")
    assert run.error is not None and run.error.job_stopped is True
    assert {job["status"] for job in jobs()} <= {"Stopping", "Stopped"}
    stopped = Execution(stack, suite.name, arn, {"output": json.dumps({"run": {"run_id": run_id}})}, key)
    [message] = stopped.messages(count=1)
    assert message["attributes"]["verdict"] == "STOPPED"
