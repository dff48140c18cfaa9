"""A dead-letter queue whose first message raises an alarm: what could not be delivered is never silent."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from infra.naming import pin_logical_id

# Long enough to read the messages after a weekend; SQS's own maximum is 14 days.
RETENTION = Duration.days(14)


class AlarmedDeadLetterQueue(Construct):
    """An encrypted, TLS-only SQS queue and an alarm on its first visible message.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    logical_id
        The queue's pinned CloudFormation logical id.
    catches
        What lands in the queue, as the end of "This queue is itself the dead-letter queue of ...":
        it completes the cdk-nag reason for having no dead-letter queue of its own.
    alarm_description
        What a message in the queue means, for whoever gets the alarm.
    alarm_action
        Where the alarm goes (the alerts topic).

    Attributes
    ----------
    queue : sqs.Queue
    alarm : cloudwatch.Alarm
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        logical_id: str,
        catches: str,
        alarm_description: str,
        alarm_action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            # SQS-managed SSE: a KMS-encrypted queue would need the sending services in the key policy.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        pin_logical_id(self.queue, logical_id)
        acknowledge(
            self.queue.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter queue of {catches}; "
            "a DLQ of a DLQ would only move the alarm one queue further.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_description=alarm_description,
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(alarm_action)
