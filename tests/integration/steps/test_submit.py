"""The submit step and handler against moto, with Bedrock pinned by a botocore Stubber."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from evalpipe.aws.bedrock_jobs import BedrockRejected, BedrockThrottled
from evalpipe.run.triggers import iso
from evalpipe.steps.poll import poll
from evalpipe.steps.submit import submit
from handlers import _runtime
from handlers import submit as submit_handler
from handlers import validate as validate_handler
from tests.integration.steps.flow import (
    JOB_ARN,
    FakeContext,
    expected_request,
    get_job_response,
    smoke_suite,
    submitted,
    validated,
)

# --- the step --------------------------------------------------------------------------------


def test_submit_sends_the_exact_request_and_records_the_job(ports, bedrock, bucket, dropped, clock):
    # Given a validated run
    event = dropped()
    run_id = validated(ports, event)
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, event))
    # When submitted
    result = submit(run_id, 1, ports)
    # Then the job name follows the service's pattern and the run is SUBMITTED before returning
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", run_id)
    assert result == {
        "job_arn": JOB_ARN,
        "job_name": run_id,
        "status": "InProgress",
        "wait_seconds": 30,
        "deadline": "2026-11-23T20:00:05+00:00",
    }
    run = ports.runs.get(run_id)
    assert (run.status, run.job_arn, run.job_name) == ("SUBMITTED", JOB_ARN, run_id)


def test_a_throttled_submit_raises_the_retryable_error_and_records_nothing(ports, bedrock, dropped):
    # Given a validated run and a throttling Bedrock
    run_id = validated(ports, dropped())
    bedrock.add_client_error("create_evaluation_job", "ThrottlingException", "Rate exceeded", 429)
    # When submitted, Then the step raises the error Step Functions retries on
    with pytest.raises(BedrockThrottled):
        submit(run_id, 1, ports)
    assert ports.runs.get(run_id).status == "VALIDATING"


def test_a_rejected_submit_is_not_retryable(ports, bedrock, dropped):
    run_id = validated(ports, dropped())
    bedrock.add_client_error("create_evaluation_job", "ValidationException", "bad role", 400)
    with pytest.raises(BedrockRejected, match="bad role"):
        submit(run_id, 1, ports)


# --- `pipeline.polling`: a suite's interval and timeout override the deployment's -----------


def test_submit_and_poll_use_the_suites_interval_and_timeout(ports, bedrock, bucket, dropped, clock):
    # Given a suite polling every 300 s with a 2-hour timeout (the deployment: 30 s and 1 hour)
    event = dropped(suite=smoke_suite(polling={"intervalSeconds": 300, "jobTimeoutSeconds": 7_200}))
    # When the run is submitted
    run_id = submitted(ports, bedrock, bucket, event)
    run = ports.runs.get(run_id)
    # Then its deadline is two hours after submission, and the run records the timing it runs with
    assert run.deadline - clock.now == timedelta(seconds=7_200)
    assert run.timing.poll_interval_seconds == 300
    assert run.timing.job_timeout_seconds == 7_200
    assert run.timing.human_poll_max_seconds == ports.settings.human_poll_max_seconds
    # And a poll waits the suite's interval
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, 1, JOB_ARN, iso(run.deadline), ports)["wait_seconds"] == 300


# --- the handler -----------------------------------------------------------------------------


def test_submit_handler_rejects_an_input_that_is_not_a_run_reference(function_env):
    # Given an input whose run id could not be a job name, When the handler parses it, Then it refuses
    with pytest.raises(ValidationError):
        submit_handler.handler({"run_id": "Not A Run", "shard": 1}, FakeContext())


def test_submit_handler_creates_the_job_through_the_shared_adapters(function_env, dropped):
    # Given a validated run and Bedrock pinned on the handler's own client
    run = validate_handler.handler(dropped(), FakeContext())
    client = _runtime.ports().jobs._client
    with Stubber(client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        # When the submit handler runs
        result = submit_handler.handler({"run_id": run["run_id"], "shard": 1}, FakeContext())
    # Then it returns the job for the polling loop
    assert result["job_arn"] == JOB_ARN
    assert result["wait_seconds"] == 60  # POLL_INTERVAL_SECONDS default


# --- the job pool: a slot first, a queue when there is none -----------------------------------


def test_without_a_free_slot_nothing_is_submitted_and_the_run_is_queued(
    ports, bedrock, bucket, dropped, clock
):
    # Given a validated run and every slot of the pool held by other runs
    event = dropped()
    run_id = validated(ports, event)
    size = ports.settings.max_concurrent_jobs
    for n in range(size):
        assert ports.slots.acquire("automated", f"other-run#{n}", size)
    # When submitted (the Stubber fails the test if CreateEvaluationJob is called)
    result = submit(run_id, 1, ports)
    # Then it waits for a slot, shown QUEUED
    assert result == {"status": "Queued", "wait_seconds": ports.settings.slot_wait_seconds}
    assert ports.runs.get(run_id).status == "QUEUED"
    # When it has waited an hour / Then it asks every 5 minutes, not every slotWaitSeconds
    clock.now += timedelta(hours=1)
    assert submit(run_id, 1, ports) == {"status": "Queued", "wait_seconds": 300}
    # When a slot is given back / Then the next try submits the job and holds the slot
    ports.slots.release("automated", "other-run#0")
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, event))
    assert submit(run_id, 1, ports)["status"] == "InProgress"
    assert f"{run_id}#1" in ports.slots.holders("automated")
    assert ports.runs.get(run_id).status == "SUBMITTED"


def test_a_quota_exceeded_answer_sends_the_shard_back_to_wait(ports, bedrock, bucket, dropped):
    # Given Bedrock at the account's quota (jobs started outside the pipeline count too)
    run_id = validated(ports, dropped())
    bedrock.add_client_error(
        "create_evaluation_job", "ServiceQuotaExceededException", "too many concurrent jobs", 400
    )
    # When submitted / Then it waits for a slot like a full pool, and gives back the slot it took
    assert submit(run_id, 1, ports)["status"] == "Queued"
    assert ports.slots.holders("automated") == {}


def test_a_failed_shard_of_a_sharded_run_is_resubmitted_once(ports, bedrock, bucket, dropped, clock):
    # Given a run of two shards (jobs of 2 records) whose first job failed
    event = dropped(suite=smoke_suite(shardSize=2))
    run_id = validated(ports, event)
    run = ports.runs.load(run_id)
    assert [(s.first_line, s.last_line) for s in run.all_shards()] == [(1, 2), (3, 3)]
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
    job = submit(run_id, 1, ports)
    assert job["job_name"] == f"{run_id}-s01"
    bedrock.add_response("get_evaluation_job", get_job_response("Failed", job["job_name"], ["boom"]))
    # When polled / Then the shard goes back to Submit for its second attempt, and its slot is free
    assert poll(run_id, 1, JOB_ARN, job["deadline"], ports)["status"] == "Resubmit"
    assert ports.slots.holders("automated") == {}
    shard = ports.runs.load(run_id).shard(1)
    assert (shard.attempt, shard.status, shard.earlier_attempts[0].failure_messages) == (
        2,
        "PLANNED",
        ["boom"],
    )
    # When the second attempt fails too / Then the shard has failed for good
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
    again = submit(run_id, 1, ports)
    assert again["job_name"] == f"{run_id}-s01-r2"
    bedrock.add_response("get_evaluation_job", get_job_response("Failed", again["job_name"], ["boom again"]))
    assert poll(run_id, 1, JOB_ARN, again["deadline"], ports)["status"] == "Failed"
    assert ports.runs.load(run_id).shard(1).status == "FAILED"
