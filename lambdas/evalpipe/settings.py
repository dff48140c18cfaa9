"""Typed environment of the Lambda functions, read when first asked for (never at import)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    """What the one Lambda factory puts in every function's environment (see docs/design.md)."""

    # Frozen (hashable) so the adapters built from one configuration can be cached per configuration.
    model_config = ConfigDict(frozen=True, defer_build=True)

    runs_table_name: str = Field(alias="RUNS_TABLE_NAME")
    bucket_name: str = Field(alias="BUCKET_NAME")
    topic_arn: str | None = Field(default=None, alias="TOPIC_ARN")
    bedrock_role_arn: str | None = Field(default=None, alias="BEDROCK_ROLE_ARN")
    allowed_evaluator_models: tuple[str, ...] = Field(default=(), alias="ALLOWED_EVALUATOR_MODELS")
    # Models the Bedrock role may invoke for live inference (cdk.json "inferenceModels"); empty = none.
    allowed_inference_models: tuple[str, ...] = Field(default=(), alias="ALLOWED_INFERENCE_MODELS")
    # Knowledge bases the Bedrock role may query live (cdk.json "knowledgeBases"); empty = none.
    allowed_knowledge_bases: tuple[str, ...] = Field(default=(), alias="ALLOWED_KNOWLEDGE_BASES")
    # RetrieveAndGenerate on EXTERNAL_SOURCES (cdk.json "externalSources"); off unless the deployment says so.
    allow_external_sources: bool = Field(default=False, alias="ALLOW_EXTERNAL_SOURCES")
    # What pipeline.collect may call (cdk.json "collectModels", "collectSecrets",
    # "collectFunctions"): the collect function's role may call exactly these; empty = none.
    allowed_collect_models: tuple[str, ...] = Field(default=(), alias="ALLOWED_COLLECT_MODELS")
    allowed_collect_secrets: tuple[str, ...] = Field(default=(), alias="ALLOWED_COLLECT_SECRETS")
    allowed_collect_functions: tuple[str, ...] = Field(default=(), alias="ALLOWED_COLLECT_FUNCTIONS")
    # Scenarios one collect invocation plays at once (worker threads).
    collect_threads: int = Field(default=4, ge=1, le=32, alias="COLLECT_THREADS")
    kms_key_arn: str | None = Field(default=None, alias="KMS_KEY_ARN")
    poll_interval_seconds: int = Field(default=60, ge=0, alias="POLL_INTERVAL_SECONDS")
    job_timeout_seconds: int = Field(default=86_400, gt=0, alias="JOB_TIMEOUT_SECONDS")
    # Human evaluation jobs take days: a cheap schedule growing from the first wait to the cap
    # (evalpipe.run.timing.Timing.human_wait) and a longer deadline (30 days).
    human_poll_min_seconds: int = Field(default=900, ge=0, alias="HUMAN_POLL_MIN_SECONDS")
    human_poll_max_seconds: int = Field(default=21_600, ge=0, alias="HUMAN_POLL_MAX_SECONDS")
    human_job_timeout_seconds: int = Field(default=30 * 86_400, gt=0, alias="HUMAN_JOB_TIMEOUT_SECONDS")
    # The account's pools of concurrent evaluation jobs (Service Quotas: "Concurrent automatic
    # model evaluation jobs", and the human jobs' own quota): every job takes a slot first.
    max_concurrent_jobs: int = Field(default=5, ge=1, alias="MAX_CONCURRENT_JOBS")
    max_concurrent_human_jobs: int = Field(default=5, ge=1, alias="MAX_CONCURRENT_HUMAN_JOBS")
    # How long a job waiting for a slot waits before it asks again.
    slot_wait_seconds: int = Field(default=60, ge=1, alias="SLOT_WAIT_SECONDS")
    # The largest dataset a run takes (split into jobs of at most 1,000 records each).
    max_run_records: int = Field(default=50_000, ge=1, le=99_000, alias="MAX_RUN_RECORDS")
    # The SyncSchedules function: the stack's schedule group, the role the scheduler assumes to
    # start the state machine, and the dead-letter queue of scheduled starts (infra/schedules.py).
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    schedule_group_name: str | None = Field(default=None, alias="SCHEDULE_GROUP_NAME")
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN")
    schedule_dlq_arn: str | None = Field(default=None, alias="SCHEDULE_DLQ_ARN")
    # Set by Lambda / the local mode; they decide whether notifications carry console links.
    aws_region: str | None = Field(default=None, alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")

    @field_validator(
        "allowed_evaluator_models",
        "allowed_inference_models",
        "allowed_knowledge_bases",
        "allowed_collect_models",
        "allowed_collect_secrets",
        "allowed_collect_functions",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def console_region(self) -> str | None:
        """The region for AWS console links: the function's own, none against a local endpoint."""
        return None if self.aws_endpoint_url else self.aws_region

    @field_validator(
        "kms_key_arn",
        "topic_arn",
        "bedrock_role_arn",
        "aws_region",
        "aws_endpoint_url",
        "state_machine_arn",
        "schedule_group_name",
        "scheduler_role_arn",
        "schedule_dlq_arn",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None


@cache
def settings() -> Settings:
    """The settings of this process; tests call `settings.cache_clear()` after changing the env."""
    return Settings.model_validate(dict(os.environ))
