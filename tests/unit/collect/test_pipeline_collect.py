"""Collection in the pipeline, offline: header values from Secrets Manager, ``pipeline.collect`` and
its deployment checks, and the scenarios trigger."""

from __future__ import annotations

import json

import pytest

from evalpipe.collect import MissingHeaderValue, env_headers, parse_target, secret_headers
from evalpipe.run.triggers import (
    DatasetObject,
    ScenariosObject,
    TriggerKind,
    trigger_from_event,
    trigger_from_run,
)
from evalpipe.suite.pipeline import CollectSettings
from evalpipe.validation import validate_suite
from evalpipe.validation.deployment import CollectAccess, DeploymentLimits
from tests.builders import judge_suite

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-token-AbCdEf"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:bookstore"


def http(**headers: dict) -> dict:
    return {"type": "http", "url": "https://app.example/chat", "answerPath": "$.answer", "headers": headers}


# --- header values ---------------------------------------------------------------------------


def test_secret_headers_read_each_secret_once_and_pick_the_json_key() -> None:
    # Given two headers reading one JSON secret, one by key and one whole
    target = parse_target(
        http(
            Authorization={"secretArn": SECRET, "jsonKey": "token", "prefix": "Bearer "},
            **{"X-Raw": {"secretArn": SECRET}},
        )
    )
    reads: list[str] = []

    def secret_string(arn: str) -> str:
        reads.append(arn)
        return json.dumps({"token": "t0k"})

    # When resolved / Then each value, and one read of the secret
    assert secret_headers(target, secret_string) == {
        "Authorization": "Bearer t0k",
        "X-Raw": '{"token": "t0k"}',
    }
    assert reads == [SECRET]


def test_a_missing_json_key_names_the_header_and_secret_never_the_value() -> None:
    target = parse_target(http(Authorization={"secretArn": SECRET, "jsonKey": "token"}))
    with pytest.raises(MissingHeaderValue) as raised:
        secret_headers(target, lambda _: '{"other": "hunter2"}')
    assert "Authorization" in str(raised.value) and SECRET in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_each_source_is_refused_where_it_cannot_be_read() -> None:
    from_env = parse_target(http(Authorization={"env": "APP_TOKEN"}))
    from_secret = parse_target(http(Authorization={"secretArn": SECRET}))
    with pytest.raises(MissingHeaderValue, match="pipeline does not have"):
        secret_headers(from_env, lambda _: "x")
    with pytest.raises(MissingHeaderValue, match="only the pipeline reads"):
        env_headers(from_secret, {"APP_TOKEN": "x"})


# --- pipeline.collect ------------------------------------------------------------------------


def test_collect_settings_default_to_the_targets_tags_and_batches_of_20() -> None:
    settings = CollectSettings.model_validate(
        {"target": {"type": "bedrock", "modelId": "m", "stripTags": ["x"]}}
    )
    assert (settings.batch_size, settings.each_turn, settings.tags) == (20, False, ("x",))
    assert (
        CollectSettings.model_validate({"target": {"type": "bedrock", "modelId": "m"}, "stripTags": []}).tags
        == ()
    )


@pytest.mark.parametrize(
    ("target", "access", "field", "setting"),
    [
        (
            {"type": "bedrock", "modelId": "m1"},
            CollectAccess(models=["m2"]),
            "target.modelId",
            "collectModels",
        ),
        (http(A={"secretArn": SECRET}), CollectAccess(), "target.headers.A.secretArn", "collectSecrets"),
        (
            {"type": "lambda", "functionName": "other", "answerPath": "$.a"},
            CollectAccess(functions=[FUNCTION]),
            "target.functionName",
            "collectFunctions",
        ),
    ],
)
def test_a_target_the_deployment_does_not_list_is_an_error_naming_the_setting(
    target: dict, access: CollectAccess, field: str, setting: str
) -> None:
    suite = judge_suite(pipeline={"collect": {"target": target}})
    report = validate_suite(suite, "suites/s.json", limits=DeploymentLimits(collect=access))
    [problem] = report.errors()
    assert problem.field == f"pipeline.collect.{field}"
    assert setting in problem.message


def test_listed_targets_pass_and_a_function_may_be_named_by_its_name() -> None:
    access = CollectAccess(models=["m1"], secrets=[SECRET], functions=[FUNCTION])
    for target in (
        {"type": "bedrock", "modelId": "m1"},
        http(A={"secretArn": SECRET}),
        {"type": "lambda", "functionName": "bookstore", "answerPath": "$.a"},
    ):
        suite = judge_suite(pipeline={"collect": {"target": target}})
        assert validate_suite(suite, "suites/s.json", limits=DeploymentLimits(collect=access)).ok, target


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://app.example/chat", True),
        ("http://app.example/chat", False),  # the secret header would cross the network in clear
        ("http://127.0.0.1:8080/chat", True),  # the local mode's app
        ("http://localhost/chat", True),
    ],
)
def test_a_pipeline_http_target_must_be_https_unless_it_is_the_local_host(url: str, ok: bool) -> None:
    target = {**http(A={"secretArn": SECRET}), "url": url}
    suite = judge_suite(pipeline={"collect": {"target": target}})
    report = validate_suite(
        suite, "suites/s.json", limits=DeploymentLimits(collect=CollectAccess(secrets=[SECRET]))
    )
    if ok:
        assert report.ok, report.errors()
    else:
        [problem] = report.errors()
        assert problem.field == "pipeline.collect.target.url"
        assert "https://" in problem.message


def test_collect_needs_a_valid_shape_and_precomputed_responses() -> None:
    bad_batch = judge_suite(
        pipeline={"collect": {"target": {"type": "bedrock", "modelId": "m"}, "batchSize": 0}}
    )
    assert {p.field for p in validate_suite(bad_batch, "suites/s.json").errors()} == {
        "pipeline.collect.batchSize"
    }
    live = judge_suite(pipeline={"collect": {"target": {"type": "bedrock", "modelId": "m"}}})
    del live["inferenceConfig"]
    problems = [p for p in validate_suite(live, "suites/s.json").errors() if p.field == "pipeline.collect"]
    assert len(problems) == 1 and "precomputedInferenceSource" in problems[0].message


# --- the trigger -----------------------------------------------------------------------------


def event(key: str) -> dict:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": "2026-11-23T19:00:00Z",
        "detail": {
            "bucket": {"name": "b"},
            "object": {"key": key, "size": 10, "etag": "e", "version-id": "v"},
        },
    }


def test_a_key_under_scenarios_is_a_scenarios_trigger_stored_like_a_dataset() -> None:
    trigger = trigger_from_event(event("scenarios/qa/chat.json"))
    assert isinstance(trigger, ScenariosObject)
    assert (trigger.suite, trigger.name, trigger.kind, trigger.key_problem) == (
        "qa",
        "chat",
        TriggerKind.SCENARIOS,
        None,
    )
    assert trigger.describe() == "scenarios s3://b/scenarios/qa/chat.json"
    stored = {"trigger": "scenarios", "dataset": trigger.as_item()}
    assert isinstance(trigger_from_run(stored), ScenariosObject)
    # A dataset stays a dataset
    assert type(trigger_from_event(event("datasets/qa/a.jsonl"))) is DatasetObject


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("scenarios/qa/chat.yaml", "only .json scenarios files"),
        ("scenarios/chat.json", "scenarios must be uploaded as scenarios/<suite>/<name>.json"),
    ],
)
def test_a_badly_placed_scenarios_file_has_a_key_problem(key: str, problem: str) -> None:
    trigger = trigger_from_event(event(key))
    assert trigger.key_problem is not None and problem in trigger.key_problem
