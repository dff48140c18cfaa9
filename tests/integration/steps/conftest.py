"""The Lambda handlers' environment; the steps' fixtures are in tests/integration/conftest.py."""

from __future__ import annotations

import pytest

from handlers import _runtime
from tests.builders import JUDGE
from tests.integration.steps.flow import ROLE_ARN


@pytest.fixture
def function_env(monkeypatch, aws_env, bucket, dynamodb_table, sns_topic):
    """The environment the Lambda factory gives a function; adapters rebuilt from it."""
    env = {
        "RUNS_TABLE_NAME": dynamodb_table.name,
        "BUCKET_NAME": bucket,
        "TOPIC_ARN": sns_topic,
        "BEDROCK_ROLE_ARN": ROLE_ARN,
        "ALLOWED_EVALUATOR_MODELS": JUDGE,
        "POWERTOOLS_SERVICE_NAME": "evalpipe",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "EvalPipe",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The bundled price table, whatever the developer's shell points at.
    monkeypatch.delenv("EVALPIPE_PRICES", raising=False)
    _runtime.reset()
    yield env
    _runtime.reset()
