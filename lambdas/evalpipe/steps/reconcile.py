"""Reconcile step: an execution of the pipeline ended FAILED, TIMED_OUT or ABORTED.

Invoked by an EventBridge rule on Step Functions' "Execution Status Change" events, outside the
execution, so it runs whatever stopped the execution: a state-machine time-out, a StopExecution by
hand, a failure of the error path itself (the runs table unavailable, Lambda throttled). It leaves
the run in a true final status, makes sure no Bedrock job runs on behind it, and makes sure the run
was notified exactly once:

- a run already notified (its ``notification_id``, or a Notify / NotifyError state of the execution
  that published) is not sent again; a notification the table could not record is recorded now;
- a run whose job may still run gets StopEvaluationJob;
- a run left in a non-final status becomes TIMED_OUT (the execution timed out), STOPPED (someone
  stopped the execution) or ERROR (it failed), with the reason, and is notified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalpipe.notification.delivery import deliver
from evalpipe.run.model import ErrorInfo, Run
from evalpipe.run.status import FINAL_STATUSES, RunStatus, Verdict
from evalpipe.run.stopping import stop_run
from evalpipe.run.triggers import trigger_from_event

if TYPE_CHECKING:
    from evalpipe.aws.executions import Executions
    from evalpipe.ports import Ports

# The execution's status -> the run's final status, its verdict and the error's name.
ENDINGS: dict[str, tuple[RunStatus, Verdict, str]] = {
    "TIMED_OUT": (RunStatus.TIMED_OUT, Verdict.TIMED_OUT, "ExecutionTimedOut"),
    "ABORTED": (RunStatus.STOPPED, Verdict.STOPPED, "ExecutionAborted"),
    "FAILED": (RunStatus.ERROR, Verdict.ERROR, "ExecutionFailed"),
}


@dataclass(frozen=True)
class ExecutionEnded:
    """The part of an "Execution Status Change" event the step reads."""

    execution_arn: str
    status: str
    input: dict[str, Any]
    error: str | None = None
    cause: str | None = None


def reconcile(ended: ExecutionEnded, ports: Ports, executions: Executions) -> dict[str, Any]:
    """Bring the run of an execution that did not succeed to a final, notified state.

    Returns
    -------
    dict
        ``{run_id, outcome}``: ``NOTIFIED`` (this call sent the notification), ``RECORDED`` (it was
        sent before; this call only recorded what the table lacked) or ``UNCHANGED``.
    """
    if ended.status not in ENDINGS:
        return {"run_id": None, "outcome": "IGNORED"}
    trigger = trigger_from_event(ended.input, bucket=ports.settings.bucket_name)
    run = ports.runs.get(trigger.run_id)
    if run is None:  # the execution ended before Validate claimed the run: claim it, then end it
        run = Run.claimed_by(trigger, ports.clock())
        if not ports.runs.claim(run):
            run = ports.runs.load(trigger.run_id)
    changed = _end_run(run, ended, ports)
    if run.notification_id is None:
        sent = executions.notification_sent(ended.execution_arn)
        if sent is None:
            deliver(run, ports)
            return {"run_id": run.run_id, "outcome": "NOTIFIED"}
        run.notification_id = sent
        run.notified_at = ports.clock()
        changed = True
    if changed:
        ports.runs.save(run)
        return {"run_id": run.run_id, "outcome": "RECORDED"}
    return {"run_id": run.run_id, "outcome": "UNCHANGED"}


def _end_run(run: Run, ended: ExecutionEnded, ports: Ports) -> bool:
    """Give a run the execution left unfinished its final status; stop its job. True if it changed."""
    if run.status in FINAL_STATUSES:
        return False
    status, verdict, name = ENDINGS[ended.status]
    stopped, _ = stop_run(run, ports)
    run.status, run.verdict = status, verdict
    run.error = ErrorInfo(type=ended.error or name, message=_why(ended, stopped), job_stopped=stopped)
    run.finished_at = ports.clock()
    return True


def _why(ended: ExecutionEnded, stopped: bool | None) -> str:
    what = {
        "TIMED_OUT": "the pipeline's execution ran past the state machine's time-out",
        "ABORTED": "the pipeline's execution was stopped (StopExecution) before the run finished",
        "FAILED": "the pipeline's execution failed before the run could be recorded",
    }[ended.status]
    detail = _cause(ended.cause)
    if detail:
        what += f": {detail}"
    if stopped:
        what += "; the evaluation job was stopped"
    elif stopped is False:
        what += "; the evaluation job had already ended or could not be stopped (evalpipe jobs get)"
    return what[:1000]


def _cause(cause: str | None) -> str:
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return str(parsed.get("errorMessage") or cause) if isinstance(parsed, dict) else cause


def execution_ended(detail: dict[str, Any]) -> ExecutionEnded:
    """Read an "Execution Status Change" event's ``detail`` (its ``input`` is a JSON string)."""
    raw = detail.get("input")
    given = json.loads(raw) if isinstance(raw, str) and raw else {}
    return ExecutionEnded(
        execution_arn=str(detail.get("executionArn") or ""),
        status=str(detail.get("status") or ""),
        input=given if isinstance(given, dict) else {},
        error=detail.get("error") or None,
        cause=detail.get("cause") or None,
    )
