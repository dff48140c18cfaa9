"""State machines executed by moto's ASL engine with toy Lambda handlers run in-process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from local.sfn_harness import (
    UnresolvableTemplateError,
    definition_from_template,
    path_from_history,
    run_execution,
)

from .conftest import Toy

pytestmark = pytest.mark.slow

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def lambda_task(function_arn: str, **fields: Any) -> dict[str, Any]:
    """A Task state shaped like the product's: lambda:invoke with FunctionName and Payload."""
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        **fields,
    }


# ---------------------------------------------------------------------- flow
@pytest.mark.parametrize(
    ("n", "expected_path", "expected_output"),
    [
        (42, ["Classify", "Route", "Finish"], {"message": "Hello big", "function": "finish"}),
        (3, ["Classify", "Route", "Small"], {"n": 3, "kind": "small"}),
    ],
)
def test_lambda_choice_lambda_follows_the_choice(
    toy: Toy,
    n: int,
    expected_path: list[str],
    expected_output: dict[str, Any],
) -> None:
    # Given Classify (Lambda) -> Route (Choice) -> Finish (Lambda) | Small (Succeed)
    classify = toy.function("classify", "toy.steps.classify")
    finish = toy.function("finish", "toy.steps.finish", {"GREETING": "Hello"})
    definition = {
        "StartAt": "Classify",
        "States": {
            "Classify": lambda_task(
                classify,
                ResultSelector={"n.$": "$.Payload.n", "kind.$": "$.Payload.kind"},
                OutputPath="$",
                ResultPath="$",
                Next="Route",
            ),
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.kind", "StringEquals": "big", "Next": "Finish"}],
                "Default": "Small",
            },
            "Finish": lambda_task(finish, OutputPath="$.Payload", End=True),
            "Small": {"Type": "Succeed"},
        },
    }
    machine = toy.machine("flow", definition)

    # When it runs with n
    result = toy.run(machine, {"n": n})

    # Then the path and the output follow the choice
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == expected_path
    assert result.output == expected_output
    assert result.state_output("Classify") == {"n": n, "kind": "big" if n > 10 else "small"}


def test_retry_on_the_exception_class_name_until_success(
    toy: Toy,
    tmp_path: Path,
) -> None:
    # Given a handler that raises ToyThrottled twice, behind Retry ["ToyThrottled"] every 1 s
    flaky = toy.function("flaky", "toy.steps.flaky", {"COUNTER_FILE": str(tmp_path / "n"), "FAIL_TIMES": "2"})
    retry = [{"ErrorEquals": ["ToyThrottled"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}]
    definition = {
        "StartAt": "CallFlaky",
        "States": {"CallFlaky": lambda_task(flaky, Retry=retry, OutputPath="$.Payload", End=True)},
    }
    machine = toy.machine("retry", definition)

    # When it runs
    started = time.monotonic()
    result = toy.run(machine, {})
    elapsed = time.monotonic() - started

    # Then it succeeds on the third attempt, and the history shows both retried failures
    assert result.status == "SUCCEEDED", result.describe()
    assert result.output == {"attempts": 3}
    assert result.task_errors() == ["ToyThrottled", "ToyThrottled"]
    assert len(result.events_of_type("TaskScheduled")) == 3
    assert result.path == ["CallFlaky"]
    assert elapsed >= 2  # two real 1-second retry intervals (moto sleeps them)
    assert [i.error_type for i in toy.runner.invocations] == ["ToyThrottled", "ToyThrottled", None]


def test_retries_exhausted_fail_the_execution_with_the_error_name(
    toy: Toy,
    tmp_path: Path,
) -> None:
    # Given a handler that always throttles, with one retry allowed
    flaky = toy.function(
        "flaky", "toy.steps.flaky", {"COUNTER_FILE": str(tmp_path / "n"), "FAIL_TIMES": "99"}
    )
    retry = [{"ErrorEquals": ["ToyThrottled"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    definition = {"StartAt": "CallFlaky", "States": {"CallFlaky": lambda_task(flaky, Retry=retry, End=True)}}
    machine = toy.machine("exhausted", definition)

    # When it runs
    result = toy.run(machine, {})

    # Then the execution fails with the exception class name and the Lambda error payload as cause
    assert result.status == "FAILED"
    assert result.error == "ToyThrottled"
    assert json.loads(result.cause or "{}")["errorMessage"] == "attempt 2: slow down"
    assert result.task_errors() == ["ToyThrottled", "ToyThrottled"]


def test_task_with_the_function_arn_as_resource_names_errors_the_same_way(toy: Toy, tmp_path: Path) -> None:
    # Given the other Lambda task form (what CDK emits with payloadResponseOnly): Resource = the
    # function ARN, handled by a different class of moto's engine (StateTaskLambda)
    env = {"COUNTER_FILE": str(tmp_path / "n"), "FAIL_TIMES": "1"}
    flaky = toy.function("flaky", "toy.steps.flaky", env)
    broken = toy.function("broken", "toy.steps.broken")
    retry = [{"ErrorEquals": ["ToyThrottled"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}]
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": flaky,
                "Retry": retry,
                "ResultPath": "$.flaky",
                "Next": "Broken",
            },
            "Broken": {"Type": "Task", "Resource": broken, "Catch": catch, "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = toy.machine("direct", definition)

    # When it runs
    result = toy.run(machine, {"value": 5})

    # Then the retry matched ToyThrottled, the catch saw ValueError, and the result is the bare payload
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == ["Flaky", "Broken", "Caught"]
    assert result.task_errors() == ["ToyThrottled", "ValueError"]
    assert result.output["flaky"] == {"attempts": 2}
    assert result.output["error"]["Error"] == "ValueError"
    assert len(result.events_of_type("LambdaFunctionScheduled")) == 3


def test_catch_states_all_routes_the_error_to_recovery(toy: Toy) -> None:
    # Given a handler raising ValueError, caught by States.ALL into $.error, then a recovery task
    broken = toy.function("broken", "toy.steps.broken")
    recover = toy.function("recover", "toy.steps.recover")
    definition = {
        "StartAt": "Broken",
        "States": {
            "Broken": lambda_task(
                broken,
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                End=True,
            ),
            "Recover": lambda_task(recover, OutputPath="$.Payload", End=True),
        },
    }
    machine = toy.machine("catch", definition)

    # When it runs
    result = toy.run(machine, {"value": "x"})

    # Then the recovery state received Error == "ValueError" and the runtime payload as Cause
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == ["Broken", "Recover"]
    assert result.output["recovered_from"] == "ValueError"
    assert result.output["cause"]["errorMessage"] == "bad input 'x'"
    assert result.output["cause"]["errorType"] == "ValueError"


def test_uncaught_error_fails_the_execution(toy: Toy) -> None:
    # Given a lone task whose handler raises
    broken = toy.function("broken", "toy.steps.broken")
    machine = toy.machine("fail", {"StartAt": "Broken", "States": {"Broken": lambda_task(broken, End=True)}})

    # When it runs
    result = toy.run(machine, {"value": 1})

    # Then the execution reports the error name and no output
    assert result.status == "FAILED"
    assert result.error == "ValueError"
    assert result.output is None
    assert result.path == ["Broken"]


@pytest.mark.parametrize("seconds", [0, 1])
def test_wait_seconds_path_comes_from_the_function_environment(
    toy: Toy,
    seconds: int,
) -> None:
    # Given Timer (returns WAIT_SECONDS of its environment) -> Wait (SecondsPath) -> Done
    timer = toy.function("timer", "toy.steps.timer", {"WAIT_SECONDS": str(seconds)})
    definition = {
        "StartAt": "Timer",
        "States": {
            "Timer": lambda_task(
                timer, ResultSelector={"seconds.$": "$.Payload.seconds"}, ResultPath="$.timer", Next="Wait"
            ),
            "Wait": {"Type": "Wait", "SecondsPath": "$.timer.seconds", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = toy.machine("wait", definition)

    # When it runs
    started = time.monotonic()
    result = toy.run(machine, {"keep": True})
    elapsed = time.monotonic() - started

    # Then it waited that long (for real) and kept the input
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path == ["Timer", "Wait", "Done"]
    assert result.output == {"keep": True, "timer": {"seconds": seconds}}
    assert elapsed >= seconds
    assert len(result.events_of_type("WaitStateEntered", "WaitStateExited")) == 2


def test_each_function_sees_only_its_own_environment(toy: Toy) -> None:
    # Given two probes with one private variable each, in sequence
    names = ["ONLY_A", "ONLY_B"]
    probe_a = toy.function("probe-a", "toy.steps.env_probe", {"ONLY_A": "a"})
    probe_b = toy.function("probe-b", "toy.steps.env_probe", {"ONLY_B": "b"})

    def probe(function_arn: str, result_path: str, **transition: Any) -> dict[str, Any]:
        return {
            **lambda_task(function_arn, ResultSelector={"env.$": "$.Payload.env"}, ResultPath=result_path),
            "Parameters": {"FunctionName": function_arn, "Payload": {"names": names}},
            **transition,
        }

    definition = {
        "StartAt": "ProbeA",
        "States": {"ProbeA": probe(probe_a, "$.a", Next="ProbeB"), "ProbeB": probe(probe_b, "$.b", End=True)},
    }
    machine = toy.machine("env", definition)

    # When it runs
    result = toy.run(machine, {})

    # Then each saw only its own variable, and neither is left in the test process
    assert result.status == "SUCCEEDED", result.describe()
    assert result.output["a"]["env"] == {"ONLY_A": "a", "ONLY_B": None}
    assert result.output["b"]["env"] == {"ONLY_A": None, "ONLY_B": "b"}
    assert not set(names) & set(os.environ)


def test_run_execution_times_out_with_the_path_so_far(toy: Toy) -> None:
    # Given a machine that waits far longer than the caller will
    definition = {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 30, "End": True}}}
    machine = toy.machine("slow", definition)

    # When run with a short timeout
    with pytest.raises(TimeoutError, match=r"still RUNNING after 0.3s; states entered: \['Long'\]"):
        run_execution(toy.sfn_client, machine, {}, timeout=0.3)

    # Then the execution was stopped (not left running in the background)
    execution = toy.sfn_client.list_executions(stateMachineArn=machine)["executions"][0]
    assert execution["status"] == "ABORTED"


def test_path_from_history_repeats_states_entered_again() -> None:
    # Given a history of a loop Poll -> Wait -> Poll
    events = [
        {"type": "ExecutionStarted", "id": 1},
        {"type": "TaskStateEntered", "id": 2, "stateEnteredEventDetails": {"name": "Poll"}},
        {"type": "TaskFailed", "id": 3},
        {"type": "WaitStateEntered", "id": 4, "stateEnteredEventDetails": {"name": "Wait"}},
        {"type": "WaitStateExited", "id": 5, "stateExitedEventDetails": {"name": "Wait"}},
        {"type": "TaskStateEntered", "id": 6, "stateEnteredEventDetails": {"name": "Poll"}},
    ]

    # When / Then the path lists each entry
    assert path_from_history(events) == ["Poll", "Wait", "Poll"]


# ---------------------------------------------------------------------- synthesized templates
def cdk_like_template(definition_parts: list[Any], **properties: Any) -> dict[str, Any]:
    """A template shaped like CDK's synthesis of a state machine with a Lambda task."""
    return {
        "Resources": {
            "ClassifyFunction1A2B3C": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "EvalStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", definition_parts]}, **properties},
            },
        }
    }


CDK_PARTS: list[Any] = [
    '{"StartAt":"Classify","States":{"Classify":{"End":true,"Type":"Task","OutputPath":"$.Payload",'
    '"Resource":"arn:',
    {"Ref": "AWS::Partition"},
    ':states:::lambda:invoke","Parameters":{"FunctionName":"',
    {"Fn::GetAtt": ["ClassifyFunction1A2B3C", "Arn"]},
    '","Payload.$":"$"}}}}',
]


def test_synthesized_definition_is_rendered_and_executed(toy: Toy) -> None:
    # Given a CDK-shaped DefinitionString with a partition Ref and a function GetAtt
    arn = toy.function("classify", "toy.steps.classify")
    template = cdk_like_template(CDK_PARTS)

    # When it is rendered with the function's ARN and executed
    definition = definition_from_template(template, "EvalStateMachine", {"ClassifyFunction1A2B3C": arn})
    machine = toy.machine("rendered", definition)
    result = toy.run(machine, {"n": 12})

    # Then the tokens became concrete values and the machine ran
    states = json.loads(definition)["States"]
    assert states["Classify"]["Resource"] == LAMBDA_INVOKE
    assert states["Classify"]["Parameters"]["FunctionName"] == arn
    assert result.status == "SUCCEEDED", result.describe()
    assert result.output == {"n": 12, "kind": "big"}


def test_get_att_string_form_attribute_values_and_substitutions() -> None:
    # Given GetAtt in its "Id.Attr" form, a non-Arn attribute and a DefinitionSubstitutions entry
    parts = [
        '{"A":"',
        {"Fn::GetAtt": "Table.Arn"},
        '","B":"',
        {"Fn::GetAtt": ["Topic", "TopicName"]},
        '","C":"${Bucket}"}',
    ]
    template = cdk_like_template(parts, DefinitionSubstitutions={"Bucket": {"Ref": "BucketRes"}})

    # When rendered
    text = definition_from_template(
        template,
        "EvalStateMachine",
        {"Table": "arn:table", "Topic.TopicName": "alerts", "BucketRes": "my-bucket"},
    )

    # Then every token has its value
    assert json.loads(text) == {"A": "arn:table", "B": "alerts", "C": "my-bucket"}


@pytest.mark.parametrize(
    ("parts", "values", "message"),
    [
        (['{"a":"', {"Fn::Sub": "${AWS::Region}"}, '"}'], {}, "unsupported intrinsic function 'Fn::Sub'"),
        (
            ['{"a":"', {"Fn::GetAtt": ["Missing", "Arn"]}, '"}'],
            {},
            "no value for Fn::GetAtt \\['Missing', 'Arn'\\]",
        ),
        (
            ['{"a":"', {"Ref": "Missing"}, '"}'],
            {"Other": "x"},
            "no value for Ref 'Missing'.*known: \\['Other'\\]",
        ),
        (['{"a":', {"Ref": "V"}], {"V": "oops"}, "not JSON"),
    ],
)
def test_unrenderable_templates_raise_clearly(parts: list[Any], values: dict[str, str], message: str) -> None:
    # Given a definition with an unknown intrinsic, an unknown logical id, or broken JSON
    template = cdk_like_template(parts)

    # When / Then rendering names the problem
    with pytest.raises(UnresolvableTemplateError, match=message):
        definition_from_template(template, "EvalStateMachine", values)


def test_unknown_state_machine_logical_id_lists_the_state_machines() -> None:
    # Given a template with one state machine
    template = cdk_like_template(CDK_PARTS)

    # When / Then asking for another names the one there is
    with pytest.raises(UnresolvableTemplateError, match=r"state machines: \['EvalStateMachine'\]"):
        definition_from_template(template, "Nope", {})
