"""The Lambda entry points themselves: Powertools wiring, input parsing, and what they log."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from handlers import _runtime
from handlers import notify as notify_handler
from handlers import submit as submit_handler
from handlers import validate as validate_handler

from .conftest import JUDGE, RECORDS, ROLE_ARN

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdef123456"


@dataclass
class FakeContext:
    function_name: str = "evalpipe-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:evalpipe-test"
    aws_request_id: str = "5b3b1e6a-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def function_env(monkeypatch, aws_env, bucket, dynamodb_table, sns_topic):
    """The environment the Lambda factory gives a function; adapters rebuilt from it."""
    env = {
        "RUNS_TABLE_NAME": dynamodb_table.name,
        "BUCKET_NAME": bucket,
        "TOPIC_ARN": sns_topic,
        "BEDROCK_ROLE_ARN": ROLE_ARN,
        "ALLOWED_EVALUATOR_MODELS": JUDGE,
        "POWERTOOLS_SERVICE_NAME": "evalpipe",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "EvalPipe",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _runtime.reset()
    yield env
    _runtime.reset()


def test_validate_handler_logs_ids_and_counts_but_never_prompt_text(function_env, dropped, monkeypatch):
    # Given a dataset with recognisable prompt text, and the handler's JSON log stream captured
    event = dropped()
    stream = io.StringIO()
    monkeypatch.setattr(_runtime.logger.registered_handler, "stream", stream)
    # When the Lambda handler runs
    result = validate_handler.handler(event, FakeContext())
    # Then it answers for the state machine and its JSON logs carry the run id, not the prompts
    assert result["outcome"] == "VALID"
    logged = stream.getvalue()
    records = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(r.get("run_id") == result["run_id"] for r in records)
    for record in RECORDS:
        assert record["prompt"] not in logged
        assert record["modelResponses"][0]["response"] not in logged


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


def test_notify_handler_publishes_the_rejection(function_env, dropped, sns_messages):
    # Given a rejected run (no suite file)
    run = validate_handler.handler(dropped(suite=None), FakeContext())
    # When notified through the handler
    result = notify_handler.handler({"run_id": run["run_id"]}, FakeContext())
    # Then one message went out with the REJECTED verdict
    messages = sns_messages()
    assert result["verdict"] == "REJECTED"
    assert [m["attributes"]["verdict"] for m in messages] == ["REJECTED"]
