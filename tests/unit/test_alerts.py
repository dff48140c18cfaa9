"""SNS publish against moto, read back through an SQS subscription (raw delivery off)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from evalpipe.aws.alerts import publish
from evalpipe.notification import Notification, build_notification
from evalpipe.run.model import Run

REGION = "us-east-1"
CREATED_AT = "2025-03-01T09:15:00+00:00"


@pytest.fixture
def aws(monkeypatch):
    # Fake credentials so nothing can reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="evalpipe-notifications")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="evalpipe-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield sns, sqs, topic_arn, queue_url


def _received(sqs, queue_url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_publish_delivers_subject_body_and_attributes(aws) -> None:
    # Given a topic with an SQS subscriber and a rendered notification
    sns, sqs, topic_arn, queue_url = aws
    run = Run.model_validate(
        {
            "run_id": "support-bot-20250301-091500-5f2c9a1e",
            "suite": "support-bot",
            "status": "FAILED",
            "created_at": CREATED_AT,
            "dataset": {
                "bucket": "b",
                "key": "datasets/support-bot/nightly.jsonl",
                "version_id": None,
                "etag": None,
                "size": None,
                "event_time": CREATED_AT,
            },
            "job_arn": "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/k3x9q2w7m1ab",
            "failure_messages": ["Évaluation échouée: modelIdentifier mismatch"],
        }
    )
    notification = build_notification(run)

    # When it is published
    message_id = publish(sns, topic_arn, notification)

    # Then the subscriber's envelope carries the same subject, body and attributes
    [envelope] = _received(sqs, queue_url)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "[evalpipe] support-bot: FAILED - job failed"
    assert envelope["Message"] == notification.message
    assert "Évaluation échouée" in envelope["Message"]  # UTF-8 body survives
    assert envelope["MessageAttributes"] == {
        "suite": {"Type": "String", "Value": "support-bot"},
        "verdict": {"Type": "String", "Value": "FAILED"},
        "status": {"Type": "String", "Value": "FAILED"},
        "severity": {"Type": "String", "Value": "error"},
        "run_id": {"Type": "String", "Value": "support-bot-20250301-091500-5f2c9a1e"},
    }


def test_publish_returns_the_message_id(aws) -> None:
    # Given a minimal notification
    sns, sqs, topic_arn, queue_url = aws
    notification = Notification(
        subject="[evalpipe] s: PASSED", message="ok", attributes={"verdict": "PASSED"}
    )

    # When it is published
    message_id = publish(sns, topic_arn, notification)

    # Then SNS's id is returned and exactly one message arrives
    assert isinstance(message_id, str)
    assert message_id
    [envelope] = _received(sqs, queue_url)
    assert envelope["MessageId"] == message_id
    assert envelope["MessageAttributes"] == {"verdict": {"Type": "String", "Value": "PASSED"}}


def test_subscription_filter_on_severity_sees_only_errors(aws) -> None:
    # Given a second subscriber that only wants errors (the attribute's purpose)
    sns, sqs, topic_arn, _ = aws
    errors_url = sqs.create_queue(QueueName="evalpipe-errors")["QueueUrl"]
    errors_arn = sqs.get_queue_attributes(QueueUrl=errors_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=errors_arn,
        Attributes={"FilterPolicy": json.dumps({"severity": ["error"]})},
    )

    # When a passed run and an error run are published
    publish(
        sns,
        topic_arn,
        build_notification(
            Run(
                run_id="r1",
                suite="s",
                status="COMPLETED",
                created_at=CREATED_AT,
                verdict="PASSED",
                record_count=1,
            )
        ),
    )
    publish(
        sns,
        topic_arn,
        build_notification(
            Run(
                run_id="r2",
                suite="s",
                status="ERROR",
                created_at=CREATED_AT,
                error={"type": "X", "message": "y"},
            )
        ),
    )

    # Then only the error reaches the filtered subscriber
    received = _received(sqs, errors_url)
    assert [m["MessageAttributes"]["run_id"]["Value"] for m in received] == ["r2"]
