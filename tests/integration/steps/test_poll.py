"""The poll step against moto, with GetEvaluationJob pinned by a botocore Stubber."""

from __future__ import annotations

from datetime import timedelta

from evalpipe.run.triggers import iso
from evalpipe.steps.parse import parse
from evalpipe.steps.poll import poll
from tests.integration.steps.flow import JOB_ARN, get_job_response, submitted


def test_poll_in_progress_then_completed(ports, bedrock, bucket, dropped):
    # Given a submitted run
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    deadline = iso(ports.runs.load(run_id).deadline)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    bedrock.add_response(
        "get_evaluation_job", get_job_response("Completed", run_id), {"jobIdentifier": JOB_ARN}
    )
    # When polled twice
    first = poll(run_id, 1, JOB_ARN, deadline, ports)
    in_progress = ports.runs.get(run_id).status
    second = poll(run_id, 1, JOB_ARN, deadline, ports)
    # Then the loop sees InProgress, then Completed
    assert (first["status"], in_progress) == ("InProgress", "IN_PROGRESS")
    assert second["status"] == "Completed"
    assert second["wait_seconds"] == 30


def test_a_long_running_job_is_polled_less_often(ports, bedrock, bucket, dropped, clock):
    # Given a submitted run whose job Bedrock created 30 minutes ago and still runs
    run_id = submitted(ports, bedrock, bucket, dropped())
    deadline = iso(ports.runs.load(run_id).deadline)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    clock.now += timedelta(minutes=30)
    # When polled
    result = poll(run_id, 1, JOB_ARN, deadline, ports)
    # Then the next poll waits the cap (ten 30 s intervals), not one interval (few history events)
    assert (result["status"], result["wait_seconds"]) == ("InProgress", 300)


def test_poll_records_a_failed_job_with_its_failure_messages(ports, bedrock, bucket, dropped):
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    messages = ["Model mapping error: modelIdentifier does not match inferenceSourceIdentifier"]
    bedrock.add_response(
        "get_evaluation_job", get_job_response("Failed", run_id, messages), {"jobIdentifier": JOB_ARN}
    )
    result = poll(run_id, 1, JOB_ARN, iso(ports.runs.load(run_id).deadline), ports)
    assert result["status"] == "Failed"
    # The job is recorded failed at once (a run of one job is not resubmitted); the run ends FAILED
    # with Bedrock's messages once its jobs have all ended (the parse step)
    assert ports.runs.get(run_id).shard(1).failure_messages == messages
    run = parse(run_id, ports)
    assert (run.status, run.verdict, run.failure_messages) == ("FAILED", "FAILED", messages)
