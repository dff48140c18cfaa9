"""The stop step against moto: a run past its deadline is stopped and recorded TIMED_OUT."""

from __future__ import annotations

from evalpipe.run.triggers import iso
from evalpipe.steps.parse import parse
from evalpipe.steps.poll import poll
from evalpipe.steps.stop import stop
from tests.integration.steps.flow import JOB_ARN, get_job_response, smoke_suite, submitted


def test_poll_past_the_deadline_times_out_and_stop_records_it(ports, bedrock, bucket, dropped, clock):
    # Given a submitted run whose deadline has passed
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    deadline = iso(ports.runs.load(run_id).deadline)
    clock.advance(3601)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    bedrock.add_response("stop_evaluation_job", {}, {"jobIdentifier": JOB_ARN})
    # When polled and then stopped
    result = poll(run_id, 1, JOB_ARN, deadline, ports)
    stopped = stop(run_id, 1, JOB_ARN, ports)
    # Then its job is TIMED_OUT, and the run is once its jobs have all ended (the parse step)
    assert result["status"] == "TimedOut"
    assert stopped == {"stopped": True}
    assert ports.runs.get(run_id).shard(1).status == "TIMED_OUT"
    run = parse(run_id, ports)
    assert (run.status, run.verdict, run.error.type) == ("TIMED_OUT", "TIMED_OUT", "JobTimeout")
    assert run.error.job_stopped is True


# --- `pipeline.polling`: a suite's interval and timeout override the deployment's -----------


def test_a_run_past_the_suites_deadline_is_stopped_naming_the_suites_timeout(
    ports, bedrock, bucket, dropped, clock
):
    # Given a suite whose jobs time out after 2 hours, submitted
    event = dropped(suite=smoke_suite(polling={"jobTimeoutSeconds": 7_200}))
    run_id = submitted(ports, bedrock, bucket, event)
    deadline = iso(ports.runs.load(run_id).deadline)
    # When it is polled after the deployment's 1 hour: still in progress, not timed out
    clock.advance(3_601)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, 1, JOB_ARN, deadline, ports)["status"] == "InProgress"
    # And after the suite's 2 hours it times out, and stop names that timeout
    clock.advance(3_600)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, 1, JOB_ARN, deadline, ports)["status"] == "TimedOut"
    bedrock.add_response("stop_evaluation_job", {}, {"jobIdentifier": JOB_ARN})
    stop(run_id, 1, JOB_ARN, ports)
    run = parse(run_id, ports)
    assert run.status == "TIMED_OUT"
    assert "7200 s after submission" in run.error.message
