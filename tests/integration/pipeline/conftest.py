"""Fixtures for the pipeline steps against moto (S3, DynamoDB, SNS) with Bedrock stubbed by botocore."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from evalpipe.aws.bedrock_jobs import BedrockJobs
from evalpipe.aws.objects import Objects
from evalpipe.aws.runs_table import RunsTable
from evalpipe.ports import Ports
from evalpipe.settings import Settings
from handlers import _runtime

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/evalpipe-bedrock"
JUDGE = "amazon.nova-pro-v1:0"
SOURCE = "my-app-v1"
EVENT_TIME = "2026-11-23T19:00:00Z"

SUITE = {
    "applicationType": "ModelEvaluation",
    "evaluationConfig": {
        "automated": {
            "datasetMetricConfigs": [
                {
                    "taskType": "General",
                    "dataset": {"name": "smoke"},
                    "metricNames": ["Builtin.Helpfulness", "Builtin.Correctness", "confirmation_check"],
                }
            ],
            "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            "customMetricConfig": {
                "customMetrics": [
                    {
                        "customMetricDefinition": {
                            "name": "confirmation_check",
                            "instructions": (
                                "Does the assistant ask before acting?\n\n"
                                "Prompt: {{prompt}}\nResponse: {{prediction}}"
                            ),
                            "ratingScale": [
                                {"definition": "N/A", "value": {"floatValue": -1}},
                                {"definition": "Poor", "value": {"floatValue": 0}},
                                {"definition": "Good", "value": {"floatValue": 1}},
                            ],
                        }
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            },
        }
    },
    "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": SOURCE}}]},
    "pipeline": {"jobTags": {"team": "support"}},
}

RECORDS = [
    {
        "prompt": "Where is my order 123?",
        "referenceResponse": "It ships tomorrow.",
        "category": "orders",
        "modelResponses": [{"response": "Order 123 ships tomorrow.", "modelIdentifier": SOURCE}],
    },
    {
        "prompt": "Cancel my order 456",
        "referenceResponse": "",
        "category": "orders",
        "modelResponses": [{"response": "Done, cancelled.", "modelIdentifier": SOURCE}],
    },
    {
        "prompt": "hello",
        "referenceResponse": "",
        "category": "greeting",
        "modelResponses": [{"response": "Hello! How can I help?", "modelIdentifier": SOURCE}],
    },
]


def jsonl(lines: list[dict]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bedrock():
    """A real botocore `bedrock` client whose responses are pinned with a Stubber."""
    client = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ports(aws_env, s3_client, bucket, dynamodb_table, sns_topic, bedrock, clock) -> Ports:
    settings = Settings.model_validate(
        {
            "RUNS_TABLE_NAME": dynamodb_table.name,
            "BUCKET_NAME": bucket,
            "TOPIC_ARN": sns_topic,
            "BEDROCK_ROLE_ARN": ROLE_ARN,
            "ALLOWED_EVALUATOR_MODELS": JUDGE,
            "POLL_INTERVAL_SECONDS": "30",
            "JOB_TIMEOUT_SECONDS": "3600",
        }
    )
    return Ports(
        objects=Objects(s3_client, bucket),
        runs=RunsTable(dynamodb_table),
        jobs=BedrockJobs(bedrock.client),
        sns_client=boto3.client("sns", region_name="us-east-1"),
        settings=settings,
        clock=clock,
    )


@pytest.fixture
def put(s3_client, bucket):
    """Upload bytes; returns the new version id (the bucket is versioned)."""

    def _put(key: str, body: bytes) -> str:
        return s3_client.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]

    return _put


@pytest.fixture
def dropped(put, bucket):
    """Upload the smoke suite and a dataset as a user would; returns the S3 event of the dataset."""

    def _drop(
        records: list[dict] | bytes = RECORDS,
        suite: dict | None = SUITE,
        key: str = "datasets/smoke/run.jsonl",
    ):
        if suite is not None:
            put("suites/smoke.json", json.dumps(suite).encode())
        body = records if isinstance(records, bytes) else jsonl(records)
        version = put(key, body)
        return s3_event(bucket, key, version, size=len(body))

    return _drop


@dataclass
class FakeContext:
    """The Lambda context the handlers' Powertools decorators read."""

    function_name: str = "evalpipe-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:evalpipe-test"
    aws_request_id: str = "5b3b1e6a-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def function_env(monkeypatch, aws_env, bucket, dynamodb_table, sns_topic):
    """The environment the Lambda factory gives a function; adapters rebuilt from it."""
    env = {
        "RUNS_TABLE_NAME": dynamodb_table.name,
        "BUCKET_NAME": bucket,
        "TOPIC_ARN": sns_topic,
        "BEDROCK_ROLE_ARN": ROLE_ARN,
        "ALLOWED_EVALUATOR_MODELS": JUDGE,
        "POWERTOOLS_SERVICE_NAME": "evalpipe",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "EvalPipe",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The bundled price table, whatever the developer's shell points at.
    monkeypatch.delenv("EVALPIPE_PRICES", raising=False)
    _runtime.reset()
    yield env
    _runtime.reset()
