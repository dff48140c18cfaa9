"""The adapters: Converse with its tool loop (botocore Stubber, exact requests pinned), retries
on throttling through botocore's standard mode, Lambda, and HTTP with urllib3's Retry."""

from __future__ import annotations

import io
import json
import types
from typing import Any

import botocore.endpoint
import botocore.session
import pytest
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from evalpipe.collect import (
    Conversation,
    ConverseTarget,
    HttpEndpoint,
    LambdaFunction,
    Message,
    MissingToolResult,
    TargetFailed,
    ToolRoundsExceeded,
    boto_config,
    http_retry,
    parse_target,
)
from local.target_app import TargetApp

MODEL = "amazon.nova-lite-v1:0"
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "lookup_order",
                "description": "Look an order up.",
                "inputSchema": {"json": {"type": "object", "properties": {"orderId": {"type": "string"}}}},
            }
        }
    ]
}
CANNED = {"lookup_order": {"orderId": "BK-1", "status": "shipped"}}


def _client(service: str, max_attempts: int = 1) -> Any:
    return botocore.session.get_session().create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=boto_config(max_attempts, concurrency=2),
    )


def _bedrock(**fields: Any) -> Any:
    return parse_target({"type": "bedrock", "modelId": MODEL, **fields})


def _answer(content: list[dict], *, stop: str = "end_turn", tokens: tuple[int, int] = (10, 5)) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "metrics": {"latencyMs": 42},
    }


def _tool_use(tool_id: str, name: str = "lookup_order") -> dict:
    return {"toolUse": {"toolUseId": tool_id, "name": name, "input": {"orderId": "BK-1"}}}


def _conversation(*texts: str, tool_results: dict | None = None) -> Conversation:
    messages = tuple(Message("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(texts))
    return Conversation("s1", messages, tool_results if tool_results is not None else CANNED)


# --- Converse -----------------------------------------------------------------------------


def test_one_converse_call_sends_the_conversation_system_prompt_and_settings() -> None:
    # Given a target with a system prompt and inference settings, and a model that answers at once
    config = _bedrock(systemPrompt="Be brief.", inferenceConfig={"maxTokens": 256, "temperature": 0.2})
    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _answer([{"text": "It shipped."}]),
            {
                "modelId": MODEL,
                "messages": [
                    {"role": "user", "content": [{"text": "Where is BK-1?"}]},
                    {"role": "assistant", "content": [{"text": "Which order?"}]},
                    {"role": "user", "content": [{"text": "BK-1"}]},
                ],
                "system": [{"text": "Be brief."}],
                "inferenceConfig": {"maxTokens": 256, "temperature": 0.2},
            },
        )

        # When the third message is answered
        reply = ConverseTarget(config, client).respond(
            _conversation("Where is BK-1?", "Which order?", "BK-1")
        )

        # Then the reply is the model's text with its token counts
        stub.assert_no_pending_responses()
    assert (reply.text, reply.input_tokens, reply.output_tokens, reply.tool_calls) == (
        "It shipped.",
        10,
        5,
        0,
    )


def test_the_tool_loop_feeds_canned_results_back_until_the_model_answers() -> None:
    # Given a model that calls the tool twice (two rounds), then answers
    config = _bedrock(toolConfig=TOOLS)
    client = _client("bedrock-runtime")
    first_use = [{"text": "Let me check."}, _tool_use("t-1")]
    user = {"role": "user", "content": [{"text": "Where is BK-1?"}]}
    result_1 = {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "t-1",
                    "content": [{"json": CANNED["lookup_order"]}],
                    "status": "success",
                }
            }
        ],
    }
    result_2 = {
        "role": "user",
        "content": [
            {
                "toolResult": {
                    "toolUseId": "t-2",
                    "content": [{"json": CANNED["lookup_order"]}],
                    "status": "success",
                }
            }
        ],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _answer(first_use, stop="tool_use"),
            {"modelId": MODEL, "messages": [user], "toolConfig": TOOLS},
        )
        stub.add_response(
            "converse",
            _answer([_tool_use("t-2")], stop="tool_use", tokens=(20, 3)),
            {
                "modelId": MODEL,
                "messages": [user, {"role": "assistant", "content": first_use}, result_1],
                "toolConfig": TOOLS,
            },
        )
        stub.add_response(
            "converse",
            _answer([{"text": "BK-1 has shipped."}], tokens=(30, 6)),
            {
                "modelId": MODEL,
                "messages": [
                    user,
                    {"role": "assistant", "content": first_use},
                    result_1,
                    {"role": "assistant", "content": [_tool_use("t-2")]},
                    result_2,
                ],
                "toolConfig": TOOLS,
            },
        )

        # When the turn is answered
        reply = ConverseTarget(config, client).respond(_conversation("Where is BK-1?"))

        # Then every round was made with the exact history, and tokens add up over the rounds
        stub.assert_no_pending_responses()
    assert reply.text == "BK-1 has shipped."
    assert (reply.input_tokens, reply.output_tokens, reply.tool_calls) == (60, 14, 2)


def test_a_text_canned_result_is_sent_as_a_text_block() -> None:
    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_response("converse", _answer([_tool_use("t-1", "get_policy")], stop="tool_use"))
        stub.add_response("converse", _answer([{"text": "30 days."}]))
        captured: list[dict] = []
        client.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse", lambda params, **_: captured.append(params)
        )
        ConverseTarget(_bedrock(toolConfig=TOOLS), client).respond(
            _conversation("Returns?", tool_results={"get_policy": "30 days for a full refund"})
        )
    assert captured[1]["messages"][-1]["content"][0]["toolResult"]["content"] == [
        {"text": "30 days for a full refund"}
    ]


def test_a_tool_without_a_canned_result_is_an_error_naming_the_tool() -> None:
    # Given a model calling a tool the scenario has no result for
    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_response("converse", _answer([_tool_use("t-1", "issue_refund")], stop="tool_use"))

        # When the turn is answered / Then it fails naming the tool and what the scenario has
        with pytest.raises(
            MissingToolResult, match=r"tool 'issue_refund'.*\(it has results for lookup_order\)"
        ):
            ConverseTarget(_bedrock(toolConfig=TOOLS), client).respond(_conversation("Refund me"))


def test_the_rounds_are_capped_by_max_tool_rounds() -> None:
    # Given a model that never stops calling the tool, and a cap of 3 calls
    client = _client("bedrock-runtime")
    with Stubber(client) as stub:
        for n in range(3):
            stub.add_response("converse", _answer([_tool_use(f"t-{n}")], stop="tool_use"))

        # When the turn is answered / Then it fails after exactly 3 calls
        with pytest.raises(ToolRoundsExceeded, match="after 3 Converse calls"):
            ConverseTarget(_bedrock(toolConfig=TOOLS, maxToolRounds=3), client).respond(_conversation("Loop"))
        stub.assert_no_pending_responses()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _wire(client: Any, operation: str, responses: list[tuple[int, dict, dict]]) -> list[dict]:
    """Answer ``operation`` on the wire (inside botocore's retry loop, unlike Stubber)."""
    sent: list[dict] = []

    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(json.loads(request.body))
        status, body, headers = responses.pop(0)
        return AWSResponse(
            request.url,
            status,
            {"content-type": "application/json", **headers},
            _Raw(json.dumps(body).encode()),
        )

    client.meta.events.register(
        f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}", before_send
    )
    return sent


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry waits, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def test_throttling_is_retried_by_the_standard_retry_mode_then_answers(sleeps: list[float]) -> None:
    # Given a client with 3 attempts and a service throttling twice, then answering
    client = _client("bedrock-runtime", max_attempts=3)
    throttled = (
        429,
        {"message": "Too many requests, please wait before trying again."},
        {"x-amzn-ErrorType": "ThrottlingException"},
    )
    sent = _wire(client, "Converse", [throttled, throttled, (200, _answer([{"text": "ok"}]), {})])

    # When a turn is answered
    reply = ConverseTarget(_bedrock(), client).respond(_conversation("hi"))

    # Then it took three identical requests and two backoff waits (with jitter, within the bound)
    assert reply.text == "ok"
    assert len(sent) == 3 and sent[0] == sent[2]
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2


def test_throttling_beyond_the_attempts_raises_the_services_error(sleeps: list[float]) -> None:
    client = _client("bedrock-runtime", max_attempts=2)
    throttled = (429, {"message": "Rate exceeded"}, {"x-amzn-ErrorType": "ThrottlingException"})
    _wire(client, "Converse", [throttled, throttled])
    with pytest.raises(ClientError, match=r"ThrottlingException.*reached max retries: 1"):
        ConverseTarget(_bedrock(), client).respond(_conversation("hi"))


def test_a_validation_error_is_not_retried(sleeps: list[float]) -> None:
    client = _client("bedrock-runtime", max_attempts=5)
    sent = _wire(
        client, "Converse", [(400, {"message": "bad model"}, {"x-amzn-ErrorType": "ValidationException"})]
    )
    with pytest.raises(ClientError, match="ValidationException"):
        ConverseTarget(_bedrock(), client).respond(_conversation("hi"))
    assert len(sent) == 1 and sleeps == []


# --- Lambda -------------------------------------------------------------------------------


def _lambda(**fields: Any) -> Any:
    return parse_target(
        {
            "type": "lambda",
            "functionName": "bookstore",
            "payload": {"messages": "{{messages}}", "session": "{{scenarioId}}"},
            "answerPath": "$.output.text",
            "inputTokensPath": "$.usage.in",
            **fields,
        }
    )


def test_the_lambda_target_invokes_with_the_rendered_payload_and_reads_the_answer() -> None:
    client = _client("lambda")
    with Stubber(client) as stub:
        payload = json.dumps({"messages": [{"role": "user", "content": "hi"}], "session": "s1"}).encode()
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(b'{"output": {"text": "hello"}, "usage": {"in": 4}}')},
            {
                "FunctionName": "bookstore",
                "InvocationType": "RequestResponse",
                "Payload": payload,
                "Qualifier": "live",
            },
        )
        reply = LambdaFunction(_lambda(qualifier="live"), client).respond(_conversation("hi"))
    assert (reply.text, reply.input_tokens, reply.output_tokens) == ("hello", 4, None)


def test_a_function_error_fails_with_its_type_and_message() -> None:
    client = _client("lambda")
    with Stubber(client) as stub:
        error = b'{"errorType": "KeyError", "errorMessage": "\'messages\'"}'
        stub.add_response(
            "invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(error)}
        )
        with pytest.raises(TargetFailed, match="function bookstore failed: KeyError: 'messages'"):
            LambdaFunction(_lambda(), client).respond(_conversation("hi"))


# --- HTTP ---------------------------------------------------------------------------------


def _http(url: str, **fields: Any) -> Any:
    return parse_target(
        {
            "type": "http",
            "url": url,
            "body": {"messages": "{{messages}}", "context": "{{context}}"},
            "answerPath": "$.output.text",
            "inputTokensPath": "$.usage.inputTokens",
            "outputTokensPath": "$.usage.outputTokens",
            "headers": {"Authorization": {"env": "T", "prefix": "Bearer "}},
            **fields,
        }
    )


@pytest.fixture
def app() -> Any:
    with TargetApp(token="t0k") as running:
        yield running


def _pool(attempts: int) -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=http_retry(attempts, backoff_seconds=0.01))


def test_http_429_then_500_are_retried_and_the_answer_read(app: TargetApp) -> None:
    # Given an app throttling once and failing once before answering
    app.fail_next(1, 429)
    app.fail_next(1, 503)

    # When a turn is sent with 3 attempts
    reply = HttpEndpoint(_http(app.url), _pool(3), {"Authorization": "Bearer t0k"}).respond(
        _conversation("Where is BK-10482?")
    )

    # Then the third request was answered; every request carried the header and the same body
    assert [r.status for r in app.requests] == [429, 503, 200]
    assert {r.headers["authorization"] for r in app.requests} == {"Bearer t0k"}
    assert app.requests[0].body == {
        "messages": [{"role": "user", "content": "Where is BK-10482?"}],
        "context": {},
    }
    assert reply.text.endswith("Order BK-10482 shipped on May 3 and should arrive by May 8.")
    assert (reply.input_tokens, reply.output_tokens) == (3, len(reply.text.split()))


def test_http_errors_after_the_attempts_or_not_retried_fail_with_the_status(app: TargetApp) -> None:
    app.fail_next(2, 500)
    target = HttpEndpoint(_http(app.url), _pool(2), {"Authorization": "Bearer t0k"})
    with pytest.raises(TargetFailed, match=r"HTTP 500 from http://127\.0\.0\.1:\d+/chat: .*Internal error"):
        target.respond(_conversation("hi"))

    # A 401 is not retried
    wrong = HttpEndpoint(_http(app.url), _pool(5), {"Authorization": "Bearer nope"})
    with pytest.raises(TargetFailed, match="HTTP 401"):
        wrong.respond(_conversation("hi"))
    assert [r.status for r in app.requests] == [500, 500, 401]


def test_an_answer_path_that_matches_nothing_fails_the_turn(app: TargetApp) -> None:
    target = HttpEndpoint(_http(app.url, answerPath="$.answer"), _pool(1), {"Authorization": "Bearer t0k"})
    with pytest.raises(ValueError, match=r"answerPath \$.answer matches nothing"):
        target.respond(_conversation("hi"))
