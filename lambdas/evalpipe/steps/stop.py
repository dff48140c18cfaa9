"""Stop step: a job outlived its deadline; stop it and record the run as TIMED_OUT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.run.model import ErrorInfo
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.timing import Timing

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def stop(run_id: str, job_arn: str, ports: Ports) -> dict:
    """Stop a job that outlived its deadline and record the run as TIMED_OUT."""
    stopped = ports.jobs.stop(job_arn)
    run = ports.runs.load(run_id)
    timing = run.timing or Timing.of(ports.settings)
    timeout = timing.job_timeout(human=run.is_human)
    run.status = RunStatus.TIMED_OUT
    run.verdict = Verdict.TIMED_OUT
    run.error = ErrorInfo(
        type="JobTimeout",
        message=f"the job was still running {timeout} s after submission; "
        + ("StopEvaluationJob was sent" if stopped else "it had already ended when stopped"),
        job_stopped=stopped,
    )
    run.finished_at = ports.clock()
    ports.runs.save(run)
    return {"stopped": stopped}
