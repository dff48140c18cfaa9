"""Each patch of `local.moto_patches`: the moto 5.2.1 defect it exists for, and the fix.

"why" tests run moto as released and assert the defect: one failing means a moto upgrade fixed
it (drop the patch). "with the patch" tests assert the behaviour the local mode relies on: one
failing means an upgrade moved what the patch hooks into.
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import inprocess_lambda, moto_patches
from tests.integration.local_mode.conftest import ACCOUNT, REGION, SFN_MOTO_CONFIG

PASS_MACHINE = json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}})
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}],
        }
    ],
}


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def create_stack(resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> str:
    template = {"Resources": resources, "Outputs": {k: {"Value": v} for k, v in (outputs or {}).items()}}
    return client("cloudformation").create_stack(
        StackName="probe", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )["StackId"]


def outputs(stack_id: str) -> dict[str, str]:
    stack = client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def wait(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(100):
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


MACHINE_STACK = {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
    "Machine": {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": PASS_MACHINE, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
    },
}


# ====================================================================== Step Functions via CFN
def test_why_moto_puts_cfn_state_machines_where_the_asl_engine_cannot_see_them(unpatched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine = outputs(create_stack(MACHINE_STACK, {"Arn": {"Ref": "Machine"}}))["Arn"]
        with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
            client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")


def test_a_cfn_state_machine_executes(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine = outputs(create_stack(MACHINE_STACK, {"Arn": {"Ref": "Machine"}}))["Arn"]
        sfn = client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=machine, name="one", input='{"a": 1}')["executionArn"]
        description = wait(sfn, arn)
        assert (description["status"], json.loads(description["output"])) == ("SUCCEEDED", {"a": 1})


# ====================================================================== S3 bucket via CFN
BUCKET_STACK = {
    "Bucket": {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
        },
    }
}


def _moto_bucket(name: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT]["aws"].get_bucket(name)


def test_why_moto_ignores_a_cfn_buckets_versioning_and_eventbridge_switch(unpatched):
    with mock_aws():
        bucket = outputs(create_stack(BUCKET_STACK, {"Name": {"Ref": "Bucket"}}))["Name"]
        assert "Status" not in client("s3").get_bucket_versioning(Bucket=bucket)
        assert _moto_bucket(bucket).notification_configuration is None


def test_a_cfn_bucket_is_versioned_and_sends_events_to_eventbridge(patched):
    with mock_aws():
        bucket = outputs(create_stack(BUCKET_STACK, {"Name": {"Ref": "Bucket"}}))["Name"]
        assert client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        # (moto's GetBucketNotificationConfiguration leaves an empty EventBridgeConfiguration out)
        assert _moto_bucket(bucket).notification_configuration.event_bridge is not None


# ====================================================================== KMS key via CFN
KEY_STACK = {
    "Key": {
        "Type": "AWS::KMS::Key",
        "Properties": {
            "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
            "Tags": [{"Key": "project", "Value": "bedrock-evalpipe"}],
        },
    }
}


def test_why_moto_fails_on_a_cfn_key_with_tags(unpatched):
    with mock_aws(), pytest.raises(Exception, match="TagKey"):
        create_stack(KEY_STACK)


def test_a_cfn_key_keeps_its_tags_and_its_policy_as_json_text(patched):
    with mock_aws():
        key = outputs(create_stack(KEY_STACK, {"Id": {"Ref": "Key"}}))["Id"]
        kms = client("kms")
        assert kms.list_resource_tags(KeyId=key)["Tags"] == [
            {"TagKey": "project", "TagValue": "bedrock-evalpipe"}
        ]
        policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        assert json.loads(policy) == {"Version": "2012-10-17", "Statement": []}


# ====================================================================== types moto skips
POLICIES_STACK = {
    **BUCKET_STACK,
    "BucketPolicy": {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": TLS_ONLY},
    },
    "Topic": {"Type": "AWS::SNS::Topic"},
    "TopicPolicy": {
        "Type": "AWS::SNS::TopicPolicy",
        "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": [{"Sid": "probe"}]}},
    },
    "Queue": {"Type": "AWS::SQS::Queue"},
    "QueuePolicy": {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Statement": [{"Sid": "probe"}]}},
    },
    "Alarm": {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmActions": [{"Ref": "Topic"}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
            "EvaluationPeriods": 1,
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Period": 300,
            "Statistic": "Maximum",
            "Threshold": 1,
            "TreatMissingData": "notBreaching",
        },
    },
}
POLICY_OUTPUTS = {
    "Bucket": {"Ref": "Bucket"},
    "Topic": {"Ref": "Topic"},
    "Queue": {"Ref": "Queue"},
    "Alarm": {"Ref": "Alarm"},
}


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_why_moto_loses_the_resources_of_types_it_skips(unpatched):
    with mock_aws():
        stack = create_stack(POLICIES_STACK, POLICY_OUTPUTS)
        resources = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
        # Listed without id or type (clients indexing by LogicalResourceId fail), Ref-less outputs
        assert sum("LogicalResourceId" not in r for r in resources) == 4
        assert "Alarm" not in outputs(stack)


def test_why_a_bucket_policy_is_recorded_but_not_given_to_moto(unpatched):
    # moto evaluates the TLS-only Deny without a request context: every PutObject is refused.
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket="tls-only")
        policy = json.loads(json.dumps(TLS_ONLY).replace('{"Fn::GetAtt": ["Bucket", "Arn"]}', '"x"'))
        policy["Statement"][0]["Resource"] = ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"]
        s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(policy))
        with pytest.raises(ClientError, match="403"):
            s3.put_object(Bucket="tls-only", Key="k", Body=b"x")


def test_policies_and_alarms_are_created(patched):
    with mock_aws():
        stack = create_stack(POLICIES_STACK, POLICY_OUTPUTS)
        values = outputs(stack)
        resources = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
        assert {r["ResourceType"] for r in resources} >= {
            "AWS::S3::BucketPolicy",
            "AWS::SNS::TopicPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::CloudWatch::Alarm",
        }
        assert all(r["PhysicalResourceId"] for r in resources)
        topic = client("sns").get_topic_attributes(TopicArn=values["Topic"])["Attributes"]
        assert json.loads(topic["Policy"])["Statement"][0]["Sid"] == "probe"
        queue = client("sqs").get_queue_attributes(QueueUrl=values["Queue"], AttributeNames=["Policy"])
        assert json.loads(queue["Attributes"]["Policy"])["Statement"][0]["Sid"] == "probe"
        [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[values["Alarm"]])["MetricAlarms"]
        assert (alarm["AlarmActions"], alarm["Threshold"]) == ([values["Topic"]], 1.0)
        # The bucket policy is on the resource only: uploads keep working over plain HTTP.
        s3 = client("s3")
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=values["Bucket"])
        s3.put_object(Bucket=values["Bucket"], Key="k", Body=b"x")


# ====================================================================== EventBridge -> Step Functions
def _rule_to_machine(pattern: dict[str, Any], **target: Any) -> tuple[str, str]:
    iam, sfn, events = client("iam"), client("stepfunctions"), client("events")
    role = iam.create_role(RoleName="probe", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    machine = sfn.create_state_machine(name="probe", definition=PASS_MACHINE, roleArn=role)["stateMachineArn"]
    events.put_rule(Name="probe", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="probe", Targets=[{"Id": "machine", "Arn": machine, "RoleArn": role, **target}])
    return machine, role


def _put(detail: dict[str, Any], source: str = "aws.s3") -> None:
    response = client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Object Created", "Detail": json.dumps(detail)}]
    )
    assert response["FailedEntryCount"] == 0


def _inputs(machine: str) -> list[Any]:
    sfn = client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [json.loads(wait(sfn, e["executionArn"])["input"]) for e in executions]


DATASETS_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"object": {"key": [{"wildcard": "datasets/*.jsonl"}]}},
}


def test_why_moto_cannot_deliver_to_a_state_machine(unpatched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        _rule_to_machine(DATASETS_PATTERN)
        with pytest.raises(Exception, match="Expr not defined"):  # NotImplementedError, HTTP 500
            _put({"object": {"key": "datasets/a/b.jsonl"}})


def test_a_matching_event_starts_the_machine_with_the_event(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine, _ = _rule_to_machine(DATASETS_PATTERN)
        # wildcard: "*" spans "/" as in EventBridge; the other keys do not match
        _put({"object": {"key": "datasets/support/nightly.jsonl"}})
        _put({"object": {"key": "suites/support.json"}})
        _put({"object": {"key": "datasets/support/nightly.csv"}})
        [event] = _inputs(machine)
        assert event["detail"] == {"object": {"key": "datasets/support/nightly.jsonl"}}
        assert (event["source"], event["detail-type"], event["account"]) == (
            "aws.s3",
            "Object Created",
            ACCOUNT,
        )
        assert event["time"].endswith("Z") and "T" in event["time"]
        assert "ingestion-time" not in event


def test_a_target_input_path_or_constant_input_is_honoured(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine, _ = _rule_to_machine(DATASETS_PATTERN, InputPath="$.detail.object")
        _put({"object": {"key": "datasets/a.jsonl"}})
        assert _inputs(machine) == [{"key": "datasets/a.jsonl"}]
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine, _ = _rule_to_machine(DATASETS_PATTERN, Input='{"fixed": true}')
        _put({"object": {"key": "datasets/a.jsonl"}})
        assert _inputs(machine) == [{"fixed": True}]


def test_a_disabled_rule_delivers_nothing(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        machine, _ = _rule_to_machine(DATASETS_PATTERN)
        client("events").disable_rule(Name="probe")
        _put({"object": {"key": "datasets/a.jsonl"}})
        assert _inputs(machine) == []


def test_an_event_that_cannot_start_the_machine_goes_to_the_dead_letter_queue(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        sqs = client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        machine, _ = _rule_to_machine(DATASETS_PATTERN, DeadLetterConfig={"Arn": dlq_arn})
        client("stepfunctions").delete_state_machine(stateMachineArn=machine)
        _put({"object": {"key": "datasets/a.jsonl"}})
        [message] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
        assert json.loads(message["Body"])["detail"] == {"object": {"key": "datasets/a.jsonl"}}
        assert message["MessageAttributes"]["TARGET_ARN"]["StringValue"] == machine


# ====================================================================== S3 -> EventBridge event
def _bucket_events_to_queue(bucket: str, versioned: bool) -> str:
    s3, sqs, events = client("s3"), client("sqs"), client("events")
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    queue = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{bucket}-rule", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule=f"{bucket}-rule", Targets=[{"Id": "queue", "Arn": arn}])
    return queue


def _received(queue: str) -> list[dict[str, Any]]:
    messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return sorted((json.loads(m["Body"]) for m in messages), key=lambda e: e["detail"]["object"]["key"])


def test_why_moto_s3_events_do_not_look_like_s3s(unpatched):
    with mock_aws():
        queue = _bucket_events_to_queue("why-events", versioned=True)
        client("s3").put_object(Bucket="why-events", Key="datasets/a.jsonl", Body=b"{}")
        client("s3").put_object(Bucket="why-events", Key="datasets/b.jsonl", Body=b"{}")
        received = _received(queue)
        # every PutObject also announces tags it does not have
        assert [e["detail-type"] for e in received].count("Object Tags Added") == 2
        first, second = (e for e in received if e["detail-type"] == "Object Created")
        assert "eTag" in first["detail"]["object"] and "etag" not in first["detail"]["object"]
        assert first["detail"]["reason"] == "ObjectCreated"
        assert first["id"] == second["id"]


def test_s3_object_created_events_have_the_real_shape(patched):
    with mock_aws():
        queue = _bucket_events_to_queue("real-events", versioned=True)
        s3 = client("s3")
        put = s3.put_object(Bucket="real-events", Key="datasets/a.jsonl", Body=b'{"a": 1}')
        s3.put_object(Bucket="real-events", Key="datasets/b.jsonl", Body=b"{}")
        first, second = _received(queue)  # and no "Object Tags Added": the objects have no tags
        assert first["detail-type"] == "Object Created"
        assert first["resources"] == ["arn:aws:s3:::real-events"]
        assert first["detail"]["bucket"] == {"name": "real-events"}
        assert first["detail"]["object"]["key"] == "datasets/a.jsonl"
        assert first["detail"]["object"]["size"] == 8
        assert first["detail"]["object"]["etag"] == put["ETag"].strip('"')
        assert first["detail"]["object"]["version-id"] == put["VersionId"]
        assert first["detail"]["reason"] == "PutObject"
        assert first["detail"]["requester"] == ACCOUNT
        assert first["time"].endswith("Z")
        assert first["id"] != second["id"]
        assert first["detail"]["object"]["sequencer"] < second["detail"]["object"]["sequencer"]
        # Tagging an object is still announced
        s3.put_object_tagging(
            Bucket="real-events", Key="datasets/a.jsonl", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
        [tagged] = _received(queue)
        assert tagged["detail-type"] == "Object Tags Added"


def test_an_unversioned_objects_event_has_no_version_id(patched):
    with mock_aws():
        queue = _bucket_events_to_queue("plain-events", versioned=False)
        client("s3").put_object(Bucket="plain-events", Key="k", Body=b"x")
        [event] = _received(queue)
        assert "version-id" not in event["detail"]["object"]


# ====================================================================== install / uninstall
def test_install_runs_lambdas_from_their_deployed_zip_and_uninstall_restores_moto(unpatched):
    from moto.events.models import Rule

    original = Rule.__dict__["send_to_targets"]
    moto_patches.install()
    try:
        runner = inprocess_lambda.current_runner()
        assert runner is moto_patches.runner() is not None
        assert runner.resolver is moto_patches.deployed_code
        assert Rule.__dict__["send_to_targets"] is not original
    finally:
        moto_patches.uninstall()
    assert Rule.__dict__["send_to_targets"] is original
    assert inprocess_lambda.current_runner() is None


def test_moto_internals_the_patches_hook_into_still_exist():
    """Fails loudly when a moto upgrade moves a call site a patch relies on."""
    from moto.cloudformation import parsing, responses
    from moto.events.models import EventPattern, EventsBackend
    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.s3 import notifications
    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.parser.asl.utils import boto_client

    # CloudFormation finds model classes through these two module functions.
    assert "get_model_map()" in inspect.getsource(parsing.resource_class_from_type)
    assert "get_name_type_map()" in inspect.getsource(parsing.resource_name_property_from_type)
    assert 'resource_type.startswith("Custom::")' in inspect.getsource(parsing.resource_class_from_type)
    assert "set_data(outputs)" in inspect.getsource(responses.CloudFormationResponse.process_cfn_response)
    # S3 hands EventBridge delivery to this module function, with these arguments.
    assert "_send_event_bridge_message(account_id, bucket, event_name, key)" in inspect.getsource(
        notifications.send_event
    )
    # PutEvents delivers through Rule.send_to_targets; the pattern matcher knows `wildcard`.
    assert "rule.send_to_targets(event_msg)" in inspect.getsource(EventsBackend.put_events)
    assert EventPattern.load(json.dumps(DATASETS_PATTERN)).matches_event(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"object": {"key": "datasets/x/y.jsonl"}},
        }
    )
    # The StepFunctions API reads the config at every request; the engine calls Lambda on MOTO_PORT.
    assert "default_user_config" in inspect.getsource(sfn_responses.get_backend)
    assert '"stepfunctions" in config' in inspect.getsource(MotoAPIBackend.set_config)
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for)
