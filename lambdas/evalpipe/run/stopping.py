"""Stopping what a run left running when it ended abnormally: its jobs and their slots.

Used by the error path (RecordError) and by Reconcile: once the pipeline has given up on a run,
nobody reads its results, so no job of it may run on (and be paid for), and no slot of the
account's job pool may stay taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.aws.bedrock_jobs import BedrockError
from evalpipe.run.model import ShardStatus
from evalpipe.run.status import RunStatus

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run

# Statuses in which the run's jobs have ended (or none was submitted): nothing to stop.
_JOBS_ENDED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.TIMED_OUT})


def running_jobs(run: Run) -> list[str]:
    """The ARNs of the run's jobs that may still run: every shard in progress (and the run's job)."""
    if run.status in _JOBS_ENDED:
        return []
    arns = [s.job_arn for s in run.shards.values() if s.job_arn and s.status is ShardStatus.IN_PROGRESS]
    if run.job_arn and run.job_arn not in arns and not run.shards:
        arns.append(run.job_arn)
    return sorted(arns)


def stop_run(run: Run, ports: Ports) -> tuple[bool | None, str]:
    """Stop the run's running jobs and give back its slots.

    Returns
    -------
    tuple
        ``(job_stopped, note)``: True when StopEvaluationJob was sent (to every job that ran), False
        when the jobs had already ended or a stop was refused (the note says so), None when the run
        had no job that could still run. The note is appended to the error message.
    """
    ports.slots.release_run(run.run_id)
    arns = running_jobs(run)
    if not arns:
        return None, ""
    stopped = []
    for arn in arns:
        try:
            stopped.append(ports.jobs.stop(arn))
        except BedrockError as exc:  # the failure is recorded and notified whatever the stop did
            return (
                False,
                f" (the evaluation job could not be stopped: {exc}; stop it with evalpipe jobs stop)",
            )
    if any(stopped):
        jobs = "job was" if len(arns) == 1 else f"{len(arns)} jobs were"
        return True, f" (the evaluation {jobs} stopped: nobody would read the results)"
    return False, ""
