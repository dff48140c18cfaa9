"""The Lambda functions: the state machine's seven and the ones other constructs add (SyncSchedules,
Reconcile), all from one factory and one code asset, each with least-privilege grants."""

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
from infra.bedrock_role import evaluation_jobs_arn, model_arns
from infra.bundling import LAMBDAS_DIR, PipBundler
from infra.nag import acknowledge, default_policy, nag_resource
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from infra.settings import PipelineSettings

_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
_RUNTIME: lambda_.Runtime = getattr(
    lambda_.Runtime, "PYTHON_" + constants.LAMBDA_PYTHON_VERSION.replace(".", "_")
)
# What CDK's bucket grants add: these wildcards are in every s3 read/put grant.
_S3_READ_ACTIONS = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
_KMS_WILDCARD_ACTIONS = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")

# The DynamoDB actions of each call of `evalpipe.aws.runs_table.RunsTable` (lambdas/): a function
# is granted the actions of the calls it makes, and nothing else.
RUNS_TABLE_CALLS: Mapping[str, tuple[str, ...]] = {
    "claim": ("dynamodb:PutItem",),  # conditional put (attribute_not_exists)
    "get": ("dynamodb:GetItem",),  # get and load
    "save": ("dynamodb:UpdateItem",),  # conditional update (attribute_exists)
    "put_records": ("dynamodb:BatchWriteItem",),
    "iter_records": ("dynamodb:Query",),  # the CLI's
    "iter_record_scores": ("dynamodb:Query",),  # a baseline's scores, for the review
    "get_records": ("dynamodb:BatchGetItem",),  # the few records a review shows, by index
    "delete_records_from": ("dynamodb:Query", "dynamodb:BatchWriteItem"),
    "history": ("dynamodb:Query",),  # on the by-suite index
    "save_shard": ("dynamodb:UpdateItem",),  # one entry of the run's shards map
    # The job pools (evalpipe.aws.slots): taking a slot is a conditional update (a read of the
    # holders when it fails; the pool's first put); giving slots back, updates and a read.
    "acquire_slot": ("dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem"),
    "release_slots": ("dynamodb:UpdateItem", "dynamodb:GetItem"),
}
# Calls that read the by-suite index rather than the table (the CLI's iter_runs scans it too,
# but no function calls it).
SUITE_INDEX_CALLS = frozenset({"history"})
# What a table encrypted with a customer managed key needs besides (CDK's Table grants' sets).
_TABLE_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
_TABLE_KEY_WRITE_ACTIONS = ("kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")
_TABLE_READ_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"})


@dataclass(frozen=True)
class FunctionSpec:
    """Size and purpose of one function, and the runs-table calls it makes; the factory does the rest.

    Attributes
    ----------
    table_calls
        Names of the `RUNS_TABLE_CALLS` the function's code makes: the factory grants exactly their
        actions (the by-suite index only for `SUITE_INDEX_CALLS`). Empty: no table access.
    """

    description: str
    memory_mb: int = 512
    timeout_seconds: int = 60
    table_calls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.table_calls) - set(RUNS_TABLE_CALLS))
        if unknown:
            raise ValueError(f"not runs-table calls: {unknown}")


FUNCTION_SPECS: Mapping[str, FunctionSpec] = {
    constants.FUNCTION_VALIDATE: FunctionSpec(
        # get: the `collected` entry loads the run whose scenarios were collected.
        "Validates the suite and dataset, claims the run",
        table_calls=("claim", "get", "save"),
    ),
    constants.FUNCTION_SUBMIT: FunctionSpec(
        "Takes a job slot and submits a shard's Bedrock evaluation job",
        table_calls=("get", "save", "save_shard", "acquire_slot", "release_slots"),
    ),
    constants.FUNCTION_POLL: FunctionSpec(
        "Polls a shard's evaluation job", table_calls=("get", "save", "save_shard", "release_slots")
    ),
    constants.FUNCTION_STOP: FunctionSpec(
        "Stops a job that ran past its deadline", table_calls=("get", "save_shard", "release_slots")
    ),
    # Parse streams the output lines and writes one item per record; its review reads the
    # baseline's records, the texts of the records it shows and the suite's history.
    constants.FUNCTION_PARSE: FunctionSpec(
        "Parses job results into the runs table",
        1024,
        300,
        table_calls=(
            "get",
            "save",
            "put_records",
            "delete_records_from",
            "iter_record_scores",
            "get_records",
            "history",
            "release_slots",
        ),
    ),
    constants.FUNCTION_NOTIFY: FunctionSpec("Publishes the run's verdict", table_calls=("get", "save")),
    constants.FUNCTION_RECORD_ERROR: FunctionSpec(
        "Records a pipeline error on the run, stops its jobs",
        table_calls=("get", "claim", "save", "release_slots"),
    ),
    # A batch of up to 100 scenarios, a few turns each, a few at a time against the app: minutes.
    # It reads the run only; Validate's collected entry records what the batches did.
    constants.FUNCTION_COLLECT: FunctionSpec(
        "Collects one batch of a run's scenarios from the suite's target", 512, 900, table_calls=("get",)
    ),
}


class PipelineFunctions(Construct):
    """Every function of the pipeline, built by one factory from one code asset.

    All functions share the runtime, architecture, X-Ray tracing, JSON logging into their own
    log group with retention, and the Powertools environment of docs/design.md. Each gets its
    own role with only the grants its state needs: the runs-table actions of the calls its
    `FunctionSpec` names, the object prefixes it reads or writes. The error-path functions
    (``constants.ERROR_PATH_FUNCTIONS``) get reserved concurrency (``errorPathReservedConcurrency``).

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
        then any function added with `add_function` (sync_schedules, reconcile).
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
        with retention, the Powertools environment, its own role, the runs-table actions of
        ``spec.table_calls``, reserved concurrency on the error path) plus ``environment``. Its
        other grants are the caller's; `acknowledge` records the IAM5 findings they leave.

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

    def grant_evaluation_jobs(self, name: str, *actions: str) -> None:
        """Let function ``name`` call ``actions`` on the account's evaluation jobs (finding recorded)."""
        self._grant_evaluation_jobs(name, *actions)

    def grant_publish(self, name: str, topic: sns.ITopic) -> None:
        """Let function ``name`` publish to ``topic`` (and use its key; finding recorded)."""
        topic.grant_publish(self.functions[name])
        if topic.master_key is not None:
            self._findings[name].append("Action::kms:GenerateDataKey*")

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
        reserved = self._settings.error_path_reserved_concurrency
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
            # Throttling elsewhere in the account must not keep a failed run from its record and
            # its notification (0: nothing reserved).
            reserved_concurrent_executions=(
                reserved if reserved and name in constants.ERROR_PATH_FUNCTIONS else None
            ),
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
        self._grant_table(name, function, spec.table_calls)
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
        if name == constants.FUNCTION_COLLECT:
            return {**self._collect_environment(), "COLLECT_THREADS": "4"}
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
            return {
                "ALLOWED_EVALUATOR_MODELS": models,
                "MAX_RUN_RECORDS": str(settings.max_run_records),
                **live,
                **self._collect_environment(),
                **timing,
            }
        if name == constants.FUNCTION_SUBMIT:
            key = {"KMS_KEY_ARN": self._key.key_arn} if self._key else {}
            return {
                "BEDROCK_ROLE_ARN": bedrock_role.role_arn,
                "ALLOWED_EVALUATOR_MODELS": models,
                "MAX_CONCURRENT_JOBS": str(settings.max_concurrent_jobs),
                "MAX_CONCURRENT_HUMAN_JOBS": str(settings.max_concurrent_human_jobs),
                "SLOT_WAIT_SECONDS": str(settings.slot_wait_seconds),
                **timing,
                **key,
            }
        if name == constants.FUNCTION_POLL:
            return timing
        if name == constants.FUNCTION_NOTIFY:
            return {"TOPIC_ARN": topic.topic_arn}
        if name == constants.FUNCTION_PARSE:
            # Its scratch tables (`evalpipe.scratch`) in Lambda's one writable directory, named
            # rather than left to SQLite's search of /var/tmp, /usr/tmp, /tmp.
            return {"SQLITE_TMPDIR": "/tmp"}
        return {}

    def _collect_environment(self) -> dict[str, str]:
        """What pipeline.collect may call (validation checks suites against it); absent = nothing."""
        settings = self._settings
        lists = {
            "ALLOWED_COLLECT_MODELS": settings.collect_models,
            "ALLOWED_COLLECT_SECRETS": settings.collect_secrets,
            "ALLOWED_COLLECT_FUNCTIONS": settings.collect_functions,
        }
        return {name: ",".join(values) for name, values in lists.items() if values}

    # --- least privilege ---------------------------------------------------------------------

    def _grant_permissions(self, topic: sns.ITopic, bedrock_role: iam.IRole) -> None:
        # Validate copies the dropped version (a dataset, or the scenarios a run collects from) to
        # the run's own key under inputs/ and reads the copy.
        self._grant_read(
            constants.FUNCTION_VALIDATE,
            constants.SUITES_PREFIX,
            constants.DATASETS_PREFIX,
            constants.SCENARIOS_PREFIX,
            constants.INPUTS_PREFIX,
        )
        self._grant_write(constants.FUNCTION_VALIDATE, constants.INPUTS_PREFIX)
        self._grant_read(constants.FUNCTION_SUBMIT, constants.SUITES_PREFIX)
        # Parse reads the run's copy (datasets/ for runs recorded before copies existed), reviews
        # the run against its baseline and writes the HTML report.
        self._grant_read(
            constants.FUNCTION_PARSE,
            constants.RESULTS_PREFIX,
            constants.INPUTS_PREFIX,
            constants.DATASETS_PREFIX,
        )
        self._grant_write(constants.FUNCTION_PARSE, constants.REPORTS_PREFIX)

        submit = self.functions[constants.FUNCTION_SUBMIT]
        self._grant_evaluation_jobs(
            constants.FUNCTION_SUBMIT, "bedrock:CreateEvaluationJob", "bedrock:TagResource"
        )
        grant_pass_role(bedrock_role, submit, "bedrock.amazonaws.com")
        if self._key is not None:
            # Bedrock checks that the caller may use the key it names as customerEncryptionKeyId.
            self._key.grant(submit, "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt")
        self._grant_evaluation_jobs(constants.FUNCTION_POLL, "bedrock:GetEvaluationJob")
        # Stop (and RecordError, for a job the failed run leaves running) reads the job back when
        # Bedrock refuses the stop (already stopping or finished).
        for name in (constants.FUNCTION_STOP, constants.FUNCTION_RECORD_ERROR):
            self._grant_evaluation_jobs(name, "bedrock:StopEvaluationJob", "bedrock:GetEvaluationJob")

        self.grant_publish(constants.FUNCTION_NOTIFY, topic)
        self._grant_collect()

    def _grant_collect(self) -> None:
        """The collect function: the run's inputs (scenarios copy, batches), and exactly the models,
        secrets and functions the deployment lists for pipeline.collect (nothing for an empty list)."""
        name = constants.FUNCTION_COLLECT
        function = self.functions[name]
        self._grant_read(name, constants.INPUTS_PREFIX)
        self._grant_write(name, constants.INPUTS_PREFIX)
        settings = self._settings
        stack = Stack.of(self)
        if settings.collect_models:
            models = sorted({arn for model in settings.collect_models for arn in model_arns(stack, model)})
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ConverseCollectModels", actions=["bedrock:InvokeModel"], resources=models
                )
            )
            # An inference profile routes to its base model in any region (model_arns' region wildcard).
            self._findings[name].extend(
                f"Resource::{nag_resource(stack, arn)}" for arn in models if "*" in arn
            )
        if settings.collect_secrets:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadCollectSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=list(settings.collect_secrets),
                )
            )
        if settings.collect_functions:
            # A target may name a version or alias (its qualifier): Lambda checks the qualified ARN.
            qualified = [f"{arn}:*" for arn in settings.collect_functions]
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="InvokeCollectFunctions",
                    actions=["lambda:InvokeFunction"],
                    resources=[*settings.collect_functions, *qualified],
                )
            )
            self._findings[name].extend(f"Resource::{arn}" for arn in qualified)

    def _grant_table(self, name: str, function: lambda_.IFunction, calls: Sequence[str]) -> None:
        """The runs-table actions of ``calls`` on the table, and Query on the by-suite index if used.

        CDK's ``Table.grant`` would add ``index/*`` for every function: the index is named here,
        and only for the functions that read it.
        """
        if not calls:
            return
        table_arn = self._table.table_arn
        actions = sorted({action for call in calls for action in RUNS_TABLE_CALLS[call]})
        iam.Grant.add_to_principal(grantee=function, actions=actions, resource_arns=[table_arn])
        if SUITE_INDEX_CALLS.intersection(calls):
            iam.Grant.add_to_principal(
                grantee=function,
                actions=["dynamodb:Query"],
                resource_arns=[f"{table_arn}/index/{constants.SUITE_INDEX_NAME}"],
            )
        if self._key is not None:
            writes = not set(actions) <= _TABLE_READ_ACTIONS
            self._key.grant(function, *_TABLE_KEY_READ_ACTIONS, *(_TABLE_KEY_WRITE_ACTIONS if writes else ()))
            if writes:
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
                "resource ARN; bucket grants are scoped to the object prefixes this state reads (and "
                "the inputs/ or reports/ prefix it writes), whose object names are chosen per run; "
                "evaluation-job ARNs end in an id Bedrock assigns; s3/kms action wildcards come from "
                "CDK's grant methods; a listed collect function's versions and aliases (<arn>:*) are "
                "what a target's qualifier names.",
                findings=self._findings[name],
            )


def grant_pass_role(role: iam.IRole, grantee: iam.IGrantable, service: str) -> iam.Grant:
    """``iam:PassRole`` on ``role`` only, and only when passed to ``service`` (``iam:PassedToService``).

    CDK's ``grant_pass_role`` takes no condition; this is the same grant with it.
    """
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["iam:PassRole"],
        resource_arns=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": service}},
    )
