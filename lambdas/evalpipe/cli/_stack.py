"""Where the deployed pipeline is: the stack's outputs, and the clients the history commands use.

The stack is found by name with CloudFormation ``DescribeStacks``: ``--stack NAME``, else
``$EVALPIPE_STACK``, else ``context.stackName`` of the nearest ``cdk.json`` (the current
directory or a parent), else ``BedrockEvalPipeline``. Its outputs name the bucket, the runs
table, the topic and the state machine. boto3 reads credentials, region and endpoint the usual
way (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``), so the same commands work against
the local mode's endpoint.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from evalpipe.aws.runs_table import RunsTable

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

DEFAULT_STACK = "BedrockEvalPipeline"
STACK_ENV = "EVALPIPE_STACK"
CDK_JSON = "cdk.json"
# CloudFormation output keys (infra/constants.py OUTPUT_*; the CLI ships without infra/).
OUTPUT_BUCKET_NAME = "BucketName"
OUTPUT_RUNS_TABLE_NAME = "RunsTableName"
OUTPUT_TOPIC_ARN = "TopicArn"
OUTPUT_STATE_MACHINE_ARN = "StateMachineArn"
REQUIRED_OUTPUTS = (OUTPUT_BUCKET_NAME, OUTPUT_RUNS_TABLE_NAME)

EXIT_FAILED = 1


class StackError(Exception):
    """The stack or one of its outputs cannot be found (exit status 1)."""


@dataclass(frozen=True)
class StackOutputs:
    """The outputs of the deployed stack the commands need."""

    stack_name: str
    bucket_name: str
    runs_table_name: str
    topic_arn: str | None = None
    state_machine_arn: str | None = None


# How notifications and `evalpipe runs` shorten a run id (evalpipe.notification.short_run_id).
SHORT_RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")


@dataclass
class Deployment:
    """The deployed pipeline: its outputs and clients for its table and bucket.

    Attributes
    ----------
    outputs
        The stack outputs.
    runs
        The runs table adapter.
    s3
        A boto3 S3 client.
    region
        The region of the session (None when boto3 has none).
    local
        True when an endpoint override (``AWS_ENDPOINT_URL``) is set: no console links.
    stepfunctions
        A boto3 Step Functions client (``evalpipe run`` starts executions with it).
    """

    outputs: StackOutputs
    runs: RunsTable
    s3: Any
    region: str | None
    local: bool = False
    stepfunctions: Any = None

    @property
    def bucket(self) -> str:
        return self.outputs.bucket_name

    def run_id(self, given: str) -> str:
        """The full id of a run given whole or as notifications shorten it (``20261203-074319-2fda633c``,
        without the suite in front); ``given`` itself when no single run ends with it."""
        if not SHORT_RUN_ID.fullmatch(given) or self.runs.get(given) is not None:
            return given
        matches = [
            run.run_id
            for run in self.runs.iter_runs(("run_id", "suite", "status", "created_at"))
            if run.run_id.endswith(f"-{given}")
        ]
        return matches[0] if len(matches) == 1 else given

    @property
    def console_region(self) -> str | None:
        return None if self.local else self.region


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """``--stack`` and ``--region``, shared by every command that reads the deployment."""
    group = parser.add_argument_group("deployment")
    group.add_argument(
        "--stack",
        metavar="NAME",
        help=(
            f"the CloudFormation stack (default: ${STACK_ENV}, else stackName in cdk.json, "
            f"else {DEFAULT_STACK})"
        ),
    )
    group.add_argument("--region", metavar="REGION", help="AWS region (default: the AWS CLI's)")


def default_stack_name(start: Path | None = None) -> str:
    """``$EVALPIPE_STACK``, else ``context.stackName`` of the nearest cdk.json, else the default."""
    from_env = os.environ.get(STACK_ENV, "").strip()
    if from_env:
        return from_env
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / CDK_JSON
        if candidate.is_file():
            try:
                name = json.loads(candidate.read_text(encoding="utf-8")).get("context", {}).get("stackName")
            except (OSError, ValueError, AttributeError):
                name = None
            if isinstance(name, str) and name.strip():
                return name.strip()
            break
    return DEFAULT_STACK


def lookup_outputs(stack_name: str, session: Any) -> StackOutputs:
    """Read the stack's outputs with ``DescribeStacks``.

    Raises
    ------
    StackError
        The stack does not exist (in this account and region) or lacks a required output.
    """
    client = session.client("cloudformation")
    try:
        stacks = client.describe_stacks(StackName=stack_name).get("Stacks", [])
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if "does not exist" in message:
            region = session.region_name or "the default region"
            raise StackError(
                f"stack {stack_name} not found in {region}: deploy it (see the README), or name it with "
                f"--stack / ${STACK_ENV}"
            ) from exc
        raise
    if not stacks:
        raise StackError(f"stack {stack_name} not found")
    outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stacks[0].get("Outputs", []) or []}
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackError(
            f"stack {stack_name} has no output {', '.join(missing)}: is it a bedrock-evalpipe stack "
            f"(status {stacks[0].get('StackStatus')})?"
        )
    return StackOutputs(
        stack_name=stack_name,
        bucket_name=outputs[OUTPUT_BUCKET_NAME],
        runs_table_name=outputs[OUTPUT_RUNS_TABLE_NAME],
        topic_arn=outputs.get(OUTPUT_TOPIC_ARN),
        state_machine_arn=outputs.get(OUTPUT_STATE_MACHINE_ARN),
    )


def connect(args: argparse.Namespace) -> Deployment:
    """The deployment named by ``--stack`` / ``--region`` (see the module docstring)."""
    session = boto3.session.Session(region_name=getattr(args, "region", None) or None)
    outputs = lookup_outputs(getattr(args, "stack", None) or default_stack_name(), session)
    return Deployment(
        outputs=outputs,
        runs=RunsTable(session.resource("dynamodb").Table(outputs.runs_table_name)),
        s3=session.client("s3"),
        region=session.region_name,
        local=bool(os.environ.get("AWS_ENDPOINT_URL")),
        stepfunctions=session.client("stepfunctions"),
    )


def aws_command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn AWS and lookup failures into one line on stderr and exit status 1."""

    @wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except StackError as exc:
            return failed(str(exc))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return failed(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}")
        except BotoCoreError as exc:
            return failed(str(exc))

    return guarded


def failed(message: str) -> int:
    """Report a failure (not found, AWS error) on stderr; the exit code for it."""
    print(f"evalpipe: error: {message}", file=sys.stderr)
    return EXIT_FAILED
