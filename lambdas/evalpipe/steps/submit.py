"""Submit step: one CreateEvaluationJob per shard of a run, under the account's pool of job slots."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from evalpipe.aws.bedrock_jobs import BedrockQuotaExceeded
from evalpipe.aws.slots import pool_of
from evalpipe.run.model import JobType, Shard, ShardStatus
from evalpipe.run.status import RunStatus
from evalpipe.run.timing import Timing, queue_wait
from evalpipe.run.triggers import iso, results_prefix
from evalpipe.suite.job_request import build_create_job_request

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run


def submit(run_id: str, shard_number: int, ports: Ports) -> dict:
    """Create the evaluation job of one shard of a validated run, once it holds a slot.

    Without a free slot, or when Bedrock answers ServiceQuotaExceededException (jobs started outside
    the pipeline count too), nothing is submitted: the state machine waits ``wait_seconds`` and asks
    again, and the run shows QUEUED until a shard of it runs. The job name and `clientRequestToken`
    derive from the run, the shard and its attempt, so a retried submit returns the same job.

    Returns
    -------
    dict
        `{status: "Queued", wait_seconds}`, or `{job_arn, job_name, status: "InProgress",
        wait_seconds, deadline}` for the polling loop.
    """
    run = ports.runs.load(run_id)
    suite = run.validated_suite()
    settings = ports.settings
    shard = run.shard(shard_number)
    human = suite.kind.is_human
    pool, size = pool_of(human, settings)
    if not ports.slots.acquire(pool, shard.holder, size):
        return _queued(run, ports)
    # The deployment's polling schedule and deadlines with the suite's pipeline.polling on top,
    # fixed on the run item for the poll and stop steps.
    timing = Timing.of(settings).with_overrides(suite.pipeline.polling.overrides())
    shard.attempt = max(shard.attempt, 1)
    sharded = run.sharded
    trigger = run.started_by()
    output_prefix = shard.results_prefix(results_prefix(suite.name, run_id), sharded)
    request = build_create_job_request(
        suite,
        trigger,
        role_arn=settings.bedrock_role_arn or "",
        output_s3_uri=f"s3://{settings.bucket_name}/{output_prefix}",
        kms_key_id=settings.kms_key_arn,
        dataset_uri=_dataset_uri(run, shard, ports),
    )
    request["jobName"] = shard.job_name_for(sharded)
    request["clientRequestToken"] = shard.client_token(trigger.client_request_token, sharded)
    try:
        job_arn = ports.jobs.create(request)
    except BedrockQuotaExceeded:
        ports.slots.release(pool, shard.holder)
        return _queued(run, ports)
    except BaseException:
        # Nothing was created (or the retry finds it by its token): the slot must not stay taken.
        ports.slots.release(pool, shard.holder)
        raise
    submitted = ports.clock()
    deadline = submitted + timedelta(seconds=timing.job_timeout(human=human))
    shard.status = ShardStatus.IN_PROGRESS
    shard.job_arn = job_arn
    shard.job_name = request["jobName"]
    shard.output_prefix = output_prefix
    shard.submitted_at = submitted
    shard.deadline = deadline
    ports.runs.save_shard(run_id, shard)
    # Human jobs wait for a work team: a longer deadline and the long polling schedule.
    run.status = RunStatus.SUBMITTED if not sharded else RunStatus.IN_PROGRESS
    run.job_type = JobType.HUMAN if human else JobType.AUTOMATED
    run.timing = timing
    if not sharded:  # a run of one job keeps the job on the run item, as runs always have
        run.job_arn = job_arn
        run.job_name = request["jobName"]
        run.submitted_at = submitted
        run.deadline = deadline
    elif run.submitted_at is None:
        run.submitted_at = submitted
    ports.runs.save(run)
    return {
        "job_arn": job_arn,
        "job_name": request["jobName"],
        "status": "InProgress",
        "wait_seconds": timing.first_wait(human=human),
        "deadline": iso(deadline),
    }


def _queued(run: Run, ports: Ports) -> dict:
    if run.status in (RunStatus.VALIDATING, RunStatus.QUEUED):  # no shard of it runs yet
        run.status = RunStatus.QUEUED
        ports.runs.save(run)
    # The longer the run has waited, the less often it asks (few history events for a long queue).
    queued = (ports.clock() - run.created_at).total_seconds()
    return {"status": "Queued", "wait_seconds": queue_wait(ports.settings.slot_wait_seconds, queued)}


def _dataset_uri(run: Run, shard: Shard, ports: Ports) -> str | None:
    """Where the job reads its records: the shard's slice, or the run's copy of the dropped version (or
    of the collected dataset); None for a run of built-in datasets."""
    if shard.input_key:
        return ports.objects.uri(shard.input_key)
    return run.input_dataset.s3_uri if run.input_dataset else None
