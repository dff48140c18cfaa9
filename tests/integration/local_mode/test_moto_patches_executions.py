"""Patch 7 of `local.moto_patches`: Step Functions' "Execution Status Change" events reach EventBridge
(and patch 1's execution names).

The pipeline's reconcile rule (infra/reconcile.py) fires on those events for executions that ended
FAILED, TIMED_OUT or ABORTED. moto 5.2.1 never sends them; with the patch, an execution's end goes to
the default bus with the documented shape, and the rule's Lambda target is invoked as in AWS.
As in test_moto_patches.py: the "why" test shows the defect (it fails once moto fixes it: drop the
patch then); the "with the patch" tests show what the local mode relies on.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from local.sfn_harness import create_function, create_lambda_role
from tests.integration.local_mode.conftest import ACCOUNT, REGION, SFN_MOTO_CONFIG

# Long enough to be stopped by hand; the Wait wakes up at once when the execution is stopped.
WAITING_MACHINE = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}}
PASS_MACHINE = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
FAILING_MACHINE = {
    "StartAt": "Boom",
    "States": {"Boom": {"Type": "Fail", "Error": "ProbeFailed", "Cause": "failed on purpose"}},
}
PROBE_MODULE = """
import json, os

def handler(event, context):
    with open(os.environ["LOG_FILE"], "a") as out:
        out.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""


class Clients:
    """One client per service, made before any function runs: the in-process runner swaps
    os.environ while a function runs, and making a client (it reads the environment) would race."""

    def __init__(self) -> None:
        self.iam, self.lambda_, self.events, self.sqs, self.stepfunctions = (
            boto3.client(service, region_name=REGION)
            for service in ("iam", "lambda", "events", "sqs", "stepfunctions")
        )


def _probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe_reconcile.py", PROBE_MODULE)
    return buffer.getvalue()


def _machine(aws: Clients, name: str, definition: dict[str, Any]) -> str:
    role = create_lambda_role(aws.iam, name="probe")
    return aws.stepfunctions.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]


def _every_states_event_to_a_queue(aws: Clients) -> str:
    """A rule on every aws.states event -> an SQS queue: what Step Functions sent, as sent."""
    sqs, events = aws.sqs, aws.events
    queue = sqs.create_queue(QueueName="states-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-states-events", EventPattern=json.dumps({"source": ["aws.states"]}))
    events.put_targets(Rule="all-states-events", Targets=[{"Id": "queue", "Arn": arn}])
    return queue


def _reconcile_rule_to_probe(aws: Clients, tmp_path: Path, machine: str) -> Path:
    """The reconcile rule's pattern (infra/reconcile.py) on ``machine`` -> a probe function that logs."""
    log = tmp_path / "reconciled.jsonl"
    role = create_lambda_role(aws.iam, name="probe")
    function = create_function(
        aws.lambda_, "probe", "probe_reconcile.handler", {"LOG_FILE": str(log)}, role, code=_probe_zip()
    )
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [machine], "status": ["FAILED", "TIMED_OUT", "ABORTED"]},
    }
    aws.events.put_rule(Name="reconcile", EventPattern=json.dumps(pattern))
    aws.events.put_targets(Rule="reconcile", Targets=[{"Id": "function", "Arn": function}])
    return log


def _wait_for_end(aws: Clients, arn: str) -> dict[str, Any]:
    sfn = aws.stepfunctions
    for _ in range(200):
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def _received(aws: Clients, queue: str, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
    sqs, events, deadline = aws.sqs, [], time.monotonic() + timeout
    while len(events) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.05)
    return events


def _logged(log: Path, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= expected:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_why_moto_sends_no_execution_status_change_event(unpatched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        aws = Clients()
        queue = _every_states_event_to_a_queue(aws)
        machine = _machine(aws, "probe", PASS_MACHINE)
        arn = aws.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        assert _wait_for_end(aws, arn)["status"] == "SUCCEEDED"
        assert _received(aws, queue, expected=1, timeout=1) == []


def test_an_execution_stopped_by_hand_is_announced_and_the_reconcile_rule_invokes_its_target(
    patched, tmp_path: Path
):
    with mock_aws(config=SFN_MOTO_CONFIG):
        # Given the reconcile rule on a state machine, a catch-all rule to a queue, and a waiting execution
        aws = Clients()
        queue = _every_states_event_to_a_queue(aws)
        machine = _machine(aws, "pipeline", WAITING_MACHINE)
        log = _reconcile_rule_to_probe(aws, tmp_path, machine)
        sfn = aws.stepfunctions
        given = {"detail": {"bucket": {"name": "b"}, "object": {"key": "datasets/s/a.jsonl"}}}
        arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input=json.dumps(given))[
            "executionArn"
        ]

        # (moto's worker thread sets the execution up after StartExecution returns: stopping it before
        # its first state is entered would hit moto, not the behaviour under test)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(sfn.get_execution_history(executionArn=arn)["events"]) < 2:
            time.sleep(0.05)

        # When someone stops it (StopExecution)
        sfn.stop_execution(executionArn=arn)
        description = _wait_for_end(aws, arn)

        # Then the event went to the default bus with the documented shape
        assert description["status"] == "ABORTED"
        [event] = _received(aws, queue, expected=1)
        assert (event["source"], event["detail-type"]) == (
            "aws.states",
            "Step Functions Execution Status Change",
        )
        assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, REGION, [arn])
        assert event["time"].endswith("Z")
        detail = event["detail"]
        assert {k: detail[k] for k in ("executionArn", "stateMachineArn", "name", "status")} == {
            "executionArn": arn,
            "stateMachineArn": machine,
            "name": "run-1",
            "status": "ABORTED",
        }
        assert json.loads(detail["input"]) == given  # JSON text, as Step Functions sends it
        assert (detail["output"], detail["error"], detail["cause"]) == (None, None, None)
        assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
        assert detail["startDate"] == int(description["startDate"].timestamp() * 1000)

        # And the reconcile rule's Lambda target was invoked with that event
        [delivered] = _logged(log, expected=1)
        assert delivered["detail"]["executionArn"] == arn
        assert delivered["detail"]["status"] == "ABORTED"
        assert delivered["source"] == "aws.states"


def test_failed_and_succeeded_executions_are_announced_and_the_rule_picks_the_failure(
    patched, tmp_path: Path
):
    with mock_aws(config=SFN_MOTO_CONFIG):
        # Given a failing and a succeeding state machine, the reconcile rule on the failing one
        aws = Clients()
        queue = _every_states_event_to_a_queue(aws)
        failing = _machine(aws, "failing", FAILING_MACHINE)
        passing = _machine(aws, "passing", PASS_MACHINE)
        log = _reconcile_rule_to_probe(aws, tmp_path, failing)
        sfn = aws.stepfunctions

        # When each runs once
        failed = sfn.start_execution(stateMachineArn=failing, input="{}")["executionArn"]
        succeeded = sfn.start_execution(stateMachineArn=passing, input='{"a": 1}')["executionArn"]
        _wait_for_end(aws, failed), _wait_for_end(aws, succeeded)

        # Then both ends are announced: the failure with its error and cause, the success with its output
        by_arn = {e["detail"]["executionArn"]: e["detail"] for e in _received(aws, queue, expected=2)}
        assert (by_arn[failed]["status"], by_arn[failed]["error"], by_arn[failed]["cause"]) == (
            "FAILED",
            "ProbeFailed",
            "failed on purpose",
        )
        assert (by_arn[succeeded]["status"], json.loads(by_arn[succeeded]["output"])) == (
            "SUCCEEDED",
            {"a": 1},
        )
        # And the rule invoked its target for the failure only (the other machine, and SUCCEEDED, filtered)
        time.sleep(0.3)
        assert [e["detail"]["executionArn"] for e in _logged(log, expected=1)] == [failed]


def test_why_moto_names_an_unnamed_execution_none(unpatched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        aws = Clients()
        machine = _machine(aws, "probe", PASS_MACHINE)
        arn = aws.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        assert arn.endswith(":None")
        assert "name" not in _wait_for_end(aws, arn)


def test_an_unnamed_execution_gets_a_uuid_name_as_in_aws(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        aws = Clients()
        machine = _machine(aws, "probe", PASS_MACHINE)
        first = aws.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        second = aws.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        described = _wait_for_end(aws, first)
        assert first != second and first.endswith(f":{described['name']}")
        assert len(described["name"]) == 36  # a UUID
        # A name given is kept
        named = aws.stepfunctions.start_execution(stateMachineArn=machine, name="mine", input="{}")
        assert named["executionArn"].endswith(":mine")


def test_moto_internals_the_patch_hooks_into_still_exist(unpatched):
    """Fails loudly when a moto upgrade moves the call site patch 7 relies on."""
    import inspect

    from moto.stepfunctions.parser.backend import execution, execution_worker

    # Every execution (Standard, and Express synchronous) ends in its communication's terminated(),
    # which records the final status first.
    assert "self._execution_communication.terminated()" in inspect.getsource(
        execution_worker.ExecutionWorker._execution_logic
    )
    assert "self._reflect_execution_status()" in inspect.getsource(
        execution.BaseExecutionWorkerCommunication.terminated
    )
    # StopExecution reaches the worker, whose program then ends as ProgramStopped (ABORTED).
    assert "exec_worker.stop(" in inspect.getsource(execution.Execution.stop)
