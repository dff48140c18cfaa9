"""Moto-backed AWS fixtures shared by the integration tests.

Fixtures (all function-scoped, so every test starts from empty resources):

- `aws_env`: fake credentials and `AWS_DEFAULT_REGION=us-east-1` in the environment; no
  profile or credentials file of the machine is read.
- `mocked_aws`: `moto.mock_aws()` active for the test.
- `s3_client`: a boto3 S3 client (inside the mock).
- `bucket`: name of a versioned bucket, `evalpipe-test-bucket`.
- `dynamodb_table`: boto3 `Table` resource of `evalpipe-runs-test`, created as docs/design.md
  says (pk/sk strings, GSI `by-suite` on gsi1pk/gsi1sk, projection ALL).
- `sns_topic`: ARN of a topic with an SQS queue subscribed (envelope, not raw delivery).
- `sns_messages`: callable returning (and consuming) the messages published to `sns_topic` so
  far, each `{"subject", "message", "attributes": {name: value}, "envelope"}`.

The steps' adapters over them, for tests/integration/steps, kinds and cli (their inputs and
helpers are in tests/integration/steps/flow.py):

- `clock`: the settable `Clock` the steps read the time from.
- `bedrock`: a botocore `Stubber` on a real `bedrock` client; every pinned response must be used.
- `ports`: the steps' `Ports` on the moto resources above, `bedrock` and `clock`.
- `put`: upload bytes to `bucket`, returning the new version id.
- `dropped`: upload the smoke suite and a dataset as a user would; returns the dataset's S3 event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from evalpipe.aws.bedrock_jobs import BedrockJobs
from evalpipe.aws.objects import Objects
from evalpipe.aws.runs_table import RunsTable
from evalpipe.ports import Ports
from evalpipe.settings import Settings
from tests.builders import JUDGE, jsonl
from tests.integration.steps.flow import RECORDS, ROLE_ARN, SUITE, Clock, s3_event

REGION = "us-east-1"
BUCKET_NAME = "evalpipe-test-bucket"
TABLE_NAME = "evalpipe-runs-test"
TOPIC_NAME = "evalpipe-test-topic"
QUEUE_NAME = "evalpipe-test-topic-sink"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Fake credentials and region, so no test can reach (or bill) a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # Point the shared files at nothing: a developer's profile must not leak in.
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    """Every boto3 call of the test goes to moto's in-memory backend."""
    with mock_aws():
        yield


@pytest.fixture
def s3_client(mocked_aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A versioned bucket (the product bucket is versioned: events carry version ids)."""
    s3_client.create_bucket(Bucket=BUCKET_NAME)
    s3_client.put_bucket_versioning(Bucket=BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"})
    return BUCKET_NAME


@pytest.fixture
def dynamodb_table(mocked_aws: None) -> Any:
    """The runs table exactly as docs/design.md defines it."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-suite",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    table.wait_until_exists()
    return table


@dataclass
class SnsSink:
    """A topic and the SQS queue subscribed to it."""

    topic_arn: str
    queue_url: str
    sqs: Any

    def messages(self) -> list[dict[str, Any]]:
        """Drain the queue: the SNS notifications received so far, oldest first."""
        received: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            batch = response.get("Messages", [])
            if not batch:
                return received
            for message in batch:
                envelope = json.loads(message["Body"])
                received.append(
                    {
                        "subject": envelope.get("Subject"),
                        "message": envelope.get("Message"),
                        "attributes": {
                            name: attr.get("Value")
                            for name, attr in (envelope.get("MessageAttributes") or {}).items()
                        },
                        "envelope": envelope,
                    }
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def sns_sink(mocked_aws: None) -> SnsSink:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return SnsSink(topic_arn=topic_arn, queue_url=queue_url, sqs=sqs)


@pytest.fixture
def sns_topic(sns_sink: SnsSink) -> str:
    """ARN of the test topic; read what was published with `sns_messages`."""
    return sns_sink.topic_arn


@pytest.fixture
def sns_messages(sns_sink: SnsSink) -> Callable[[], list[dict[str, Any]]]:
    """Call it to get (and consume) the messages published to `sns_topic` so far."""
    return sns_sink.messages


# --- the steps' adapters --------------------------------------------------------------------


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
