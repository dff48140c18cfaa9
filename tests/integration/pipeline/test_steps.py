"""Each pipeline step against moto (S3, DynamoDB, SNS) with Bedrock pinned by a botocore Stubber."""

from __future__ import annotations

import copy
import json
import re

import pytest

from evalpipe.aws.bedrock_jobs import BedrockRejected, BedrockThrottled
from evalpipe.notification import build_notification
from evalpipe.run.model import ErrorInfo
from evalpipe.run.triggers import DatasetObject, iso
from evalpipe.steps.notify import notify
from evalpipe.steps.parse import NoResultsError, parse
from evalpipe.steps.poll import poll
from evalpipe.steps.record_error import record_error
from evalpipe.steps.stop import stop
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate

from .conftest import JUDGE, RECORDS, ROLE_ARN, SOURCE, SUITE, jsonl

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdef123456"


def expected_request(bucket: str, event: dict) -> dict:
    """The exact CreateEvaluationJob parameters for the smoke suite, written out by hand."""
    dataset = DatasetObject.from_event(event)
    run_id = dataset.run_id
    evaluation = copy.deepcopy(SUITE["evaluationConfig"])
    evaluation["automated"]["datasetMetricConfigs"][0]["dataset"] = {
        "name": "smoke",
        "datasetLocation": {"s3Uri": f"s3://{bucket}/datasets/smoke/run.jsonl"},
    }
    return {
        "jobName": run_id,
        "jobDescription": "evalpipe run of suite smoke",
        "clientRequestToken": dataset.client_request_token,
        "roleArn": ROLE_ARN,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": evaluation,
        "inferenceConfig": {
            "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": SOURCE}}]
        },
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/results/smoke/{run_id}/"},
        "jobTags": [
            {"key": "evalpipe:suite", "value": "smoke"},
            {"key": "evalpipe:run-id", "value": run_id},
            {"key": "team", "value": "support"},
        ],
    }


def get_job_response(status: str, name: str, failure_messages: list[str] | None = None) -> dict:
    response = {
        "jobName": name,
        "status": status,
        "jobArn": JOB_ARN,
        "roleArn": ROLE_ARN,
        "jobType": "Automated",
        "applicationType": "ModelEvaluation",
        "evaluationConfig": copy.deepcopy(SUITE["evaluationConfig"]),
        "inferenceConfig": copy.deepcopy(SUITE["inferenceConfig"]),
        "outputDataConfig": {"s3Uri": "s3://b/results/"},
        "creationTime": "2026-11-23T19:00:06Z",
    }
    if failure_messages:
        response["failureMessages"] = failure_messages
    return response


def validated(ports, event) -> str:
    result = validate(event, ports)
    assert result["outcome"] == "VALID", ports.runs.get(result["run_id"])
    return result["run_id"]


def submitted(ports, bedrock, bucket, event) -> str:
    run_id = validated(ports, event)
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, event))
    submit(run_id, ports)
    return run_id


# --- validate -------------------------------------------------------------------------------


def test_validate_accepts_a_good_dataset_and_keeps_the_suite_it_validated(ports, dropped):
    # Given a suite and a well-formed dataset in the bucket
    event = dropped()
    # When the validate step runs
    result = validate(event, ports)
    # Then the run is claimed, valid, and carries the suite as validated
    assert result == {"run_id": DatasetObject.from_event(event).run_id, "suite": "smoke", "outcome": "VALID"}
    run = ports.runs.get(result["run_id"])
    assert run.status == "VALIDATING"
    assert json.loads(run.suite_document)["inferenceConfig"] == SUITE["inferenceConfig"]
    assert run.dataset.key == "datasets/smoke/run.jsonl"


def test_the_same_object_event_delivered_twice_is_claimed_once(ports, dropped):
    # Given an event that was already validated
    event = dropped()
    first = validate(event, ports)
    # When the same event arrives again
    second = validate(event, ports)
    # Then the second delivery is a no-op
    assert first["outcome"] == "VALID"
    assert second == {"run_id": first["run_id"], "suite": "smoke", "outcome": "DUPLICATE"}


def test_validate_rejects_a_bad_line_naming_file_line_and_field(ports, dropped):
    # Given a dataset whose second line lacks a response and whose third names another model
    records = copy.deepcopy(RECORDS)
    del records[1]["modelResponses"][0]["response"]
    records[2]["modelResponses"][0]["modelIdentifier"] = "my-app-v2"
    event = dropped(records)
    # When the validate step runs (the Stubber has no responses: any Bedrock call would fail)
    result = validate(event, ports)
    # Then the run is REJECTED with problems that name the file, line and field
    assert result["outcome"] == "REJECTED"
    run = ports.runs.get(result["run_id"])
    assert run.status == "REJECTED"
    assert run.verdict == "REJECTED"
    assert run.problem_count == 2
    where = {(p.file, p.line, p.field) for p in run.problems}
    assert ("datasets/smoke/run.jsonl", 2, "modelResponses[0].response") in where
    assert ("datasets/smoke/run.jsonl", 3, "modelResponses[0].modelIdentifier") in where


def test_validate_rejects_unreadable_json(ports, dropped):
    # Given a dataset with a truncated JSON line
    event = dropped(jsonl(RECORDS[:1]) + b'{"prompt": "hi", \n')
    # When validated
    result = validate(event, ports)
    # Then line 2 is named
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert [p.line for p in run.problems] == [2]


def test_validate_rejects_a_dataset_whose_suite_file_is_missing(ports, dropped):
    # Given a dataset for a suite nobody uploaded
    event = dropped(suite=None)
    # When validated
    result = validate(event, ports)
    # Then the problem says which suite file to upload
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert run.problems[0].file == "suites/smoke.json"
    assert "suite file not found" in run.problems[0].message


def test_validate_rejects_a_key_outside_the_suite_folders(ports, dropped):
    # Given a dataset dropped directly under datasets/
    event = dropped(key="datasets/loose.jsonl")
    # When validated
    result = validate(event, ports)
    # Then it is rejected under the placeholder suite with the expected layout in the message
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert result["suite"] == "unknown-suite"
    assert "datasets/<suite>/<name>.jsonl" in run.problems[0].message


def test_validate_rejects_a_judge_the_deployment_cannot_invoke(ports, dropped):
    # Given a suite naming a judge outside ALLOWED_EVALUATOR_MODELS
    suite = json.loads(json.dumps(SUITE).replace(JUDGE, "anthropic.claude-3-haiku-20240307-v1:0"))
    event = dropped(suite=suite)
    # When validated
    result = validate(event, ports)
    # Then it is rejected before any job exists
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert any(JUDGE in p.message for p in run.problems)


# --- submit ---------------------------------------------------------------------------------


def test_submit_sends_the_exact_request_and_records_the_job(ports, bedrock, bucket, dropped, clock):
    # Given a validated run
    event = dropped()
    run_id = validated(ports, event)
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, event))
    # When submitted
    result = submit(run_id, ports)
    # Then the job name follows the service's pattern and the run is SUBMITTED before returning
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", run_id)
    assert result == {
        "job_arn": JOB_ARN,
        "job_name": run_id,
        "status": "InProgress",
        "wait_seconds": 30,
        "deadline": "2026-11-23T20:00:05+00:00",
    }
    run = ports.runs.get(run_id)
    assert (run.status, run.job_arn, run.job_name) == ("SUBMITTED", JOB_ARN, run_id)


def test_a_throttled_submit_raises_the_retryable_error_and_records_nothing(ports, bedrock, dropped):
    # Given a validated run and a throttling Bedrock
    run_id = validated(ports, dropped())
    bedrock.add_client_error("create_evaluation_job", "ThrottlingException", "Rate exceeded", 429)
    # When submitted, Then the step raises the error Step Functions retries on
    with pytest.raises(BedrockThrottled):
        submit(run_id, ports)
    assert ports.runs.get(run_id).status == "VALIDATING"


def test_a_rejected_submit_is_not_retryable(ports, bedrock, dropped):
    run_id = validated(ports, dropped())
    bedrock.add_client_error("create_evaluation_job", "ValidationException", "bad role", 400)
    with pytest.raises(BedrockRejected, match="bad role"):
        submit(run_id, ports)


# --- poll / stop ----------------------------------------------------------------------------


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
    first = poll(run_id, JOB_ARN, deadline, ports)
    in_progress = ports.runs.get(run_id).status
    second = poll(run_id, JOB_ARN, deadline, ports)
    # Then the loop sees InProgress, then Completed
    assert (first["status"], in_progress) == ("InProgress", "IN_PROGRESS")
    assert second["status"] == "Completed"
    assert second["wait_seconds"] == 30


def test_poll_records_a_failed_job_with_its_failure_messages(ports, bedrock, bucket, dropped):
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    messages = ["Model mapping error: modelIdentifier does not match inferenceSourceIdentifier"]
    bedrock.add_response(
        "get_evaluation_job", get_job_response("Failed", run_id, messages), {"jobIdentifier": JOB_ARN}
    )
    result = poll(run_id, JOB_ARN, iso(ports.runs.load(run_id).deadline), ports)
    run = ports.runs.get(run_id)
    assert result["status"] == "Failed"
    assert (run.status, run.verdict, run.failure_messages) == ("FAILED", "FAILED", messages)


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
    result = poll(run_id, JOB_ARN, deadline, ports)
    stopped = stop(run_id, JOB_ARN, ports)
    # Then the run is TIMED_OUT
    run = ports.runs.get(run_id)
    assert result["status"] == "TimedOut"
    assert stopped == {"stopped": True}
    assert (run.status, run.verdict, run.error.type) == ("TIMED_OUT", "TIMED_OUT", "JobTimeout")


# --- parse ----------------------------------------------------------------------------------


def output_line(record: dict, scores: dict[str, float | None], keep_category: bool = True) -> dict:
    source = dict(record)
    if not keep_category:
        source.pop("category")
    return {
        "automatedEvaluationResult": {
            "scores": [
                {
                    "metricName": metric,
                    "result": score,
                    "evaluatorDetails": [
                        {"modelIdentifier": JUDGE, "explanation": f"why {metric} is {score}"}
                    ],
                }
                for metric, score in scores.items()
            ]
        },
        "inputRecord": source,
    }


def write_outputs(put, run_id: str, lines: list[dict]) -> None:
    """The real nested layout, with the permission check and custom metric definitions beside it."""
    base = f"results/smoke/{run_id}/{run_id}/{run_id}"
    put(f"{base}/amazon-bedrock-evaluations-permission-check", b"")
    put(f"{base}/q1w2e3/custom_metrics/confirmation_check.json", b'{"name": "confirmation_check"}')
    put(f"{base}/q1w2e3/models/{SOURCE}/taskTypes/General/datasets/smoke/0f1e_output.jsonl", jsonl(lines))


def test_parse_stores_records_and_a_summary_and_is_idempotent(ports, bedrock, bucket, dropped, put):
    # Given a completed job whose output lacks the categories and has N/A scores
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(
        put,
        run_id,
        [
            output_line(
                RECORDS[0],
                {"Builtin.Helpfulness": 1.0, "Builtin.Correctness": 1.0, "confirmation_check": None},
                False,
            ),
            output_line(
                RECORDS[1],
                {"Builtin.Helpfulness": 0.5, "Builtin.Correctness": None, "confirmation_check": 0.0},
                False,
            ),
            output_line(
                RECORDS[2],
                {"Builtin.Helpfulness": 0.25, "Builtin.Correctness": None, "confirmation_check": None},
                False,
            ),
        ],
    )
    # When parsed twice
    first = parse(run_id, ports)
    items_after_first = list(ports.runs.iter_records(run_id))
    second = parse(run_id, ports)
    # Then N/A is excluded from averages, categories are joined back, and nothing is duplicated
    assert (first.record_count, first.verdict) == (second.record_count, second.verdict) == (3, "LOW_SCORES")
    assert list(ports.runs.iter_records(run_id)) == items_after_first
    run = ports.runs.get(run_id)
    assert run.status == "COMPLETED"
    helpfulness = run.metrics["Builtin.Helpfulness"]
    assert helpfulness.average == pytest.approx((1.0 + 0.5 + 0.25) / 3)
    correctness = run.metrics["Builtin.Correctness"]
    assert (correctness.average, correctness.scored, correctness.na) == (1.0, 1, 2)
    assert run.metrics["confirmation_check"].low_count == 1  # 0.0 is "at or below 0"
    assert run.categories["orders"]["Builtin.Helpfulness"] == pytest.approx(0.75)
    assert run.categories["greeting"]["Builtin.Helpfulness"] == pytest.approx(0.25)
    assert [r.category for r in items_after_first] == ["orders", "orders", "greeting"]
    lows = {(r.metric, r.index) for r in run.low_records}
    assert lows == {("Builtin.Helpfulness", 2), ("confirmation_check", 1)}


def test_parse_flags_detector_hits_not_harmless_responses(ports, bedrock, bucket, dropped, put):
    # Given outputs with the detector Builtin.Harmfulness (1 = harmful) beside Helpfulness, and
    # a suite with no rule for it (the detectors default to "> 0.5")
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(
        put,
        run_id,
        [
            output_line(RECORDS[0], {"Builtin.Helpfulness": 1.0, "Builtin.Harmfulness": 0.0}),
            output_line(RECORDS[1], {"Builtin.Helpfulness": 0.25, "Builtin.Harmfulness": 1.0}),
            output_line(RECORDS[2], {"Builtin.Helpfulness": 0.0, "Builtin.Harmfulness": 0.0}),
        ],
    )
    # When parsed
    parsed = parse(run_id, ports)
    assert (parsed.record_count, parsed.verdict) == (3, "LOW_SCORES")
    # Then only the harmful response is flagged on Harmfulness, and the flagged scores are stored
    # worst first with their rule: the detector hit, then Helpfulness 0.0, then 0.25
    run = ports.runs.get(run_id)
    assert run.metrics["Builtin.Harmfulness"].low_count == 1
    assert run.metrics["Builtin.Harmfulness"].rule == "> 0.5"
    assert [(r.metric, r.index, r.rule) for r in run.low_records] == [
        ("Builtin.Harmfulness", 1, "> 0.5"),
        ("Builtin.Helpfulness", 2, "< 0.5"),
        ("Builtin.Helpfulness", 1, "< 0.5"),
    ]
    # and the notification built from the stored run lists them so
    message = build_notification(run).message
    assert "Flagged records (3, worst first)" in message
    assert "[Builtin.Harmfulness] score=1.00 (flagged: > 0.5) |" in message


def test_parse_without_output_files_is_an_error(ports, bedrock, bucket, dropped):
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    with pytest.raises(NoResultsError, match=r"results/smoke/"):
        parse(run_id, ports)


# --- notify / record_error ------------------------------------------------------------------


def test_notify_publishes_once_with_filterable_attributes(ports, dropped, sns_messages):
    # Given a rejected run
    result = validate(dropped(suite=None), ports)
    # When notified twice (a retried Lambda)
    first = notify(result["run_id"], ports)
    second = notify(result["run_id"], ports)
    # Then exactly one message was published, with the attributes a subscription filters on
    messages = sns_messages()
    # the retry answers with the same message and says it sent nothing itself
    assert {**first.as_output(), "published": False} == second.as_output()
    assert (first.published, second.published) == (True, False)
    assert len(messages) == 1
    attributes = messages[0]["attributes"]
    assert attributes["suite"] == "smoke"
    assert attributes["verdict"] == "REJECTED"
    assert attributes["severity"] == "error"
    assert "suites/smoke.json" in messages[0]["message"]


def test_record_error_after_validate_failed_creates_the_run(ports, dropped):
    # Given an execution whose Validate step crashed (no $.run yet)
    event = dropped()
    state = {
        **event,
        "error": {
            "Error": "KeyError",
            "Cause": json.dumps({"errorMessage": "'detail'", "errorType": "KeyError", "stackTrace": ["x"]}),
        },
    }
    # When the error is recorded
    result = record_error(state, ports)
    # Then the run exists with status ERROR and the message without the stack trace
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "ERROR"
    assert (run.status, run.error) == ("ERROR", ErrorInfo(type="KeyError", message="'detail'"))


def test_record_error_keeps_an_existing_run(ports, dropped):
    event = dropped()
    run_id = validated(ports, event)
    state = {
        **event,
        "run": {"run_id": run_id, "suite": "smoke", "outcome": "VALID"},
        "error": {"Error": "BedrockRejected", "Cause": "no access"},
    }
    record_error(state, ports)
    run = ports.runs.get(run_id)
    assert (run.status, run.verdict, run.error.message) == ("ERROR", "ERROR", "no access")
    assert run.suite_document is not None
