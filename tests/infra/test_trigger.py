"""S3 Object Created on datasets/* or scenarios/* -> StartExecution, with a watched dead-letter queue."""

from __future__ import annotations

from infra import constants
from tests.infra.conftest import Synth, render, statements


def test_rule_matches_dataset_objects_of_this_bucket(synth: Synth) -> None:
    pattern = synth.resource(constants.TRIGGER_RULE_LOGICAL_ID)["Properties"]["EventPattern"]
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": constants.BUCKET_LOGICAL_ID}]},
            # a dataset, or scenarios the pipeline collects (pipeline.collect)
            "object": {"key": [{"wildcard": "datasets/*"}, {"wildcard": "scenarios/*"}]},
        },
    }


def test_rule_starts_the_state_machine_with_retries_and_a_dlq(synth: Synth) -> None:
    (target,) = synth.resource(constants.TRIGGER_RULE_LOGICAL_ID)["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": constants.STATE_MACHINE_LOGICAL_ID}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [constants.TRIGGER_DLQ_LOGICAL_ID, "Arn"]}}
    # The rule's role may start this state machine and nothing else.
    role = target["RoleArn"]["Fn::GetAtt"][0]
    policy = next(
        p for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    )
    (statement,) = statements(policy)
    assert statement["Action"] == ["states:StartExecution"]
    assert [render(r) for r in statement["Resource"]] == [f"<{constants.STATE_MACHINE_LOGICAL_ID}>"]


def test_dead_letter_queue_is_encrypted_tls_only_and_keeps_messages_14_days(synth: Synth) -> None:
    props = synth.resource(constants.TRIGGER_DLQ_LOGICAL_ID)["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 86_400
    (policy,) = [
        p
        for p in synth.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": constants.TRIGGER_DLQ_LOGICAL_ID}]
    ]
    by_effect = {s["Effect"]: s for s in statements(policy)}
    assert by_effect["Deny"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Only this rule may send to it.
    assert by_effect["Allow"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert render(by_effect["Allow"]["Condition"]["ArnEquals"]["aws:SourceArn"]) == (
        f"<{constants.TRIGGER_RULE_LOGICAL_ID}.Arn>"
    )


def test_a_message_in_the_dlq_raises_an_alarm(synth: Synth) -> None:
    queue_name = {"Fn::GetAtt": [constants.TRIGGER_DLQ_LOGICAL_ID, "QueueName"]}
    dimensions = [{"Name": "QueueName", "Value": queue_name}]
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Dimensions"] == dimensions
    ]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [constants.TRIGGER_DLQ_LOGICAL_ID, "QueueName"]}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": constants.TOPIC_LOGICAL_ID}]
