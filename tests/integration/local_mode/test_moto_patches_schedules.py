"""The patches suite schedules need (see `local.moto_patches`, 4f, 5 and 6), and the local scheduler.

As in test_moto_patches.py: a "why" test shows the moto 5.2.1 defect a patch exists for (it fails
once an upgrade fixes it: drop the patch then); a "with the patch" test shows the behaviour the
local mode relies on.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import scheduler as local_scheduler
from local.sfn_harness import create_function, create_lambda_role
from tests.integration.local_mode.conftest import REGION, SFN_MOTO_CONFIG

PASS_MACHINE = json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}})
PROBE_MODULE = """
import json, os
from pathlib import Path

def handler(event, context):
    log = Path(os.environ["LOG_FILE"])
    with log.open("a") as out:
        out.write(json.dumps(event) + "\\n")
    if os.environ.get("FAIL"):
        raise RuntimeError("probe failed on purpose")
    return {"ok": True}
"""


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _stack(resources: dict[str, Any], outputs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    template = {"Resources": resources, "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    cfn = client("cloudformation")
    stack_id = cfn.create_stack(StackName="probe", TemplateBody=json.dumps(template))["StackId"]
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    return stack_id, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


GROUP_STACK = {"Group": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": "evalpipe-probe"}}}
GROUP_OUTPUTS = {"Name": {"Ref": "Group"}, "Arn": {"Fn::GetAtt": ["Group", "Arn"]}}


# ====================================================================== 4f. the schedule group
@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_why_moto_cannot_deploy_a_schedule_group_or_schedule_into_an_unknown_one(unpatched):
    with mock_aws():
        # CloudFormation skips the type: the group does not exist afterwards
        _stack(GROUP_STACK, {})
        names = [g["Name"] for g in client("scheduler").list_schedule_groups()["ScheduleGroups"]]
        assert names == ["default"]
        # and a schedule in an unknown group is a server error, not ResourceNotFoundException
        with pytest.raises(KeyError, match="evalpipe-probe"):  # in-process; HTTP 500 on the server
            client("scheduler").create_schedule(
                Name="s",
                GroupName="evalpipe-probe",
                ScheduleExpression="rate(7 days)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": "arn:aws:iam::1:role/r"},
            )


def test_a_cfn_schedule_group_exists_with_its_ref_and_arn_and_goes_with_the_stack(patched):
    with mock_aws():
        stack_id, values = _stack(GROUP_STACK, GROUP_OUTPUTS)
        assert values["Name"] == "evalpipe-probe"
        assert values["Arn"] == "arn:aws:scheduler:us-east-1:123456789012:schedule-group/evalpipe-probe"
        scheduler = client("scheduler")
        assert scheduler.get_schedule_group(Name="evalpipe-probe")["Arn"] == values["Arn"]
        client("cloudformation").delete_stack(StackName=stack_id)
        with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
            scheduler.get_schedule_group(Name="evalpipe-probe")


# ====================================================================== 4g. Lambda permission id
def _permission_stack() -> str:
    role = create_lambda_role(client("iam"), name="probe")
    create_function(client("lambda"), "probe", "probe_target.handler", {}, role, code=_probe_zip())
    resources = {
        "Allow": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": "probe",
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
            },
        }
    }
    stack_id, _ = _stack(resources, {})
    return stack_id


def test_why_moto_lists_a_lambda_permission_without_a_physical_id(unpatched):
    with mock_aws():
        stack_id = _permission_stack()
        [resource] = client("cloudformation").describe_stack_resources(StackName=stack_id)["StackResources"]
        assert "PhysicalResourceId" not in resource


def test_a_cfn_lambda_permission_has_a_physical_id(patched):
    with mock_aws():
        stack_id = _permission_stack()
        [resource] = client("cloudformation").describe_stack_resources(StackName=stack_id)["StackResources"]
        assert resource["ResourceType"] == "AWS::Lambda::Permission" and resource["PhysicalResourceId"]


# ====================================================================== 4f + 5. EventBridge -> Lambda
def _probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe_target.py", PROBE_MODULE)
    return buffer.getvalue()


def _rule_to_function(tmp_path: Path, *, fail: bool, with_config: bool) -> tuple[Path, str | None]:
    """A rule on suites/*.json -> a probe function that logs each event (and fails when asked)."""
    role = create_lambda_role(client("iam"), name="probe")
    log = tmp_path / "events.jsonl"
    env = {"LOG_FILE": str(log), **({"FAIL": "1"} if fail else {})}
    function = create_function(
        client("lambda"), "probe", "probe_target.handler", env, role, code=_probe_zip()
    )
    queue_url = client("sqs").create_queue(QueueName="on-failure")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    if with_config:
        resources = {
            "Config": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": "probe",
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 1,
                    "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
                },
            }
        }
        _stack(resources, {})
    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": [{"wildcard": "suites/*.json"}]}}}
    client("events").put_rule(Name="suites", EventPattern=json.dumps(pattern))
    client("events").put_targets(Rule="suites", Targets=[{"Id": "fn", "Arn": function}])
    return log, queue_url


def _put(key: str) -> None:
    detail = {"bucket": {"name": "b"}, "object": {"key": key}}
    client("events").put_events(
        Entries=[{"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(detail)}]
    )


def _lines(path: Path, count: int, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            break
        time.sleep(0.05)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_why_moto_cannot_deliver_to_a_lambda_target_nor_set_its_invoke_config(unpatched, tmp_path):
    with mock_aws():
        role = create_lambda_role(client("iam"), name="probe")
        create_function(client("lambda"), "probe", "probe_target.handler", {}, role, code=_probe_zip())
        _stack(
            {"Config": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {"FunctionName": "probe"}}},
            {},
        )
        with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
            client("lambda").get_function_event_invoke_config(FunctionName="probe")
        pattern = {"source": ["aws.s3"]}
        client("events").put_rule(Name="r", EventPattern=json.dumps(pattern))
        arn = client("lambda").get_function(FunctionName="probe")["Configuration"]["FunctionArn"]
        client("events").put_targets(Rule="r", Targets=[{"Id": "fn", "Arn": arn}])
        with pytest.raises(Exception, match="Expr not defined"):  # NotImplementedError, HTTP 500
            _put("suites/a.json")


def test_a_rule_invokes_its_lambda_target_asynchronously_with_the_event(patched, tmp_path):
    with mock_aws():
        log, _ = _rule_to_function(tmp_path, fail=False, with_config=False)
        _put("suites/qa.json")
        _put("datasets/qa/x.jsonl")  # does not match
        [event] = _lines(log, 1)
        assert event["detail"] == {"bucket": {"name": "b"}, "object": {"key": "suites/qa.json"}}
        assert event["source"] == "aws.s3" and event["time"].endswith("Z")


def test_a_failing_target_is_retried_then_recorded_on_its_failure_destination(patched, tmp_path):
    with mock_aws():
        log, queue_url = _rule_to_function(tmp_path, fail=True, with_config=True)
        config = client("lambda").get_function_event_invoke_config(FunctionName="probe")
        assert config["MaximumRetryAttempts"] == 1
        _put("suites/qa.json")
        # one attempt and the one retry the config allows
        assert len(_lines(log, 2)) == 2
        deadline = time.monotonic() + 10
        messages: list[dict] = []
        while not messages and time.monotonic() < deadline:
            messages = client("sqs").receive_message(QueueUrl=queue_url).get("Messages", [])
            time.sleep(0.05)
        [message] = messages
        record = json.loads(message["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["requestPayload"]["detail"]["object"]["key"] == "suites/qa.json"
        assert record["responsePayload"]["errorMessage"] == "probe failed on purpose"


# ====================================================================== 6. S3 Object Deleted
def _bucket_events(name: str) -> str:
    s3, sqs, events = client("s3"), client("sqs"), client("events")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    return url


def _received(url: str) -> list[dict]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_why_moto_sends_no_event_for_a_delete_marker(unpatched):
    with mock_aws():
        url = _bucket_events("why-deleted")
        client("s3").put_object(Bucket="why-deleted", Key="suites/qa.json", Body=b"{}")
        _received(url)
        client("s3").delete_object(Bucket="why-deleted", Key="suites/qa.json")
        assert _received(url) == []


def test_deleting_a_versioned_object_sends_object_deleted(patched):
    with mock_aws():
        url = _bucket_events("deleted")
        s3 = client("s3")
        s3.put_object(Bucket="deleted", Key="suites/qa.json", Body=b"{}")
        _received(url)
        marker = s3.delete_object(Bucket="deleted", Key="suites/qa.json")
        [event] = _received(url)
        assert event["detail-type"] == "Object Deleted"
        assert event["detail"]["object"] == {
            "key": "suites/qa.json",
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "version-id": marker["VersionId"],
            "sequencer": event["detail"]["object"]["sequencer"],
        }
        assert (event["detail"]["reason"], event["detail"]["deletion-type"]) == (
            "DeleteObject",
            "Delete Marker Created",
        )


def test_moto_internals_the_delete_patch_hooks_into_still_exist():
    """Fails loudly when a moto upgrade moves what the delete-marker patch wraps."""
    import inspect

    from moto.s3.models import S3Backend

    assert "self._set_delete_marker(bucket_name, key_name)" in inspect.getsource(S3Backend.delete_object)


# ====================================================================== the local scheduler
def test_firing_a_schedule_starts_its_state_machine_with_the_context_attributes(patched):
    with mock_aws(config=SFN_MOTO_CONFIG):
        role = create_lambda_role(client("iam"), name="probe")
        sfn = client("stepfunctions")
        machine = sfn.create_state_machine(name="probe", definition=PASS_MACHINE, roleArn=role)[
            "stateMachineArn"
        ]
        scheduler = client("scheduler")
        scheduler.create_schedule(
            Name="qa",
            ScheduleExpression="cron(0 6 ? * MON *)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": machine,
                "RoleArn": role,
                "Input": '{"id": "<aws.scheduler.execution-id>", "time": "<aws.scheduler.scheduled-time>", '
                '"arn": "<aws.scheduler.schedule-arn>", "n": <aws.scheduler.attempt-number>}',
            },
        )
        schedule = scheduler.get_schedule(Name="qa")
        fired = local_scheduler.fire(schedule, client, scheduled_time="2026-03-02T06:00:00Z")
        started = json.loads(sfn.describe_execution(executionArn=fired["execution_arn"])["input"])
        assert started == {
            "id": fired["execution_id"],
            "time": "2026-03-02T06:00:00Z",
            "arn": schedule["Arn"],
            "n": 1,
        }
        assert len(fired["execution_id"]) == 16
        # A disabled schedule does not fire
        scheduler.update_schedule(
            Name="qa",
            ScheduleExpression="cron(0 6 ? * MON *)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=schedule["Target"],
            State="DISABLED",
        )
        with pytest.raises(local_scheduler.ScheduleDisabled):
            local_scheduler.fire(scheduler.get_schedule(Name="qa"), client)
