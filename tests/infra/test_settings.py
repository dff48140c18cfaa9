"""The CDK context -> PipelineSettings contract (cdk.json defaults, -c strings)."""

from __future__ import annotations

import pytest
from aws_cdk import App
from pydantic import ValidationError

from infra.application import cdk_json_context
from infra.settings import PipelineSettings


def _from_context(**context: object) -> PipelineSettings:
    return PipelineSettings.from_context(App(context={**cdk_json_context(), **context}).node)


def test_cdk_json_holds_the_documented_defaults() -> None:
    # Given cdk.json's context only
    settings = _from_context()

    # Then every default of the contract holds
    assert settings.evaluator_models == ["amazon.nova-pro-v1:0"]
    assert settings.alert_emails == []
    assert settings.kms_key_arn is None
    assert settings.poll_interval_seconds == 60
    assert settings.job_timeout_seconds == 86_400
    assert settings.stack_name == "BedrockEvalPipeline"
    assert settings.lambda_architecture == "arm64"
    assert settings.log_retention_days == 30


def test_cdk_json_defaults_equal_the_model_defaults() -> None:
    # `python3 app.py` without cdk.json must build the same stack
    assert _from_context() == PipelineSettings()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.b-v1:0", ["a.b-v1:0"]),
        ("a.b-v1:0, us.c.d-v1:0", ["a.b-v1:0", "us.c.d-v1:0"]),
        ('["a.b-v1:0", "us.c.d-v1:0"]', ["a.b-v1:0", "us.c.d-v1:0"]),
        (["a.b-v1:0"], ["a.b-v1:0"]),
    ],
)
def test_lists_accept_json_or_comma_separated_strings(raw: object, expected: list[str]) -> None:
    assert _from_context(evaluatorModels=raw).evaluator_models == expected


def test_numbers_given_as_strings_are_coerced() -> None:
    settings = _from_context(pollIntervalSeconds="30", jobTimeoutSeconds="3600", logRetentionDays="90")
    assert (settings.poll_interval_seconds, settings.job_timeout_seconds, settings.log_retention_days) == (
        30,
        3600,
        90,
    )


def test_empty_kms_key_means_no_key() -> None:
    assert _from_context(kmsKeyArn="").kms_key_arn is None


@pytest.mark.parametrize(
    "context",
    [
        {"evaluatorModels": ""},
        {"evaluatorModels": "[]"},
        {"alertEmails": "not-an-address"},
        {"kmsKeyArn": "alias/aws/s3"},
        {"lambdaArchitecture": "arm"},
        {"logRetentionDays": 31},
        {"pollIntervalSeconds": 0},
        {"jobTimeoutSeconds": 7 * 86_400},
        {"stackName": "1-starts-with-a-digit"},
    ],
)
def test_invalid_settings_are_rejected(context: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _from_context(**context)
