"""Poll step: read a shard's job status once and record what changed, until it ends or its deadline passes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.aws.slots import pool_of
from evalpipe.run.model import FailedAttempt, ShardStatus
from evalpipe.run.status import RunStatus
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import parse_time

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# Bedrock statuses after which polling stops, and the shard status each one records.
FINISHED = {"Completed": ShardStatus.COMPLETED, "Failed": ShardStatus.FAILED, "Stopped": ShardStatus.STOPPED}
TIMED_OUT = "TimedOut"
# A shard of a sharded run whose job failed is submitted once more (a run of one job is not:
# its failure is the run's, reported as Bedrock gave it).
RESUBMIT = "Resubmit"
MAX_ATTEMPTS = 2


def poll(run_id: str, shard_number: int, job_arn: str, deadline: str, ports: Ports) -> dict:
    """Read the shard's job status once and record what changed; an ended job gives back its slot.

    Returns
    -------
    dict
        `{job_arn, job_name, status, wait_seconds, deadline}`; status is the Bedrock status,
        `Stopped` for a job someone deleted, `TimedOut` when the job still runs past the deadline, or
        `Resubmit` when a failed shard gets its second attempt.
    """
    job = ports.jobs.get(job_arn)
    status = "Stopped" if job.status == "Deleting" else job.status  # deleted under us: no results
    now = ports.clock()
    run = ports.runs.load(run_id)
    shard = run.shard(shard_number)
    # The schedule the submit step fixed; runs submitted before runs recorded theirs use the deployment's.
    timing = run.timing or Timing.of(ports.settings)
    if status in FINISHED:
        pool, _ = pool_of(run.is_human, ports.settings)
        ports.slots.release(pool, shard.holder)
        shard.status = FINISHED[status]
        shard.failure_messages = list(job.failure_messages)
        shard.finished_at = now
        if shard.status is ShardStatus.FAILED and run.sharded and shard.attempt < MAX_ATTEMPTS:
            shard.earlier_attempts.append(
                FailedAttempt(
                    job_arn=job_arn, job_name=shard.job_name, failure_messages=shard.failure_messages
                )
            )
            shard.attempt += 1
            shard.status = ShardStatus.PLANNED
            shard.job_arn = shard.job_name = None
            shard.failure_messages = []
            shard.finished_at = None
            status = RESUBMIT
        ports.runs.save_shard(run_id, shard)
        if not run.sharded:  # a run of one job keeps the job's outcome on the run item
            run.job_status = job.status
            run.job_finished_at = now
            run.failure_messages = list(job.failure_messages)
            ports.runs.save(run)
    elif now >= parse_time(deadline):
        status = TIMED_OUT
    else:
        run.status = RunStatus.IN_PROGRESS
        run.job_status = status if not run.sharded else None
        run.polled_at = now
        ports.runs.save(run)
    # The wait grows with the time the job has run (its creation time is Bedrock's): few polls,
    # so few history events, for long jobs (evalpipe.run.timing.Timing.automated_wait).
    elapsed = (now - job.creation_time).total_seconds() if job.creation_time else 0.0
    return {
        "job_arn": job_arn,
        "job_name": job.job_name,
        "status": status,
        "wait_seconds": timing.next_wait(human=run.is_human, elapsed_seconds=elapsed),
        "deadline": deadline,
    }
