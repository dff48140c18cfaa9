"""Submit step: one CreateEvaluationJob per run, recorded before the step returns."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from evalpipe.run.model import JobType
from evalpipe.run.status import RunStatus
from evalpipe.run.timing import Timing
from evalpipe.run.triggers import iso, results_prefix
from evalpipe.suite.job_request import build_create_job_request

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def submit(run_id: str, ports: Ports) -> dict:
    """Create the evaluation job of a validated run.

    The job name and `clientRequestToken` derive from the run's trigger (the dataset object or
    the run request), so a retried or duplicated submit returns the same job instead of starting
    a second one.

    Returns
    -------
    dict
        `{job_arn, job_name, status, wait_seconds, deadline}` for the polling loop.
    """
    run = ports.runs.load(run_id)
    suite = run.validated_suite()
    settings = ports.settings
    # The deployment's polling schedule and deadlines with the suite's pipeline.polling on top,
    # fixed on the run item for the poll and stop steps.
    timing = Timing.of(settings).with_overrides(suite.pipeline.polling.overrides())
    request = build_create_job_request(
        suite,
        run.started_by(),
        role_arn=settings.bedrock_role_arn or "",
        output_s3_uri=f"s3://{settings.bucket_name}/{results_prefix(suite.name, run_id)}",
        kms_key_id=settings.kms_key_arn,
        dataset_uri=run.input_dataset.s3_uri if run.input_dataset else None,
    )
    job_arn = ports.jobs.create(request)
    submitted = ports.clock()
    # Human jobs wait for a work team: a longer deadline and the long polling schedule.
    human = suite.kind.is_human
    run.status = RunStatus.SUBMITTED
    run.job_type = JobType.HUMAN if human else JobType.AUTOMATED
    run.job_arn = job_arn
    run.job_name = request["jobName"]
    run.submitted_at = submitted
    run.deadline = submitted + timedelta(seconds=timing.job_timeout(human=human))
    run.timing = timing
    ports.runs.save(run)
    return {
        "job_arn": job_arn,
        "job_name": request["jobName"],
        "status": "InProgress",
        "wait_seconds": timing.first_wait(human=human),
        "deadline": iso(run.deadline),
    }
