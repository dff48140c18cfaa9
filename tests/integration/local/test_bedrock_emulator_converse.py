"""The emulator's Bedrock Runtime Converse stand-in through boto3: in-process under mock_aws (plain
answers, the tool loop, preview judge prompts, validation, throttling and 5xx with retries) and in
server mode (HTTP controls)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from evalpipe.preview import CustomMetric, Rating, judge_prompt, samples_of

REGION = "us-east-1"
MODEL = "amazon.nova-lite-v1:0"
ORDER_TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "lookup_order",
                "description": "Find an order by its number.",
                "inputSchema": {
                    "json": {
                        "type": "object",
                        "properties": {"order_id": {"type": "string"}, "include_items": {"type": "boolean"}},
                        "required": ["order_id"],
                    }
                },
            }
        },
        {"toolSpec": {"name": "refund", "inputSchema": {"json": {"type": "object"}}}},
    ]
}


CANCEL_TOOL = {
    "toolSpec": {
        "name": "cancel_order",
        "inputSchema": {
            "json": {"type": "object", "properties": {"orderId": {"type": "string"}}, "required": ["orderId"]}
        },
    }
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


@pytest.fixture
def runtime(mocked_aws: None, emulator: Any) -> Any:
    return boto3.client("bedrock-runtime", region_name=REGION)


@pytest.fixture
def no_retry_runtime(mocked_aws: None, emulator: Any) -> Any:
    return boto3.client(
        "bedrock-runtime", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry backoff, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    return slept


def test_a_plain_conversation_gets_a_deterministic_answer_to_the_last_user_message(runtime, emulator):
    # Given a two-turn conversation
    messages = [
        user("Hi there"),
        {"role": "assistant", "content": [{"text": "Hello!"}]},
        user("Do you ship to Canada?"),
    ]

    # When it is sent twice
    first = runtime.converse(
        modelId=MODEL, messages=messages, system=[{"text": "You are a bookstore assistant."}]
    )
    second = runtime.converse(
        modelId=MODEL, messages=messages, system=[{"text": "You are a bookstore assistant."}]
    )

    # Then the answer names the last user message, ends the turn, and counts tokens (4 characters a token)
    text = first["output"]["message"]["content"][0]["text"]
    assert text == (
        "Thanks for your question about 'Do you ship to Canada'. I'm happy to help with that: could you "
        "share a few more details so I can give you an exact answer?"
    )
    assert (first["output"]["message"]["role"], first["stopReason"]) == ("assistant", "end_turn")
    usage = first["usage"]
    sent = "You are a bookstore assistant." + "Hi there" + "Hello!" + "Do you ship to Canada?"
    assert usage["inputTokens"] == -(-len(sent) // 4)
    assert usage["outputTokens"] == -(-len(text) // 4)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert first["metrics"]["latencyMs"] >= 1
    assert second["output"] == first["output"]
    assert emulator.controls.converse_calls == 2


def test_max_tokens_and_stop_sequences_cut_the_answer(runtime):
    capped = runtime.converse(
        modelId=MODEL, messages=[user("Do you ship?")], inferenceConfig={"maxTokens": 5}
    )
    stopped = runtime.converse(
        modelId=MODEL, messages=[user("Do you ship?")], inferenceConfig={"stopSequences": ["I'm happy"]}
    )
    assert capped["stopReason"] == "max_tokens"
    assert capped["usage"]["outputTokens"] <= 5
    # 5 tokens = 20 characters, cut at the last space
    assert capped["output"]["message"]["content"][0]["text"] == "Thanks for your"
    assert stopped["stopReason"] == "stop_sequence"
    assert (
        stopped["output"]["message"]["content"][0]["text"] == "Thanks for your question about 'Do you ship'."
    )


def test_the_tool_loop_calls_the_tool_the_user_mentions_then_answers_with_its_result(runtime):
    # Given a conversation with a tool configuration, whose question mentions an order and its number
    messages = [user("Where is my order BK-10482?")]

    # When the model is asked, the tool result fed back, and asked again
    first = runtime.converse(modelId=MODEL, messages=messages, toolConfig=ORDER_TOOLS)
    again = runtime.converse(modelId=MODEL, messages=messages, toolConfig=ORDER_TOOLS)
    (block,) = first["output"]["message"]["content"]
    use = block["toolUse"]
    messages += [
        first["output"]["message"],
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "Shipped May 3."}]}}
            ],
        },
    ]
    final = runtime.converse(modelId=MODEL, messages=messages, toolConfig=ORDER_TOOLS)

    # Then the first answer is a tool_use of the tool it mentions, id and input derived from the prompt
    assert first["stopReason"] == "tool_use"
    assert use["name"] == "lookup_order"
    assert use["input"] == {"order_id": "BK-10482"}
    assert re.fullmatch(r"tooluse_[A-Za-z0-9_-]{22}", use["toolUseId"])
    assert again["output"] == first["output"]  # deterministic
    # And the next answer ends the turn with the tool's result in its text
    assert final["stopReason"] == "end_turn"
    assert final["output"]["message"]["content"] == [
        {"text": "Here is what lookup_order returned: Shipped May 3."}
    ]


def test_tool_choice_picks_the_tool_and_json_or_error_results_are_read(runtime):
    choice = {**ORDER_TOOLS, "toolChoice": {"tool": {"name": "refund"}}}
    first = runtime.converse(modelId=MODEL, messages=[user("Refund BK-1")], toolConfig=choice)
    use = first["output"]["message"]["content"][0]["toolUse"]
    assert (use["name"], use["input"]) == ("refund", {"query": "Refund BK-1"})

    result = {"toolUseId": use["toolUseId"], "content": [{"json": {"refunded": False}}], "status": "error"}
    messages = [
        user("Refund BK-1"),
        first["output"]["message"],
        {"role": "user", "content": [{"toolResult": result}]},
    ]
    final = runtime.converse(modelId=MODEL, messages=messages, toolConfig=choice)
    assert final["output"]["message"]["content"][0]["text"] == 'The refund tool failed: {"refunded":false}'


def test_after_the_tool_has_answered_a_new_question_gets_words_not_another_call(runtime):
    first = runtime.converse(modelId=MODEL, messages=[user("Where is order BK-7?")], toolConfig=ORDER_TOOLS)
    use = first["output"]["message"]["content"][0]["toolUse"]
    result = {"toolUseId": use["toolUseId"], "content": [{"text": "Delivered."}]}
    answer = runtime.converse(
        modelId=MODEL,
        messages=[
            user("Where is order BK-7?"),
            first["output"]["message"],
            {"role": "user", "content": [{"toolResult": result}]},
        ],
        toolConfig=ORDER_TOOLS,
    )
    follow_up = [
        user("Where is order BK-7?"),
        first["output"]["message"],
        {"role": "user", "content": [{"toolResult": result}]},
        answer["output"]["message"],
        user("Thanks, and can I get a refund for order BK-8?"),
    ]
    reply = runtime.converse(modelId=MODEL, messages=follow_up, toolConfig=ORDER_TOOLS)
    assert reply["stopReason"] == "end_turn"
    assert reply["output"]["message"]["content"][0]["text"].startswith(
        "Thanks for your question about 'Thanks,"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Do you ship to Canada?", "no tool is mentioned"),
        ("Where is my order?", "lookup_order is mentioned, but no order number fills its order_id"),
        ("Can I look up an ordering guide?", "'look up' and 'ordering' are not the words lookup, order(s)"),
    ],
)
def test_a_conversation_that_calls_for_no_tool_gets_words(runtime, text, why):
    # Given tools, and a question that does not call for one (auto, the default tool choice)
    reply = runtime.converse(modelId=MODEL, messages=[user(text)], toolConfig=ORDER_TOOLS)
    # Then the model answers in words
    assert reply["stopReason"] == "end_turn", why
    assert reply["output"]["message"]["content"][0]["text"].startswith("Thanks for your question about")


def test_a_tool_mentioned_in_a_later_turn_takes_the_identifier_from_an_earlier_one(runtime):
    # Given a first turn that gave the order number, and a second that only mentions a refund
    tools = {"tools": [*ORDER_TOOLS["tools"][:1], CANCEL_TOOL]}
    messages = [
        user("Please look at my orders, BK-10517 is the one."),
        {"role": "assistant", "content": [{"text": "Order BK-10517 is processing. Shall I cancel it?"}]},
        user("Yes, please cancel it."),
    ]
    first = runtime.converse(modelId=MODEL, messages=messages[:1], toolConfig=tools)
    second = runtime.converse(modelId=MODEL, messages=messages, toolConfig=tools)
    # Then the first turn looked the order up ("orders" mentions lookup_order), the second cancels it
    assert first["output"]["message"]["content"][0]["toolUse"]["name"] == "lookup_order"
    use = second["output"]["message"]["content"][0]["toolUse"]
    assert (second["stopReason"], use["name"], use["input"]) == (
        "tool_use",
        "cancel_order",
        {"orderId": "BK-10517"},
    )


def test_tool_choice_any_calls_the_first_tool_when_none_is_mentioned(runtime):
    choice = {**ORDER_TOOLS, "toolChoice": {"any": {}}}
    reply = runtime.converse(modelId=MODEL, messages=[user("Hello")], toolConfig=choice)
    use = reply["output"]["message"]["content"][0]["toolUse"]
    assert (reply["stopReason"], use["name"], use["input"]) == (
        "tool_use",
        "lookup_order",
        {"order_id": "Hello"},
    )
    # A mentioned tool still wins over the first one
    refund = runtime.converse(modelId=MODEL, messages=[user("A refund, please")], toolConfig=choice)
    assert refund["output"]["message"]["content"][0]["toolUse"]["name"] == "refund"


def test_a_preview_judge_prompt_is_answered_by_the_offline_judge_on_the_metrics_scale(runtime):
    # Given the judge prompt evalpipe preview sends for a confirmation rubric
    metric = CustomMetric(
        "confirmation_check",
        "Rate whether the assistant asks for confirmation before acting.\n\n"
        "Prompt: {{prompt}}\nResponse: {{prediction}}",
        (Rating("N/A", -1.0), Rating("Poor", 0.0), Rating("Good", 1.0)),
    )
    record = {"prompt": "Please cancel BK-3.", "modelResponses": [{"response": "I've cancelled order BK-3."}]}
    (sample,) = samples_of(record, 1, rag=False)

    # When it is sent through Converse
    response = runtime.converse(
        modelId="amazon.nova-pro-v1:0",
        messages=[user(judge_prompt(metric, sample).text)],
        inferenceConfig={"maxTokens": 1024, "temperature": 0.0},
    )

    # Then the answer is JSON: the offline judge's reasoning (saying so) and a definition of the scale
    answer = json.loads(response["output"]["message"]["content"][0]["text"])
    assert answer["rating"] == "Poor"
    assert answer["reasoning"].startswith(
        "Offline heuristic (evalpipe-offline-judge): rubric read as a confirmation rule"
    )
    label = "[offline emulator: the offline judge (evalpipe-offline-judge) answered in place of "
    assert answer["reasoning"].endswith(label + "amazon.nova-pro-v1:0]")
    assert response["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("messages", "extra", "message"),
    [
        (
            [{"role": "assistant", "content": [{"text": "Hi"}]}],
            {},
            "A conversation must start with a user message",
        ),
        ([user("a"), user("b")], {}, "must alternate between user and assistant roles (messages.1"),
        ([user("   ")], {}, "ContentBlock object at messages.0.content.0 is blank"),
        (
            [
                user("a"),
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "x", "input": {}}}],
                },
            ],
            {},
            "The toolConfig field must be defined",
        ),
        (
            [{"role": "user", "content": [{"toolResult": {"toolUseId": "t9", "content": [{"text": "x"}]}}]}],
            {"toolConfig": ORDER_TOOLS},
            "the toolResult t9 answers no toolUse",
        ),
        (
            [{"role": "robot", "content": [{"text": "a"}]}],
            {},
            "Member must satisfy enum value set: [user, assistant]",
        ),
        ([{"role": "user", "content": [{"text": "a", "toolUse": {}}]}], {}, "exactly one member set"),
        (
            [user("Where is my order BK-1?")],
            {"toolConfig": {**ORDER_TOOLS, "toolChoice": {"tool": {"name": "no_such_tool"}}}},
            "no_such_tool is not a tool of toolConfig.tools",
        ),
    ],
)
def test_invalid_conversations_are_validation_exceptions(mocked_aws, emulator, messages, extra, message):
    # A client without its own parameter checks: what answers is the stand-in's validation
    runtime = boto3.client("bedrock-runtime", region_name=REGION, config=Config(parameter_validation=False))
    with pytest.raises(runtime.exceptions.ValidationException) as error:
        runtime.converse(modelId=MODEL, messages=messages, **extra)
    assert message in str(error.value)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_throttled_calls_are_429_and_a_client_with_retries_gets_through(
    runtime, no_retry_runtime, emulator, no_sleep
):
    # Given the next Converse call throttled
    emulator.controls.throttle_next_converse(1)

    # When a client without retries calls: it sees the 429
    with pytest.raises(no_retry_runtime.exceptions.ThrottlingException) as error:
        no_retry_runtime.converse(modelId=MODEL, messages=[user("Hi")])
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    # When the next two are throttled and a client with standard retries calls
    emulator.controls.throttle_next_converse(2)
    retrying = boto3.client(
        "bedrock-runtime", region_name=REGION, config=Config(retries={"mode": "standard", "max_attempts": 4})
    )
    response = retrying.converse(modelId=MODEL, messages=[user("Hi")])

    # Then it got its answer on the third attempt, after backing off twice; every attempt was counted
    assert response["stopReason"] == "end_turn"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(no_sleep) == 2
    assert emulator.controls.converse_calls == 1 + 3


def test_5xx_failures_are_retried_and_surface_without_retries(runtime, no_retry_runtime, emulator, no_sleep):
    emulator.controls.fail_next_converse(1)  # ServiceUnavailableException, 503
    with pytest.raises(no_retry_runtime.exceptions.ServiceUnavailableException) as error:
        no_retry_runtime.converse(modelId=MODEL, messages=[user("Hi")])
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    emulator.controls.fail_next_converse(1, code="InternalServerException")
    response = runtime.converse(modelId=MODEL, messages=[user("Hi")])  # botocore's default retries
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert emulator.controls.converse_calls == 3
    emulator.reset()
    assert emulator.controls.converse_calls == 0


# -- server mode ----------------------------------------------------------------------------------


@pytest.fixture
def server(aws_env: None, emulator: Any) -> Iterator[str]:
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto_server.stop()


def control(url: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/moto-api/evalpipe/bedrock-emulator/{action}",
        data=json.dumps(payload or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_server_mode_serves_converse_with_its_controls_over_http(server):
    # Given a client of the server without retries, and one Converse call throttled over HTTP
    runtime = boto3.client(
        "bedrock-runtime",
        region_name="eu-west-1",
        endpoint_url=server,
        config=Config(retries={"total_max_attempts": 1}),
    )
    state = control(server, "throttle", {"operation": "Converse", "count": 1})
    assert state["injectedErrors"][0] == {
        "operation": "Converse",
        "code": "ThrottlingException",
        "remaining": 1,
        "message": "Too many requests, please wait before trying again.",
    }

    # When it calls twice, and a 503 is injected over HTTP for a third call
    with pytest.raises(runtime.exceptions.ThrottlingException):
        runtime.converse(modelId=MODEL, messages=[user("Hi")])
    tool_call = runtime.converse(
        modelId=MODEL, messages=[user("Where is my order BK-2?")], toolConfig=ORDER_TOOLS
    )
    control(server, "inject-error", {"operation": "Converse", "code": "ServiceUnavailableException"})
    with pytest.raises(runtime.exceptions.ServiceUnavailableException):
        runtime.converse(modelId=MODEL, messages=[user("Hi")])

    # Then the tool call is the same as in-process, and the state counts the three calls
    assert tool_call["output"]["message"]["content"][0]["toolUse"]["input"] == {"order_id": "BK-2"}
    assert control(server, "state")["converseCalls"] == 3
    control(server, "reset")
    assert control(server, "state")["converseCalls"] == 0
