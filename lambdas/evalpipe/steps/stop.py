"""Stop step: a job outlived its deadline; stop it and record the run as TIMED_OUT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.run.triggers import RunStatus, Verdict, iso
from evalpipe.steps.poll import HUMAN_JOB_TYPE, run_timing

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def stop(run_id: str, job_arn: str, ports: Ports) -> dict:
    """Stop a job that outlived its deadline and record the run as TIMED_OUT."""
    stopped = ports.jobs.stop(job_arn)
    run = ports.runs.get_run(run_id) or {}
    human = run.get("job_type") == HUMAN_JOB_TYPE
    timing = run_timing(run, ports)
    timeout = timing.human_job_timeout_seconds if human else timing.job_timeout_seconds
    ports.runs.update_run(
        run_id,
        status=RunStatus.TIMED_OUT.value,
        verdict=Verdict.TIMED_OUT.value,
        error={
            "type": "JobTimeout",
            "message": f"the job was still running {timeout} s after submission; "
            + ("StopEvaluationJob was sent" if stopped else "it had already ended when stopped"),
        },
        finished_at=iso(ports.clock()),
    )
    return {"stopped": stopped}
