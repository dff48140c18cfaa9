"""CloudWatch metrics of a run: per-suite, per-metric score statistics and the run's verdict.

They are CloudWatch Embedded Metric Format (EMF) documents printed to a function's log; CloudWatch
turns each document into metric data points. The parse function publishes a completed run's
score statistics (`score_metric_groups`, `handlers.parse`); the notify function publishes every
run's verdict once, when it sends the run's notification (`verdict_metric_groups`,
`handlers.notify`), so FAILED, REJECTED, TIMED_OUT and ERROR runs count as well as completed
ones. This module only decides *what* is published, as plain data, so it is testable without
Powertools.

Namespace ``EvalPipe`` (``POWERTOOLS_METRICS_NAMESPACE``). Every dimension set also carries
``service=evalpipe`` (Powertools adds ``POWERTOOLS_SERVICE_NAME`` to each document).

=================  =========  =====================================  ===============================
metric             unit       dimension sets                         value
=================  =========  =====================================  ===============================
``ScoreAverage``   None       {service, suite, metric}               the metric's average (0..1 for
                                                                     built-ins); left out when every
                                                                     score was N/A
``NaRate``         Percent    {service, suite, metric}               share of N/A scores, 0..100
``LowScores``      Count      {service, suite, metric}               scores flagged by the rule
``RunVerdict``     Count      {service, suite, verdict},             1 per notified run, whatever
                              {service, verdict}                     its verdict
=================  =========  =====================================  ===============================

Why one EMF document per (suite, metric): an EMF document has one set of dimension *values*
(its top-level keys), so documents whose ``metric`` dimension differs cannot share one, and
Powertools' shared ``Metrics`` object flushes a single dimension set per invocation (adding
``metric`` to it would mislabel ``RecordsParsed``). Each group below is therefore flushed on
its own, with its three metrics sharing the group's dimensions. ``RunVerdict`` has a second,
suite-less dimension set so one alarm can watch every suite (``verdict = REGRESSED``).

Cost note: each (suite, metric) pair makes three custom metrics, each (suite, verdict) one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from evalpipe.run.triggers import RunStatus

NAMESPACE = "EvalPipe"
SERVICE_DIMENSION = "service"
SUITE_DIMENSION = "suite"
METRIC_DIMENSION = "metric"
VERDICT_DIMENSION = "verdict"

SCORE_AVERAGE = "ScoreAverage"
NA_RATE = "NaRate"
LOW_SCORES = "LowScores"
RUN_VERDICT = "RunVerdict"

# CloudWatch dimension values: 1..1024 characters, at least one that is not whitespace.
MAX_DIMENSION_VALUE = 1024


@dataclass(frozen=True)
class Datum:
    """One metric value: its name, CloudWatch unit (``None``, ``Percent``, ``Count``) and value."""

    name: str
    unit: str
    value: float


@dataclass(frozen=True)
class MetricGroup:
    """Metrics that share one set of dimension values: one EMF document.

    Attributes
    ----------
    dimensions
        The dimension set and its values (``service`` is added when published).
    metrics
        The values published under those dimensions.
    rollups
        Further dimension sets, each a subset of ``dimensions``' names, under which the same
        values are also aggregated (EMF publishes one data point per dimension set).
    """

    dimensions: dict[str, str]
    metrics: list[Datum]
    rollups: list[tuple[str, ...]] = field(default_factory=list)


def score_metric_groups(run: Mapping[str, Any]) -> list[MetricGroup]:
    """The score statistics a COMPLETED run publishes; nothing for any other status or no suite.

    Parameters
    ----------
    run
        The run item after the parse step (``suite``, ``status``, ``metrics``
        {name -> {average, na_rate, scored, na, low_count}}).

    Returns
    -------
    list[MetricGroup]
        One group per metric of the run, sorted by name.
    """
    suite = _dimension_value(run.get("suite"))
    if run.get("status") != RunStatus.COMPLETED or suite is None:
        return []
    groups = []
    metrics = run.get("metrics")
    for name, summary in sorted((metrics if isinstance(metrics, Mapping) else {}).items()):
        metric = _dimension_value(name)
        if metric is None or not isinstance(summary, Mapping):
            continue
        data = []
        average = _number(summary.get("average"))
        if average is not None:
            data.append(Datum(SCORE_AVERAGE, "None", average))
        na_rate = _na_rate(summary)
        if na_rate is not None:
            data.append(Datum(NA_RATE, "Percent", round(na_rate * 100, 4)))
        data.append(Datum(LOW_SCORES, "Count", _number(summary.get("low_count")) or 0.0))
        groups.append(MetricGroup({SUITE_DIMENSION: suite, METRIC_DIMENSION: metric}, data))
    return groups


def verdict_metric_groups(run: Mapping[str, Any]) -> list[MetricGroup]:
    """The ``RunVerdict`` a notified run publishes, whatever its verdict; nothing without one.

    Parameters
    ----------
    run
        The run item as notified (``suite``, ``verdict``): PASSED, LOW_SCORES, REGRESSED, FAILED,
        STOPPED, TIMED_OUT, REJECTED or ERROR.

    Returns
    -------
    list[MetricGroup]
        The verdict per suite, rolled up over every suite (one alarm can watch them all); empty
        when the run has no suite or no verdict.
    """
    suite = _dimension_value(run.get("suite"))
    verdict = _dimension_value(run.get("verdict"))
    if suite is None or verdict is None:
        return []
    return [
        MetricGroup(
            {SUITE_DIMENSION: suite, VERDICT_DIMENSION: verdict},
            [Datum(RUN_VERDICT, "Count", 1.0)],
            rollups=[(VERDICT_DIMENSION,)],
        )
    ]


def _na_rate(summary: Mapping[str, Any]) -> float | None:
    rate = _number(summary.get("na_rate"))
    if rate is not None:
        return rate
    scored, na = _number(summary.get("scored")), _number(summary.get("na"))
    if scored is None or na is None or scored + na <= 0:
        return None
    return na / (scored + na)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _dimension_value(value: object) -> str | None:
    text = str(value) if isinstance(value, str) else ""
    return text[:MAX_DIMENSION_VALUE] if text.strip() else None
