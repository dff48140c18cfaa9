"""Suite schedules: suites of built-in datasets run on an EventBridge Scheduler schedule.

The schedules themselves are data, not CloudFormation: the SyncSchedules function creates,
updates or deletes the schedule ``<suite>`` whenever ``suites/<suite>.json`` is uploaded or deleted
(``lambdas/evalpipe/schedules.py``). This construct builds what they need: the stack's schedule
group, the role the scheduler assumes to start the state machine, the function and the rule that
runs it, and one dead-letter queue (with an alarm) for every event or start that could not be
delivered.
"""

from __future__ import annotations

import hashlib
from typing import cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants
from infra.dead_letters import AlarmedDeadLetterQueue
from infra.functions import FunctionSpec, PipelineFunctions, grant_pass_role
from infra.nag import nag_resource
from infra.naming import pin_logical_id

SYNC_SCHEDULES_SPEC = FunctionSpec("Creates, updates or deletes a suite's schedule from its suite file")
MAX_GROUP_NAME = 64  # ScheduleGroup Name: 1-64 characters [0-9a-zA-Z-_.]


def schedule_group_name(stack_name: str) -> str:
    """``evalpipe-<stack name>``, cut to 64 characters with a hash of the whole name when longer.

    Examples
    --------
    >>> schedule_group_name("BedrockEvalPipeline")
    'evalpipe-BedrockEvalPipeline'
    >>> len(schedule_group_name("A" * 128))
    64
    """
    name = f"{constants.SCHEDULE_GROUP_PREFIX}{stack_name}"
    if len(name) <= MAX_GROUP_NAME:
        return name
    digest = hashlib.sha256(stack_name.encode()).hexdigest()[:8]
    return f"{name[: MAX_GROUP_NAME - 9]}-{digest}"


class SuiteSchedules(Construct):
    """Schedule group, scheduler execution role, SyncSchedules function and its rule, DLQ + alarm.

    - **Schedule group** ``evalpipe-<stack>``: every suite's schedule lives here (schedule name =
      suite name), so IAM can scope the function to ``schedule/<group>/*``. Deleted with the stack
      (deleting a group deletes its schedules: none outlives the state machine it starts).
    - **Execution role**: trusted by ``scheduler.amazonaws.com`` only for schedules of this account
      (``aws:SourceAccount``) and this group (``aws:SourceArn``); may start this state machine and
      send a start it could not make to the dead-letter queue, nothing else.
    - **SyncSchedules**: reads ``suites/``, manages the group's schedules, passes the execution role
      (``iam:PassRole`` on that role only, to ``scheduler.amazonaws.com`` only), publishes alerts
      about invalid suite files.
    - **Rule**: S3 ``Object Created`` / ``Object Deleted`` on ``suites/*.json`` of the bucket ->
      the function (185 retries, 24 h), undeliverable events to the dead-letter queue; the
      function's own failures (after Lambda's 2 retries) go there too.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    functions
        The one Lambda factory (the function is added to it).
    bucket
        The evaluation bucket (EventBridge notifications on).
    state_machine
        The pipeline the schedules start.
    topic
        The alerts topic (invalid suite files).
    alarm_action
        Where the dead-letter alarm goes.

    Attributes
    ----------
    group : scheduler.ScheduleGroup
    execution_role : iam.Role
    function : lambda_.Function
    rule : events.Rule
    dead_letter_queue : sqs.Queue
    alarms : list[cloudwatch.Alarm]
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: PipelineFunctions,
        bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
        topic: sns.ITopic,
        alarm_action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        dead_letters = AlarmedDeadLetterQueue(
            self,
            "DeadLetters",
            logical_id=constants.SCHEDULES_DLQ_LOGICAL_ID,
            catches=(
                "the suite-file rule's target, the SyncSchedules function's failed invocations "
                "and the schedules' failed starts"
            ),
            alarm_description=(
                "A suite schedule could not be synced, or a scheduled run could not start (see the DLQ)"
            ),
            alarm_action=alarm_action,
        )
        self.dead_letter_queue = dead_letters.queue
        self.group = self._build_group()
        self.execution_role = self._build_execution_role(state_machine)
        self.function = self._build_function(functions, state_machine, topic)
        self._grant_function(functions, topic)
        self.rule = self._build_rule(bucket)
        self.alarms = [dead_letters.alarm]

    def _build_group(self) -> scheduler.ScheduleGroup:
        group = scheduler.ScheduleGroup(
            self,
            "Group",
            schedule_group_name=schedule_group_name(Stack.of(self).stack_name),
            # The schedules are the suites' (recreated from the suite files): they go with the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
        pin_logical_id(group, constants.SCHEDULE_GROUP_LOGICAL_ID)
        return group

    @property
    def group_name(self) -> str:
        """The group's name as a ``Ref``: whatever uses it is created after the group."""
        return cast("scheduler.CfnScheduleGroup", self.group.node.default_child).ref

    def _build_execution_role(self, state_machine: sfn.IStateMachine) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ExecutionRole",
            description="Assumed by EventBridge Scheduler to start the pipeline for a suite's schedule",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    # Confused-deputy protection: only schedules of this account, in this group.
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": self.group.schedule_group_arn},
                },
            ),
        )
        pin_logical_id(role, constants.SCHEDULER_ROLE_LOGICAL_ID)
        state_machine.grant_start_execution(role)
        # The scheduler sends a start it could not make (after its retries) with this role.
        self.dead_letter_queue.grant_send_messages(role)
        return role

    def _build_function(
        self, functions: PipelineFunctions, state_machine: sfn.IStateMachine, topic: sns.ITopic
    ) -> lambda_.Function:
        function = functions.add_function(
            constants.FUNCTION_SYNC_SCHEDULES,
            SYNC_SCHEDULES_SPEC,
            {
                "STATE_MACHINE_ARN": state_machine.state_machine_arn,
                "SCHEDULE_GROUP_NAME": self.group_name,
                "SCHEDULER_ROLE_ARN": self.execution_role.role_arn,
                "SCHEDULE_DLQ_ARN": self.dead_letter_queue.queue_arn,
                "TOPIC_ARN": topic.topic_arn,
            },
        )
        # Failed invocations (after Lambda's own retries) land where undeliverable events do.
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        return function

    def _grant_function(self, functions: PipelineFunctions, topic: sns.ITopic) -> None:
        name = constants.FUNCTION_SYNC_SCHEDULES
        function = self.function
        stack = Stack.of(self)
        functions.grant_read(name, constants.SUITES_PREFIX)
        # Exactly the four calls the function makes, on this group's schedules only (CDK's
        # grant_read_schedules would add ListSchedules, which the function never calls).
        group_schedules = (
            f"arn:{stack.partition}:scheduler:{stack.region}:{stack.account}:"
            f"schedule/{schedule_group_name(stack.stack_name)}/*"
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:GetSchedule",
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                ],
                resources=[group_schedules],
            )
        )
        # CreateSchedule / UpdateSchedule pass the execution role: that role and no other, to the
        # scheduler only.
        grant_pass_role(self.execution_role, function, "scheduler.amazonaws.com")
        functions.grant_publish(name, topic)
        findings = [f"Resource::{nag_resource(stack, group_schedules)}"]
        functions.acknowledge(
            name,
            "The SyncSchedules function's wildcards are exactly these: X-Ray's actions take no resource "
            "ARN; the bucket grant is scoped to suites/ (s3 action wildcards come from CDK's grant "
            "methods); schedule actions are scoped to schedule/<this stack's group>/*, whose names are "
            "the suites' and not known at deploy time; kms:GenerateDataKey* is CDK's grant_publish to "
            "the key-encrypted topic.",
            findings,
        )

    def _build_rule(self, bucket: s3.IBucket) -> events.Rule:
        rule = events.Rule(
            self,
            "Rule",
            description="A suite file uploaded or deleted: bring its schedule in step",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created", "Object Deleted"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": events.Match.wildcard(constants.SUITE_KEY_WILDCARD)},
                },
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )
        pin_logical_id(rule, constants.SCHEDULES_RULE_LOGICAL_ID)
        return rule
