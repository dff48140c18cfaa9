"""SyncSchedules against moto (S3, EventBridge Scheduler, SNS): a suite file drives its schedule."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from evalpipe.aws.objects import Objects
from evalpipe.aws.schedules import Schedules
from evalpipe.ports import SchedulePorts
from evalpipe.settings import Settings
from evalpipe.steps.sync_schedules import SyncOutcome, sync_suite_schedule
from handlers import _runtime
from handlers.sync_schedules import handler
from tests.integration.steps.flow import FakeContext

REGION = "us-east-1"
GROUP = "evalpipe-test"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:EvalStateMachine"
ROLE = "arn:aws:iam::123456789012:role/scheduler-execution"
DLQ = "arn:aws:sqs:us-east-1:123456789012:schedules-dlq"
# Not tests/builders.py's judge suite: only a suite of built-in datasets may carry a schedule.
SUITE = {
    "evaluationConfig": {
        "automated": {
            "datasetMetricConfigs": [
                {
                    "taskType": "QuestionAndAnswer",
                    "dataset": {"name": "Builtin.BoolQ"},
                    "metricNames": ["Builtin.Accuracy"],
                }
            ]
        }
    },
    "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]},
    "pipeline": {"schedule": {"expression": "cron(0 6 ? * MON *)", "timezone": "Europe/Paris"}},
}


@dataclass
class World:
    ports: SchedulePorts
    scheduler: Any
    put: Any
    delete: Any
    messages: Any


@pytest.fixture
def world(s3_client, bucket, sns_topic, sns_messages) -> World:
    scheduler = boto3.client("scheduler", region_name=REGION)
    scheduler.create_schedule_group(Name=GROUP)
    settings = Settings.model_validate(
        {
            "RUNS_TABLE_NAME": "unused",
            "BUCKET_NAME": bucket,
            "TOPIC_ARN": sns_topic,
            "STATE_MACHINE_ARN": STATE_MACHINE,
            "SCHEDULE_GROUP_NAME": GROUP,
            "SCHEDULER_ROLE_ARN": ROLE,
            "SCHEDULE_DLQ_ARN": DLQ,
        }
    )
    ports = SchedulePorts(
        objects=Objects(s3_client, bucket),
        schedules=Schedules(scheduler, GROUP),
        sns_client=boto3.client("sns", region_name=REGION),
        settings=settings,
    )

    def put(suite: str, document: dict | bytes) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        s3_client.put_object(Bucket=bucket, Key=f"suites/{suite}.json", Body=body)

    def delete(suite: str) -> None:
        s3_client.delete_object(Bucket=bucket, Key=f"suites/{suite}.json")

    return World(ports, scheduler, put, delete, sns_messages)


def _schedule(world: World, name: str) -> dict:
    return world.scheduler.get_schedule(Name=name, GroupName=GROUP)


def test_a_suite_with_a_schedule_creates_it_targeting_the_state_machine(world: World) -> None:
    # Given a suite of built-in datasets with a weekly cron schedule
    world.put("qa", SUITE)
    # When synced
    result = sync_suite_schedule("qa", world.ports)
    # Then the schedule qa exists in the stack's group, as the suite says
    assert result["outcome"] == SyncOutcome.CREATED
    schedule = _schedule(world, "qa")
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 6 ? * MON *)",
        "Europe/Paris",
    )
    assert (schedule["State"], schedule["FlexibleTimeWindow"]) == ("ENABLED", {"Mode": "OFF"})
    # And its target starts the state machine with the run-request envelope and context attributes
    target = schedule["Target"]
    assert (target["Arn"], target["RoleArn"], target["DeadLetterConfig"]) == (
        STATE_MACHINE,
        ROLE,
        {"Arn": DLQ},
    )
    envelope = json.loads(target["Input"])
    assert envelope == {
        "version": "0",
        "id": "<aws.scheduler.execution-id>",
        "detail-type": "Run Requested",
        "source": "evalpipe",
        "time": "<aws.scheduler.scheduled-time>",
        "detail": {"suite": "qa", "requestedBy": "schedule", "scheduleArn": "<aws.scheduler.schedule-arn>"},
    }


def test_a_second_sync_of_the_same_file_changes_nothing(world: World) -> None:
    # Given a schedule created from the suite
    world.put("qa", SUITE)
    sync_suite_schedule("qa", world.ports)
    # When the same file is synced again (a repeated event)
    result = sync_suite_schedule("qa", world.ports)
    # Then the schedule is left alone
    assert result["outcome"] == SyncOutcome.UNCHANGED


def test_a_changed_schedule_updates_it_and_enabled_false_pauses_it(world: World) -> None:
    # Given a created schedule
    world.put("qa", SUITE)
    sync_suite_schedule("qa", world.ports)
    # When the suite is uploaded with another expression, a window, and enabled: false
    changed = json.loads(json.dumps(SUITE))
    changed["pipeline"]["schedule"] = {
        "expression": "rate(7 days)",
        "enabled": False,
        "flexibleWindowMinutes": 30,
    }
    world.put("qa", changed)
    result = sync_suite_schedule("qa", world.ports)
    # Then the schedule is updated and disabled (not deleted)
    assert result["outcome"] == SyncOutcome.UPDATED
    schedule = _schedule(world, "qa")
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("rate(7 days)", "DISABLED")
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 30}


def test_removing_the_schedule_block_or_the_file_deletes_the_schedule(world: World) -> None:
    # Given a created schedule
    world.put("qa", SUITE)
    sync_suite_schedule("qa", world.ports)
    # When the suite file loses its schedule block
    without = json.loads(json.dumps(SUITE))
    del without["pipeline"]["schedule"]
    world.put("qa", without)
    # Then the schedule is deleted, and a second sync finds nothing to delete
    assert sync_suite_schedule("qa", world.ports)["outcome"] == SyncOutcome.DELETED
    assert sync_suite_schedule("qa", world.ports)["outcome"] == SyncOutcome.ABSENT
    # And when the file is deleted after a new schedule, the schedule goes too
    world.put("qa", SUITE)
    sync_suite_schedule("qa", world.ports)
    world.delete("qa")
    assert sync_suite_schedule("qa", world.ports)["outcome"] == SyncOutcome.DELETED
    with pytest.raises(world.scheduler.exceptions.ResourceNotFoundException):
        _schedule(world, "qa")


def test_an_invalid_schedule_keeps_the_existing_one_and_alerts_naming_file_and_field(world: World) -> None:
    # Given a schedule created from a valid suite
    world.put("qa", SUITE)
    sync_suite_schedule("qa", world.ports)
    # When the suite is uploaded with a malformed expression
    broken = json.loads(json.dumps(SUITE))
    broken["pipeline"]["schedule"]["expression"] = "rate(7 day)"
    world.put("qa", broken)
    result = sync_suite_schedule("qa", world.ports)
    # Then the schedule is kept as it was
    assert result["outcome"] == SyncOutcome.INVALID
    assert _schedule(world, "qa")["ScheduleExpression"] == "cron(0 6 ? * MON *)"
    # And one alert names the file, the field and what the schedule keeps doing
    [alert] = world.messages()
    assert alert["subject"] == "[evalpipe] qa: schedule not updated, suite file invalid"
    assert alert["attributes"] == {"suite": "qa", "severity": "error", "event": "SCHEDULE_REJECTED"}
    body = alert["message"]
    assert "suites/qa.json: pipeline.schedule.expression: error: rate(7 day)" in body
    assert "'rate(7 days)'" in body
    assert "is kept as it was" in body


def test_a_schedule_on_a_suite_with_a_custom_dataset_is_refused(world: World) -> None:
    # Given a suite whose dataset is dropped by users, with a schedule block
    custom = json.loads(json.dumps(SUITE))
    custom["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"] = {"name": "mine"}
    world.put("support", custom)
    # When synced
    result = sync_suite_schedule("support", world.ports)
    # Then no schedule is created, and the alert says a schedule needs built-in datasets
    assert result["outcome"] == SyncOutcome.INVALID
    with pytest.raises(world.scheduler.exceptions.ResourceNotFoundException):
        _schedule(world, "support")
    [alert] = world.messages()
    assert "pipeline.schedule: error: a schedule runs the suite without a dataset drop" in alert["message"]
    assert "No schedule exists for this suite, and none was created" in alert["message"]


def test_an_invalid_suite_that_never_meant_a_schedule_raises_no_alert(world: World) -> None:
    # Given a broken suite file without a schedule block, and no schedule
    world.put("other", b"{not json")
    # When synced
    result = sync_suite_schedule("other", world.ports)
    # Then nothing is created and nobody is alerted (its dataset runs will be rejected instead)
    assert result["outcome"] == SyncOutcome.INVALID
    assert world.messages() == []


def test_the_handler_syncs_the_suite_of_an_s3_event(world: World, monkeypatch) -> None:
    # Given the function's environment and S3's Object Created event for suites/qa.json
    env = {
        "RUNS_TABLE_NAME": "unused",
        "BUCKET_NAME": world.ports.objects.bucket,
        "TOPIC_ARN": world.ports.settings.topic_arn,
        "STATE_MACHINE_ARN": STATE_MACHINE,
        "SCHEDULE_GROUP_NAME": GROUP,
        "SCHEDULER_ROLE_ARN": ROLE,
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _runtime.reset()
    world.put("qa", SUITE)
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-03-02T06:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"bucket": {"name": world.ports.objects.bucket}, "object": {"key": "suites/qa.json"}},
    }
    try:
        # When the handler runs for it, and for a key that names no suite
        created = handler(event, FakeContext())
        nested = {**event, "detail": {**event["detail"], "object": {"key": "suites/a/b.json"}}}
        ignored = handler(nested, FakeContext())
        deleted_event = {**event, "detail-type": "Object Deleted"}
        world.delete("qa")
        deleted = handler(deleted_event, FakeContext())
    finally:
        _runtime.reset()
    # Then the schedule was created, the stray key ignored, and the deletion removed the schedule
    assert created["outcome"] == "CREATED"
    assert ignored == {"key": "suites/a/b.json", "outcome": "IGNORED"}
    assert deleted["outcome"] == "DELETED"
