"""The Standard state machine of docs/design.md (JSONPath), its log group and its alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge, default_policy, nag_resource
from infra.naming import pin_logical_id
from infra.settings import STATE_MACHINE_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from collections.abc import Mapping

STATE_MACHINE_TIMEOUT = Duration.seconds(STATE_MACHINE_TIMEOUT_SECONDS)
_RUN_ID = {"run_id.$": "$.run.run_id"}


class Workflow(Construct):
    """Validate -> Jobs (per shard: Submit [-> WaitForSlot]* -> (WaitForJob -> Poll)*) -> Parse -> Notify,
    with one error path.

    Every task retries Lambda service errors; Submit, Poll and StopJob also retry the domain's
    ``BedrockThrottled`` / ``BedrockUnavailable``; Poll then retries any other task failure a few
    times (a DynamoDB error must not end a run whose job is running); Notify and NotifyError retry
    ``NotificationNotSent`` (SNS took nothing: a retry cannot send twice). Any other error is
    caught into ``$.error`` and goes RecordError -> NotifyError -> PipelineFailed; NotifyError gets
    the whole state, so it notifies even when RecordError could not write the table (its own
    failure caught into ``$.record_error``). Executions log every state transition without
    payloads and are traced; failed, timed-out and aborted executions raise alarms on the alerts
    topic (and are reconciled by ``infra.reconcile``).

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    functions
        The pipeline's functions by name (see ``infra.functions``).
    alarm_action
        Where the alarms go (the alerts topic).
    log_retention
        Retention of the execution log group.
    max_jobs_per_run
        How many shards of one run are in flight at once (the Map's MaxConcurrency); the
        account-wide pool of job slots bounds all runs together.
    collect_concurrency
        How many batches of one run's scenarios are collected at once (the Collect Map's
        MaxConcurrency; ``collectConcurrency``).

    Attributes
    ----------
    state_machine : sfn.StateMachine
    log_group : logs.LogGroup
    functions : Mapping[str, lambda_.IFunction]
    alarms : list[cloudwatch.Alarm]
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        alarm_action: cloudwatch.IAlarmAction,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        max_jobs_per_run: int = 5,
        collect_concurrency: int = 4,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = functions
        self.max_jobs_per_run = max_jobs_per_run
        self.collect_concurrency = collect_concurrency
        self.log_group = self._build_log_group(log_retention)
        self.state_machine = self._build_state_machine(self._build_definition())
        self.alarms = self._build_alarms(alarm_action)
        self._suppress_findings()

    # --- definition --------------------------------------------------------------------------

    def _build_definition(self) -> sfn.IChainable:
        failed = sfn.Fail(self, c.STATE_FAILED, error_path="$.error.Error", cause_path="$.error.Cause")
        # The whole state: the notify function tells it from Notify's {run_id} and notifies from
        # the state's own data (event, run, error, record_error) when the table cannot be read.
        notify_error = self._task(c.STATE_NOTIFY_ERROR, c.FUNCTION_NOTIFY, None, "$.notify", notifies=True)
        notify_error.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        notify_error.next(failed)
        # $.run is absent when Validate itself failed: the function gets the whole state.
        record_error = self._task(c.STATE_RECORD_ERROR, c.FUNCTION_RECORD_ERROR, None, "$.run")
        # A RecordError that fails (the table unavailable) still leads to the notification.
        record_error.add_catch(notify_error, errors=["States.ALL"], result_path="$.record_error")
        record_error.next(notify_error)

        def guarded(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
            return task.add_catch(record_error, errors=["States.ALL"], result_path="$.error")

        notify = self._task(c.STATE_NOTIFY, c.FUNCTION_NOTIFY, _RUN_ID, "$.notify", notifies=True)
        notify.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        notify.next(sfn.Succeed(self, c.STATE_DONE))

        parse = guarded(self._task(c.STATE_PARSE, c.FUNCTION_PARSE, _RUN_ID, "$.parse")).next(notify)
        jobs = guarded(self._jobs()).next(parse)
        validate = guarded(self._task(c.STATE_VALIDATE, c.FUNCTION_VALIDATE, None, "$.run"))
        # Dropped scenarios: collect the batches, then validate the assembled dataset (the same
        # function, its `collected` entry) and decide again.
        validate_collected = guarded(
            self._task(
                c.STATE_VALIDATE_COLLECTED,
                c.FUNCTION_VALIDATE,
                {"collected": {"run_id.$": "$.run.run_id"}},
                "$.run",
            )
        )
        collect = guarded(self._collect()).next(validate_collected)
        outcome = (
            sfn.Choice(self, c.STATE_OUTCOME_CHOICE)
            .when(sfn.Condition.string_equals("$.run.outcome", "VALID"), jobs)
            .when(sfn.Condition.string_equals("$.run.outcome", "COLLECT"), collect)
            .when(sfn.Condition.string_equals("$.run.outcome", "REJECTED"), notify)
            .when(
                sfn.Condition.string_equals("$.run.outcome", "DUPLICATE"),
                sfn.Succeed(self, c.STATE_DUPLICATE),
            )
            .when(
                sfn.Condition.string_equals("$.run.outcome", "IGNORED"),
                sfn.Succeed(self, c.STATE_IGNORED),
            )
        )
        validate_collected.next(outcome)
        return validate.next(outcome)

    def _collect(self) -> sfn.Map:
        """One iteration per batch of the run's scenarios, at most ``collect_concurrency`` at once;
        each writes its batch under the run's inputs, and the Map's output is discarded."""
        batch = self._task(
            c.STATE_COLLECT_BATCH,
            c.FUNCTION_COLLECT,
            {"run_id.$": "$.run_id", "batch.$": "$.batch"},
            "$.collected",
        )
        return self._map(c.STATE_COLLECT, "batches", "batch", self.collect_concurrency, batch)

    def _map(
        self, state_name: str, items: str, item: str, max_concurrency: int, processor: sfn.IChainable
    ) -> sfn.Map:
        """A Map over the run's ``items`` (``$.run.<items>``): each iteration gets ``{run_id, <item>}``,
        at most ``max_concurrency`` at once; the run item holds the results, so the output is discarded."""
        fanned = sfn.Map(
            self,
            state_name,
            items_path=f"$.run.{items}",
            item_selector={"run_id.$": "$.run.run_id", f"{item}.$": "$$.Map.Item.Value"},
            max_concurrency=max_concurrency,
            result_path=sfn.JsonPath.DISCARD,
        )
        fanned.item_processor(processor)
        return fanned

    def _jobs(self) -> sfn.Map:
        """One iteration per shard of the run, at most ``max_jobs_per_run`` at once: take a slot
        (else wait for one), submit, poll until the job ends (a failed shard of a sharded run is
        submitted once more), stop it at its deadline. Iterations hold only ``{run_id, shard, job}``;
        the run item holds every shard's state, and the Map's own output is discarded."""
        shard = {"run_id.$": "$.run_id", "shard.$": "$.shard"}
        ended = sfn.Succeed(self, c.STATE_SHARD_DONE)
        stop = self._task(
            c.STATE_STOP, c.FUNCTION_STOP, {**shard, "job_arn.$": "$.job.job_arn"}, "$.stop", bedrock=True
        ).next(ended)
        wait = sfn.Wait(self, c.STATE_WAIT, time=sfn.WaitTime.seconds_path("$.job.wait_seconds"))
        poll_payload = {**shard, "job_arn.$": "$.job.job_arn", "deadline.$": "$.job.deadline"}
        poll = self._task(c.STATE_POLL, c.FUNCTION_POLL, poll_payload, "$.job", bedrock=True, transient=True)
        submit = self._task(c.STATE_SUBMIT, c.FUNCTION_SUBMIT, shard, "$.job", bedrock=True)
        wait_for_slot = sfn.Wait(
            self, c.STATE_WAIT_SLOT, time=sfn.WaitTime.seconds_path("$.job.wait_seconds")
        )
        job_status = (
            sfn.Choice(self, c.STATE_JOB_STATUS_CHOICE)
            .when(
                sfn.Condition.or_(
                    *(
                        sfn.Condition.string_equals("$.job.status", s)
                        for s in ("Completed", "Failed", "Stopped")
                    )
                ),
                ended,
            )
            .when(sfn.Condition.string_equals("$.job.status", "TimedOut"), stop)
            .when(sfn.Condition.string_equals("$.job.status", "Resubmit"), submit)
            .otherwise(wait)  # InProgress, Stopping
        )
        wait.next(poll).next(job_status)
        slot = (
            sfn.Choice(self, c.STATE_SUBMIT_CHOICE)
            .when(sfn.Condition.string_equals("$.job.status", "Queued"), wait_for_slot.next(submit))
            .otherwise(wait)
        )
        submit.next(slot)
        return self._map(c.STATE_JOBS, "shards", "shard", self.max_jobs_per_run, submit)

    def _task(
        self,
        state_name: str,
        function_name: str,
        payload: Mapping[str, str] | None,
        result_path: str,
        *,
        bedrock: bool = False,
        transient: bool = False,
        notifies: bool = False,
    ) -> tasks.LambdaInvoke:
        """One Lambda task; ``payload=None`` sends the whole state.

        Retriers, in the order Step Functions tries them (the first whose errors match decides):
        Lambda's service errors (every task); ``BedrockThrottled`` / ``BedrockUnavailable``
        (``bedrock``); ``NotificationNotSent`` (``notifies``); then, with ``transient``, any other
        task failure (``States.TaskFailed``: a DynamoDB error, a crash) a few times.
        """
        task = tasks.LambdaInvoke(
            self,
            state_name,
            lambda_function=self.functions[function_name],
            # No Parameters at all passes the whole state: with payload_response_only,
            # TaskInput.from_json_path_at("$") would render the invalid `"Parameters": "$"`.
            payload=None if payload is None else sfn.TaskInput.from_object(dict(payload)),
            payload_response_only=True,  # the function's return value is the result
            result_path=result_path,
            retry_on_service_exceptions=False,  # the retries below say it explicitly
        )
        task.add_retry(
            errors=list(c.LAMBDA_SERVICE_ERRORS),
            interval=Duration.seconds(2),
            max_attempts=6,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        if bedrock:
            task.add_retry(
                errors=list(c.BEDROCK_TRANSIENT_ERRORS),
                interval=Duration.seconds(2),
                max_attempts=8,
                backoff_rate=2,
                max_delay=Duration.seconds(60),
                jitter_strategy=sfn.JitterType.FULL,
            )
        if notifies:
            # SNS took nothing (a throttle, an outage): nothing went out, so a retry cannot send twice.
            task.add_retry(
                errors=[c.NOTIFICATION_NOT_SENT],
                interval=Duration.seconds(5),
                max_attempts=6,
                backoff_rate=2,
                max_delay=Duration.seconds(60),
                jitter_strategy=sfn.JitterType.FULL,
            )
        if transient:
            # Last: it matches every error the retriers above already handle.
            task.add_retry(
                errors=[c.TASK_FAILED],
                interval=Duration.seconds(5),
                max_attempts=3,
                backoff_rate=2,
                max_delay=Duration.seconds(30),
                jitter_strategy=sfn.JitterType.FULL,
            )
        return task

    # --- resources ---------------------------------------------------------------------------

    def _build_log_group(self, retention: logs.RetentionDays) -> logs.LogGroup:
        # "/aws/vendedlogs/" keeps CloudWatch Logs' resource policy for log delivery from growing
        # with every log group; the stack id's UUID lets a retained group outlive a redeploy.
        stack = Stack.of(self)
        stack_uuid = Fn.select(2, Fn.split("/", stack.stack_id))
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{stack.stack_name}-{stack_uuid}",
            retention=retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(log_group, c.STATE_MACHINE_LOG_GROUP_LOGICAL_ID)
        return log_group

    def _build_state_machine(self, definition: sfn.IChainable) -> sfn.StateMachine:
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=STATE_MACHINE_TIMEOUT,
            tracing_enabled=True,
            # ALL: every transition is visible when a run is investigated. Without execution
            # data: inputs and outputs carry dataset names and run details, never in the logs.
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        pin_logical_id(state_machine, c.STATE_MACHINE_LOGICAL_ID)
        return state_machine

    def _build_alarms(self, action: cloudwatch.IAlarmAction) -> list[cloudwatch.Alarm]:
        metrics = {
            "ExecutionsFailed": self.state_machine.metric_failed,
            "ExecutionsTimedOut": self.state_machine.metric_timed_out,
            "ExecutionsAborted": self.state_machine.metric_aborted,
        }
        alarms = []
        for metric_name, metric in metrics.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{metric_name}Alarm",
                alarm_description=f"An evaluation pipeline execution ended as {metric_name[10:]}",
                metric=metric(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarms.append(alarm)
        return alarms

    def _suppress_findings(self) -> None:
        stack = self.state_machine.stack
        invoke_versions = [
            f"Resource::{nag_resource(stack, function.function_arn)}:*"
            for function in self.functions.values()
        ]
        acknowledge(
            default_policy(self.state_machine.role),
            "AwsSolutions-IAM5",
            "CDK's state machine role: log delivery and X-Ray actions accept no resource ARN "
            "(Resource *), and LambdaInvoke grants each function's qualified ARNs (<arn>:*) besides "
            "the function itself.",
            findings=["Resource::*", *invoke_versions],
        )
