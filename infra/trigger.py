"""Starts an execution for every dataset that lands under ``datasets/``."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants
from infra.dead_letters import AlarmedDeadLetterQueue
from infra.naming import pin_logical_id


class DatasetTrigger(Construct):
    """An EventBridge rule: S3 ``Object Created`` on ``datasets/*`` or ``scenarios/*`` -> StartExecution
    (a file that is not ``.jsonl`` / ``.json`` is rejected and notified by the validate step; a
    folder marker is ignored).

    Events the rule cannot deliver (after 185 retries over up to 24 hours) go to a dead-letter
    queue, and a message in that queue raises an alarm: a dataset is never dropped silently.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    bucket
        The evaluation bucket (EventBridge notifications on).
    state_machine
        The pipeline.
    alarm_action
        Where the alarm goes (the alerts topic).

    Attributes
    ----------
    rule : events.Rule
    dead_letter_queue : sqs.Queue
    alarms : list[cloudwatch.Alarm]
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
        alarm_action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        dead_letters = AlarmedDeadLetterQueue(
            self,
            "DeadLetters",
            logical_id=constants.TRIGGER_DLQ_LOGICAL_ID,
            catches="the dataset rule's target",
            alarm_description="A dataset event could not start the evaluation pipeline (see the DLQ)",
            alarm_action=alarm_action,
        )
        self.dead_letter_queue = dead_letters.queue
        self.rule = self._build_rule(bucket, state_machine)
        self.alarms = [dead_letters.alarm]

    def _build_rule(self, bucket: s3.IBucket, state_machine: sfn.IStateMachine) -> events.Rule:
        rule = events.Rule(
            self,
            "Rule",
            description="A dataset under datasets/ (or scenarios under scenarios/) starts an evaluation run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {
                        "key": events.Match.any_of(
                            events.Match.wildcard(constants.DATASET_KEY_WILDCARD),
                            events.Match.wildcard(constants.SCENARIOS_KEY_WILDCARD),
                        )
                    },
                },
            ),
        )
        rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )
        pin_logical_id(rule, constants.TRIGGER_RULE_LOGICAL_ID)
        return rule
