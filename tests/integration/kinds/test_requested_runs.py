"""Runs that no dataset drop starts: each step on a run request (schedule / CLI), against moto.

A suite that names only built-in datasets runs on a ``Run Requested`` event; a dataset dropped
into it, and a request for a suite with a custom dataset, are rejected and notified.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from evalpipe.run.model import ErrorInfo
from evalpipe.run.status import RunStatus, Verdict
from evalpipe.run.triggers import RunRequest, TriggerKind, run_request_event
from evalpipe.steps.notify import notify
from evalpipe.steps.parse import parse
from evalpipe.steps.record_error import record_error
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from tests.builders import jsonl
from tests.integration.steps.flow import JOB_ARN, ROLE_ARN, SUITE, completed, s3_event

LIVE_MODEL = "amazon.nova-lite-v1:0"
SCHEDULE_ARN = "arn:aws:scheduler:us-east-1:123456789012:schedule/evalpipe-test/qa"
ENTRIES = [
    {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "Builtin.BoolQ"},
        "metricNames": ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"],
    },
    {
        "taskType": "QuestionAndAnswer",
        "dataset": {"name": "Builtin.TriviaQA"},
        "metricNames": ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"],
    },
]
# Not tests/builders.py's judge suite: built-in datasets only, graded without a judge.
BUILTIN_SUITE = {
    "applicationType": "ModelEvaluation",
    "evaluationConfig": {"automated": {"datasetMetricConfigs": ENTRIES}},
    "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": LIVE_MODEL}}]},
    "pipeline": {"schedule": {"expression": "cron(0 6 ? * MON *)", "timezone": "Europe/Paris"}},
}


@pytest.fixture
def live_ports(ports):
    """The steps' adapters with the live model allowed (the deployment's inferenceModels)."""
    ports.settings = ports.settings.model_copy(update={"allowed_inference_models": (LIVE_MODEL,)})
    return ports


@pytest.fixture
def qa_suite(put):
    """Upload the built-in suite as suites/qa.json."""
    put("suites/qa.json", json.dumps(BUILTIN_SUITE).encode())


def scheduled(execution_id: str = "d32c5kddcf5bb8c3", time: str = "2026-11-23T06:00:00Z") -> dict:
    return run_request_event(
        "qa", TriggerKind.SCHEDULE, request_id=execution_id, time=time, schedule_arn=SCHEDULE_ARN
    )


def expected_request(bucket: str, request: RunRequest) -> dict:
    """The exact CreateEvaluationJob parameters: the suite's entries unchanged, no datasetLocation."""
    return {
        "jobName": request.run_id,
        "jobDescription": "evalpipe run of suite qa",
        "clientRequestToken": request.client_request_token,
        "roleArn": ROLE_ARN,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {"automated": {"datasetMetricConfigs": copy.deepcopy(ENTRIES)}},
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": LIVE_MODEL}}]},
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/results/qa/{request.run_id}/"},
        "jobTags": [
            {"key": "evalpipe:suite", "value": "qa"},
            {"key": "evalpipe:run-id", "value": request.run_id},
        ],
    }


def output_line(prompt: str, reference: str, response: str, scores: dict) -> dict:
    """A classic job's output line: live responses top level, metric names without the prefix."""
    return {
        "automatedEvaluationResult": {
            "scores": [{"metricName": name, "result": value} for name, value in scores.items()]
        },
        "inputRecord": {"prompt": prompt, "referenceResponse": reference},
        "modelResponses": [{"response": response, "modelIdentifier": LIVE_MODEL}],
    }


# --- validate -------------------------------------------------------------------------------


def test_a_scheduled_request_for_a_built_in_suite_is_valid_and_says_why_there_is_no_estimate(
    live_ports, qa_suite
):
    # Given the built-in suite in the bucket and its schedule firing
    event = scheduled()
    # When the validate step runs
    result = validate(event, live_ports)
    # Then the run is claimed under the request's identity and is valid
    request = RunRequest.from_event(event)
    assert result == {"run_id": request.run_id, "suite": "qa", "outcome": "VALID", "shards": [1]}
    run = live_ports.runs.get(request.run_id)
    assert run.trigger == "schedule"
    assert run.request.schedule_arn == SCHEDULE_ARN
    assert run.request.bucket == live_ports.settings.bucket_name
    assert run.dataset is None
    assert run.client_token == request.client_request_token
    # And the estimate says that there is no dataset to measure
    assert run.estimate["total_usd"] is None
    assert run.estimate["notes"][0].startswith("no dataset to measure: Builtin.BoolQ, Builtin.TriviaQA")


def test_a_scheduler_retry_of_the_same_scheduled_time_is_a_duplicate(live_ports, qa_suite):
    # Given a scheduled run already claimed
    first = validate(scheduled("d32c5kddcf5bb8c3"), live_ports)
    # When the scheduler delivers the same scheduled time again (a new execution id)
    second = validate(scheduled("ee0155aa93c1f7d0"), live_ports)
    # Then the second delivery ends as a duplicate of the same run
    assert first["outcome"] == "VALID"
    assert second == {"run_id": first["run_id"], "suite": "qa", "outcome": "DUPLICATE"}


def test_two_cli_requests_are_two_runs(live_ports, qa_suite):
    # Given two `evalpipe run --suite qa` in the same second
    events = [
        run_request_event("qa", "cli", request_id=uid, time="2026-11-23T06:00:00Z") for uid in ("u-1", "u-2")
    ]
    # When both are validated
    results = [validate(event, live_ports) for event in events]
    # Then both are valid runs of their own
    assert [r["outcome"] for r in results] == ["VALID", "VALID"]
    assert results[0]["run_id"] != results[1]["run_id"]


def test_a_request_for_a_suite_with_a_custom_dataset_is_rejected_and_notified(ports, put, sns_messages):
    # Given the smoke suite (its dataset is dropped by users) and a CLI run request for it
    put("suites/smoke.json", json.dumps(SUITE).encode())
    event = run_request_event("smoke", "cli", request_id="u-1", time="2026-11-23T06:00:00Z")
    # When validated and notified
    result = validate(event, ports)
    notify(result["run_id"], ports)
    # Then the run is REJECTED, telling the user to drop a dataset
    assert result["outcome"] == "REJECTED"
    run = ports.runs.get(result["run_id"])
    assert (run.status, run.verdict, run.problem_count) == ("REJECTED", "REJECTED", 1)
    [problem] = run.problems
    assert problem.field == "evaluationConfig.automated.datasetMetricConfigs[0].dataset"
    assert "drop a dataset into datasets/smoke/" in problem.message
    # And the one notification names the trigger and how to retry
    [message] = sns_messages()
    assert message["attributes"]["verdict"] == "REJECTED"
    assert re.search(r"^Trigger: +manual run by evalpipe run$", message["message"], re.MULTILINE)
    assert "run rejected (1 problem)" in message["subject"]
    assert "request the run again (evalpipe run --suite smoke)" in message["message"]


def test_a_request_for_a_missing_suite_file_is_rejected(ports):
    # Given no suites/ghost.json
    event = run_request_event("ghost", "cli", request_id="u-1", time="2026-11-23T06:00:00Z")
    # When validated / Then the missing file is named
    result = validate(event, ports)
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert "suite file not found: upload s3://" in run.problems[0].message
    assert "before requesting a run of it" in run.problems[0].message


def test_a_dataset_dropped_into_a_built_in_suite_is_rejected(live_ports, qa_suite, put, bucket):
    # Given the built-in suite and a dataset dropped under datasets/qa/
    body = jsonl([{"prompt": "Is the sky blue?", "referenceResponse": "yes"}])
    version = put("datasets/qa/mine.jsonl", body)
    event = s3_event(bucket, "datasets/qa/mine.jsonl", version, size=len(body))
    # When validated
    result = validate(event, live_ports)
    # Then the run is REJECTED, pointing at the schedule and `evalpipe run`
    run = live_ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    [problem] = run.problems
    assert problem.file == "datasets/qa/mine.jsonl"
    assert "this suite runs on its schedule or `evalpipe run --suite qa`" in problem.message


# --- submit / parse / notify / record_error ---------------------------------------------------


def test_submit_sends_the_built_in_entries_unchanged(live_ports, qa_suite, bedrock, bucket):
    # Given a valid scheduled run
    event = scheduled()
    run_id = validate(event, live_ports)["run_id"]
    request = RunRequest.from_event(event)
    # When submitted (the Stubber pins the exact parameters)
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, request))
    result = submit(run_id, 1, live_ports)
    # Then the job is recorded
    assert result["job_arn"] == JOB_ARN
    assert live_ports.runs.get(run_id).status == "SUBMITTED"


def test_parse_reads_one_output_file_per_built_in_dataset(live_ports, qa_suite, bedrock, bucket, put):
    # Given a submitted scheduled run and one output file per datasetMetricConfigs entry
    event = scheduled()
    run_id = validate(event, live_ports)["run_id"]
    bedrock.add_response(
        "create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, RunRequest.from_event(event))
    )
    submit(run_id, 1, live_ports)
    base = f"results/qa/{run_id}/{run_id}/{run_id}/r4nd0m/models/{LIVE_MODEL}/taskTypes/QuestionAndAnswer"
    scores = {"Accuracy": 1.0, "Robustness": 0.9, "Toxicity": 0.0}
    boolq = [output_line(f"boolq {i}?", "true", "true", scores) for i in range(3)]
    trivia = [output_line(f"trivia {i}?", "Paris", "Paris", scores) for i in range(2)]
    put(f"{base}/datasets/Builtin.BoolQ/a1_output.jsonl", jsonl(boolq))
    put(f"{base}/datasets/Builtin.TriviaQA/b2_output.jsonl", jsonl(trivia))
    completed(live_ports, bedrock, run_id)
    # When parsed (there is no dataset object to read categories from)
    result = parse(run_id, live_ports)
    # Then every record of both files is stored, in key order, and the run completed
    assert result.record_count == 5
    run = live_ports.runs.get(run_id)
    assert (run.status, run.output_files, run.record_count) == ("COMPLETED", 2, 5)
    prompts = [r.prompt_excerpt for r in live_ports.runs.iter_records(run_id)]
    assert prompts == ["boolq 0?", "boolq 1?", "boolq 2?", "trivia 0?", "trivia 1?"]


def test_the_notification_of_a_scheduled_run_names_its_trigger_and_datasets(
    live_ports, qa_suite, sns_messages
):
    # Given a scheduled run recorded as far as validation (then rejected by hand to end it)
    run_id = validate(scheduled(), live_ports)["run_id"]
    run = live_ports.runs.load(run_id)
    run.status, run.verdict, run.error = RunStatus.ERROR, Verdict.ERROR, ErrorInfo(type="X", message="m")
    live_ports.runs.save(run)
    # When notified
    notify(run_id, live_ports)
    # Then the body names the scheduled trigger and the built-in datasets (no dataset object)
    [message] = sns_messages()
    body = message["message"]
    assert re.search(r"^Trigger: +scheduled run \(scheduled for 2026-11-23T06:00:00Z\)$", body, re.MULTILINE)
    assert re.search(r"^Datasets: +Builtin.BoolQ, Builtin.TriviaQA \(built in\)$", body, re.MULTILINE)
    assert "Dataset:" not in body


def test_record_error_after_validate_failed_on_a_run_request_creates_the_run(live_ports):
    # Given an execution started by a run request whose Validate step crashed
    event = scheduled()
    state = {**event, "error": {"Error": "KeyError", "Cause": "boom"}}
    # When the error is recorded
    result = record_error(state, live_ports)
    # Then the run exists under the request's run id, with its trigger
    run = live_ports.runs.get(result["run_id"])
    assert result["run_id"] == RunRequest.from_event(event).run_id
    assert (run.status, run.trigger, run.request.requested_by) == (
        "ERROR",
        "schedule",
        "schedule",
    )
