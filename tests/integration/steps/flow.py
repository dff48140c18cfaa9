"""What the step tests share: the smoke suite and dataset, the events and Bedrock answers around
them, and a run driven through the steps up to a given point.

Used by `tests/integration/steps/` (one module per step), `tests/integration/kinds/` (the steps
chained for one kind of job) and `tests/integration/cli/`; the fixtures (`ports`, `bedrock`,
`clock`, `put`, `dropped`) are in tests/integration/conftest.py.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evalpipe.run.triggers import DatasetObject, iso
from evalpipe.steps.parse import parse
from evalpipe.steps.poll import poll
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from tests.builders import JUDGE, SOURCE, jsonl, judge_suite, line

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/evalpipe-bedrock"
EVENT_TIME = "2026-11-23T19:00:00Z"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdef123456"


def smoke_suite(**pipeline: Any) -> dict[str, Any]:
    """The smoke suite; keyword arguments join its ``pipeline`` block, after ``jobTags``."""
    return judge_suite(dataset="smoke", pipeline={"jobTags": {"team": "support"}, **pipeline})


SUITE = smoke_suite()

RECORDS = [
    line("Where is my order 123?", "It ships tomorrow.", "Order 123 ships tomorrow.", category="orders"),
    line("Cancel my order 456", "", "Done, cancelled.", category="orders"),
    line("hello", "", "Hello! How can I help?", category="greeting"),
]


def s3_event(bucket: str, key: str, version_id: str | None, etag: str = "etag", size: int = 10) -> dict:
    """The EventBridge `Object Created` event S3 sends for a PutObject."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": EVENT_TIME,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": etag,
                "version-id": version_id,
                "sequencer": "00617F",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


@dataclass
class Clock:
    """A settable clock so deadlines can be crossed without waiting."""

    now: datetime = datetime(2026, 11, 23, 19, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeContext:
    """The Lambda context the handlers' Powertools decorators read."""

    function_name: str = "evalpipe-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:evalpipe-test"
    aws_request_id: str = "5b3b1e6a-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# --- Bedrock's side ---------------------------------------------------------------------------


def expected_request(bucket: str, event: dict) -> dict:
    """The exact CreateEvaluationJob parameters for the smoke suite, written out by hand."""
    dataset = DatasetObject.from_event(event)
    run_id = dataset.run_id
    evaluation = copy.deepcopy(SUITE["evaluationConfig"])
    evaluation["automated"]["datasetMetricConfigs"][0]["dataset"] = {
        "name": "smoke",
        # The job reads the run's own copy of the dropped version, never the user's key.
        "datasetLocation": {"s3Uri": f"s3://{bucket}/inputs/smoke/{run_id}/run.jsonl"},
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
        # As the real client returns it (botocore parses timestamps; a Stubber hands back what it is given).
        "creationTime": datetime(2026, 11, 23, 19, 0, 6, tzinfo=UTC),
    }
    if failure_messages:
        response["failureMessages"] = failure_messages
    return response


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


# --- a run, as far as a step --------------------------------------------------------------------


def validated(ports, event) -> str:
    result = validate(event, ports)
    assert result["outcome"] == "VALID", ports.runs.get(result["run_id"])
    return result["run_id"]


def submitted(ports, bedrock, bucket, event) -> str:
    run_id = validated(ports, event)
    bedrock.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_request(bucket, event))
    submit(run_id, 1, ports)
    return run_id


def completed(ports, bedrock, run_id: str) -> None:
    """The poll step sees the run's job Completed, as the state machine does before Parse."""
    bedrock.add_response(
        "get_evaluation_job", get_job_response("Completed", run_id), {"jobIdentifier": JOB_ARN}
    )
    assert poll(run_id, 1, JOB_ARN, iso(ports.runs.load(run_id).deadline), ports)["status"] == "Completed"


# --- what the handlers print -------------------------------------------------------------------


def emf_documents(stdout: str) -> list[dict]:
    """The CloudWatch EMF documents Powertools printed (its JSON log lines are left out)."""
    documents = []
    for text in stdout.splitlines():
        if text.startswith("{"):
            document = json.loads(text)
            if "_aws" in document:
                documents.append(document)
    return documents


def metric_points(documents: list[dict]) -> dict[tuple, tuple]:
    """(metric name, dimension set as (name, value) pairs) -> (value, unit), one per dimension set."""
    points = {}
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "EvalPipe"
        for dimension_set in directive["Dimensions"]:
            key = tuple(sorted((name, document[name]) for name in dimension_set))
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                single = value[0] if isinstance(value, list) else value
                points[(metric["Name"], key)] = (single, metric["Unit"])
    return points


# --- history: a baseline and a regressed run ----------------------------------------------------
# The suite compares metrics scored on a single record (``minScoredRecords: 1``) so three records
# are enough to regress.

# The flow's tests pin the threshold method: three records are too few for an interval to decide
# (the bootstrap's own tests are tests/unit/history/test_paired_compare.py).
REGRESSION_SUITE = smoke_suite(regression={"minScoredRecords": 1, "method": "threshold"})

H, C, CC = "Builtin.Helpfulness", "Builtin.Correctness", "confirmation_check"
BASELINE_SCORES = [
    {H: 1.0, C: 1.0, CC: 1.0},
    {H: 1.0, C: 1.0, CC: None},
    {H: 0.75, C: 1.0, CC: 1.0},
]
# Helpfulness 0.917 -> 0.583 and confirmation_check 1.0 -> 0.0 regress; Correctness stays within
# the limits (1.0 -> 0.917); record 2's confirmation_check becomes N/A.
REGRESSED_SCORES = [
    {H: 0.25, C: 1.0, CC: 0.0},
    {H: 1.0, C: 0.75, CC: None},
    {H: 0.5, C: 1.0, CC: None},
]


def parsed_run(ports, bedrock, bucket, put, dropped, scores: list[dict]) -> str:
    """Upload the dataset (a new version), validate, submit, write the job's output, parse."""
    event = dropped(suite=REGRESSION_SUITE)
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(put, run_id, [output_line(RECORDS[i], s) for i, s in enumerate(scores)])
    completed(ports, bedrock, run_id)
    parse(run_id, ports)
    return run_id


def baseline_and_regressed(ports, bedrock, bucket, put, dropped, clock) -> tuple[str, str]:
    """Two runs of suite ``smoke`` an hour apart; the second regressed against the first."""
    baseline = parsed_run(ports, bedrock, bucket, put, dropped, BASELINE_SCORES)
    clock.advance(3600)
    current = parsed_run(ports, bedrock, bucket, put, dropped, REGRESSED_SCORES)
    return baseline, current


def rejected_run_of_another_suite(ports, dropped, clock) -> str:
    """A run of suite ``other`` (no suite file: REJECTED)."""
    clock.advance(60)
    return validate(dropped(suite=None, key="datasets/other/x.jsonl"), ports)["run_id"]
