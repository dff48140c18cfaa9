"""Inputs the state machine passes to the steps (Powertools Parser models).

Validate receives the execution input itself: S3's ``Object Created`` event (Powertools'
``S3EventNotificationEventBridgeModel``) or a run request (`RunRequestEvent`); the later steps
receive the references below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RUN_ID = r"^[a-z0-9](-*[a-z0-9]){0,62}$"


class _Input(BaseModel):
    # Validators are built on first use: a function validates one of these models, not all.
    model_config = ConfigDict(defer_build=True)


class RunRef(_Input):
    run_id: str = Field(pattern=RUN_ID)


class ShardRef(RunRef):
    """One job of a run (the state machine maps over the run's shards)."""

    shard: int = Field(ge=1)


class BatchRef(RunRef):
    """One batch of a run's scenarios (the state machine maps over the collection's batches)."""

    batch: int = Field(ge=1)


class CollectedRef(_Input):
    """Validate's second entry: the run's batches are collected (``{"collected": {"run_id"}}``)."""

    collected: RunRef


class JobRef(ShardRef):
    job_arn: str = Field(min_length=1)


class PollInput(JobRef):
    deadline: str = Field(min_length=1)


class NotifyInput(_Input):
    """Notify's ``{run_id}``, or NotifyError's whole execution state (``run_id`` absent then)."""

    model_config = ConfigDict(extra="allow")

    run_id: str | None = Field(default=None, pattern=RUN_ID)


class RunRequestDetail(_Input):
    suite: str = Field(min_length=1)
    requested_by: Literal["schedule", "cli"] = Field(alias="requestedBy")
    schedule_arn: str | None = Field(default=None, alias="scheduleArn")


class RunRequestEvent(_Input):
    """A ``Run Requested`` event: a suite's schedule fired, or ``evalpipe run`` asked for a run."""

    model_config = ConfigDict(populate_by_name=True)

    source: Literal["evalpipe"]
    detail_type: Literal["Run Requested"] = Field(alias="detail-type")
    id: str = Field(min_length=1)
    time: datetime
    detail: RunRequestDetail


class _ObjectKey(_Input):
    key: str = Field(min_length=1)


class _ObjectDetail(_Input):
    object: _ObjectKey


class SuiteObjectEvent(_Input):
    """S3's ``Object Created`` / ``Object Deleted`` event for ``suites/*.json`` (only what is read).

    ``Object Deleted`` carries no ``size`` and, for some deletions, no ``etag``: the Powertools
    model of ``Object Created`` would refuse it.
    """

    model_config = ConfigDict(populate_by_name=True)

    source: Literal["aws.s3"]
    detail_type: Literal["Object Created", "Object Deleted"] = Field(alias="detail-type")
    detail: _ObjectDetail


class ExecutionStatusChange(_Input):
    """Step Functions' "Execution Status Change" event (only what is read: the detail)."""

    model_config = ConfigDict(populate_by_name=True)

    source: Literal["aws.states"]
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: dict
