"""The reconcile step against moto: an execution that ended FAILED, TIMED_OUT or ABORTED leaves a
final, notified run. The execution history is a fake (the port the step reads it through); the
state-machine paths are in tests/integration/workflow/test_faults.py."""

from __future__ import annotations

import json

from evalpipe.steps.reconcile import ExecutionEnded, reconcile
from tests.integration.steps.flow import validated

ARN = "arn:aws:states:us-east-1:123456789012:execution:evalpipe:abc"


class FakeExecutions:
    """An execution history that sent ``sent`` (a message id), or nothing."""

    def __init__(self, sent: str | None = None) -> None:
        self.sent = sent

    def notification_sent(self, execution_arn: str) -> str | None:
        return self.sent


def ended(event: dict, status: str, **extra: str) -> ExecutionEnded:
    return ExecutionEnded(execution_arn=ARN, status=status, input=json.loads(json.dumps(event)), **extra)


def test_a_run_the_execution_never_claimed_is_recorded_and_notified(ports, dropped, sns_messages):
    # Given an execution that timed out before Validate ran (e.g. Lambda throttled it)
    event = dropped()
    # When reconciled
    result = reconcile(ended(event, "TIMED_OUT"), ports, FakeExecutions())
    # Then the run exists, TIMED_OUT, with one notification
    run = ports.runs.load(result["run_id"])
    assert result["outcome"] == "NOTIFIED"
    assert (run.status, run.verdict, run.error.type) == ("TIMED_OUT", "TIMED_OUT", "ExecutionTimedOut")
    assert run.error.job_stopped is None  # there was no job
    assert [m["attributes"]["verdict"] for m in sns_messages()] == ["TIMED_OUT"]


def test_a_failed_execution_names_its_error(ports, dropped, sns_messages):
    event = dropped()
    run_id = validated(ports, event)
    reconcile(ended(event, "FAILED", error="States.Runtime", cause="boom"), ports, FakeExecutions())
    run = ports.runs.load(run_id)
    assert (run.status, run.error.type) == ("ERROR", "States.Runtime")
    assert "boom" in run.error.message
    assert len(sns_messages()) == 1


def test_a_notification_the_execution_sent_is_recorded_not_sent_again(ports, dropped, sns_messages):
    # Given a run NotifyError notified from the execution's state (the table could not record it)
    event = dropped()
    run_id = validated(ports, event)
    # When reconciled
    result = reconcile(ended(event, "FAILED"), ports, FakeExecutions(sent="message-1"))
    # Then that message is recorded on the ERROR run and nothing is published
    run = ports.runs.load(run_id)
    assert result["outcome"] == "RECORDED"
    assert (run.status, run.notification_id) == ("ERROR", "message-1")
    assert sns_messages() == []


def test_a_succeeded_execution_is_not_the_steps_business(ports, dropped, sns_messages):
    assert reconcile(ended(dropped(), "SUCCEEDED"), ports, FakeExecutions())["outcome"] == "IGNORED"
    assert sns_messages() == []
