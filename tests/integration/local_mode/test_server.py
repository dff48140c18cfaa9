"""`local.server.LocalEmulator`: moto's server on loopback with every patch, as the local mode runs it.

These tests start a real ``ThreadedMotoServer`` in this process and talk to it over HTTP.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
import pytest

from local import moto_patches
from local.server import LocalEmulator, emulator_control

# A custom resource's handler, as CloudFormation runs it: it reports the Python types of the
# properties it received and answers on the ResponseURL (cfn-response's PUT).
PROBE_HANDLER = """
import json, urllib.request

def types(value):
    if isinstance(value, dict):
        return {k: types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [types(v) for v in value]
    return type(value).__name__

def handler(event, context):
    properties = {k: v for k, v in event["ResourceProperties"].items() if k != "ServiceToken"}
    body = {
        "Status": "SUCCESS", "PhysicalResourceId": "probe", "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Types": json.dumps(types(properties), sort_keys=True), "Count": properties["Count"]},
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()
"""
CUSTOM_RESOURCE_STACK = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            },
        },
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": PROBE_HANDLER},
            },
        },
        "Probe": {
            "Type": "Custom::Probe",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]},
                "Count": 3,
                "Enabled": True,
                "Ratio": 0.5,
                "Name": "x",
                "Nested": {"Limit": 10, "Items": [1, False, "y"]},
            },
        },
    },
    "Outputs": {
        "Types": {"Value": {"Fn::GetAtt": ["Probe", "Types"]}},
        "Count": {"Value": {"Fn::GetAtt": ["Probe", "Count"]}},
    },
}


@pytest.fixture
def emulator(aws_env: None) -> Any:
    was_installed = moto_patches.installed()
    emulator = LocalEmulator(job_seconds=1).start()
    yield emulator
    emulator.stop()
    if not was_installed:
        moto_patches.uninstall()


def test_the_emulator_exports_the_sdk_environment_and_restores_it(aws_env: None) -> None:
    before = dict(os.environ)
    emulator = LocalEmulator().start()
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.url
        assert emulator.url.startswith("http://127.0.0.1:") and emulator.port > 0
        assert os.environ["MOTO_PORT"] == str(emulator.port)  # moto's Step Functions engine -> Lambda
        # A plain client follows AWS_ENDPOINT_URL to the emulator.
        boto3.client("s3").create_bucket(Bucket="reached-over-http")
        assert "reached-over-http" in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
        # The Bedrock emulator's HTTP controls are there too.
        assert emulator_control(emulator.url, "config", {"jobSeconds": 3})["jobSeconds"] == 3
        emulator_control(emulator.url, "reset")
    finally:
        emulator.stop()
        moto_patches.uninstall()
    assert dict(os.environ) == before


def test_a_custom_resource_gets_string_properties_and_answers_on_loopback(emulator) -> None:
    # Given a stack with a Python custom resource, deployed through the emulator's CloudFormation
    cfn = boto3.client("cloudformation")
    stack = cfn.create_stack(
        StackName="custom-probe",
        TemplateBody=json.dumps(CUSTOM_RESOURCE_STACK),
        Capabilities=["CAPABILITY_IAM"],
    )["StackId"]
    # When the handler (run in-process from its deployed zip) has answered
    for _ in range(100):
        description = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if description["StackStatus"] != "CREATE_IN_PROGRESS":
            break
        time.sleep(0.1)
    # Then the stack completed, and every scalar property reached the handler as a string
    assert description["StackStatus"] == "CREATE_COMPLETE"
    values = {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}
    assert json.loads(values["Types"]) == {
        "Count": "str",
        "Enabled": "str",
        "Name": "str",
        "Nested": {"Items": ["str", "str", "str"], "Limit": "str"},
        "Ratio": "str",
    }
    assert values["Count"] == "3"


def test_cfn_stringify_renders_scalars_as_cloudformation_does() -> None:
    assert moto_patches.cfn_stringify({"a": 1, "b": True, "c": [False, 0.5, "x"], "d": None}) == {
        "a": "1",
        "b": "true",
        "c": ["false", "0.5", "x"],
        "d": None,
    }
