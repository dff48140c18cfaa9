"""Poll and stop steps: follow the job until it ends or its deadline passes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from evalpipe.run.timing import Timing, TimingSource
from evalpipe.run.triggers import RunStatus, Verdict, iso

if TYPE_CHECKING:
    from evalpipe.ports import Ports

# Bedrock statuses after which polling stops, and the run status each one records.
FINISHED = {"Completed": None, "Failed": RunStatus.FAILED, "Stopped": RunStatus.STOPPED}
TIMED_OUT = "TimedOut"
HUMAN_JOB_TYPE = "Human"
# A human job's wait is this share of the time it has been running, between the min and the cap.
HUMAN_WAIT_SHARE = 0.25


def run_timing(run: dict | None, ports: Ports) -> Timing:
    """The run's polling schedule and deadlines as the submit step fixed them (``timing``), else
    the deployment's (runs submitted before runs recorded theirs)."""
    item = (run or {}).get("timing")
    return Timing.from_item(item) if isinstance(item, dict) else Timing.of(ports.settings)


def human_wait_seconds(settings: TimingSource, elapsed_seconds: float) -> int:
    """The wait before the next poll of a human evaluation job (``settings``: a run's `Timing` or
    the deployment's settings).

    Human work takes days, so polling is long and cheap: a quarter of the time the job has run,
    at least ``HUMAN_POLL_MIN_SECONDS`` (default 15 min), at most ``HUMAN_POLL_MAX_SECONDS``
    (default 6 h). With the defaults: 15 min during the first hour, 1 h after 4 h, 6 h from a day on.
    """
    low = settings.human_poll_min_seconds
    high = max(low, settings.human_poll_max_seconds)
    return int(min(high, max(low, elapsed_seconds * HUMAN_WAIT_SHARE)))


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
    timing = run_timing(ports.runs.get_run(run_id), ports)
    if status == "Deleting":
        # Someone deleted the job under us: there will be no results to parse.
        status = "Stopped"
    if status in ("Failed", "Stopped"):
        run_status = FINISHED[status]
        ports.runs.update_run(
            run_id,
            status=run_status.value,
            verdict=Verdict(run_status.value).value,
            failure_messages=list(job.failure_messages),
            finished_at=iso(now),
        )
    elif status == "Completed":
        ports.runs.update_run(run_id, job_status=status, job_finished_at=iso(now))
    elif now >= datetime.fromisoformat(deadline):
        status = TIMED_OUT
    else:
        ports.runs.update_run(
            run_id, status=RunStatus.IN_PROGRESS.value, job_status=status, polled_at=iso(now)
        )
    wait = timing.poll_interval_seconds
    if job.job_type == HUMAN_JOB_TYPE:
        elapsed = (now - job.creation_time).total_seconds() if job.creation_time else 0.0
        wait = human_wait_seconds(timing, elapsed)
    return {
        "job_arn": job_arn,
        "job_name": job.job_name,
        "status": status,
        "wait_seconds": wait,
        "deadline": deadline,
    }
