"""The dashboard and the per-suite REGRESSED alarms (infra/dashboard.py), the `suites` setting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App
from pydantic import ValidationError

from evalpipe.run import metrics as run_metrics
from evalpipe.run.status import Verdict
from evalpipe.run.triggers import SUITE_NAME_PATTERN
from infra import constants
from infra.application import cdk_json_context
from infra.settings import PipelineSettings
from tests.infra.conftest import SUITES, Synth, render
from tests.infra.test_cfn_lint import _errors as cfn_lint_errors

PER_METRIC = "{EvalPipe,metric,service,suite}"
PER_VERDICT = "{EvalPipe,service,suite,verdict}"
ACROSS_SUITES = "SEARCH('{EvalPipe,service,verdict} MetricName=\"RunVerdict\"', 'Sum', 3600)"
EXECUTIONS = ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"]


def _suite_searches(suite: str) -> set[str]:
    where = f' suite="{suite}"'
    return {
        f"SEARCH('{PER_METRIC} MetricName=\"ScoreAverage\"{where}', 'Average', 3600)",
        f"SEARCH('{PER_METRIC} MetricName=\"NaRate\"{where}', 'Average', 3600)",
        f"SEARCH('{PER_METRIC} MetricName=\"LowScores\"{where}', 'Sum', 3600)",
        f"SEARCH('{PER_VERDICT} MetricName=\"RunVerdict\"{where}', 'Sum', 3600)",
    }


ALL_SUITES_SEARCHES = {expression.replace(' suite=""', "") for expression in _suite_searches("")}


def _dashboard(synth: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one dashboard's properties and its body (tokens rendered as <X> / <X.Attr>)."""
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    properties = dashboard["Properties"]
    return properties, json.loads(render(properties["DashboardBody"]))


def _graphs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [widget["properties"] for widget in body["widgets"] if widget["type"] == "metric"]


def _searches(body: dict[str, Any]) -> set[str]:
    return {
        entry[-1]["expression"]
        for graph in _graphs(body)
        for entry in graph["metrics"]
        if isinstance(entry[-1], dict) and "expression" in entry[-1]
    }


def _plain_metrics(body: dict[str, Any]) -> list[tuple[str, ...]]:
    """Named metrics as (namespace, name, dimension, value, ...) without the options."""
    return [
        tuple(entry[:-1] if isinstance(entry[-1], dict) else entry)
        for graph in _graphs(body)
        for entry in graph["metrics"]
        if isinstance(entry[0], str)
    ]


def _verdict_alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        logical_id: alarm["Properties"]
        for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("MetricName") == "RunVerdict"
    }


# --- the dashboard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "stack"), [("synth", "BedrockEvalPipeline"), ("with_suites", "EvalPipeSuites")]
)
def test_one_dashboard_named_after_the_stack(
    request: pytest.FixtureRequest, fixture: str, stack: str
) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    properties, body = _dashboard(synth)
    assert properties["DashboardName"] == f"evalpipe-{stack}"
    assert body["start"] == "-P7D"
    assert synth.resources("AWS::CloudWatch::Dashboard").keys() == {constants.DASHBOARD_LOGICAL_ID}
    assert synth.json["Outputs"]["DashboardName"]["Value"] == {"Ref": constants.DASHBOARD_LOGICAL_ID}


@pytest.mark.parametrize("fixture", ["synth", "with_suites"])
def test_only_the_dashboard_skips_a_cfn_lint_check(request: pytest.FixtureRequest, fixture: str) -> None:
    # cfn-lint 1.51's schema lacks the dashboard's Tags; nothing else may silence cfn-lint.
    synth: Synth = request.getfixturevalue(fixture)
    ignored = {
        logical_id: resource["Metadata"]["cfn-lint"]
        for logical_id, resource in synth.json["Resources"].items()
        if "cfn-lint" in resource.get("Metadata", {})
    }
    assert ignored == {constants.DASHBOARD_LOGICAL_ID: {"config": {"ignore_checks": ["E3002"]}}}
    assert synth.resource(constants.DASHBOARD_LOGICAL_ID)["Properties"]["Tags"] == [
        {"Key": "project", "Value": constants.PROJECT_TAG}
    ]


@pytest.mark.parametrize("fixture", ["synth", "with_suites"])
def test_pipeline_health_is_on_the_dashboard(request: pytest.FixtureRequest, fixture: str) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    _, body = _dashboard(synth)
    metrics = _plain_metrics(body)
    state_machine = f"<{constants.STATE_MACHINE_LOGICAL_ID}>"
    for name in EXECUTIONS:
        assert ("AWS/States", name, "StateMachineArn", state_machine) in metrics, name
    # Every dead-letter queue: datasets that did not start a run, suite schedules that did not
    # sync/start, executions that ended unsuccessfully and could not be reconciled
    for logical_id in (
        constants.TRIGGER_DLQ_LOGICAL_ID,
        constants.SCHEDULES_DLQ_LOGICAL_ID,
        constants.RECONCILE_DLQ_LOGICAL_ID,
    ):
        dlq = f"<{logical_id}.QueueName>"
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq) in metrics, logical_id
    assert ACROSS_SUITES in _searches(body)


def test_every_alarm_of_the_stack_is_in_the_alarm_widget(with_suites: Synth) -> None:
    _, body = _dashboard(with_suites)
    (widget,) = [w["properties"] for w in body["widgets"] if w["type"] == "alarm"]
    alarms = with_suites.resources("AWS::CloudWatch::Alarm")
    # By name (Ref), as local mode's CloudFormation resolves them
    arn = "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:<{}>"
    assert sorted(widget["alarms"]) == sorted(arn.format(logical_id) for logical_id in alarms)


def test_without_suites_the_dashboard_searches_all_suites(synth: Synth) -> None:
    properties, body = _dashboard(synth)
    assert _searches(body) == ALL_SUITES_SEARCHES | {ACROSS_SUITES}
    assert "suite=" not in render(properties["DashboardBody"])
    titles = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert [title for title in titles if title.startswith("## ")] == ["## All suites"]


def test_each_suite_has_its_searches(with_suites: Synth) -> None:
    _, body = _dashboard(with_suites)
    expected = {ACROSS_SUITES}.union(*(_suite_searches(suite) for suite in SUITES))
    assert _searches(body) == expected  # and not the all-suites section
    titles = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert [title for title in titles if title.startswith("## ")] == [f"## Suite `{s}`" for s in SUITES]


def test_search_graphs_label_each_line_and_use_the_hour(with_suites: Synth) -> None:
    _, body = _dashboard(with_suites)
    for graph in _graphs(body):
        for entry in graph["metrics"]:
            options = entry[-1]
            if "expression" in options:
                assert options["period"] == 3600, graph["title"]
                assert options["label"].startswith("${PROP('Dim."), graph["title"]


def test_the_suites_template_has_no_cfn_lint_errors(with_suites: Synth) -> None:
    assert cfn_lint_errors(with_suites.path) == []


# --- the alarms ------------------------------------------------------------------------------


def test_no_suites_no_verdict_alarms(synth: Synth) -> None:
    assert _verdict_alarms(synth) == {}
    assert dict(synth.stack.observability.alarms) == {}


def test_one_regressed_alarm_per_suite(with_suites: Synth) -> None:
    alarms = _verdict_alarms(with_suites)
    by_name = {properties["AlarmName"]: properties for properties in alarms.values()}
    assert sorted(by_name) == sorted(f"EvalPipeSuites-{suite}-regressed" for suite in SUITES)
    for suite in SUITES:
        properties = dict(by_name[f"EvalPipeSuites-{suite}-regressed"])
        assert suite in properties.pop("AlarmDescription")
        properties.pop("Tags")
        assert properties == {
            "AlarmName": f"EvalPipeSuites-{suite}-regressed",
            "Namespace": "EvalPipe",
            "MetricName": "RunVerdict",
            "Dimensions": [
                {"Name": "service", "Value": "evalpipe"},
                {"Name": "suite", "Value": suite},
                {"Name": "verdict", "Value": "REGRESSED"},
            ],
            "Statistic": "Sum",
            "Period": 3600,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": constants.TOPIC_LOGICAL_ID}],
        }


def test_the_construct_exposes_the_alarms_by_suite(with_suites: Synth) -> None:
    alarms = with_suites.stack.observability.alarms
    assert list(alarms) == SUITES
    with pytest.raises(TypeError):
        alarms["other"] = alarms[SUITES[0]]  # type: ignore[index]


def test_alarm_names_stay_within_cloudwatchs_limit() -> None:
    # The longest stack name (128) and suite name (63) the settings accept.
    longest = f"{'S' * 128}-{'s' * 63}-regressed"
    assert len(longest) <= 255


# --- the settings ----------------------------------------------------------------------------


def _from_context(**context: object) -> PipelineSettings:
    return PipelineSettings.from_context(App(context={**cdk_json_context(), **context}).node)


def test_suites_default_to_none() -> None:
    assert _from_context().suites == []


@pytest.mark.parametrize(
    "raw",
    ["support-assistant,billing-bot", " support-assistant , billing-bot ",
     '["support-assistant", "billing-bot"]', ["support-assistant", "billing-bot"]],
)  # fmt: skip
def test_suites_accept_json_or_comma_separated_strings(raw: object) -> None:
    assert _from_context(suites=raw).suites == ["support-assistant", "billing-bot"]


@pytest.mark.parametrize(
    "raw",
    ["-leading-dash", "has space", "a" * 64, "x/y", "émoji", '["ok", "not ok"]', "dup,dup", [""]],
)
def test_invalid_suite_names_are_rejected(raw: object) -> None:
    with pytest.raises(ValidationError, match="suite"):
        _from_context(suites=raw)


def test_suite_pattern_is_the_pipelines() -> None:
    from infra import settings

    assert settings._SUITE_NAME.pattern == SUITE_NAME_PATTERN.pattern


def test_metric_names_are_the_parse_steps() -> None:
    assert (constants.METRICS_NAMESPACE, constants.SERVICE_NAME) == (run_metrics.NAMESPACE, "evalpipe")
    assert constants.VERDICT_REGRESSED == Verdict.REGRESSED
    assert (
        constants.METRIC_SCORE_AVERAGE,
        constants.METRIC_NA_RATE,
        constants.METRIC_LOW_SCORES,
        constants.METRIC_RUN_VERDICT,
    ) == (run_metrics.SCORE_AVERAGE, run_metrics.NA_RATE, run_metrics.LOW_SCORES, run_metrics.RUN_VERDICT)
    assert (
        constants.DIMENSION_SERVICE, constants.DIMENSION_SUITE, constants.DIMENSION_METRIC,
        constants.DIMENSION_VERDICT,
    ) == (
        run_metrics.SERVICE_DIMENSION, run_metrics.SUITE_DIMENSION, run_metrics.METRIC_DIMENSION,
        run_metrics.VERDICT_DIMENSION,
    )  # fmt: skip
