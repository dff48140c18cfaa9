"""Human evaluation jobs through submit and poll: a 30-day deadline and a long, cheap schedule."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from evalpipe.run.timing import Timing
from evalpipe.settings import Settings
from evalpipe.steps.parse import parse
from evalpipe.steps.poll import poll
from evalpipe.steps.stop import stop
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from tests.integration.steps.flow import JOB_ARN, ROLE_ARN

ROOT = Path(__file__).resolve().parents[3]
HUMAN_SUITE = json.loads((ROOT / "examples/suites/support-assistant-human.json").read_text(encoding="utf-8"))
HUMAN_RECORDS = [
    json.loads(line)
    for line in (ROOT / "examples/datasets/support-assistant-human/sample.jsonl")
    .read_text("utf-8")
    .splitlines()
]


def settings(**env: str) -> Settings:
    return Settings.model_validate({"RUNS_TABLE_NAME": "t", "BUCKET_NAME": "b", **env})


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, 900), (3_600, 900), (4 * 3_600, 3_600), (86_400, 21_600), (20 * 86_400, 21_600)],
)
def test_the_human_schedule_grows_from_15_minutes_to_6_hours(elapsed: int, expected: int) -> None:
    assert Timing.of(settings()).human_wait(elapsed) == expected


def test_the_human_schedule_honours_its_environment() -> None:
    # the local mode and tests shorten it; min above max is read as min
    fast = settings(HUMAN_POLL_MIN_SECONDS="1", HUMAN_POLL_MAX_SECONDS="2")
    assert [Timing.of(fast).human_wait(e) for e in (0, 6, 3_600)] == [1, 1, 2]
    assert Timing.of(settings(HUMAN_POLL_MIN_SECONDS="60", HUMAN_POLL_MAX_SECONDS="30")).human_wait(0) == 60


def human_job(status: str, name: str, created: datetime) -> dict:
    return {
        "jobName": name,
        "status": status,
        "jobArn": JOB_ARN,
        "roleArn": ROLE_ARN,
        "jobType": "Human",
        "applicationType": "ModelEvaluation",
        "evaluationConfig": copy.deepcopy(HUMAN_SUITE["evaluationConfig"]),
        "inferenceConfig": copy.deepcopy(HUMAN_SUITE["inferenceConfig"]),
        "outputDataConfig": {"s3Uri": "s3://b/results/"},
        "creationTime": created,
    }


def test_a_human_job_gets_a_30_day_deadline_and_a_growing_wait(ports, bedrock, dropped, clock) -> None:
    # Given a validated human suite and dataset
    run_id = validate(dropped(HUMAN_RECORDS, HUMAN_SUITE), ports)["run_id"]
    assert ports.runs.get(run_id).status == "VALIDATING", ports.runs.get(run_id).get("problems")
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
    # When submitted
    submitted_at = clock()
    job = submit(run_id, 1, ports)
    # Then the deadline is 30 days away and the first wait is 15 minutes
    assert datetime.fromisoformat(job["deadline"]) == submitted_at + timedelta(days=30)
    assert job["wait_seconds"] == 900
    assert ports.runs.get(run_id).job_type == "Human"
    # And polls read the job's own jobType: the wait grows with the time the job has run
    for hours, expected in ((2, 1_800), (30, 21_600)):
        clock.now = submitted_at + timedelta(hours=hours)
        bedrock.add_response(
            "get_evaluation_job", human_job("InProgress", run_id, submitted_at), {"jobIdentifier": JOB_ARN}
        )
        result = poll(run_id, 1, JOB_ARN, job["deadline"], ports)
        assert (result["status"], result["wait_seconds"]) == ("InProgress", expected)
    # And past the 30 days the job times out and stop names the human deadline
    clock.now = submitted_at + timedelta(days=30, seconds=1)
    bedrock.add_response(
        "get_evaluation_job", human_job("InProgress", run_id, submitted_at), {"jobIdentifier": JOB_ARN}
    )
    bedrock.add_response("stop_evaluation_job", {}, {"jobIdentifier": JOB_ARN})
    assert poll(run_id, 1, JOB_ARN, job["deadline"], ports)["status"] == "TimedOut"
    stop(run_id, 1, JOB_ARN, ports)
    assert "2592000 s after submission" in parse(run_id, ports).error.message


def test_an_automated_job_backs_off_only_to_ten_intervals(ports, bedrock, dropped, clock) -> None:
    # Given a job whose jobType is Automated, running for 2 days / When polled
    # Then the automated cap (ten 30 s intervals), not a human job's hours
    run_id = validate(dropped(), ports)["run_id"]
    job = human_job("InProgress", run_id, clock() - timedelta(days=2))
    job["jobType"] = "Automated"
    bedrock.add_response("get_evaluation_job", job, {"jobIdentifier": JOB_ARN})
    deadline = (clock() + timedelta(hours=1)).isoformat()
    assert poll(run_id, 1, JOB_ARN, deadline, ports)["wait_seconds"] == 300
