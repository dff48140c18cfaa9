"""RecordError step: any step failed unexpectedly; record the run as ERROR so it can be notified.

Every job of the run that may still run is stopped here, and its slots given back: once the
pipeline has failed nobody reads its results, so no job may run on (and be paid for) behind an
ERROR run. The run records whether it was stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.run.model import ErrorInfo, Run
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.stopping import stop_run
from evalpipe.run.triggers import trigger_from_event

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def record_error(state: dict, ports: Ports) -> dict:
    """Record an unexpected failure of any step as status ERROR, so it can be notified.

    Parameters
    ----------
    state
        The whole execution state at the failing step: the original event (a dataset's S3
        event or a run request), `run` when the Validate step got that far, and `error`
        ({Error, Cause}) from the Catch.
    """
    error = state.get("error") or {}
    run_id = (state.get("run") or {}).get("run_id")
    if run_id:
        run = ports.runs.load(run_id)
    else:
        # Validate itself failed: derive the run from the event so the failure is still recorded.
        trigger = trigger_from_event(state, bucket=ports.settings.bucket_name)
        run = Run.claimed_by(trigger, ports.clock(), status=RunStatus.ERROR)
        run.client_token = None  # no job was requested for it
        if not ports.runs.claim(run):
            run = ports.runs.load(run.run_id)
    job_stopped, stop_note = stop_run(run, ports)
    run.status = RunStatus.ERROR
    run.verdict = Verdict.ERROR
    run.error = ErrorInfo.of_failure(error, stop_note)
    run.error.job_stopped = job_stopped
    run.finished_at = ports.clock()
    run = ports.runs.save(run)
    return {"run_id": run.run_id, "suite": run.suite, "outcome": "ERROR"}
