"""Poll step: read the job's status once and record what changed, until it ends or its deadline passes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import parse_time

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# Bedrock statuses after which polling stops, and the run status each one records.
FINISHED = {"Failed": RunStatus.FAILED, "Stopped": RunStatus.STOPPED}
TIMED_OUT = "TimedOut"


def poll(run_id: str, job_arn: str, deadline: str, ports: Ports) -> dict:
    """Read the job's status once and record what changed.

    Returns
    -------
    dict
        `{job_arn, job_name, status, wait_seconds, deadline}`; status is the Bedrock status,
        `Stopped` for a job someone deleted, or `TimedOut` when the job still runs past the deadline.
    """
    job = ports.jobs.get(job_arn)
    status = job.status
    now = ports.clock()
    run = ports.runs.load(run_id)
    # The schedule the submit step fixed; runs submitted before runs recorded theirs use the deployment's.
    timing = run.timing or Timing.of(ports.settings)
    if status == "Deleting":
        # Someone deleted the job under us: there will be no results to parse.
        status = "Stopped"
    if status in FINISHED:
        run.status = FINISHED[status]
        run.verdict = Verdict(run.status.value)
        run.failure_messages = list(job.failure_messages)
        run.finished_at = now
        ports.runs.save(run)
    elif status == "Completed":
        run.job_status = status
        run.job_finished_at = now
        ports.runs.save(run)
    elif now >= parse_time(deadline):
        status = TIMED_OUT
    else:
        run.status = RunStatus.IN_PROGRESS
        run.job_status = status
        run.polled_at = now
        ports.runs.save(run)
    # A human job's wait grows with the time it has run (its creation time is Bedrock's).
    elapsed = (now - job.creation_time).total_seconds() if run.is_human and job.creation_time else 0.0
    return {
        "job_arn": job_arn,
        "job_name": job.job_name,
        "status": status,
        "wait_seconds": timing.next_wait(human=run.is_human, elapsed_seconds=elapsed),
        "deadline": deadline,
    }
