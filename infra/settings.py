"""Typed settings of the CDK app, read from the App's context (cdk.json or ``-c key=value``)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Literal

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from constructs import Node

# CloudWatch Logs only accepts these retention periods (days).
_LOG_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A suite's name as the pipeline accepts it (evalpipe.run.triggers.SUITE_NAME_PATTERN): a dataset key
# segment, a metric dimension value and part of an alarm name.
_SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# A knowledge-base id as the bedrock service model types it (KnowledgeBaseId: [0-9a-zA-Z]+, <= 10).
_KNOWLEDGE_BASE_ID = re.compile(r"^[0-9a-zA-Z]{1,10}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$"
)
DEFAULT_EVALUATOR_MODEL = "amazon.nova-pro-v1:0"
# The state machine's own timeout; a job must time out (and be stopped) well before it. Human
# evaluation jobs take days (default deadline 30 days), so the backstop is 35 days (Standard
# workflows allow up to a year).
STATE_MACHINE_TIMEOUT_SECONDS = 35 * 86_400
# A run's copy under inputs/ must outlive every execution that may still read it (the job and
# parse of a human run up to the state machine's time-out).
MIN_INPUTS_EXPIRATION_DAYS = STATE_MACHINE_TIMEOUT_SECONDS // 86_400 + 1


class PipelineSettings(BaseModel):
    """Deployment settings of the pipeline.

    Every field is read from the CDK context under its camelCase alias, so a value can come
    from ``cdk.json`` or from ``cdk synth -c pollIntervalSeconds=30``. Values given with
    ``-c`` arrive as strings: lists accept JSON (``'["a","b"]'``) or comma-separated text.

    Examples
    --------
    >>> PipelineSettings.model_validate({"alertEmails": "ops@example.com"}).alert_emails
    ['ops@example.com']
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    evaluator_models: list[str] = Field(
        default_factory=lambda: [DEFAULT_EVALUATOR_MODEL], min_length=1, alias="evaluatorModels"
    )
    # Models Bedrock may invoke for live inference (suites with inferenceConfig.models[].bedrockModel);
    # none by default, so only precomputed responses run until a deployment lists its models.
    inference_models: list[str] = Field(default_factory=list, alias="inferenceModels")
    # Knowledge bases suites may query live (inferenceConfig.ragConfigs[].knowledgeBaseConfig): the
    # Bedrock role gets Retrieve / RetrieveAndGenerate on exactly these; none by default.
    knowledge_bases: list[str] = Field(default_factory=list, alias="knowledgeBases")
    # RetrieveAndGenerate on EXTERNAL_SOURCES (documents under sources/): the action takes no
    # resource ARN, so it is granted on "*" only when a deployment turns this on.
    external_sources: bool = Field(default=False, alias="externalSources")
    # pipeline.collect: the models Converse may call, the secrets header values come from, the
    # functions that may be invoked; the collect function's role gets exactly these (none by default).
    collect_models: list[str] = Field(default_factory=list, alias="collectModels")
    collect_secrets: list[str] = Field(default_factory=list, alias="collectSecrets")
    collect_functions: list[str] = Field(default_factory=list, alias="collectFunctions")
    # Batches of one run collected at once (the Collect Map's MaxConcurrency).
    collect_concurrency: int = Field(default=4, ge=1, le=40, alias="collectConcurrency")
    alert_emails: list[str] = Field(default_factory=list, alias="alertEmails")
    # Suites that get their own dashboard section and REGRESSED alarm (infra.dashboard).
    suites: list[str] = Field(default_factory=list, alias="suites")
    kms_key_arn: str | None = Field(default=None, alias="kmsKeyArn")
    poll_interval_seconds: int = Field(default=60, ge=1, le=3_600, alias="pollIntervalSeconds")
    job_timeout_seconds: int = Field(default=86_400, ge=60, alias="jobTimeoutSeconds")
    # Human evaluation jobs (jobType Human): a polling schedule growing from the first wait to the
    # cap (evalpipe.run.timing.Timing.human_wait) and their own, longer deadline.
    human_poll_min_seconds: int = Field(default=900, ge=1, alias="humanPollMinSeconds")
    human_poll_max_seconds: int = Field(default=21_600, ge=1, alias="humanPollMaxSeconds")
    human_job_timeout_seconds: int = Field(default=30 * 86_400, ge=60, alias="humanJobTimeoutSeconds")
    # The account's pools of concurrent evaluation jobs: every job the pipeline submits takes a slot
    # first (a run whose shards find none waits, QUEUED). Set them to the account's Service Quotas
    # values, "Concurrent automatic model evaluation jobs" and the human jobs' own quota, less what
    # is run outside the pipeline (docs/infrastructure.md shows the command that reads them).
    max_concurrent_jobs: int = Field(default=5, ge=1, le=1_000, alias="maxConcurrentJobs")
    max_concurrent_human_jobs: int = Field(default=5, ge=1, le=1_000, alias="maxConcurrentHumanJobs")
    # Seconds a shard waits before it asks for a slot again.
    slot_wait_seconds: int = Field(default=60, ge=1, le=3_600, alias="slotWaitSeconds")
    # The largest dataset a run takes; it is split into jobs of at most 1,000 records (99 at most:
    # a shard's job name adds "-sNN" to the run id).
    max_run_records: int = Field(default=50_000, ge=1, le=99_000, alias="maxRunRecords")
    stack_name: str = Field(
        default="BedrockEvalPipeline", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$", alias="stackName"
    )
    lambda_architecture: Literal["arm64", "x86_64"] = Field(default="arm64", alias="lambdaArchitecture")
    log_retention_days: int = Field(default=30, alias="logRetentionDays")
    # Reserved concurrency of the error-path functions (record_error, notify, reconcile), so that
    # account-wide throttling cannot keep a failed run from being recorded and notified. It is also
    # each one's cap. 0 reserves nothing: Lambda keeps a minimum of the account's concurrency
    # unreserved (100 in the developer guide), so an account whose quota is 10 (new accounts)
    # cannot reserve any.
    error_path_reserved_concurrency: int = Field(
        default=2, ge=0, le=1_000, alias="errorPathReservedConcurrency"
    )
    # Deletion protection of the runs table; off only for throw-away stacks.
    table_deletion_protection: bool = Field(default=True, alias="tableDeletionProtection")
    # Bucket lifecycle, in days after an object is written (0 = never): the run's dataset copies,
    # the jobs' output, the HTML reports, the datasets users drop, and every noncurrent version.
    inputs_expiration_days: int = Field(default=40, ge=0, alias="inputsExpirationDays")
    results_expiration_days: int = Field(default=400, ge=0, alias="resultsExpirationDays")
    reports_expiration_days: int = Field(default=400, ge=0, alias="reportsExpirationDays")
    datasets_expiration_days: int = Field(default=0, ge=0, alias="datasetsExpirationDays")
    noncurrent_version_expiration_days: int = Field(default=30, ge=0, alias="noncurrentVersionExpirationDays")
    # Local mode (`make demo`): the functions run in-process on this machine, so their code asset
    # is bundled for the host's platform and Python instead of the Lambda runtime's.
    local_mode: bool = Field(default=False, alias="localMode")

    @field_validator(
        "evaluator_models",
        "inference_models",
        "knowledge_bases",
        "alert_emails",
        "suites",
        "collect_models",
        "collect_secrets",
        "collect_functions",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("evaluator_models")
    @classmethod
    def _strip_models(cls, value: list[str]) -> list[str]:
        models = [model.strip() for model in value if model.strip()]
        if not models:
            raise ValueError("evaluatorModels needs at least one model id or ARN")
        return models

    @field_validator("inference_models")
    @classmethod
    def _strip_inference_models(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(model.strip() for model in value if model.strip()))

    @field_validator("collect_models", "collect_secrets", "collect_functions")
    @classmethod
    def _strip_collect(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(item.strip() for item in value if item.strip()))

    @field_validator("collect_secrets")
    @classmethod
    def _check_secrets(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not _SECRET_ARN.match(arn)]
        if bad:
            raise ValueError(f"collectSecrets are Secrets Manager secret ARNs, not: {bad}")
        return value

    @field_validator("collect_functions")
    @classmethod
    def _check_functions(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not _FUNCTION_ARN.match(arn)]
        if bad:
            raise ValueError(f"collectFunctions are Lambda function ARNs (unqualified), not: {bad}")
        return value

    @field_validator("knowledge_bases")
    @classmethod
    def _check_knowledge_bases(cls, value: list[str]) -> list[str]:
        ids = list(dict.fromkeys(kb.strip() for kb in value if kb.strip()))
        bad = [kb for kb in ids if not _KNOWLEDGE_BASE_ID.match(kb)]
        if bad:
            raise ValueError(
                f"knowledgeBases are knowledge-base ids ({_KNOWLEDGE_BASE_ID.pattern}), not: {bad}"
            )
        return ids

    @field_validator("alert_emails")
    @classmethod
    def _check_emails(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if not _EMAIL.match(address)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return value

    @field_validator("suites")
    @classmethod
    def _check_suites(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not _SUITE_NAME.match(name)]
        if bad:
            raise ValueError(f"suite names must match {_SUITE_NAME.pattern}: {bad}")
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"suites listed more than once: {duplicates}")
        return value

    @field_validator("kms_key_arn", mode="before")
    @classmethod
    def _check_key_arn(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not _KMS_KEY_ARN.match(value):
            raise ValueError("kmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value not in _LOG_RETENTION:
            raise ValueError(f"logRetentionDays must be one of {sorted(_LOG_RETENTION)}")
        return value

    @field_validator("inputs_expiration_days")
    @classmethod
    def _check_inputs_expiration(cls, value: int) -> int:
        if 0 < value < MIN_INPUTS_EXPIRATION_DAYS:
            raise ValueError(
                f"inputsExpirationDays must be 0 (never) or >= {MIN_INPUTS_EXPIRATION_DAYS}: a run's "
                "copy must outlive the longest execution that reads it"
            )
        return value

    @model_validator(mode="after")
    def _job_ends_before_execution(self) -> PipelineSettings:
        # Poll needs a few cycles after the deadline to stop the job and notify.
        days = STATE_MACHINE_TIMEOUT_SECONDS // 86_400
        # Automated polls back off to ten intervals, at most 10 minutes (evalpipe.run.timing).
        longest_wait = max(self.poll_interval_seconds, min(600, 10 * self.poll_interval_seconds))
        latest = STATE_MACHINE_TIMEOUT_SECONDS - 2 * longest_wait - 3_600
        if self.job_timeout_seconds > latest:
            raise ValueError(
                f"jobTimeoutSeconds must be <= {latest} (the state machine times out at {days} d)"
            )
        latest_human = STATE_MACHINE_TIMEOUT_SECONDS - 2 * self.human_poll_max_seconds - 3_600
        if self.human_job_timeout_seconds > latest_human:
            raise ValueError(
                f"humanJobTimeoutSeconds must be <= {latest_human} (the state machine times out at {days} d)"
            )
        if self.human_poll_min_seconds > self.human_poll_max_seconds:
            raise ValueError("humanPollMinSeconds must be <= humanPollMaxSeconds")
        return self

    @property
    def log_retention(self) -> logs.RetentionDays:
        """``log_retention_days`` as the CDK enum."""
        return logs.RetentionDays[_LOG_RETENTION[self.log_retention_days]]

    @classmethod
    def from_context(cls, node: Node) -> PipelineSettings:
        """Read every field from ``node``'s context; keys that are absent keep their defaults."""
        aliases = [field.alias or name for name, field in cls.model_fields.items()]
        values = {alias: node.try_get_context(alias) for alias in aliases}
        return cls.model_validate({key: value for key, value in values.items() if value is not None})
