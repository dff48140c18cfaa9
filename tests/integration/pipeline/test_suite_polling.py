"""`pipeline.polling`: a suite's poll interval and timeouts override the deployment's for its runs."""

from __future__ import annotations

import copy
from datetime import timedelta

from evalpipe.run.triggers import iso
from evalpipe.steps.poll import poll
from evalpipe.steps.stop import stop
from evalpipe.steps.validate import validate

from .conftest import SUITE
from .test_steps import JOB_ARN, get_job_response, submitted


def _suite(polling: dict) -> dict:
    suite = copy.deepcopy(SUITE)
    suite["pipeline"]["polling"] = polling
    return suite


def test_submit_and_poll_use_the_suites_interval_and_timeout(ports, bedrock, bucket, dropped, clock):
    # Given a suite polling every 300 s with a 2-hour timeout (the deployment: 30 s and 1 hour)
    event = dropped(suite=_suite({"intervalSeconds": 300, "jobTimeoutSeconds": 7_200}))
    # When the run is submitted
    run_id = submitted(ports, bedrock, bucket, event)
    run = ports.runs.get(run_id)
    # Then its deadline is two hours after submission, and the run records the timing it runs with
    assert run.deadline - clock.now == timedelta(seconds=7_200)
    assert run.timing.poll_interval_seconds == 300
    assert run.timing.job_timeout_seconds == 7_200
    assert run.timing.human_poll_max_seconds == ports.settings.human_poll_max_seconds
    # And a poll waits the suite's interval
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, JOB_ARN, iso(run.deadline), ports)["wait_seconds"] == 300


def test_a_run_past_the_suites_deadline_is_stopped_naming_the_suites_timeout(
    ports, bedrock, bucket, dropped, clock
):
    # Given a suite whose jobs time out after 2 hours, submitted
    event = dropped(suite=_suite({"jobTimeoutSeconds": 7_200}))
    run_id = submitted(ports, bedrock, bucket, event)
    deadline = iso(ports.runs.load(run_id).deadline)
    # When it is polled after the deployment's 1 hour: still in progress, not timed out
    clock.advance(3_601)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, JOB_ARN, deadline, ports)["status"] == "InProgress"
    # And after the suite's 2 hours it times out, and stop names that timeout
    clock.advance(3_600)
    bedrock.add_response(
        "get_evaluation_job", get_job_response("InProgress", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, JOB_ARN, deadline, ports)["status"] == "TimedOut"
    bedrock.add_response("stop_evaluation_job", {}, {"jobIdentifier": JOB_ARN})
    stop(run_id, JOB_ARN, ports)
    run = ports.runs.get(run_id)
    assert run.status == "TIMED_OUT"
    assert "7200 s after submission" in run.error.message


def test_a_timeout_that_outlasts_the_state_machine_is_rejected_with_the_deployment_interval(ports, dropped):
    # Given a timeout that fits alone, but not with the deployment's polls every 30 s around it
    longest = 35 * 86_400 - 3_600
    event = dropped(suite=_suite({"jobTimeoutSeconds": longest}))
    # When validated
    result = validate(event, ports)
    # Then the run is rejected, naming the key and the largest timeout that fits
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    [problem] = run.problems
    assert problem.field == "pipeline.polling.jobTimeoutSeconds"
    assert f"must be at most {longest - 60}" in problem.message
    assert "35 days" in problem.message
