"""Fixtures of the harness tests: moto with the ASL engine on, toy handlers run in-process.

- `harness_aws`: ``mock_aws(config=SFN_MOTO_CONFIG)`` (builds on `aws_env` of tests/integration).
- `toy_runner`: the in-process runner, resolving every function to ``toy_handlers/``.
- `lambda_client`, `sfn_client`, `role_arn`.
- `make_function(name, handler, env=None, **kwargs) -> arn`.
- `toy`: all of the above in one object, for the state machine tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.inprocess_lambda import InProcessLambdaRunner, directory_resolver, inprocess_lambdas
from local.sfn_harness import (
    SFN_MOTO_CONFIG,
    ExecutionResult,
    create_function,
    create_lambda_role,
    create_state_machine,
    run_execution,
)

REGION = "us-east-1"
TOY_CODE_DIR = Path(__file__).parent / "toy_handlers"


@pytest.fixture
def harness_aws(aws_env: None) -> Iterator[None]:
    """moto for every service, with Step Functions executing definitions."""
    with mock_aws(config=SFN_MOTO_CONFIG):
        yield


@pytest.fixture
def toy_runner(harness_aws: None) -> Iterator[InProcessLambdaRunner]:
    """Lambda invocations run the toy handlers in this process."""
    with inprocess_lambdas(directory_resolver(TOY_CODE_DIR)) as runner:
        yield runner


@pytest.fixture
def lambda_client(harness_aws: None) -> Any:
    return boto3.client("lambda", region_name=REGION)


@pytest.fixture
def sfn_client(harness_aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def role_arn(harness_aws: None) -> str:
    return create_lambda_role(boto3.client("iam", region_name=REGION))


@pytest.fixture
def make_function(lambda_client: Any, role_arn: str) -> Callable[..., str]:
    """Create a toy function: ``make_function("name", "toy.steps.echo", {"K": "v"})``."""

    def make(name: str, handler: str, env: dict[str, str] | None = None, **kwargs: Any) -> str:
        return create_function(lambda_client, name, handler, env, role_arn, **kwargs)

    return make


@dataclass
class Toy:
    """The harness around the toy handlers: create functions and machines, run executions."""

    runner: InProcessLambdaRunner
    sfn_client: Any
    role_arn: str
    function: Callable[..., str]

    def machine(self, name: str, definition: dict[str, Any]) -> str:
        """Create a state machine from an ASL dict; returns its ARN."""
        return create_state_machine(self.sfn_client, name, definition, self.role_arn)

    def run(self, machine_arn: str, execution_input: Any, timeout: float = 30) -> ExecutionResult:
        """Run one execution to its end."""
        return run_execution(self.sfn_client, machine_arn, execution_input, timeout=timeout)


@pytest.fixture
def toy(
    toy_runner: InProcessLambdaRunner, sfn_client: Any, role_arn: str, make_function: Callable[..., str]
) -> Toy:
    return Toy(runner=toy_runner, sfn_client=sfn_client, role_arn=role_arn, function=make_function)
