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
    result = submit(run_id, ports)
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
        submit(run_id, ports)
    assert ports.runs.get(run_id).status == "VALIDATING"


def test_a_rejected_submit_is_not_retryable(ports, bedrock, dropped):
    run_id = validated(ports, dropped())
    bedrock.add_client_error("create_evaluation_job", "ValidationException", "bad role", 400)
    with pytest.raises(BedrockRejected, match="bad role"):
        submit(run_id, ports)


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
    assert poll(run_id, JOB_ARN, iso(run.deadline), ports)["wait_seconds"] == 300


# --- the handler -----------------------------------------------------------------------------


def test_submit_handler_rejects_an_input_that_is_not_a_run_reference(function_env):
    # Given an input whose run id could not be a job name, When the handler parses it, Then it refuses
    with pytest.raises(ValidationError):
        submit_handler.handler({"run_id": "Not A Run"}, FakeContext())


def test_submit_handler_creates_the_job_through_the_shared_adapters(function_env, dropped):
    # Given a validated run and Bedrock pinned on the handler's own client
    run = validate_handler.handler(dropped(), FakeContext())
    client = _runtime.ports().jobs._client
    with Stubber(client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        # When the submit handler runs
        result = submit_handler.handler({"run_id": run["run_id"]}, FakeContext())
    # Then it returns the job for the polling loop
    assert result["job_arn"] == JOB_ARN
    assert result["wait_seconds"] == 60  # POLL_INTERVAL_SECONDS default
