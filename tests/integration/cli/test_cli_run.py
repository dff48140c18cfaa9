"""`evalpipe run --suite S [--wait]` against moto: the run request it starts, and following the run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import boto3
import pytest

from evalpipe.cli import _stack, main
from evalpipe.cli import run as run_command
from evalpipe.cli._stack import StackOutputs
from evalpipe.run.model import Run
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import RunRequest
from tests.integration.steps.flow import ACCOUNT

ROLE = f"arn:aws:iam::{ACCOUNT}:role/states"
FIXED = uuid.UUID("6a7e8feb-b491-4cf7-a9f1-bf3703467718")


@pytest.fixture
def machine(mocked_aws) -> str:
    """A state machine in moto (its executions are recorded, not run)."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    return sfn.create_state_machine(name="evalpipe", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


@pytest.fixture
def deployment(monkeypatch, dynamodb_table, bucket, sns_topic, machine, put):
    """The CLI finds the test's bucket, table and state machine as the stack's outputs."""
    outputs = StackOutputs("BedrockEvalPipeline", bucket, dynamodb_table.name, sns_topic, machine)
    monkeypatch.setattr(_stack, "lookup_outputs", lambda name, session: outputs)
    monkeypatch.delenv(_stack.STACK_ENV, raising=False)
    put("suites/qa.json", b'{"evaluationConfig": {}, "inferenceConfig": {}}')
    return outputs


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _execution(machine: str, run_id: str) -> dict:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = machine.replace(":stateMachine:", ":execution:") + f":{run_id}"
    return sfn.describe_execution(executionArn=arn)


def test_run_starts_an_execution_named_after_the_run_with_a_cli_run_request(deployment, capsys):
    # Given the suite file in the bucket
    # When `evalpipe run --suite qa`
    code, out, err = cli(capsys, "run", "--suite", "qa")
    # Then it prints the run id and the execution
    assert code == 0, err
    lines = out.splitlines()
    run_id = lines[0].split()[2]
    assert lines[0] == f"Started run {run_id} of suite qa (manual run by evalpipe run)"
    assert lines[1].startswith("  Execution: arn:aws:states:us-east-1:123456789012:execution:evalpipe:")
    assert lines[2] == f"  Follow it: evalpipe show {run_id} --wait"
    # And the execution's input is a run request the validate step reads as that run
    execution = _execution(deployment.state_machine_arn, run_id)
    event = json.loads(execution["input"])
    assert (event["source"], event["detail-type"]) == ("evalpipe", "Run Requested")
    assert event["detail"] == {"suite": "qa", "requestedBy": "cli"}
    assert RunRequest.from_event(event).run_id == run_id
    assert execution["name"] == run_id


def test_two_invocations_are_two_runs(deployment, capsys):
    # Given the suite file in the bucket
    # When `evalpipe run` is invoked twice
    first = json.loads(cli(capsys, "run", "--suite", "qa", "--json")[1])
    second = json.loads(cli(capsys, "run", "--suite", "qa", "--json")[1])
    # Then two runs (two executions) were started
    assert first["run_id"] != second["run_id"]
    assert first["execution_arn"] != second["execution_arn"]


def test_a_missing_suite_file_starts_nothing(deployment, capsys):
    # Given no suites/ghost.json
    # When `evalpipe run --suite ghost`
    code, out, err = cli(capsys, "run", "--suite", "ghost")
    # Then it fails naming the file to upload, and no execution was started
    assert (code, out) == (1, "")
    assert f"suite file not found: upload s3://{deployment.bucket_name}/suites/ghost.json" in err
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"] == []


def test_a_malformed_suite_name_is_a_usage_error(deployment, capsys):
    # When the suite name is a path / Then exit 2 before anything is called
    code, _, err = cli(capsys, "run", "--suite", "../etc")
    assert code == 2
    assert "must be a suite name" in err


def test_wait_follows_the_run_until_it_has_settled(deployment, capsys, monkeypatch, ports):
    # Given the run this invocation will start, already finished (moto does not execute the machine)
    monkeypatch.setattr(run_command.uuid, "uuid4", lambda: FIXED)
    monkeypatch.setattr(run_command, "datetime", _FrozenDatetime)
    event_time = "2026-11-23T06:00:00Z"
    request = RunRequest.from_event(
        {
            "source": "evalpipe",
            "detail-type": "Run Requested",
            "id": str(FIXED),
            "time": event_time,
            "detail": {"suite": "qa", "requestedBy": "cli"},
        }
    )
    ports.runs.claim(
        Run.model_validate(
            {
                "run_id": request.run_id,
                "suite": "qa",
                "status": RunStatus.REJECTED.value,
                "verdict": "REJECTED",
                "created_at": event_time,
                "trigger": "cli",
                "request": request.as_item(),
                "problems": [
                    {
                        "severity": "error",
                        "file": "suites/qa.json",
                        "message": "drop a dataset into datasets/qa/",
                    }
                ],
                "problem_count": 1,
            }
        )
    )
    # When `evalpipe run --suite qa --wait`
    code, out, err = cli(capsys, "run", "--suite", "qa", "--wait", "--timeout", "5", "--interval", "0.1")
    # Then it printed the start, then the finished run as its notification reads
    assert code == 0, err
    assert out.splitlines()[0] == f"Started run {request.run_id} of suite qa (manual run by evalpipe run)"
    assert "Verdict: REJECTED — the run request did not pass validation (1 problem)" in out
    assert "drop a dataset into datasets/qa/" in out


class _FrozenDatetime:
    """`datetime.now` of the CLI frozen at the run request's time."""

    @staticmethod
    def now(tz=None):
        return datetime(2026, 11, 23, 6, 0, 0, tzinfo=UTC)
