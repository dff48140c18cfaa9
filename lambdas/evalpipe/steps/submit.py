"""Submit step: one CreateEvaluationJob per run, recorded before the step returns."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from evalpipe.run.timing import Timing
from evalpipe.run.triggers import RunStatus, RunTrigger, iso, results_prefix, trigger_from_run
from evalpipe.steps.poll import human_wait_seconds
from evalpipe.suite import Suite
from evalpipe.suite.job_request import build_create_job_request

if TYPE_CHECKING:
    from evalpipe.ports import Ports


class RunNotFound(LookupError):
    """The run id handed to a step has no run item (the execution input was tampered with)."""


def load_run(run_id: str, ports: Ports) -> dict:
    run = ports.runs.get_run(run_id)
    if run is None:
        raise RunNotFound(f"run {run_id} is not in the runs table")
    return run


def load_trigger(run: dict) -> RunTrigger:
    """What started the run (its dropped dataset object or its run request), as the run item holds it."""
    trigger = trigger_from_run(run)
    if trigger is None:
        raise RunNotFound(f"run {run.get('run_id')} records neither a dataset nor a run request")
    return trigger


def load_suite(run: dict) -> Suite:
    """The suite exactly as it was validated for this run (a later upload does not change it)."""
    return Suite.from_document(run["suite"], json.loads(run["suite_document"]))


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
    run = load_run(run_id, ports)
    suite = load_suite(run)
    trigger = load_trigger(run)
    settings = ports.settings
    # The deployment's polling schedule and deadlines with the suite's pipeline.polling on top,
    # fixed on the run item for the poll and stop steps.
    timing = Timing.of(settings).with_overrides(suite.pipeline.polling.overrides())
    request = build_create_job_request(
        suite,
        trigger,
        role_arn=settings.bedrock_role_arn or "",
        output_s3_uri=f"s3://{settings.bucket_name}/{results_prefix(suite.name, run_id)}",
        kms_key_id=settings.kms_key_arn,
    )
    job_arn = ports.jobs.create(request)
    submitted = ports.clock()
    # Human evaluation jobs (evaluationConfig.human) wait for a work team: a longer deadline and
    # the first wait of the long polling schedule (evalpipe.steps.poll.human_wait_seconds).
    human = "human" in (request.get("evaluationConfig") or {})
    timeout = timing.human_job_timeout_seconds if human else timing.job_timeout_seconds
    deadline = iso(submitted + timedelta(seconds=timeout))
    ports.runs.update_run(
        run_id,
        status=RunStatus.SUBMITTED.value,
        job_type="Human" if human else "Automated",
        job_arn=job_arn,
        job_name=request["jobName"],
        submitted_at=iso(submitted),
        deadline=deadline,
        timing=timing.as_item(),
    )
    return {
        "job_arn": job_arn,
        "job_name": request["jobName"],
        "status": "InProgress",
        "wait_seconds": human_wait_seconds(timing, 0) if human else timing.poll_interval_seconds,
        "deadline": deadline,
    }
