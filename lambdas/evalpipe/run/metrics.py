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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalpipe.run.status import RunStatus

if TYPE_CHECKING:
    from evalpipe.run.model import Run

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


def score_metric_groups(run: Run) -> list[MetricGroup]:
    """The score statistics a COMPLETED run publishes; nothing for any other status.

    Returns
    -------
    list[MetricGroup]
        One group per metric of the run, sorted by name.
    """
    suite = _dimension_value(run.suite)
    if run.status is not RunStatus.COMPLETED or suite is None:
        return []
    groups = []
    for name, summary in sorted(run.metrics.items()):
        metric = _dimension_value(name)
        if metric is None:
            continue
        data = []
        if summary.average is not None and math.isfinite(summary.average):
            data.append(Datum(SCORE_AVERAGE, "None", summary.average))
        data.append(Datum(NA_RATE, "Percent", round(summary.na_rate * 100, 4)))
        data.append(Datum(LOW_SCORES, "Count", float(summary.low_count)))
        groups.append(MetricGroup({SUITE_DIMENSION: suite, METRIC_DIMENSION: metric}, data))
    return groups


def verdict_metric_groups(run: Run) -> list[MetricGroup]:
    """The ``RunVerdict`` a notified run publishes, whatever its verdict; nothing without one.

    Returns
    -------
    list[MetricGroup]
        The verdict (PASSED, LOW_SCORES, REGRESSED, FAILED, STOPPED, TIMED_OUT, REJECTED or ERROR)
        per suite, rolled up over every suite (one alarm can watch them all); empty when the run
        has no verdict.
    """
    suite = _dimension_value(run.suite)
    verdict = _dimension_value(run.verdict)
    if suite is None or verdict is None:
        return []
    return [
        MetricGroup(
            {SUITE_DIMENSION: suite, VERDICT_DIMENSION: verdict},
            [Datum(RUN_VERDICT, "Count", 1.0)],
            rollups=[(VERDICT_DIMENSION,)],
        )
    ]


def _dimension_value(value: object) -> str | None:
    text = str(value) if isinstance(value, str) else ""
    return text[:MAX_DIMENSION_VALUE] if text.strip() else None
