"""The adapters one pipeline step works with, bundled so steps receive them as one argument."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalpipe.run.triggers import now_utc

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from evalpipe.aws.bedrock_jobs import BedrockJobs
    from evalpipe.aws.objects import Objects
    from evalpipe.aws.runs_table import RunsTable
    from evalpipe.aws.schedules import Schedules
    from evalpipe.aws.slots import Slots
    from evalpipe.settings import Settings


@dataclass
class Ports:
    """Everything a step touches outside itself; tests build one from moto-backed or stubbed clients.

    Parameters
    ----------
    objects
        The product bucket (suites, datasets, results).
    runs
        The runs table.
    jobs
        The Bedrock evaluation-job control plane.
    sns_client
        A boto3 SNS client (notify only).
    settings
        The function's typed environment.
    clock
        Returns the current UTC time; injected so deadlines are testable.
    """

    objects: Objects
    runs: RunsTable
    jobs: BedrockJobs
    sns_client: Any
    settings: Settings
    clock: Callable[[], datetime] = field(default=now_utc)

    @property
    def slots(self) -> Slots:
        """The account's job pools (items of the runs table)."""
        return self.runs.job_slots(self.clock)


@dataclass
class SchedulePorts:
    """What the SyncSchedules function touches: suite files, the stack's schedules, the alerts topic.

    Parameters
    ----------
    objects
        The product bucket (``suites/<suite>.json``).
    schedules
        The stack's EventBridge Scheduler schedule group.
    sns_client
        A boto3 SNS client (alerts about invalid suite files).
    settings
        The function's typed environment (state machine, scheduler role, topic).
    """

    objects: Objects
    schedules: Schedules
    sns_client: Any
    settings: Settings


@dataclass
class CollectPorts:
    """What the collect function touches: the run, its inputs, and the app under test.

    The app's clients are factories: a batch builds only the one its target needs.

    Parameters
    ----------
    objects
        The product bucket (the run's ``inputs/`` prefix).
    runs
        The runs table (read only: the run and its validated suite).
    settings
        The function's typed environment.
    bedrock_runtime
        Returns a ``bedrock-runtime`` client (Converse) for a ``bedrock`` target.
    lambda_client
        Returns a ``lambda`` client for a ``lambda`` target.
    secret_string
        ``secret_string(arn)`` -> the secret's ``SecretString`` (GetSecretValue): header values.
    http
        Returns a ``urllib3.PoolManager`` (retries: `evalpipe.collect.http_retry`) for an ``http`` target.
    """

    objects: Objects
    runs: RunsTable
    settings: Settings
    bedrock_runtime: Callable[[], Any]
    lambda_client: Callable[[], Any]
    secret_string: Callable[[str], str]
    http: Callable[[], Any]
