"""The alerts topic: KMS-encrypted, TLS-only, reachable by this account's alarms."""

from __future__ import annotations

from infra import constants
from infra.notifications import TOPIC_POLICY_ACTIONS
from tests.infra.conftest import KEY_ARN, Synth, render, statements


def test_topic_is_encrypted_with_a_rotating_key_that_cloudwatch_may_use(synth: Synth) -> None:
    topic = synth.resource(constants.TOPIC_LOGICAL_ID)["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [constants.TOPIC_KEY_LOGICAL_ID, "Arn"]}
    key = synth.resource(constants.TOPIC_KEY_LOGICAL_ID)["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_topic_uses_the_given_key_instead(variant: Synth) -> None:
    assert variant.resource(constants.TOPIC_LOGICAL_ID)["Properties"]["KmsMasterKeyId"] == KEY_ARN
    variant.template.resource_count_is("AWS::KMS::Key", 0)


def test_topic_policy_denies_plain_http_and_admits_only_this_accounts_alarms(synth: Synth) -> None:
    (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": constants.TOPIC_LOGICAL_ID}]
    by_effect = {s["Effect"]: s for s in statements(policy)}
    assert by_effect["Deny"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by_effect["Deny"]["Principal"] == {"AWS": "*"}
    # Every action a topic policy can name, not only Publish (SNS documents no sns:* for topic policies)
    assert sorted(by_effect["Deny"]["Action"]) == sorted(TOPIC_POLICY_ACTIONS)
    assert {"sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic"} <= set(
        TOPIC_POLICY_ACTIONS
    )
    assert len(TOPIC_POLICY_ACTIONS) == 11
    allow = by_effect["Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == ["sns:Publish"]
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render(allow["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":alarm:*")


def test_alert_emails_are_subscribed(synth: Synth, variant: Synth) -> None:
    synth.template.resource_count_is("AWS::SNS::Subscription", 0)
    endpoints = {
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
        for s in variant.resources("AWS::SNS::Subscription").values()
    }
    assert endpoints == {("email", "ops@example.com"), ("email", "ml@example.com")}


def test_stack_outputs_have_stable_logical_ids(synth: Synth) -> None:
    assert synth.json["Outputs"] == {
        "BucketName": {
            "Description": "Drop datasets under datasets/<suite>/",
            "Value": {"Ref": "EvalBucket"},
        },
        "RunsTableName": {"Description": "Runs and per-record scores", "Value": {"Ref": "RunsTable"}},
        "TopicArn": {"Description": "Run verdicts and alarms", "Value": {"Ref": "AlertsTopic"}},
        "StateMachineArn": {"Description": "The pipeline", "Value": {"Ref": "EvalStateMachine"}},
        "BedrockRoleArn": {
            "Description": "Service role of the jobs",
            "Value": {"Fn::GetAtt": ["BedrockEvaluationRole", "Arn"]},
        },
        "DashboardName": {
            "Description": "CloudWatch dashboard of the pipeline",
            "Value": {"Ref": "EvalDashboard"},
        },
        "ScheduleGroupName": {
            "Description": "Schedule group of the suites' schedules (schedule name = suite)",
            "Value": {"Ref": "SuiteScheduleGroup"},
        },
    }
