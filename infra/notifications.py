"""The alerts topic: run verdicts from the notify function and alarms from CloudWatch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import constants
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from collections.abc import Sequence

# Every action a topic policy can name (SNS developer guide, "Amazon SNS API permissions: Actions
# and resources reference"). SNS documents no "sns:*" for topic policies, so they are listed.
TOPIC_POLICY_ACTIONS = (
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:GetDataProtectionPolicy",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "sns:Publish",
    "sns:PutDataProtectionPolicy",
    "sns:RemovePermission",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
)


class Notifications(Construct):
    """An encrypted, TLS-only SNS topic with e-mail subscriptions that alarms can publish to.

    TLS-only: the topic policy denies every topic action (`TOPIC_POLICY_ACTIONS`) to any principal
    when ``aws:SecureTransport`` is false, not only ``sns:Publish``.

    CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key
    ``alias/aws/sns``, because its key policy cannot grant ``cloudwatch.amazonaws.com``
    (SNS developer guide, "Enable compatibility between event sources from AWS services and
    encrypted topics"). Without a key from the caller the construct therefore creates a small
    customer managed key that allows CloudWatch; a caller's key must allow it in its key policy.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    alert_emails
        Addresses subscribed to the topic (each confirms by e-mail).
    encryption_key
        The caller's customer managed key, or ``None`` for a dedicated key.

    Attributes
    ----------
    topic : sns.Topic
        Where run verdicts and alarms go.
    key : kms.IKey
        The key encrypting the topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alert_emails: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = encryption_key or self._build_key()
        self.topic = self._build_topic()
        self._build_subscriptions(alert_emails)

    def alarm_action(self) -> cloudwatch.IAlarmAction:
        """The action every alarm of the pipeline uses: publish to the topic."""
        return cloudwatch_actions.SnsAction(self.topic)

    def _build_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the evaluation pipeline's alerts topic",
            enable_key_rotation=True,
            # It protects messages in flight only: nothing to decrypt once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # CloudWatch encrypts alarm notifications with the topic's key before SNS accepts them.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        pin_logical_id(key, constants.TOPIC_KEY_LOGICAL_ID)
        return key

    def _build_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "Topic",
            display_name="Bedrock evaluation pipeline",
            master_key=self.key,
            # CDK's enforce_ssl denies only sns:Publish without TLS: the statement below denies
            # every action the topic policy can name.
            enforce_ssl=False,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyEveryActionWithoutTls",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(TOPIC_POLICY_ACTIONS),
                resources=[topic.topic_arn],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
        account = Stack.of(self).account
        # A topic policy replaces SNS's default one, so allow this account's alarms explicitly.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch", resource="alarm", resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )  # fmt: skip
        pin_logical_id(topic, constants.TOPIC_LOGICAL_ID)
        return topic

    def _build_subscriptions(self, alert_emails: Sequence[str]) -> None:
        for address in alert_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
