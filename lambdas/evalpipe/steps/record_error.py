"""RecordError step: any step failed unexpectedly; record the run as ERROR so it can be notified.

A job the run submitted is stopped here: once the pipeline has failed nobody reads its results,
so it must not run on (and be paid for) behind an ERROR run. The run records whether it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.aws.bedrock_jobs import BedrockError
from evalpipe.run.model import ErrorInfo, Run
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.triggers import trigger_from_event

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# Statuses in which the run's job has ended (or was never submitted): nothing to stop.
_JOB_ENDED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.TIMED_OUT})


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
    job_stopped, stop_note = stop_job_of(run, ports)
    run.status = RunStatus.ERROR
    run.verdict = Verdict.ERROR
    run.error = ErrorInfo.of_failure(error, stop_note)
    run.error.job_stopped = job_stopped
    run.finished_at = ports.clock()
    run = ports.runs.save(run)
    return {"run_id": run.run_id, "suite": run.suite, "outcome": "ERROR"}


def stop_job_of(run: Run, ports: Ports) -> tuple[bool | None, str]:
    """Stop the run's job if it may still be running.

    Returns
    -------
    tuple
        ``(job_stopped, note)``: True when StopEvaluationJob was sent, False when the job had already
        ended (or the stop was refused: the note says so), None when the run has no job that could
        still run. The note is appended to the error message.
    """
    if run.job_arn is None or run.status in _JOB_ENDED:
        return None, ""
    try:
        stopped = ports.jobs.stop(run.job_arn)
    except BedrockError as exc:  # the failure is recorded and notified whatever the stop did
        return False, f" (the evaluation job could not be stopped: {exc}; stop it with evalpipe jobs stop)"
    if stopped:
        return True, " (the evaluation job was stopped: nobody would read its results)"
    return False, ""
