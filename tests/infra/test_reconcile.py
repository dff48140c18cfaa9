"""Reconcile: the rule on the state machine's unsuccessful endings, its function, DLQ + alarm."""

from __future__ import annotations

from infra import constants
from tests.infra.conftest import KEY_ARN, Synth, policy_of_role, render, role_of_function, statements

FUNCTION = constants.EXTRA_FUNCTION_LOGICAL_IDS[constants.FUNCTION_RECONCILE]
DLQ = f"<{constants.RECONCILE_DLQ_LOGICAL_ID}.Arn>"
TABLE = f"<{constants.RUNS_TABLE_LOGICAL_ID}.Arn>"
JOBS = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:evaluation-job/*"
EXECUTIONS = (
    "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    f"<{constants.STATE_MACHINE_LOGICAL_ID}.Name>:*"
)


def _statements(synth: Synth, role: str) -> list[tuple[list[str], list[str]]]:
    """(sorted actions, rendered resources) of every statement of the role's policy."""
    return sorted(
        (sorted(s["Action"]), sorted(render(r) for r in s["Resource"]))
        for s in statements(policy_of_role(synth, role))
        if s["Effect"] == "Allow"
    )


def test_the_rule_matches_this_state_machines_unsuccessful_endings_only(synth: Synth) -> None:
    # Given the rule on Step Functions' events
    pattern = synth.resource(constants.RECONCILE_RULE_LOGICAL_ID)["Properties"]["EventPattern"]
    # Then it matches FAILED, TIMED_OUT and ABORTED executions of this state machine, not SUCCEEDED
    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [{"Ref": constants.STATE_MACHINE_LOGICAL_ID}],
            "status": ["FAILED", "TIMED_OUT", "ABORTED"],
        },
    }


def test_the_rule_invokes_the_function_with_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    # Given the rule's one target
    (target,) = synth.resource(constants.RECONCILE_RULE_LOGICAL_ID)["Properties"]["Targets"]
    # Then it is the function, retried for a day, with the DLQ for what cannot be delivered
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [constants.RECONCILE_DLQ_LOGICAL_ID, "Arn"]}}
    # And only this rule may invoke the function
    [permission] = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert render(permission["SourceArn"]) == f"<{constants.RECONCILE_RULE_LOGICAL_ID}.Arn>"


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
        "OnFailure": {"Destination": {"Fn::GetAtt": [constants.RECONCILE_DLQ_LOGICAL_ID, "Arn"]}}
    }


def test_the_dead_letter_queue_is_encrypted_tls_only_and_alarmed(synth: Synth) -> None:
    # Given the reconciler's DLQ
    props = synth.resource(constants.RECONCILE_DLQ_LOGICAL_ID)["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 86_400
    [policy] = [
        p
        for p in synth.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": constants.RECONCILE_DLQ_LOGICAL_ID}]
    ]
    deny = next(s for s in statements(policy) if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Then a message in it raises an alarm on the alerts topic
    [alarm] = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [constants.RECONCILE_DLQ_LOGICAL_ID, "QueueName"]}}]
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": constants.TOPIC_LOGICAL_ID}]


def test_reconcile_has_exactly_its_grants(synth: Synth) -> None:
    # Given the Reconcile function's role policy
    role = role_of_function(synth, FUNCTION)
    log_group = synth.resource(FUNCTION)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    granted = _statements(synth, role)
    # Then: logs, X-Ray, the run item (get, claim, save), stopping and reading back jobs, the
    # history of this state machine's executions, publishing to the topic (its key), its DLQ
    assert granted == sorted(
        [
            (["logs:CreateLogStream", "logs:PutLogEvents"], [f"<{log_group}.Arn>"]),
            (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
            (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [TABLE]),
            (["bedrock:GetEvaluationJob", "bedrock:StopEvaluationJob"], [JOBS]),
            (["states:GetExecutionHistory"], [EXECUTIONS]),
            (["sns:Publish"], [f"<{constants.TOPIC_LOGICAL_ID}>"]),
            (["kms:Decrypt", "kms:GenerateDataKey*"], [f"<{constants.TOPIC_KEY_LOGICAL_ID}.Arn>"]),
            (["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"], [DLQ]),
        ]
    )


def test_reconcile_runs_the_handler_with_the_base_environment_and_reserved_concurrency(synth: Synth) -> None:
    props = synth.resource(FUNCTION)["Properties"]
    assert props["Handler"] == "handlers.reconcile.handler"
    env = props["Environment"]["Variables"]
    assert env["RUNS_TABLE_NAME"] == {"Ref": constants.RUNS_TABLE_LOGICAL_ID}
    assert env["BUCKET_NAME"] == {"Ref": constants.BUCKET_LOGICAL_ID}
    assert env["TOPIC_ARN"] == {"Ref": constants.TOPIC_LOGICAL_ID}
    assert props["ReservedConcurrentExecutions"] == 2


def test_with_a_customer_key_reconcile_may_use_it_for_the_table_and_the_topic(variant: Synth) -> None:
    role = role_of_function(variant, FUNCTION)
    granted = {
        render(resource): set(s["Action"])
        for s in statements(policy_of_role(variant, role))
        for resource in s["Resource"]
    }
    assert {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"} <= granted[KEY_ARN]
    assert (
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"<{constants.STATE_MACHINE_LOGICAL_ID}.Name>:*" in granted
    )
