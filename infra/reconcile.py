"""Reconcile: the run of an execution that ended FAILED, TIMED_OUT or ABORTED gets a final, notified state.

Inside an execution, every error is caught into RecordError -> NotifyError. What no state of the
execution can catch is the execution itself ending: the state machine's time-out, a StopExecution
by hand, the error path failing too (the runs table and SNS both unavailable, Lambda throttled).
Step Functions announces each of those on EventBridge ("Step Functions Execution Status Change",
source ``aws.states``); a rule on this state machine's unsuccessful endings invokes the Reconcile
function (``lambdas/evalpipe/steps/reconcile.py``), which stops the run's job, gives the run a
final status and notifies it unless a Notify / NotifyError state of the execution already did.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants
from infra.dead_letters import AlarmedDeadLetterQueue
from infra.functions import FunctionSpec, PipelineFunctions
from infra.nag import nag_resource
from infra.naming import pin_logical_id

RECONCILE_SPEC = FunctionSpec(
    "Stops the job, records and notifies the run of an execution that failed, timed out or was stopped",
    table_calls=("get", "claim", "save", "release_slots"),
)


class ExecutionReconciler(Construct):
    """The Reconcile function, the rule on the state machine's unsuccessful endings, a DLQ + alarm.

    - **Function** (the one factory's, reserved concurrency on the error path): reads the run
      (GetItem, and PutItem to claim one the execution ended before Validate claimed, UpdateItem
      to record it), stops its job (``bedrock:StopEvaluationJob``, and ``GetEvaluationJob`` to read
      a refused stop back), reads the execution's history (``states:GetExecutionHistory`` on this
      state machine's executions only) for a notification already sent, and publishes to the topic.
    - **Rule**: ``aws.states`` / ``Step Functions Execution Status Change`` with
      ``detail.stateMachineArn`` = this state machine and ``detail.status`` FAILED, TIMED_OUT or
      ABORTED -> the function (185 retries, 24 h); undeliverable events to the dead-letter queue,
      and the function's own failures (after Lambda's 2 retries) too.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    functions
        The one Lambda factory (the function is added to it).
    state_machine
        The pipeline whose endings are reconciled.
    topic
        The alerts topic.
    alarm_action
        Where the dead-letter alarm goes.

    Attributes
    ----------
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
        state_machine: sfn.StateMachine,
        topic: sns.ITopic,
        alarm_action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        dead_letters = AlarmedDeadLetterQueue(
            self,
            "DeadLetters",
            logical_id=constants.RECONCILE_DLQ_LOGICAL_ID,
            catches="the execution-status rule's target and the Reconcile function's failed invocations",
            alarm_description=(
                "A failed, timed-out or stopped execution could not be reconciled: its run may lack a "
                "final status, a notification, or have a job left running (see the DLQ)"
            ),
            alarm_action=alarm_action,
        )
        self.dead_letter_queue = dead_letters.queue
        self.function = self._build_function(functions, topic)
        self._grant_function(functions, state_machine, topic)
        self.rule = self._build_rule(state_machine)
        self.alarms = [dead_letters.alarm]

    def _build_function(self, functions: PipelineFunctions, topic: sns.ITopic) -> lambda_.Function:
        function = functions.add_function(
            constants.FUNCTION_RECONCILE, RECONCILE_SPEC, {"TOPIC_ARN": topic.topic_arn}
        )
        # Failed invocations (after Lambda's own retries) land where undeliverable events do.
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        return function

    def _grant_function(
        self, functions: PipelineFunctions, state_machine: sfn.StateMachine, topic: sns.ITopic
    ) -> None:
        name = constants.FUNCTION_RECONCILE
        stack = Stack.of(self)
        functions.grant_evaluation_jobs(name, "bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob")
        functions.grant_publish(name, topic)
        # CDK's grant_read would add DescribeExecution, GetExecutionHistory and more on the state
        # machine and its executions: the function calls GetExecutionHistory only.
        executions = (
            f"arn:{stack.partition}:states:{stack.region}:{stack.account}:"
            f"execution:{state_machine.state_machine_name}:*"
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])
        )
        functions.acknowledge(
            name,
            "The Reconcile function's wildcards are exactly these: X-Ray's actions take no resource ARN; "
            "evaluation-job ARNs end in an id Bedrock assigns; execution ARNs end in a name chosen per "
            "run (execution:<this state machine>:*); kms:GenerateDataKey* is CDK's grant_publish to the "
            "key-encrypted topic.",
            [f"Resource::{nag_resource(stack, executions)}"],
        )

    def _build_rule(self, state_machine: sfn.IStateMachine) -> events.Rule:
        rule = events.Rule(
            self,
            "Rule",
            description="An execution of the pipeline failed, timed out or was stopped: reconcile its run",
            event_pattern=events.EventPattern(
                source=[constants.STATES_EVENT_SOURCE],
                detail_type=[constants.EXECUTION_STATUS_CHANGE],
                detail={
                    "stateMachineArn": [state_machine.state_machine_arn],
                    "status": list(constants.UNSUCCESSFUL_EXECUTION_STATUSES),
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
        pin_logical_id(rule, constants.RECONCILE_RULE_LOGICAL_ID)
        return rule
