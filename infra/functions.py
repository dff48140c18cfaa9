"""The Lambda functions: the state machine's seven and the ones other constructs add (SyncSchedules),
all from one factory and one code asset, each with least-privilege grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra import constants
from infra.bedrock_role import evaluation_jobs_arn
from infra.bundling import LAMBDAS_DIR, PipBundler
from infra.nag import acknowledge, default_policy, nag_resource
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from infra.settings import PipelineSettings

_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
_RUNTIME: lambda_.Runtime = getattr(
    lambda_.Runtime, "PYTHON_" + constants.LAMBDA_PYTHON_VERSION.replace(".", "_")
)
# What CDK's bucket grants add: these wildcards are in every s3 read/put grant.
_S3_READ_ACTIONS = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
_KMS_WILDCARD_ACTIONS = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")


@dataclass(frozen=True)
class FunctionSpec:
    """Size and purpose of one function; everything else comes from the factory."""

    description: str
    memory_mb: int = 512
    timeout_seconds: int = 60


FUNCTION_SPECS: Mapping[str, FunctionSpec] = {
    constants.FUNCTION_VALIDATE: FunctionSpec("Validates the suite and dataset, claims the run"),
    constants.FUNCTION_SUBMIT: FunctionSpec("Submits the Bedrock evaluation job"),
    constants.FUNCTION_POLL: FunctionSpec("Polls the evaluation job"),
    constants.FUNCTION_STOP: FunctionSpec("Stops a job that ran past its deadline"),
    # Parse streams up to 1000 output lines and writes one item per record.
    constants.FUNCTION_PARSE: FunctionSpec("Parses job results into the runs table", 1024, 300),
    constants.FUNCTION_NOTIFY: FunctionSpec("Publishes the run's verdict"),
    constants.FUNCTION_RECORD_ERROR: FunctionSpec("Records a pipeline error on the run"),
}


class PipelineFunctions(Construct):
    """Every function of the pipeline, built by one factory from one code asset.

    All functions share the runtime, architecture, X-Ray tracing, JSON logging into their own
    log group with retention, and the Powertools environment of docs/design.md. Each gets its
    own role with only the grants its state needs.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    settings
        Deployment settings (architecture, models, intervals, log retention).
    bucket, table, topic
        The pipeline's storage and alerts topic.
    bedrock_role
        The role passed to CreateEvaluationJob.
    encryption_key
        The customer managed key of the data, if any (sent as ``customerEncryptionKeyId``).

    Attributes
    ----------
    functions : Mapping[str, lambda_.Function]
        By name: validate, submit, poll, stop, parse, notify, record_error (the state machine's),
        then any function added with `add_function` (sync_schedules).
    log_groups : Mapping[str, logs.LogGroup]
        Each function's log group, by the same names.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        bucket: s3.IBucket,
        table: dynamodb.ITable,
        topic: sns.ITopic,
        bedrock_role: iam.IRole,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._bucket = bucket
        self._table = table
        self._key = encryption_key
        self._findings: dict[str, list[str]] = {}
        self._code = self._build_code()
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.functions: dict[str, lambda_.Function] = {
            name: self._build_function(name, spec, self._extra_environment(name, topic, bedrock_role))
            for name, spec in FUNCTION_SPECS.items()
        }
        self._grant_permissions(topic, bedrock_role)
        self._suppress_findings()

    # --- the factory -------------------------------------------------------------------------

    def add_function(self, name: str, spec: FunctionSpec, environment: Mapping[str, str]) -> lambda_.Function:
        """Build one more function with the factory, for a construct wired after the state machine.

        The function gets everything the factory gives (runtime, architecture, tracing, JSON logs
        with retention, the Powertools environment, its own role) plus ``environment``. Its grants
        are the caller's; `acknowledge` records the IAM5 findings they leave.

        Parameters
        ----------
        name
            A key of ``constants.EXTRA_FUNCTION_LOGICAL_IDS``; the handler is ``handlers.<name>.handler``.
        spec
            Description, memory and timeout.
        environment
            Variables beyond the factory's.
        """
        if name in self.functions:
            raise ValueError(f"function {name} exists already")
        function = self._build_function(name, spec, environment)
        self.functions[name] = function
        return function

    def grant_read(self, name: str, *prefixes: str) -> None:
        """Let function ``name`` read the bucket's objects under ``prefixes`` (findings recorded)."""
        self._grant_read(name, *prefixes)

    def acknowledge(self, name: str, reason: str, findings: list[str]) -> None:
        """Acknowledge the IAM5 findings of an added function: the factory's own and ``findings``."""
        function = self.functions[name]
        acknowledge(
            default_policy(function.role),  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            reason,
            findings=[*self._findings[name], *findings],
        )

    def _build_code(self) -> lambda_.Code:
        settings = self._settings
        # Local mode runs the handlers in-process on this machine: wheels for this host (an
        # arm64 pydantic-core would not import on x86_64, nor a cp314 one on another Python).
        bundler = (
            PipBundler.for_host()
            if settings.local_mode
            else PipBundler.for_lambda(settings.lambda_architecture, constants.LAMBDA_PYTHON_VERSION)
        )
        return lambda_.Code.from_asset(
            str(LAMBDAS_DIR),
            # SOURCE hashes the lambdas/ tree (code + requirements.txt) and, because the asset is
            # bundled, the bundling options too: the target platform sits in `environment`.
            asset_hash_type=AssetHashType.SOURCE,
            exclude=["**/__pycache__", "**/*.pyc"],
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=bundler,
                environment=bundler.target,
            ),
        )

    def _build_function(
        self, name: str, spec: FunctionSpec, extra_env: Mapping[str, str]
    ) -> lambda_.Function:
        construct_id = {**constants.FUNCTION_LOGICAL_IDS, **constants.EXTRA_FUNCTION_LOGICAL_IDS}[name]
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=self._settings.log_retention,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            description=f"Execution role of the {name} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            construct_id,
            description=spec.description,
            code=self._code,
            handler=f"{constants.LAMBDA_HANDLER_PACKAGE}.{name}.handler",
            runtime=_RUNTIME,
            architecture=_ARCHITECTURES[self._settings.lambda_architecture],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=role,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment={
                "POWERTOOLS_SERVICE_NAME": constants.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": constants.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "RUNS_TABLE_NAME": self._table.table_name,
                "BUCKET_NAME": self._bucket.bucket_name,
                **extra_env,
            },
        )
        pin_logical_id(function, construct_id)
        self.log_groups[name] = log_group
        # X-Ray accepts no resource-level permissions: tracing adds its actions on "*".
        self._findings[name] = ["Resource::*"]
        return function

    def _extra_environment(self, name: str, topic: sns.ITopic, bedrock_role: iam.IRole) -> dict[str, str]:
        settings = self._settings
        models = ",".join(settings.evaluator_models)
        timing = {
            "POLL_INTERVAL_SECONDS": str(settings.poll_interval_seconds),
            "JOB_TIMEOUT_SECONDS": str(settings.job_timeout_seconds),
            "HUMAN_POLL_MIN_SECONDS": str(settings.human_poll_min_seconds),
            "HUMAN_POLL_MAX_SECONDS": str(settings.human_poll_max_seconds),
            "HUMAN_JOB_TIMEOUT_SECONDS": str(settings.human_job_timeout_seconds),
        }
        if name == constants.FUNCTION_VALIDATE:
            # Absent = no live model allowed (the Bedrock role may invoke none).
            live = (
                {"ALLOWED_INFERENCE_MODELS": ",".join(settings.inference_models)}
                if settings.inference_models
                else {}
            )
            # Absent = no knowledge base / no external sources allowed (the role may query none).
            if settings.knowledge_bases:
                live["ALLOWED_KNOWLEDGE_BASES"] = ",".join(settings.knowledge_bases)
            if settings.external_sources:
                live["ALLOW_EXTERNAL_SOURCES"] = "true"
            # Timing too: a suite's pipeline.polling is checked with the deployment's values.
            return {"ALLOWED_EVALUATOR_MODELS": models, **live, **timing}
        if name == constants.FUNCTION_SUBMIT:
            key = {"KMS_KEY_ARN": self._key.key_arn} if self._key else {}
            return {
                "BEDROCK_ROLE_ARN": bedrock_role.role_arn,
                "ALLOWED_EVALUATOR_MODELS": models,
                **timing,
                **key,
            }
        if name == constants.FUNCTION_POLL:
            return timing
        if name == constants.FUNCTION_NOTIFY:
            return {"TOPIC_ARN": topic.topic_arn}
        return {}

    # --- least privilege ---------------------------------------------------------------------

    def _grant_permissions(self, topic: sns.ITopic, bedrock_role: iam.IRole) -> None:
        for name in self.functions:
            self._grant_table(name)
        self._grant_read(constants.FUNCTION_VALIDATE, constants.SUITES_PREFIX, constants.DATASETS_PREFIX)
        self._grant_read(constants.FUNCTION_SUBMIT, constants.SUITES_PREFIX)
        self._grant_read(constants.FUNCTION_PARSE, constants.RESULTS_PREFIX, constants.DATASETS_PREFIX)
        # Parse reviews the run against its baseline and writes the HTML report.
        self._grant_write(constants.FUNCTION_PARSE, constants.REPORTS_PREFIX)

        submit = self.functions[constants.FUNCTION_SUBMIT]
        self._grant_evaluation_jobs(
            constants.FUNCTION_SUBMIT, "bedrock:CreateEvaluationJob", "bedrock:TagResource"
        )
        bedrock_role.grant_pass_role(submit)
        if self._key is not None:
            # Bedrock checks that the caller may use the key it names as customerEncryptionKeyId.
            self._key.grant(submit, "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt")
        self._grant_evaluation_jobs(constants.FUNCTION_POLL, "bedrock:GetEvaluationJob")
        # Stop reads the job back when Bedrock refuses the stop (already stopping or finished).
        self._grant_evaluation_jobs(
            constants.FUNCTION_STOP, "bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob"
        )

        topic.grant_publish(self.functions[constants.FUNCTION_NOTIFY])
        if topic.master_key is not None:
            self._findings[constants.FUNCTION_NOTIFY].append("Action::kms:GenerateDataKey*")

    def _grant_table(self, name: str) -> None:
        self._table.grant_read_write_data(self.functions[name])
        self._findings[name].append(
            f"Resource::{nag_resource(Stack.of(self), self._table.table_arn)}/index/*"
        )
        if self._key is not None:
            self._findings[name].extend(_KMS_WILDCARD_ACTIONS)

    def _grant_read(self, name: str, *prefixes: str) -> None:
        bucket_arn = nag_resource(Stack.of(self), self._bucket.bucket_arn)
        for prefix in prefixes:
            self._bucket.grant_read(self.functions[name], f"{prefix}*")
            self._findings[name].append(f"Resource::{bucket_arn}/{prefix}*")
        self._findings[name].extend(_S3_READ_ACTIONS)

    def _grant_write(self, name: str, prefix: str) -> None:
        self._bucket.grant_put(self.functions[name], f"{prefix}*")
        bucket_arn = nag_resource(Stack.of(self), self._bucket.bucket_arn)
        self._findings[name].extend([f"Resource::{bucket_arn}/{prefix}*", "Action::s3:Abort*"])
        if self._key is not None:
            self._findings[name].extend(["Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*"])

    def _grant_evaluation_jobs(self, name: str, *actions: str) -> None:
        jobs = evaluation_jobs_arn(Stack.of(self))
        self.functions[name].add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=[jobs]))
        # Job ARNs end in an id Bedrock assigns, so the pipeline's jobs cannot be named up front.
        self._findings[name].append(f"Resource::{nag_resource(Stack.of(self), jobs)}")

    def _suppress_findings(self) -> None:
        for name, function in self.functions.items():
            acknowledge(
                default_policy(function.role),  # type: ignore[arg-type]
                "AwsSolutions-IAM5",
                f"The {name} function's wildcards are exactly these: X-Ray's actions take no "
                "resource ARN; the runs table grant covers its indexes (index/*); bucket grants are "
                "scoped to the object prefixes this state reads (and the reports/ prefix parse writes); "
                "evaluation-job ARNs end in an id "
                "Bedrock assigns; s3/kms action wildcards come from CDK's grant methods.",
                findings=self._findings[name],
            )
