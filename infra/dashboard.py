"""The pipeline's CloudWatch dashboard and one REGRESSED alarm per configured suite."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import constants as c
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# The EMF metrics are hourly material: a run publishes once, when it is parsed. One hour keeps
# the graphs readable over the dashboard's default week and matches the alarms' period.
METRICS_PERIOD = Duration.hours(1)
HEALTH_PERIOD = Duration.minutes(5)
DEFAULT_INTERVAL = Duration.days(7)
_WIDTH = 24  # a dashboard row
_HEIGHT = 6


def search_expression(metric_name: str, statistic: str, dimensions: Sequence[str], suite: str | None) -> str:
    """A CloudWatch SEARCH over the ``EvalPipe`` metrics with exactly ``dimensions``.

    Metric names and suites are data (a suite's file names its metrics), unknown at deploy
    time, so the graphs search instead of naming each metric. ``suite`` narrows the search to
    one suite by an exact match; suite names are ``[A-Za-z0-9][A-Za-z0-9_-]*`` (settings), so
    they need no escaping inside the quotes.

    Examples
    --------
    >>> print(search_expression("NaRate", "Average", ["suite", "metric", "service"], "bot"))
    SEARCH('{EvalPipe,metric,service,suite} MetricName="NaRate" suite="bot"', 'Average', 3600)
    """
    schema = ",".join([c.METRICS_NAMESPACE, *sorted(dimensions)])
    terms = [f'MetricName="{metric_name}"'] + ([f'{c.DIMENSION_SUITE}="{suite}"'] if suite else [])
    return f"SEARCH('{{{schema}}} {' '.join(terms)}', '{statistic}', {int(METRICS_PERIOD.to_seconds())})"


def _label(*dimensions: str) -> str:
    """A dynamic label naming each search result by its dimension values."""
    return " ".join(f"${{PROP('Dim.{dimension}')}}" for dimension in dimensions)


class Observability(Construct):
    """One dashboard ``evalpipe-<stack name>`` and, per suite in ``suites``, a REGRESSED alarm.

    The dashboard shows, top to bottom: the pipeline's health (executions started / succeeded /
    failed / timed out, the dead-letter queues, the state of every alarm), the run
    verdicts of all suites, then one section per suite in ``suites`` with its score averages,
    N/A rates and low-score counts per metric and its verdicts. Without ``suites`` one "All
    suites" section shows the same graphs for every suite and metric instead.

    A suite's alarm fires when a run of that suite ends ``REGRESSED``: ``RunVerdict`` (service,
    suite, verdict=REGRESSED), Sum over one hour >= 1, one evaluation period, missing data not
    breaching. One hour rather than five minutes: a run publishes its verdict once, so the
    alarm stays in ALARM for the hour after a regression (visible on the dashboard instead of
    flipping back to OK minutes later), a late EMF data point still lands in the period being
    evaluated, and the notify function already sends every regressed run to the topic on its
    own; the alarm adds a per-suite state and history.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    state_machine
        The pipeline.
    dead_letter_queues
        Label -> dead-letter queue (what the pipeline could not act on); one line each in one graph.
    alarm_action
        Where the suites' alarms go (the alerts topic).
    suites
        Suite names (validated by ``PipelineSettings``); each gets a section and an alarm.
    pipeline_alarms
        The other alarms of the stack, shown in the dashboard's alarm status widget.

    Attributes
    ----------
    dashboard : cloudwatch.Dashboard
    alarms : Mapping[str, cloudwatch.Alarm]
        Suite name -> its REGRESSED alarm (read-only; empty without ``suites``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarm_action: cloudwatch.IAlarmAction,
        suites: Sequence[str] = (),
        pipeline_alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._stack_name = Stack.of(self).stack_name
        self._alarms = MappingProxyType(self._build_alarms(suites, alarm_action))
        self._dashboard = self._build_dashboard(
            state_machine, dead_letter_queues, suites, [*pipeline_alarms, *self._alarms.values()]
        )

    @property
    def dashboard(self) -> cloudwatch.Dashboard:
        """The pipeline's dashboard."""
        return self._dashboard

    @property
    def alarms(self) -> Mapping[str, cloudwatch.Alarm]:
        """Suite name -> the alarm that fires when a run of it ends REGRESSED."""
        return self._alarms

    # --- alarms ------------------------------------------------------------------------------

    def _build_alarms(
        self, suites: Sequence[str], action: cloudwatch.IAlarmAction
    ) -> dict[str, cloudwatch.Alarm]:
        alarms = {}
        for suite in suites:
            metric = cloudwatch.Metric(
                namespace=c.METRICS_NAMESPACE,
                metric_name=c.METRIC_RUN_VERDICT,
                dimensions_map={
                    c.DIMENSION_SERVICE: c.SERVICE_NAME,
                    c.DIMENSION_SUITE: suite,
                    c.DIMENSION_VERDICT: c.VERDICT_REGRESSED,
                },
                statistic=cloudwatch.Stats.SUM,
                period=METRICS_PERIOD,
            )
            alarm = cloudwatch.Alarm(
                self,
                f"Regressed-{suite}",
                # <= 128 + 1 + 63 + 10 characters: well within CloudWatch's 255.
                alarm_name=f"{self._stack_name}-{suite}-regressed",
                alarm_description=f"A run of suite {suite} ended REGRESSED against its baseline",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarms[suite] = alarm
        return alarms

    # --- dashboard ---------------------------------------------------------------------------

    def _build_dashboard(
        self,
        state_machine: sfn.IStateMachine,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        suites: Sequence[str],
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{c.DASHBOARD_NAME_PREFIX}{self._stack_name}",
            default_interval=DEFAULT_INTERVAL,
        )
        resource = pin_logical_id(dashboard, c.DASHBOARD_LOGICAL_ID)  # the stack outputs its name
        # CloudFormation takes Tags on a dashboard (the stack's `project` tag lands here), but the
        # resource schema of the pinned cfn-lint predates them: E3002 "Tags was unexpected". Only
        # that check, only on this resource; drop it once cfn-lint's schema lists Tags.
        resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3002"]}})
        dashboard.add_widgets(self._build_header(suites))
        dashboard.add_widgets(*self._build_health_widgets(state_machine, dead_letter_queues, alarms))
        dashboard.add_widgets(self._build_verdicts_widget())
        for suite in suites or [None]:
            dashboard.add_widgets(self._build_section_title(suite))
            dashboard.add_widgets(*self._build_suite_widgets(suite))
        return dashboard

    def _build_header(self, suites: Sequence[str]) -> cloudwatch.TextWidget:
        sections = ", ".join(f"`{suite}`" for suite in suites) or "all suites together (no `suites` set)"
        return cloudwatch.TextWidget(
            markdown=(
                f"# Bedrock evaluation pipeline `{self._stack_name}`\n"
                f"Pipeline health, then the `{c.METRICS_NAMESPACE}` metrics the parse step publishes "
                f"per run (hourly). Sections: {sections}."
            ),
            width=_WIDTH,
            height=2,
        )

    def _build_health_widgets(
        self,
        state_machine: sfn.IStateMachine,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> list[cloudwatch.IWidget]:
        executions = {
            "Started": state_machine.metric_started,
            "Succeeded": state_machine.metric_succeeded,
            "Failed": state_machine.metric_failed,
            "Timed out": state_machine.metric_timed_out,
        }
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    metric(label=label, statistic=cloudwatch.Stats.SUM, period=HEALTH_PERIOD)
                    for label, metric in executions.items()
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
                width=_WIDTH // 3,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues (events the pipeline could not act on)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        label=label, statistic=cloudwatch.Stats.MAXIMUM, period=HEALTH_PERIOD
                    )
                    for label, queue in dead_letter_queues.items()
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
                width=_WIDTH // 3,
                height=_HEIGHT,
            ),
        ]
        if alarms:
            # Each alarm by its name (Ref) rather than its Arn attribute: the same ARN, and the
            # local mode's CloudFormation (moto, local/moto_patches.py) resolves an alarm's Ref only.
            by_name = [
                cloudwatch.Alarm.from_alarm_name(self, f"Status{index}", alarm.alarm_name)
                for index, alarm in enumerate(alarms)
            ]
            widgets.append(
                cloudwatch.AlarmStatusWidget(
                    title="Alarms", alarms=by_name, width=_WIDTH // 3, height=_HEIGHT
                )
            )
        return widgets

    def _build_verdicts_widget(self) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title="Run verdicts, all suites",
            left=[
                self._search(
                    c.METRIC_RUN_VERDICT, "Sum", [c.DIMENSION_SERVICE, c.DIMENSION_VERDICT], None,
                    _label(c.DIMENSION_VERDICT),
                )
            ],
            left_y_axis=cloudwatch.YAxisProps(min=0, label="Runs", show_units=False),
            stacked=True,
            width=_WIDTH,
            height=_HEIGHT,
        )  # fmt: skip

    def _build_section_title(self, suite: str | None) -> cloudwatch.TextWidget:
        title = f"## Suite `{suite}`" if suite else "## All suites"
        return cloudwatch.TextWidget(markdown=title, width=_WIDTH, height=1)

    def _build_suite_widgets(self, suite: str | None) -> list[cloudwatch.GraphWidget]:
        """Score averages, N/A rates, low scores and verdicts of ``suite`` (``None``: every suite)."""
        per_metric = [c.DIMENSION_METRIC, c.DIMENSION_SERVICE, c.DIMENSION_SUITE]
        per_verdict = [c.DIMENSION_SERVICE, c.DIMENSION_SUITE, c.DIMENSION_VERDICT]
        # One suite: a line per metric; every suite: a line per (suite, metric).
        by_suite = [] if suite else [c.DIMENSION_SUITE]
        metric_label = _label(*by_suite, c.DIMENSION_METRIC)
        verdict_label = _label(*by_suite, c.DIMENSION_VERDICT)
        graphs = [
            ("Score average per metric", c.METRIC_SCORE_AVERAGE, "Average", per_metric, metric_label,
             cloudwatch.YAxisProps(show_units=False)),
            ("N/A rate per metric (%)", c.METRIC_NA_RATE, "Average", per_metric, metric_label,
             cloudwatch.YAxisProps(min=0, max=100, show_units=False)),
            ("Low scores per metric", c.METRIC_LOW_SCORES, "Sum", per_metric, metric_label,
             cloudwatch.YAxisProps(min=0, show_units=False)),
            ("Run verdicts", c.METRIC_RUN_VERDICT, "Sum", per_verdict, verdict_label,
             cloudwatch.YAxisProps(min=0, show_units=False)),
        ]  # fmt: skip
        return [
            cloudwatch.GraphWidget(
                title=title,
                left=[self._search(metric_name, statistic, dimensions, suite, label)],
                left_y_axis=axis,
                stacked=metric_name == c.METRIC_RUN_VERDICT,
                width=_WIDTH // len(graphs),
                height=_HEIGHT,
            )
            for title, metric_name, statistic, dimensions, label, axis in graphs
        ]

    @staticmethod
    def _search(
        metric_name: str, statistic: str, dimensions: Sequence[str], suite: str | None, label: str
    ) -> cloudwatch.SearchExpression:
        return cloudwatch.SearchExpression(
            expression=search_expression(metric_name, statistic, dimensions, suite),
            label=label,
            period=METRICS_PERIOD,
        )
