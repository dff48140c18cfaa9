"""Synthesizes the pipeline once per session (bundling skipped) and hands out its template.

Two configurations: the defaults of cdk.json, and a "variant" with a customer managed key,
inference-profile / ARN evaluator models, e-mail subscribers, x86_64 functions, no reserved
concurrency, no table deletion protection and a lifecycle of its own. A third,
"with_suites", is synthesized only by the tests that ask for it (the dashboard's suites).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # CI images may lag

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.application import create_app
from infra.stack import PipelineStack

SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VARIANT_CONTEXT = {
    "kmsKeyArn": KEY_ARN,
    # Strings, the way `cdk synth -c key=value` passes them.
    "evaluatorModels": "us.amazon.nova-pro-v1:0,anthropic.claude-3-haiku-20240307-v1:0,"
    "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123",
    "alertEmails": '["ops@example.com", "ml@example.com"]',
    "lambdaArchitecture": "x86_64",
    "pollIntervalSeconds": "30",
    "logRetentionDays": "90",
    "stackName": "EvalPipeVariant",
    # A throw-away stack in a small account: nothing reserved, the table deletable, its own lifecycle.
    "errorPathReservedConcurrency": "0",
    "tableDeletionProtection": "false",
    "inputsExpirationDays": "0",
    "resultsExpirationDays": "90",
    "reportsExpirationDays": "0",
    "datasetsExpirationDays": "365",
    "noncurrentVersionExpirationDays": "0",
}
SUITES = ["support-assistant", "billing-bot"]
SUITES_CONTEXT = {"suites": ",".join(SUITES), "stackName": "EvalPipeSuites"}  # as `-c suites=a,b`


@dataclass(frozen=True)
class Synth:
    """One synthesized configuration."""

    app: App
    stack: PipelineStack
    template: Template
    json: dict[str, Any]
    path: str

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.json["Resources"].items() if value["Type"] == cfn_type}

    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.json["Resources"][logical_id]


def _synth(tmp_path_factory: pytest.TempPathFactory, name: str, context: dict[str, Any]) -> Synth:
    outdir = tmp_path_factory.mktemp(name)
    app, stack = create_app({**SKIP_BUNDLING, **context}, outdir=str(outdir))
    assembly = app.synth()  # raises if cdk-nag reports an unacknowledged finding
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    path = str(outdir / artifact.template_file)
    return Synth(app, stack, Template.from_json(artifact.template), artifact.template, path)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The pipeline with cdk.json's defaults."""
    return _synth(tmp_path_factory, "default", {})


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The pipeline with a KMS key, profile/ARN models, subscribers and x86_64."""
    return _synth(tmp_path_factory, "variant", VARIANT_CONTEXT)


@pytest.fixture(scope="session")
def with_suites(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The pipeline with cdk.json's defaults plus two suites (their dashboard sections and alarms)."""
    return _synth(tmp_path_factory, "suites", SUITES_CONTEXT)


def render(value: Any) -> str:
    """A CloudFormation value as text: Ref/GetAtt become <X>/<X.Attr>, Fn::Join is joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(render(part) for part in parts)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return f"<{index} of {render(items)}>"
    if isinstance(value, dict) and "Fn::Split" in value:
        delimiter, source = value["Fn::Split"]
        return f"split({delimiter!r}, {render(source)})"
    raise AssertionError(f"unexpected intrinsic {value!r}")


def state_machine_definition(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The ASL of a state machine: its DefinitionString with every token as a quoted placeholder."""
    definition = template["Resources"][logical_id]["Properties"]["DefinitionString"]
    if isinstance(definition, str):
        return json.loads(definition)
    text = "".join(part if isinstance(part, str) else render(part) for part in definition["Fn::Join"][1])
    return json.loads(text)


def statements(policy_resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of an AWS::IAM::Policy (or a role's trust policy) with list-valued fields."""
    document = (
        policy_resource["Properties"].get("PolicyDocument")
        or policy_resource["Properties"]["AssumeRolePolicyDocument"]
    )
    result = []
    for statement in document["Statement"]:
        normalized = dict(statement)
        for field in ("Action", "Resource"):
            value = statement.get(field, [])
            normalized[field] = value if isinstance(value, list) else [value]
        result.append(normalized)
    return result


def policy_of_role(synth: Synth, role_logical_id: str) -> dict[str, Any]:
    """The one AWS::IAM::Policy attached to a role."""
    policies = [
        policy
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
    ]
    assert len(policies) == 1, f"{role_logical_id} has {len(policies)} policies"
    return policies[0]


def role_of_function(synth: Synth, function_logical_id: str) -> str:
    return synth.resource(function_logical_id)["Properties"]["Role"]["Fn::GetAtt"][0]


def matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None
