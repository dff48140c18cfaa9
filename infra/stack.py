"""The composition root: wires the constructs together, tags them and runs cdk-nag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import CfnOutput, Stack, Stage, Tags, Validations
from aws_cdk import aws_kms as kms
from cdk_nag import AwsSolutionsChecks

from infra import constants
from infra.bedrock_role import BedrockServiceRole
from infra.dashboard import Observability
from infra.functions import PipelineFunctions
from infra.notifications import Notifications
from infra.reconcile import ExecutionReconciler
from infra.schedules import SuiteSchedules
from infra.storage import BucketLifecycle, Storage
from infra.trigger import DatasetTrigger
from infra.workflow import Workflow

if TYPE_CHECKING:
    from constructs import Construct

    from infra.settings import PipelineSettings


class PipelineStack(Stack):
    """The Bedrock evaluation pipeline: storage, service role, functions, workflow, trigger, suite
    schedules, the reconciler of unsuccessful executions, alerts, dashboard.

    Parameters
    ----------
    scope, construct_id
        Where the stack sits (the App) and its id.
    settings
        Deployment settings read from the CDK context.
    **kwargs
        Passed to ``Stack`` (``env``, ``stack_name``, ...).

    Attributes
    ----------
    storage, notifications, bedrock_role, functions, workflow, trigger, schedules, reconciler,
    observability
        The constructs, for tests and for stacks built on top of this one.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = (
            kms.Key.from_key_arn(self, "ImportedKey", settings.kms_key_arn) if settings.kms_key_arn else None
        )

        self.storage = Storage(
            self,
            constants.STORAGE_ID,
            lifecycle=BucketLifecycle.of(settings),
            encryption_key=key,
            table_deletion_protection=settings.table_deletion_protection,
        )
        self.notifications = Notifications(
            self, constants.NOTIFICATIONS_ID, alert_emails=settings.alert_emails, encryption_key=key
        )
        self.bedrock_role = BedrockServiceRole(
            self,
            constants.BEDROCK_ROLE_ID,
            bucket=self.storage.bucket,
            evaluator_models=settings.evaluator_models,
            inference_models=settings.inference_models,
            knowledge_bases=settings.knowledge_bases,
            external_sources=settings.external_sources,
            encryption_key=key,
        )
        self.functions = PipelineFunctions(
            self,
            constants.FUNCTIONS_ID,
            settings=settings,
            bucket=self.storage.bucket,
            table=self.storage.table,
            topic=self.notifications.topic,
            bedrock_role=self.bedrock_role.role,
            encryption_key=key,
        )
        self.workflow = Workflow(
            self,
            constants.WORKFLOW_ID,
            functions=self.functions.functions,
            alarm_action=self.notifications.alarm_action(),
            log_retention=settings.log_retention,
            max_jobs_per_run=settings.max_concurrent_jobs,
            collect_concurrency=settings.collect_concurrency,
        )
        self.trigger = DatasetTrigger(
            self,
            constants.TRIGGER_ID,
            bucket=self.storage.bucket,
            state_machine=self.workflow.state_machine,
            alarm_action=self.notifications.alarm_action(),
        )
        self.schedules = SuiteSchedules(
            self,
            constants.SCHEDULES_ID,
            functions=self.functions,
            bucket=self.storage.bucket,
            state_machine=self.workflow.state_machine,
            topic=self.notifications.topic,
            alarm_action=self.notifications.alarm_action(),
        )
        self.reconciler = ExecutionReconciler(
            self,
            constants.RECONCILE_ID,
            functions=self.functions,
            state_machine=self.workflow.state_machine,
            topic=self.notifications.topic,
            alarm_action=self.notifications.alarm_action(),
        )
        self.observability = Observability(
            self,
            constants.OBSERVABILITY_ID,
            state_machine=self.workflow.state_machine,
            dead_letter_queues={
                "Datasets": self.trigger.dead_letter_queue,
                "Suite schedules": self.schedules.dead_letter_queue,
                "Unreconciled executions": self.reconciler.dead_letter_queue,
            },
            alarm_action=self.notifications.alarm_action(),
            suites=settings.suites,
            pipeline_alarms=[
                *self.workflow.alarms,
                *self.trigger.alarms,
                *self.schedules.alarms,
                *self.reconciler.alarms,
            ],
        )

        self._add_outputs()
        Tags.of(self).add("project", constants.PROJECT_TAG)
        # cdk-nag 3 is a policy-validation plugin (registered on the App/Stage): an
        # unacknowledged finding stops synth. Acknowledgments are copied into the template.
        stage = Stage.of(self)
        Validations.of(stage).add_plugins(
            AwsSolutionsChecks(stage, verbose=True, write_suppressions_to_cloud_formation=True)
        )

    def _add_outputs(self) -> None:
        outputs = {
            constants.OUTPUT_BUCKET_NAME: (
                self.storage.bucket.bucket_name,
                "Drop datasets under datasets/<suite>/",
            ),
            constants.OUTPUT_RUNS_TABLE_NAME: (self.storage.table.table_name, "Runs and per-record scores"),
            constants.OUTPUT_TOPIC_ARN: (self.notifications.topic.topic_arn, "Run verdicts and alarms"),
            constants.OUTPUT_STATE_MACHINE_ARN: (
                self.workflow.state_machine.state_machine_arn,
                "The pipeline",
            ),
            constants.OUTPUT_BEDROCK_ROLE_ARN: (self.bedrock_role.role.role_arn, "Service role of the jobs"),
            constants.OUTPUT_DASHBOARD_NAME: (
                self.observability.dashboard.dashboard_name,
                "CloudWatch dashboard of the pipeline",
            ),
            constants.OUTPUT_SCHEDULE_GROUP_NAME: (
                self.schedules.group_name,
                "Schedule group of the suites' schedules (schedule name = suite)",
            ),
        }
        for logical_id, (value, description) in outputs.items():
            CfnOutput(self, logical_id, value=value, description=description)
