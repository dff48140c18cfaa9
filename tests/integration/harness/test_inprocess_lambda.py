"""The in-process Lambda runner (local/inprocess_lambda.py), driven through moto's Invoke API."""

from __future__ import annotations

import base64
import inspect
import io
import itertools
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import inprocess_lambda
from local.inprocess_lambda import InProcessLambdaRunner, current_runner, inprocess_lambdas
from local.sfn_harness import create_function, create_lambda_role

from .conftest import REGION, TOY_CODE_DIR


def invoke(lambda_client: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[Any, str | None]:
    """Invoke and decode: (payload, FunctionError)."""
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# ---------------------------------------------------------------------- results and errors
def test_handler_result_is_returned_as_json_and_the_event_is_a_copy(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a function whose handler mutates and returns its event
    make_function("echo", "toy.steps.echo")

    # When it is invoked
    payload, function_error = invoke(lambda_client, "echo", {"a": [1, 2], "b": None})

    # Then the JSON result comes back and the runner's record of the event is untouched
    assert function_error is None
    assert payload == {"a": [1, 2], "b": None, "touched": True}
    assert toy_runner.invocations[-1].event == {"a": [1, 2], "b": None}
    assert toy_runner.invocations[-1].function_name == "echo"


def test_exception_becomes_the_lambda_error_payload_named_after_its_class(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a handler that raises ValueError
    make_function("broken", "toy.steps.broken")

    # When it is invoked with the log tail requested
    response = lambda_client.invoke(FunctionName="broken", Payload=b'{"value": 7}', LogType="Tail")
    payload = json.loads(response["Payload"].read())

    # Then the response is a function error carrying the runtime's payload
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input 7"
    assert isinstance(payload["stackTrace"], list)
    assert "toy_handlers/toy/steps.py" in payload["stackTrace"][0]
    assert "ValueError: bad input 7" in base64.b64decode(response["LogResult"]).decode()


def test_custom_exception_class_name_is_the_error_type(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any, tmp_path: Path
) -> None:
    # Given a handler that raises the toy's own exception class
    make_function("flaky", "toy.steps.flaky", {"COUNTER_FILE": str(tmp_path / "n"), "FAIL_TIMES": "9"})

    # When it is invoked
    payload, function_error = invoke(lambda_client, "flaky")

    # Then the error type is the bare class name (what Retry/Catch ErrorEquals match)
    assert function_error == "Unhandled"
    assert payload["errorType"] == "ToyThrottled"


@pytest.mark.parametrize(
    "case",
    [
        ("toy.missing.handler", "Runtime.ImportModuleError", "Unable to import module 'toy.missing'"),
        ("toy.steps.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'toy.steps'"),
        ("toy.steps.unserializable", "Runtime.MarshalError", "Unable to marshal response"),
        ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots'"),
        ("toy.steps.exits", "Runtime.ExitError", "Runtime exited (3)"),
    ],
)
def test_runtime_errors_are_reported_like_the_lambda_runtime(
    make_function: Callable[..., str],
    lambda_client: Any,
    toy_runner: InProcessLambdaRunner,
    case: tuple[str, ...],
) -> None:
    handler, error_type, message_part = case
    # Given a function whose handler cannot be imported, found or marshalled, or exits
    make_function("odd", handler)

    # When it is invoked
    payload, function_error = invoke(lambda_client, "odd")

    # Then the runtime's error type and message come back as a function error
    assert function_error == "Unhandled"
    assert payload["errorType"] == error_type
    assert message_part in payload["errorMessage"]


def test_decimals_are_marshalled_as_numbers(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a handler returning Decimals (as DynamoDB reads give)
    make_function("decimals", "toy.steps.decimals")

    # When it is invoked
    payload, function_error = invoke(lambda_client, "decimals")

    # Then they arrive as JSON numbers
    assert function_error is None
    assert payload == {"count": 3, "ratio": 0.5}


def test_dry_run_does_not_run_the_handler(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a function
    make_function("echo", "toy.steps.echo")

    # When it is invoked with InvocationType=DryRun
    response = lambda_client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")

    # Then nothing ran
    assert response["StatusCode"] == 204
    assert toy_runner.invocations == []


def test_a_payload_that_is_not_json_is_rejected_like_lambda_does(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a function
    make_function("echo", "toy.steps.echo")

    # When it is invoked with a payload that is not JSON
    with pytest.raises(lambda_client.exceptions.ClientError) as raised:
        lambda_client.invoke(FunctionName="echo", Payload=b"{not json")

    # Then the call is refused and the handler never ran
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert toy_runner.invocations == []


# ---------------------------------------------------------------------- environment and context
def test_function_environment_applies_only_during_its_call(
    toy_runner: InProcessLambdaRunner,
    make_function: Callable[..., str],
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a process variable SHARED and a function that overrides it and adds ONLY_FN
    monkeypatch.setenv("SHARED", "outer")
    monkeypatch.delenv("ONLY_FN", raising=False)
    make_function("probe", "toy.steps.env_probe", {"SHARED": "from-fn", "ONLY_FN": "yes"})

    # When the function reads both
    payload, _ = invoke(lambda_client, "probe", {"names": ["SHARED", "ONLY_FN", "AWS_DEFAULT_REGION"]})

    # Then it saw its own values, and the process sees its own again afterwards
    assert payload["env"] == {"SHARED": "from-fn", "ONLY_FN": "yes", "AWS_DEFAULT_REGION": REGION}
    assert os.environ["SHARED"] == "outer"
    assert "ONLY_FN" not in os.environ


def test_changes_a_handler_makes_to_the_environment_are_undone(
    toy_runner: InProcessLambdaRunner,
    make_function: Callable[..., str],
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a process variable and a handler that deletes it and sets another
    monkeypatch.setenv("KEEP_ME", "1")
    monkeypatch.delenv("SET_BY_HANDLER", raising=False)
    make_function("mutate", "toy.steps.mutate_env")

    # When the handler runs
    invoke(lambda_client, "mutate", {"delete": "KEEP_ME"})

    # Then the environment is as before the call
    assert os.environ["KEEP_ME"] == "1"
    assert "SET_BY_HANDLER" not in os.environ


def test_product_settings_cache_is_cleared_around_each_call(
    toy_runner: InProcessLambdaRunner,
    make_function: Callable[..., str],
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the product's settings cached in the test process with the test's table name
    from evalpipe.settings import settings

    monkeypatch.setenv("RUNS_TABLE_NAME", "outer-table")
    monkeypatch.setenv("BUCKET_NAME", "outer-bucket")
    settings.cache_clear()
    assert settings().runs_table_name == "outer-table"
    make_function("settings", "toy.steps.settings_probe", {"RUNS_TABLE_NAME": "fn-table", "BUCKET_NAME": "b"})

    # When a function with another table name reads the settings
    payload, function_error = invoke(lambda_client, "settings")

    # Then it saw its own, and the test process sees its own again
    assert function_error is None, payload
    assert payload == {"runs_table_name": "fn-table"}
    assert settings().runs_table_name == "outer-table"
    settings.cache_clear()


def test_context_and_runtime_variables_describe_the_function(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given a function with 512 MB and a 30 s timeout
    arn = make_function("ctx", "toy.steps.context_probe", memory_size=512, timeout=30)

    # When it is invoked
    payload, _ = invoke(lambda_client, "ctx")

    # Then the context object and the runtime variables match its configuration
    assert payload["function_name"] == "ctx"
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"] == arn
    assert payload["memory_limit_in_mb"] == "512"
    assert len(payload["aws_request_id"]) == 36
    assert 25_000 < payload["remaining_ms"] <= 30_000
    assert payload["AWS_LAMBDA_FUNCTION_NAME"] == "ctx"
    assert payload["_HANDLER"] == "toy.steps.context_probe"
    assert toy_runner.invocations[-1].request_id == payload["aws_request_id"]


# ---------------------------------------------------------------------- concurrency and nesting
def test_concurrent_invocations_run_one_at_a_time(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str]
) -> None:
    # Given two functions with different TAGs
    make_function("slow-a", "toy.steps.slow", {"TAG": "a"})
    make_function("slow-b", "toy.steps.slow", {"TAG": "b"})
    results: list[dict[str, Any]] = []

    def call(name: str) -> None:
        client = boto3.client("lambda", region_name=REGION)
        payload, _ = invoke(client, name, {"sleep": 0.05})
        results.append({**payload, "name": name})

    # When six invocations are started from six threads at once
    threads = [threading.Thread(target=call, args=(f"slow-{'ab'[i % 2]}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then no two overlapped and each saw its own TAG
    assert len(results) == 6
    ordered = sorted(results, key=lambda r: r["started"])
    for earlier, later in itertools.pairwise(ordered):
        assert earlier["ended"] <= later["started"]
    assert all(r["tag"] == r["name"][-1] for r in results)


def test_a_handler_can_invoke_another_function_synchronously(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given an outer function (TAG=outer) that invokes an inner one (TAG=inner)
    make_function("outer", "toy.steps.call_other", {"TAG": "outer"})
    make_function("inner", "toy.steps.env_probe", {"TAG": "inner"})

    # When the outer function is invoked
    payload, function_error = invoke(
        lambda_client, "outer", {"other": "inner", "payload": {"names": ["TAG"]}}
    )

    # Then the nested call neither deadlocks nor leaks its environment into the outer one
    assert function_error is None, payload
    assert payload["inner"]["env"] == {"TAG": "inner"}
    assert payload["tag_after_inner_call"] == "outer"


def test_a_function_served_concurrently_answers_calls_from_another_invocations_threads(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given an outer function whose worker threads invoke an inner one, and the inner one served
    # concurrently by a plain handler (an app under test: no environment, no product module)
    make_function("fan-out", "toy.steps.call_other_from_threads", {"TAG": "outer"})
    make_function("app", "toy.steps.env_probe", {"TAG": "inner"})
    toy_runner.serve_concurrently("app", lambda event, context: {"served": context.function_name})

    # When the outer function is invoked (its workers call while it holds the runner)
    payload, function_error = invoke(lambda_client, "fan-out", {"other": "app", "threads": 3})

    # Then every worker's call ran at once, through the registered handler, and was recorded
    assert function_error is None, payload
    assert payload == {"finished": 3, "answers": [{"served": "app"}] * 3}
    assert [i.function_name for i in toy_runner.invocations].count("app") == 3


def test_without_it_calls_from_another_invocations_threads_wait_for_the_runner(
    toy_runner: InProcessLambdaRunner, make_function: Callable[..., str], lambda_client: Any
) -> None:
    # Given the same functions, the inner one run the usual way (one invocation at a time)
    make_function("fan-out", "toy.steps.call_other_from_threads", {"TAG": "outer"})
    make_function("app", "toy.steps.env_probe", {"TAG": "inner"})

    # When the outer function's workers call it, waiting a short while
    payload, function_error = invoke(lambda_client, "fan-out", {"other": "app", "threads": 1, "wait": 0.5})

    # Then none finished while the outer invocation held the runner (why serve_concurrently exists)
    assert function_error is None, payload
    assert payload["finished"] == 0
    # (the waiting call runs once the outer one has ended: let it end inside the mock)
    deadline = time.monotonic() + 5
    while "app" not in [i.function_name for i in toy_runner.invocations] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "app" in [i.function_name for i in toy_runner.invocations]


# ---------------------------------------------------------------------- code location
def test_zip_uploaded_to_moto_runs_when_the_resolver_returns_none(
    toy_runner: InProcessLambdaRunner, lambda_client: Any, role_arn: str
) -> None:
    # Given two functions whose zips both ship an index.py, with different answers
    for answer in ("one", "two"):
        code = zip_of({"index.py": f"def handler(event, context):\n    return {{'answer': '{answer}'}}\n"})
        create_function(lambda_client, f"zipped-{answer}", "index.handler", {}, role_arn, code=code)

    # When they are invoked alternately with a resolver that defers to the zip
    with inprocess_lambdas(resolver=lambda function: None):
        answers = [invoke(lambda_client, f"zipped-{name}")[0] for name in ("one", "two", "one")]

    # Then each ran its own code, and the outer runner is active again
    assert answers == [{"answer": "one"}, {"answer": "two"}, {"answer": "one"}]
    assert current_runner() is toy_runner


def test_code_that_is_not_a_zip_is_an_import_error(
    toy_runner: InProcessLambdaRunner, lambda_client: Any, role_arn: str
) -> None:
    # Given a function whose uploaded code is not a zip, and a resolver that defers to it
    create_function(lambda_client, "garbage", "index.handler", {}, role_arn, code=b"not a zip")

    # When it is invoked
    with inprocess_lambdas(resolver=lambda function: None):
        payload, function_error = invoke(lambda_client, "garbage")

    # Then the runtime reports an import error naming the function
    assert function_error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "the code of garbage is not a zip" in payload["errorMessage"]


def test_default_resolver_is_the_product_lambdas_directory() -> None:
    # Given / When the default resolver is asked for any function
    resolved = inprocess_lambda.default_resolver(None)  # type: ignore[arg-type]

    # Then it points at lambdas/, which holds the handlers package
    assert (resolved / "handlers" / "__init__.py").is_file()


def test_handlers_also_run_in_process_with_lambda_use_docker_false(aws_env: None) -> None:
    # Given moto configured with its Docker-free Lambda backend (which returns canned strings)
    with (
        mock_aws(config={"lambda": {"use_docker": False}}),
        inprocess_lambdas(inprocess_lambda.directory_resolver(TOY_CODE_DIR)),
    ):
        client = boto3.client("lambda", region_name=REGION)
        role = create_lambda_role(boto3.client("iam", region_name=REGION))
        create_function(client, "classify", "toy.steps.classify", {}, role)

        # When the function is invoked
        payload, _ = invoke(client, "classify", {"n": 11})

    # Then the handler ran anyway
    assert payload == {"n": 11, "kind": "big"}


# ---------------------------------------------------------------------- installation and moto internals
def test_uninstall_restores_moto_and_nested_contexts_restore_the_outer_runner() -> None:
    # Given moto's own invoke methods
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    assert current_runner() is None
    original_function_invoke = LambdaFunction.__dict__["invoke"]
    original_backend_invoke = LambdaSimpleBackend.__dict__["invoke"]

    # When runners are installed, nested, and left
    with inprocess_lambdas() as outer:
        assert LambdaFunction.__dict__["invoke"] is not original_function_invoke
        with inprocess_lambdas(lambda function: None) as inner:
            assert current_runner() is inner
        assert current_runner() is outer

    # Then moto is exactly as before
    assert current_runner() is None
    assert LambdaFunction.__dict__["invoke"] is original_function_invoke
    assert LambdaSimpleBackend.__dict__["invoke"] is original_backend_invoke


def test_moto_internals_the_harness_relies_on_still_exist(harness_aws: None) -> None:
    """Fails loudly when a moto upgrade moves what local/inprocess_lambda.py patches or reads."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config
    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
        state_task_lambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda,
    )

    assert current_runner() is None, "run without the runner installed: it inspects moto's originals"

    # The patched methods, with the signatures the replacements implement.
    assert list(inspect.signature(LambdaFunction.invoke).parameters) == [
        "self",
        "body",
        "request_headers",
        "response_headers",
    ]
    assert list(inspect.signature(LambdaSimpleBackend.invoke).parameters) == [
        "self",
        "function_name",
        "qualifier",
        "body",
        "headers",
        "response_headers",
    ]
    # Every Invoke API call reaches the function's invoke (the one seam we patch), and the error
    # class used to refuse a non-JSON payload still takes (code, message).
    assert list(inspect.signature(LambdaClientError.__init__).parameters) == ["self", "error", "message"]
    assert "fn.invoke(body, headers, response_headers)" in inspect.getsource(LambdaBackend.invoke)
    # moto's header name for function errors (we set the same one).
    assert '"x-amz-function-error"' in inspect.getsource(LambdaFunction.invoke)

    # The function attributes the runner reads.
    client = boto3.client("lambda", region_name=REGION)
    role = create_lambda_role(boto3.client("iam", region_name=REGION))
    create_function(client, "internals", "toy.steps.echo", {"K": "v"}, role, code=zip_of({"a.py": ""}))
    function = lambda_backends["123456789012"][REGION].get_function("internals")
    assert isinstance(function, LambdaFunction)
    read_by_runner = ["function_name", "handler", "environment_vars", "region", "version", "function_arn"]
    read_by_runner += ["memory_size", "timeout", "code_bytes", "code_digest"]
    for attribute in read_by_runner:
        assert hasattr(function, attribute), attribute
    assert function.environment_vars == {"K": "v"}
    assert zipfile.is_zipfile(io.BytesIO(function.code_bytes))

    # Step Functions: the switch that turns the ASL engine on, and how it names Lambda errors.
    assert default_user_config["stepfunctions"] == {"execute_state_machine": True}  # SFN_MOTO_CONFIG
    assert "execute_state_machine" in inspect.getsource(sfn_responses.get_backend)
    for call in (
        lambda_eval_utils.execute_lambda_function_integration,
        lambda_eval_utils.exec_lambda_function,
    ):
        assert "FunctionError" in inspect.getsource(call), call
    # Both Lambda task forms: lambda:invoke (service integration) and Resource = function ARN.
    for task_class in (state_task_service_lambda.StateTaskServiceLambda, state_task_lambda.StateTaskLambda):
        assert 'cause_object["errorType"]' in inspect.getsource(task_class._from_error), task_class
