"""Submit step: one CreateEvaluationJob per run, recorded before the step returns."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

from evalpipe.job_request import build_create_job_request
from evalpipe.runs import DatasetObject, RunStatus, iso, results_prefix
from evalpipe.steps.poll import human_wait_seconds
from evalpipe.suite import Suite

if TYPE_CHECKING:
    from evalpipe.ports import Ports


class RunNotFound(LookupError):
    """The run id handed to a step has no run item (the execution input was tampered with)."""


def load_run(run_id: str, ports: Ports) -> dict:
    run = ports.runs.get_run(run_id)
    if run is None:
        raise RunNotFound(f"run {run_id} is not in the runs table")
    return run


def load_suite(run: dict) -> Suite:
    """The suite exactly as it was validated for this run (a later upload does not change it)."""
    return Suite.from_document(run["suite"], json.loads(run["suite_document"]))


def submit(run_id: str, ports: Ports) -> dict:
    """Create the evaluation job of a validated run.

    The job name and `clientRequestToken` derive from the dataset object, so a retried or
    duplicated submit returns the same job instead of starting a second one.

    Returns
    -------
    dict
        `{job_arn, job_name, status, wait_seconds, deadline}` for the polling loop.
    """
    run = load_run(run_id, ports)
    suite = load_suite(run)
    dataset = DatasetObject.from_item(run["dataset"])
    settings = ports.settings
    request = build_create_job_request(
        suite,
        dataset,
        role_arn=settings.bedrock_role_arn or "",
        output_s3_uri=f"s3://{settings.bucket_name}/{results_prefix(suite.name, run_id)}",
        kms_key_id=settings.kms_key_arn,
    )
    job_arn = ports.jobs.create(request)
    submitted = ports.clock()
    # Human evaluation jobs (evaluationConfig.human) wait for a work team: a longer deadline and
    # the first wait of the long polling schedule (evalpipe.steps.poll.human_wait_seconds).
    human = "human" in (request.get("evaluationConfig") or {})
    timeout = settings.human_job_timeout_seconds if human else settings.job_timeout_seconds
    deadline = iso(submitted + timedelta(seconds=timeout))
    ports.runs.update_run(
        run_id,
        status=RunStatus.SUBMITTED.value,
        job_type="Human" if human else "Automated",
        job_arn=job_arn,
        job_name=request["jobName"],
        submitted_at=iso(submitted),
        deadline=deadline,
    )
    return {
        "job_arn": job_arn,
        "job_name": request["jobName"],
        "status": "InProgress",
        "wait_seconds": human_wait_seconds(settings, 0) if human else settings.poll_interval_seconds,
        "deadline": deadline,
    }
