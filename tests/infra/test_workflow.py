"""The state machine of docs/design.md: states, I/O paths, retries, catches, logging, alarms."""

from __future__ import annotations

from typing import Any

import pytest

from infra import constants
from tests.infra.conftest import Synth, render, state_machine_definition, statements

LAMBDA_ERRORS = list(constants.LAMBDA_SERVICE_ERRORS)
BEDROCK_ERRORS = ["BedrockThrottled", "BedrockQuotaExceeded", "BedrockUnavailable"]
NOT_SENT = ["NotificationNotSent"]
TASK_FAILED = ["States.TaskFailed"]
TASKS = [
    "Validate",
    "CollectBatch",
    "ValidateCollected",
    "Submit",
    "Poll",
    "StopJob",
    "Parse",
    "Notify",
    "RecordError",
    "NotifyError",
]
# The tasks of one shard (one batch) run inside the Jobs (Collect) Map: an error there fails the
# Map, whose Catch decides.
SHARD_TASKS = {"Submit", "Poll", "StopJob", "CollectBatch"}


@pytest.fixture(scope="module")
def asl(synth: Synth) -> dict[str, Any]:
    return state_machine_definition(synth.json, constants.STATE_MACHINE_LOGICAL_ID)


@pytest.fixture(scope="module")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name: the top level's and the Maps' (state names are unique)."""
    return {
        **asl["States"],
        **asl["States"]["Jobs"]["ItemProcessor"]["States"],
        **asl["States"]["Collect"]["ItemProcessor"]["States"],
    }


def test_uses_jsonpath_not_jsonata(synth: Synth, asl: dict[str, Any], states: dict) -> None:
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(state.get("QueryLanguage", "JSONPath") == "JSONPath" for state in states.values())
    assert "QueryLanguage" not in synth.resource(constants.STATE_MACHINE_LOGICAL_ID)["Properties"]


def test_has_exactly_the_contracts_states(asl: dict[str, Any], states: dict) -> None:
    assert asl["StartAt"] == "Validate"
    assert {name for name, state in states.items() if state["Type"] == "Task"} == set(TASKS)
    assert {name for name, state in states.items() if state["Type"] == "Succeed"} == {
        "Done",
        "Duplicate",
        "Ignored",
        "JobEnded",
    }
    assert {name for name, state in states.items() if state["Type"] == "Fail"} == {"PipelineFailed"}
    assert states["WaitForJob"]["Type"] == states["WaitForSlot"]["Type"] == "Wait"
    # One branch per shard of the run, at most maxConcurrentJobs at once; the branches' output dropped
    jobs = asl["States"]["Jobs"]
    assert jobs["Type"] == "Map"
    assert (jobs["ItemsPath"], jobs["MaxConcurrency"], jobs["ResultPath"]) == ("$.run.shards", 5, None)
    assert jobs["ItemSelector"] == {"run_id.$": "$.run.run_id", "shard.$": "$$.Map.Item.Value"}
    assert jobs["ItemProcessor"]["StartAt"] == "Submit"
    assert set(jobs["ItemProcessor"]["States"]) == {
        "Submit", "CheckSlot", "WaitForSlot", "WaitForJob", "Poll", "CheckJobStatus", "StopJob", "JobEnded",
    }  # fmt: skip
    # One branch per batch of the run's scenarios, at most collectConcurrency at once
    collect = asl["States"]["Collect"]
    assert collect["Type"] == "Map"
    assert (collect["ItemsPath"], collect["MaxConcurrency"], collect["ResultPath"]) == (
        "$.run.batches",
        4,
        None,
    )
    assert collect["ItemSelector"] == {"run_id.$": "$.run.run_id", "batch.$": "$$.Map.Item.Value"}
    assert set(collect["ItemProcessor"]["States"]) == {"CollectBatch"}
    assert collect["ItemProcessor"]["States"]["CollectBatch"]["End"] is True


def test_tasks_invoke_their_functions_with_the_contract_payloads(states: dict) -> None:
    expected = {
        "Validate": ("validate", None),
        "CollectBatch": ("collect", {"run_id.$": "$.run_id", "batch.$": "$.batch"}),
        # the same function's second entry: the run's dataset is collected
        "ValidateCollected": ("validate", {"collected": {"run_id.$": "$.run.run_id"}}),
        "Submit": ("submit", {"run_id.$": "$.run_id", "shard.$": "$.shard"}),
        "Poll": (
            "poll",
            {
                "run_id.$": "$.run_id",
                "shard.$": "$.shard",
                "job_arn.$": "$.job.job_arn",
                "deadline.$": "$.job.deadline",
            },
        ),
        "StopJob": ("stop", {"run_id.$": "$.run_id", "shard.$": "$.shard", "job_arn.$": "$.job.job_arn"}),
        "Parse": ("parse", {"run_id.$": "$.run.run_id"}),
        "Notify": ("notify", {"run_id.$": "$.run.run_id"}),
        "RecordError": ("record_error", None),  # the whole state: $.run may be missing
        # the whole state: notifies from the event, run and error when the table cannot be read
        "NotifyError": ("notify", None),
    }
    for name, (function, payload) in expected.items():
        state = states[name]
        assert state["Resource"] == f"<{constants.FUNCTION_LOGICAL_IDS[function]}.Arn>", name
        assert state.get("Parameters") == payload, name
        assert "OutputPath" not in state and "InputPath" not in state, name


def test_result_paths(states: dict) -> None:
    assert {name: states[name]["ResultPath"] for name in TASKS} == {
        "Validate": "$.run",
        "CollectBatch": "$.collected",
        "ValidateCollected": "$.run",
        "Submit": "$.job",
        "Poll": "$.job",
        "StopJob": "$.stop",
        "Parse": "$.parse",
        "Notify": "$.notify",
        "RecordError": "$.run",
        "NotifyError": "$.notify",
    }


def test_transitions(states: dict) -> None:
    outcome = states[states["Validate"]["Next"]]
    assert outcome["Type"] == "Choice"
    assert {(c["Variable"], c["StringEquals"], c["Next"]) for c in outcome["Choices"]} == {
        ("$.run.outcome", "VALID", "Jobs"),
        ("$.run.outcome", "COLLECT", "Collect"),
        ("$.run.outcome", "REJECTED", "Notify"),
        ("$.run.outcome", "DUPLICATE", "Duplicate"),
        ("$.run.outcome", "IGNORED", "Ignored"),
    }
    assert states["Jobs"]["Next"] == "Parse"
    # Collected scenarios: back to the same choice once the dataset is validated
    assert states["Collect"]["Next"] == "ValidateCollected"
    assert states["ValidateCollected"]["Next"] == states["Validate"]["Next"]
    # A shard: a slot first (else wait and ask again), then the polling loop
    check_slot = states[states["Submit"]["Next"]]
    assert [(c["Variable"], c["StringEquals"], c["Next"]) for c in check_slot["Choices"]] == [
        ("$.job.status", "Queued", "WaitForSlot")
    ]
    assert check_slot["Default"] == "WaitForJob"
    assert states["WaitForSlot"] == {"Type": "Wait", "SecondsPath": "$.job.wait_seconds", "Next": "Submit"}
    assert states["WaitForJob"] == {"Type": "Wait", "SecondsPath": "$.job.wait_seconds", "Next": "Poll"}
    job_status = states[states["Poll"]["Next"]]
    routes: dict[str, str] = {}
    for choice in job_status["Choices"]:
        for condition in choice.get("Or", [choice]):
            assert condition["Variable"] == "$.job.status"
            routes[condition["StringEquals"]] = choice["Next"]
    assert routes == {
        "Completed": "JobEnded",
        "Failed": "JobEnded",
        "Stopped": "JobEnded",
        "TimedOut": "StopJob",
        "Resubmit": "Submit",
    }
    assert job_status["Default"] == "WaitForJob"  # InProgress, Stopping
    assert states["StopJob"]["Next"] == "JobEnded"
    assert states["Parse"]["Next"] == "Notify"
    assert states["Notify"]["Next"] == "Done"
    assert states["RecordError"]["Next"] == "NotifyError"
    assert states["NotifyError"]["Next"] == "PipelineFailed"


def test_every_task_catches_every_error(states: dict) -> None:
    # A shard's tasks fail the Map (its other branches are aborted); the Map's Catch records the error
    assert all("Catch" not in states[name] for name in SHARD_TASKS)
    for name in [*(set(TASKS) - SHARD_TASKS), "Jobs", "Collect"]:
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name == "RecordError":
            # RecordError failing (the table unavailable) still notifies; $.error stays the step's
            assert (catch["ResultPath"], catch["Next"]) == ("$.record_error", "NotifyError")
            continue
        assert catch["ResultPath"] == "$.error", name
        on_error_path = name in {"Notify", "NotifyError"}
        assert catch["Next"] == ("PipelineFailed" if on_error_path else "RecordError"), name
    assert states["PipelineFailed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


@pytest.mark.parametrize("name", TASKS)
def test_every_task_retries_lambda_service_errors(states: dict, name: str) -> None:
    retry = states[name]["Retry"][0]
    assert retry == {
        "ErrorEquals": LAMBDA_ERRORS,
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


BEDROCK_RETRY = {
    "ErrorEquals": BEDROCK_ERRORS,
    "IntervalSeconds": 2,
    "MaxAttempts": 8,
    "BackoffRate": 2,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
NOT_SENT_RETRY = {
    "ErrorEquals": NOT_SENT,
    "IntervalSeconds": 5,
    "MaxAttempts": 6,
    "BackoffRate": 2,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
TASK_FAILED_RETRY = {
    "ErrorEquals": TASK_FAILED,
    "IntervalSeconds": 5,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}
# The retriers after the Lambda service errors' one, in order (Step Functions uses the first match).
MORE_RETRIES = {
    "Validate": [],
    "CollectBatch": [],
    "ValidateCollected": [],
    "Submit": [BEDROCK_RETRY],
    # A transient failure inside Poll (a DynamoDB error) must not end a run whose job runs on:
    # States.TaskFailed, last, as it also matches every error the retriers before it handle.
    "Poll": [BEDROCK_RETRY, TASK_FAILED_RETRY],
    "StopJob": [BEDROCK_RETRY],
    "Parse": [],
    # SNS took nothing: a retry cannot send twice
    "Notify": [NOT_SENT_RETRY],
    "NotifyError": [NOT_SENT_RETRY],
    "RecordError": [],
}


@pytest.mark.parametrize("name", TASKS)
def test_tasks_retry_exactly_their_transient_errors(states: dict, name: str) -> None:
    # Then after the Lambda service errors each task retries only what is safe and transient for it:
    # a BedrockRejected at Submit or StopJob goes straight to RecordError
    assert states[name]["Retry"][1:] == MORE_RETRIES[name]


def test_standard_with_timeout_tracing_and_logging_without_payloads(synth: Synth, asl: dict) -> None:
    props = synth.resource(constants.STATE_MACHINE_LOGICAL_ID)["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert asl["TimeoutSeconds"] == 35 * 86_400  # covers the 30-day human job deadline
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = synth.resource(log_group)
    assert render(group["Properties"]["LogGroupName"]).startswith("/aws/vendedlogs/states/")
    assert group["Properties"]["RetentionInDays"] == 30


def test_state_machine_role_invokes_only_the_pipeline_functions(synth: Synth) -> None:
    role = synth.resource(constants.STATE_MACHINE_LOGICAL_ID)["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    policy = next(
        p for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    )
    invoke = [s for s in statements(policy) if s["Action"] == ["lambda:InvokeFunction"]]
    resources = {render(r) for s in invoke for r in s["Resource"]}
    functions = {f"<{logical_id}.Arn>" for logical_id in constants.FUNCTION_LOGICAL_IDS.values()}
    assert resources == functions | {f"{arn}:*" for arn in functions}


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_alarms_publish_to_the_topic(synth: Synth, metric: str) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
    ]
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": constants.STATE_MACHINE_LOGICAL_ID}}
    ]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": constants.TOPIC_LOGICAL_ID}]
