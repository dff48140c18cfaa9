"""Suite schedules: schedule group, scheduler execution role, SyncSchedules and its rule, DLQ + alarm."""

from __future__ import annotations

from infra import constants
from infra.schedules import schedule_group_name
from tests.infra.conftest import KEY_ARN, Synth, policy_of_role, render, role_of_function, statements

FUNCTION = constants.EXTRA_FUNCTION_LOGICAL_IDS[constants.FUNCTION_SYNC_SCHEDULES]
GROUP = "evalpipe-BedrockEvalPipeline"
GROUP_SCHEDULES = f"arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/{GROUP}/*"
DLQ = f"<{constants.SCHEDULES_DLQ_LOGICAL_ID}.Arn>"


def _statements(synth: Synth, role: str) -> list[tuple[list[str], list[str]]]:
    """(sorted actions, rendered resources) of every statement of the role's policy."""
    return sorted(
        (sorted(s["Action"]), sorted(render(r) for r in s["Resource"]))
        for s in statements(policy_of_role(synth, role))
        if s["Effect"] == "Allow"
    )


def test_the_stack_has_one_schedule_group_named_after_it_and_deleted_with_it(synth: Synth) -> None:
    # Given the default synthesis
    group = synth.resource(constants.SCHEDULE_GROUP_LOGICAL_ID)
    # Then the group is evalpipe-<stack>, goes with the stack, and is an output for the CLI / local mode
    assert group["Type"] == "AWS::Scheduler::ScheduleGroup"
    assert group["Properties"]["Name"] == GROUP
    assert group["DeletionPolicy"] == "Delete"
    assert synth.json["Outputs"][constants.OUTPUT_SCHEDULE_GROUP_NAME]["Value"] == {
        "Ref": constants.SCHEDULE_GROUP_LOGICAL_ID
    }


def test_a_long_stack_name_still_gives_a_valid_group_name() -> None:
    # Given the longest stack name the settings allow
    name = schedule_group_name("S" + "a" * 127)
    # Then the group name fits the service's 64 characters and stays unique per stack
    assert len(name) == 64 and name != schedule_group_name("S" + "a" * 126 + "b")


def test_the_execution_role_trusts_only_the_scheduler_for_this_account_and_group(synth: Synth) -> None:
    # Given the scheduler's execution role
    trust = statements(synth.resource(constants.SCHEDULER_ROLE_LOGICAL_ID))
    # Then only scheduler.amazonaws.com may assume it, for schedules of this account in this group
    [statement] = trust
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == (
        f"<{constants.SCHEDULE_GROUP_LOGICAL_ID}.Arn>"
    )


def test_the_execution_role_may_only_start_this_state_machine_and_dead_letter(synth: Synth) -> None:
    # Given the execution role's policy
    granted = _statements(synth, constants.SCHEDULER_ROLE_LOGICAL_ID)
    # Then it starts this state machine and sends failed starts to the DLQ, nothing else
    assert granted == [
        (["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], [DLQ]),
        (["states:StartExecution"], [f"<{constants.STATE_MACHINE_LOGICAL_ID}>"]),
    ]


def test_sync_schedules_has_exactly_its_grants(synth: Synth) -> None:
    # Given the SyncSchedules function's role policy
    role = role_of_function(synth, FUNCTION)
    log_group = synth.resource(FUNCTION)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    granted = _statements(synth, role)
    # Then: logs, X-Ray, suites/ read, the group's schedules, PassRole of the execution role only,
    # publish to the topic (its key), and its on-failure destination
    bucket = f"<{constants.BUCKET_LOGICAL_ID}.Arn>"
    assert granted == sorted(
        [
            (["logs:CreateLogStream", "logs:PutLogEvents"], [f"<{log_group}.Arn>"]),
            (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
            (["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], [DLQ]),
            (["s3:GetBucket*", "s3:GetObject*", "s3:List*"], sorted([bucket, f"{bucket}/suites/*"])),
            (
                [
                    "scheduler:CreateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                    "scheduler:UpdateSchedule",
                ],
                [GROUP_SCHEDULES],
            ),
            (["iam:PassRole"], [f"<{constants.SCHEDULER_ROLE_LOGICAL_ID}.Arn>"]),
            (["sns:Publish"], [f"<{constants.TOPIC_LOGICAL_ID}>"]),
            (["kms:Decrypt", "kms:GenerateDataKey*"], [f"<{constants.TOPIC_KEY_LOGICAL_ID}.Arn>"]),
        ]
    )


def test_the_execution_role_is_passed_to_the_scheduler_only(synth: Synth) -> None:
    # Given SyncSchedules' PassRole statement
    role = role_of_function(synth, FUNCTION)
    [pass_role] = [s for s in statements(policy_of_role(synth, role)) if "iam:PassRole" in s["Action"]]
    # Then only the execution role, and only to EventBridge Scheduler
    assert [render(r) for r in pass_role["Resource"]] == [f"<{constants.SCHEDULER_ROLE_LOGICAL_ID}.Arn>"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_sync_schedules_environment_names_what_a_schedule_needs(synth: Synth) -> None:
    # Given the function's environment
    env = synth.resource(FUNCTION)["Properties"]["Environment"]["Variables"]
    # Then it knows the state machine, the group, the role, the DLQ and the topic
    assert env["STATE_MACHINE_ARN"] == {"Ref": constants.STATE_MACHINE_LOGICAL_ID}
    assert env["SCHEDULE_GROUP_NAME"] == {"Ref": constants.SCHEDULE_GROUP_LOGICAL_ID}
    assert env["SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": [constants.SCHEDULER_ROLE_LOGICAL_ID, "Arn"]}
    assert env["SCHEDULE_DLQ_ARN"] == {"Fn::GetAtt": [constants.SCHEDULES_DLQ_LOGICAL_ID, "Arn"]}
    assert env["TOPIC_ARN"] == {"Ref": constants.TOPIC_LOGICAL_ID}
    assert synth.resource(FUNCTION)["Properties"]["Handler"] == "handlers.sync_schedules.handler"


def test_the_rule_sends_suite_files_created_or_deleted_in_this_bucket(synth: Synth) -> None:
    # Given the rule on suite files
    pattern = synth.resource(constants.SCHEDULES_RULE_LOGICAL_ID)["Properties"]["EventPattern"]
    # Then it matches uploads and deletions of suites/*.json of this bucket only
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {
            "bucket": {"name": [{"Ref": constants.BUCKET_LOGICAL_ID}]},
            "object": {"key": [{"wildcard": "suites/*.json"}]},
        },
    }


def test_the_rule_invokes_the_function_with_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    # Given the rule's one target
    (target,) = synth.resource(constants.SCHEDULES_RULE_LOGICAL_ID)["Properties"]["Targets"]
    # Then it is the function, retried for a day, with the DLQ for what cannot be delivered
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [constants.SCHEDULES_DLQ_LOGICAL_ID, "Arn"]}}
    # And only this rule may invoke the function
    [permission] = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert render(permission["SourceArn"]) == f"<{constants.SCHEDULES_RULE_LOGICAL_ID}.Arn>"


def test_failed_invocations_of_the_function_go_to_the_dead_letter_queue(synth: Synth) -> None:
    # Given the function's asynchronous invocation settings
    [config] = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": FUNCTION}
    ]
    # Then two retries, six hours at most, then the DLQ
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [constants.SCHEDULES_DLQ_LOGICAL_ID, "Arn"]}}
    }


def test_the_dead_letter_queue_is_encrypted_tls_only_and_alarmed(synth: Synth) -> None:
    # Given the schedules' DLQ
    props = synth.resource(constants.SCHEDULES_DLQ_LOGICAL_ID)["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 86_400
    # Then a message in it raises an alarm on the alerts topic
    [alarm] = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [constants.SCHEDULES_DLQ_LOGICAL_ID, "QueueName"]}}]
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": constants.TOPIC_LOGICAL_ID}]


def test_with_a_customer_key_the_function_may_publish_to_the_encrypted_topic(variant: Synth) -> None:
    # Given the variant with an imported key (the topic uses it)
    role = role_of_function(variant, FUNCTION)
    granted = {
        render(resource): set(s["Action"])
        for s in statements(policy_of_role(variant, role))
        for resource in s["Resource"]
    }
    # Then the function may use that key for publishing, and its schedules are the variant's group
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= granted[KEY_ARN]
    assert (
        "arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/evalpipe-EvalPipeVariant/*"
        in granted
    )
