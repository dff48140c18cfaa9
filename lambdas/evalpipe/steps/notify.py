"""Notify step: one SNS message per finished run, also when the pipeline itself failed.

As Notify (every run's end) it notifies the run it is handed. As NotifyError (after any step
failed) it is handed the whole execution state: it notifies the run as RecordError recorded it, and
when the runs table could not be read (an outage, or RecordError failed too) it still notifies,
from what the state holds (the trigger and the error), so the failure reaches the team; the
reconcile step records the run once the table is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from evalpipe.aws.runs_table import RunNotFound
from evalpipe.notification.delivery import Notified, deliver
from evalpipe.run.model import ErrorInfo, Run
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.triggers import trigger_from_event

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def notify(run_id: str, ports: Ports) -> Notified:
    """Publish the run's notification once; a retried call after a successful publish is a no-op."""
    return deliver(ports.runs.load(run_id), ports)


def notify_failure(state: dict[str, Any], ports: Ports) -> Notified:
    """Notify a run whose execution failed, from the table when it can, else from ``state``.

    Parameters
    ----------
    state
        The execution state at NotifyError: the original event, ``run`` when Validate got that
        far, ``error`` (the step's failure) and ``record_error`` (RecordError's own, if it failed).
    """
    trigger = trigger_from_event(state, bucket=ports.settings.bucket_name)
    run_id = (state.get("run") or {}).get("run_id") or trigger.run_id
    try:
        run = ports.runs.load(run_id)
    except (RunNotFound, ClientError, BotoCoreError) as exc:
        return deliver(_run_from_state(state, run_id, exc, ports), ports, store=False)
    if run.status is not RunStatus.ERROR:
        # RecordError could not write: say what failed, not the state the run was left in.
        run = _run_from_state(state, run_id, None, ports, run=run)
        return deliver(run, ports, store=False)
    return deliver(run, ports)


def _run_from_state(
    state: dict[str, Any], run_id: str, table_error: Exception | None, ports: Ports, *, run: Run | None = None
) -> Run:
    """An ERROR run built from the execution state (and the stale item, when it could be read)."""
    trigger = trigger_from_event(state, bucket=ports.settings.bucket_name)
    if run is None:
        run = Run.claimed_by(trigger, ports.clock(), status=RunStatus.ERROR)
    unrecorded = state.get("record_error")
    why = str(table_error) if table_error else ErrorInfo.of_failure(unrecorded).message if unrecorded else ""
    note = f" (the runs table could not record this run: {why})" if why else ""
    run.status = RunStatus.ERROR
    run.verdict = Verdict.ERROR
    run.error = ErrorInfo.of_failure(state.get("error"), note)
    run.finished_at = ports.clock()
    return run
