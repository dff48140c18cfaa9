"""What every handler shares: Powertools utilities and the adapters built from the environment.

Nothing here creates a client at import; `ports()` builds them on first use, once per
configuration, so warm invocations reuse connections and tests can swap the environment.
Endpoints come from the standard AWS environment (AWS_ENDPOINT_URL*, region): the same code
runs in AWS and in the local mode.
"""

from __future__ import annotations

import os
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from botocore.config import Config

from evalpipe.aws.bedrock_jobs import BedrockJobs
from evalpipe.aws.objects import Objects
from evalpipe.aws.runs_table import RunsTable
from evalpipe.ports import CollectPorts, Ports, SchedulePorts
from evalpipe.run.metrics import NAMESPACE, SERVICE_DIMENSION, MetricGroup
from evalpipe.settings import Settings, settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import BaseModel

    from evalpipe.aws.executions import Executions

ModelT = TypeVar("ModelT", bound="BaseModel")
ResultT = TypeVar("ResultT")

# Lambda sets POWERTOOLS_* before this module loads; the defaults keep the names right when the
# module was imported earlier in a process that runs several functions (tests, the local mode).
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "evalpipe")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=METRICS_NAMESPACE)


def xray_subsegments() -> bool:
    """Whether the X-Ray SDK records subsegments (Powertools Tracer): off unless
    ``POWERTOOLS_TRACE_DISABLED`` is set to a false value.

    Lambda's and Step Functions' active tracing draw the trace without it (each state, each
    invocation with its initialisation and duration); the SDK adds a subsegment per AWS call and
    a ColdStart annotation, for 110-180 ms of imports in every cold start (docs/performance.md).
    """
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in {"0", "false", "no", "off"}


class Untraced:
    """Powertools Tracer's decorators, doing nothing, without importing the X-Ray SDK."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: Any = None, **_: Any) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        """Nothing to annotate."""

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Nothing to record."""


def _tracer() -> Any:
    if not xray_subsegments():
        return Untraced()
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 -- imports the X-Ray SDK

    return Tracer(service=SERVICE)


tracer = _tracer()

# Standard retry mode backs off on throttling inside one invocation; Step Functions retries
# across invocations (BedrockThrottled) when that is not enough.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, user_agent_extra="evalpipe")


def event_parser(
    *, model: type[ModelT]
) -> Callable[[Callable[[ModelT, LambdaContext], ResultT]], Callable[[Any, LambdaContext], ResultT]]:
    """Powertools Parser's ``@event_parser(model=...)``: the handler receives the validated model.

    The same behaviour (a JSON string or a dict, pydantic's ValidationError on a bad event)
    without importing Parser's envelopes and its ~80 AWS event models (90 ms of a cold start).
    """

    def decorate(
        handler: Callable[[ModelT, LambdaContext], ResultT],
    ) -> Callable[[Any, LambdaContext], ResultT]:
        @wraps(handler)
        def parsed(event: Any, context: LambdaContext, **kwargs: Any) -> ResultT:
            value = (
                model.model_validate_json(event)
                if isinstance(event, str | bytes)
                else model.model_validate(event)
            )
            return handler(value, context, **kwargs)

        return parsed

    return decorate


@cache
def _ports_for(config: Settings) -> Ports:
    session = boto3.session.Session()
    return Ports(
        objects=Objects(session.client("s3", config=CLIENT_CONFIG), config.bucket_name),
        runs=RunsTable(session.resource("dynamodb", config=CLIENT_CONFIG).Table(config.runs_table_name)),
        jobs=BedrockJobs(session.client("bedrock", config=CLIENT_CONFIG)),
        sns_client=session.client("sns", config=CLIENT_CONFIG),
        settings=config,
    )


def ports() -> Ports:
    """The adapters for the current environment."""
    return _ports_for(settings())


@cache
def _collect_ports_for(config: Settings) -> CollectPorts:
    from evalpipe.collect import boto_config, http_retry  # noqa: PLC0415 -- the collect function's alone

    session = boto3.session.Session()
    client_config = boto_config(max_attempts=5, concurrency=config.collect_threads).merge(
        Config(user_agent_extra="evalpipe")
    )
    secrets: dict[str, str] = {}

    def secret_string(arn: str) -> str:
        # Read once per warm container: a rotated secret is read again by the next cold start.
        if arn not in secrets:
            client = session.client("secretsmanager", config=CLIENT_CONFIG)
            secrets[arn] = client.get_secret_value(SecretId=arn)["SecretString"]
        return secrets[arn]

    def http() -> Any:
        import urllib3  # noqa: PLC0415

        return urllib3.PoolManager(maxsize=config.collect_threads, retries=http_retry(5))

    return CollectPorts(
        objects=Objects(session.client("s3", config=CLIENT_CONFIG), config.bucket_name),
        runs=RunsTable(session.resource("dynamodb", config=CLIENT_CONFIG).Table(config.runs_table_name)),
        settings=config,
        bedrock_runtime=cache(lambda: session.client("bedrock-runtime", config=client_config)),
        lambda_client=cache(lambda: session.client("lambda", config=client_config)),
        secret_string=secret_string,
        http=cache(http),
    )


def collect_ports() -> CollectPorts:
    """The collect function's adapters for the current environment."""
    return _collect_ports_for(settings())


@cache
def _schedule_ports_for(config: Settings) -> SchedulePorts:
    from evalpipe.aws.schedules import Schedules  # noqa: PLC0415 -- SyncSchedules' alone

    session = boto3.session.Session()
    return SchedulePorts(
        objects=Objects(session.client("s3", config=CLIENT_CONFIG), config.bucket_name),
        schedules=Schedules(
            session.client("scheduler", config=CLIENT_CONFIG), config.schedule_group_name or ""
        ),
        sns_client=session.client("sns", config=CLIENT_CONFIG),
        settings=config,
    )


def schedule_ports() -> SchedulePorts:
    """The SyncSchedules function's adapters for the current environment."""
    return _schedule_ports_for(settings())


@cache
def _executions_for(config: Settings) -> Executions:
    from evalpipe.aws.executions import Executions  # noqa: PLC0415 -- Reconcile's alone

    return Executions(boto3.session.Session().client("stepfunctions", config=CLIENT_CONFIG))


def executions() -> Executions:
    """The pipeline's executions (the reconcile function reads their history)."""
    return _executions_for(settings())


def reset() -> None:
    """Forget cached settings and clients (tests and the local runner change the environment)."""
    settings.cache_clear()
    _ports_for.cache_clear()
    _schedule_ports_for.cache_clear()
    _collect_ports_for.cache_clear()
    _executions_for.cache_clear()


def publish_metric_groups(groups: list[MetricGroup], log: Logger) -> None:
    """Print one EMF document per group (its own dimension set), apart from the shared `metrics`.

    Powertools' `Metrics` holds a single dimension set per flush, so metrics whose dimension
    *values* differ (one per suite x metric) each get their own EMF provider, flushed at once.
    Honours ``POWERTOOLS_METRICS_DISABLED`` like every Powertools flush. A failure is logged on
    ``log``, never raised: metrics are reported after the step's work is stored.
    """
    try:
        _flush(groups)
    except Exception:
        log.exception("the run's CloudWatch metrics were not published")


def _flush(groups: list[MetricGroup]) -> None:
    for group in groups:
        emf = AmazonCloudWatchEMFProvider(namespace=METRICS_NAMESPACE, service=SERVICE)
        for name, value in group.dimensions.items():
            emf.add_dimension(name=name, value=value)
        for rollup in group.rollups:
            emf.add_dimensions(**{SERVICE_DIMENSION: SERVICE}, **{n: group.dimensions[n] for n in rollup})
        for datum in group.metrics:
            emf.add_metric(name=datum.name, unit=datum.unit, value=datum.value)
        emf.flush_metrics()
