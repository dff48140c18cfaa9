"""The CDK context -> PipelineSettings contract (cdk.json defaults, -c strings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aws_cdk import App
from pydantic import ValidationError

from infra.application import cdk_json_context
from infra.bundling import REPO_ROOT
from infra.settings import PipelineSettings


def _from_context(**context: object) -> PipelineSettings:
    return PipelineSettings.from_context(App(context={**cdk_json_context(), **context}).node)


def test_cdk_json_holds_the_documented_defaults() -> None:
    # Given cdk.json's context only
    settings = _from_context()

    # Then every default of the contract holds
    assert settings.evaluator_models == ["amazon.nova-pro-v1:0"]
    assert settings.alert_emails == []
    assert settings.suites == []
    assert settings.kms_key_arn is None
    assert settings.poll_interval_seconds == 60
    assert settings.job_timeout_seconds == 86_400
    assert settings.stack_name == "BedrockEvalPipeline"
    assert settings.lambda_architecture == "arm64"
    assert settings.log_retention_days == 30
    assert settings.error_path_reserved_concurrency == 2
    assert settings.table_deletion_protection is True
    assert (
        settings.inputs_expiration_days,
        settings.results_expiration_days,
        settings.reports_expiration_days,
        settings.datasets_expiration_days,
        settings.noncurrent_version_expiration_days,
    ) == (40, 400, 400, 0, 30)


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


def test_switches_given_as_strings_are_parsed() -> None:
    # `-c tableDeletionProtection=false -c errorPathReservedConcurrency=0` for a throw-away stack
    settings = _from_context(tableDeletionProtection="false", errorPathReservedConcurrency="0")
    assert (settings.table_deletion_protection, settings.error_path_reserved_concurrency) == (False, 0)


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
        {"jobTimeoutSeconds": 35 * 86_400},
        {"humanJobTimeoutSeconds": 35 * 86_400},
        {"humanPollMinSeconds": 7200, "humanPollMaxSeconds": 3600},
        {"stackName": "1-starts-with-a-digit"},
        {"errorPathReservedConcurrency": -1},
        {"inputsExpirationDays": 30},
        {"resultsExpirationDays": -1},
    ],
)
def test_invalid_settings_are_rejected(context: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _from_context(**context)


def test_cli_context_wins_over_cdk_json() -> None:
    # Given `cdk synth -c pollIntervalSeconds=15`: the CLI hands context over in CDK_CONTEXT_JSON,
    # which the jsii runtime reads at start-up, hence a fresh process
    script = (
        "from aws_cdk import App\n"
        "from infra.application import cdk_json_context\n"
        "from infra.settings import PipelineSettings\n"
        "s = PipelineSettings.from_context(App(context=cdk_json_context()).node)\n"
        "print(s.poll_interval_seconds, s.stack_name)\n"
    )
    env = {**os.environ, "CDK_CONTEXT_JSON": '{"pollIntervalSeconds": "15"}'}

    # When the app reads its settings the way app.py does
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )

    # Then the CLI's value wins and the rest keeps cdk.json's
    assert result.stdout.split() == ["15", "BedrockEvalPipeline"]
