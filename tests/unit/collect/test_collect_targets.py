"""The target configuration (one model, discriminated by type), templates and JSONPath."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalpipe.collect import (
    BedrockTarget,
    Conversation,
    HttpTarget,
    InputError,
    LambdaTarget,
    Message,
    MissingHeaderValue,
    env_headers,
    parse_target,
    target_from_text,
)
from evalpipe.collect.payload import AnswerNotFound, TemplateError, answer_at, render_template, tokens_at

ROOT = Path(__file__).resolve().parents[3]
TARGETS = ROOT / "examples" / "scenarios" / "targets"


def _problems(value: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_target(value, "target.json")
    return caught.value.problems


# --- the configuration --------------------------------------------------------------------


def test_every_example_target_parses_to_its_type() -> None:
    # Given the documented target files / When parsed / Then each is the model of its type
    kinds = {
        path.name: type(target_from_text(path.read_text(), str(path))) for path in TARGETS.glob("*.json")
    }
    assert kinds == {
        "bookstore-nova-lite.json": BedrockTarget,
        "local-http.json": HttpTarget,
        "lambda.json": LambdaTarget,
    }


def test_the_bedrock_shorthand_and_the_identifier_defaults() -> None:
    # Given the shorthand on the command line
    target = target_from_text("bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0", "--target")

    # Then it is a Bedrock target with the defaults; its identifier is the model id
    assert isinstance(target, BedrockTarget)
    assert target.model_id == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert target.max_tool_rounds == 10
    assert target.strip_tags == ("thinking", "think", "reasoning")
    assert target.identifier == target.model_id

    # And the other types default to the URL's host and the function's name
    http = parse_target({"type": "http", "url": "https://app.example.com/v1/chat", "answerPath": "$.a"})
    function = parse_target(
        {
            "type": "lambda",
            "functionName": "arn:aws:lambda:us-east-1:123456789012:function:chat:live",
            "answerPath": "$.a",
        }
    )
    assert (http.identifier, function.identifier) == ("app.example.com", "chat")
    assert (
        parse_target(
            {"type": "lambda", "functionName": "chat", "answerPath": "$.a", "modelIdentifier": "v3"}
        ).identifier
        == "v3"
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "sagemaker"}, "(document): Input tag 'sagemaker' found using 'type' does not match"),
        ({"modelId": "m"}, "(document): Unable to extract tag using discriminator 'type'"),
        ({"type": "bedrock"}, "bedrock.modelId: Field required"),
        (
            {"type": "bedrock", "modelId": "m", "maxToolRounds": 0},
            "bedrock.maxToolRounds: Input should be greater",
        ),
        (
            {"type": "bedrock", "modelId": "m", "toolConfig": {"tools": []}},
            'bedrock.toolConfig: needs "tools"',
        ),
        (
            {"type": "bedrock", "modelId": "m", "stripTags": ["<thinking>"]},
            "bedrock.stripTags: not tag names",
        ),
        ({"type": "http", "url": "ftp://x", "answerPath": "$.a"}, "http.url: must be an http:// or https://"),
        (
            {"type": "http", "url": "https://u:p@x.example/", "answerPath": "$.a"},
            "http.url: must not carry credentials",
        ),
        (
            {"type": "http", "url": "https://x.example", "answerPath": "$.[["},
            "http.answerPath: '$.[[' is not a valid",
        ),
        (
            {"type": "http", "url": "https://x.example", "answerPath": "$.a", "body": {"q": "{{question}}"}},
            "http.body: unknown template variable(s) question",
        ),
        (
            {
                "type": "http",
                "url": "https://x.example",
                "answerPath": "$.a",
                "headers": {"Authorization": "Bearer x"},
            },
            "http.headers.Authorization: Input should be a valid dictionary",
        ),
        (
            {
                "type": "http",
                "url": "https://x.example",
                "answerPath": "$.a",
                "headers": {"X": {"value": "literal"}},
            },
            "http.headers.X.env: Field required",
        ),
        ({"type": "lambda", "functionName": "f"}, "lambda.answerPath: Field required"),
    ],
)
def test_a_bad_target_names_the_path_of_the_problem(config: dict, expected: str) -> None:
    problems = _problems(config)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_literal_header_value_cannot_be_written_in_the_file() -> None:
    # Given a header whose value is written out (a secret in the file)
    problems = _problems(
        {
            "type": "http",
            "url": "https://x.example",
            "answerPath": "$.a",
            "headers": {"X-Key": {"env": "K", "value": "s"}},
        }
    )
    # Then the configuration is refused
    assert "http.headers.X-Key.value: unknown key (check the spelling against docs/collect.md)" in problems


def test_header_values_are_resolved_from_the_environment_and_missing_ones_named() -> None:
    # Given a target with two headers read from the environment
    config = parse_target(
        {
            "type": "http",
            "url": "https://x.example",
            "answerPath": "$.a",
            "headers": {
                "Authorization": {"env": "APP_TOKEN", "prefix": "Bearer "},
                "X-Tenant": {"env": "TENANT"},
            },
        }
    )
    assert isinstance(config, HttpTarget)

    # When both are set / Then the values are built; when one is unset, it is named (not its value)
    assert env_headers(config, {"APP_TOKEN": "t0k", "TENANT": "acme"}) == {
        "Authorization": "Bearer t0k",
        "X-Tenant": "acme",
    }
    with pytest.raises(MissingHeaderValue, match=r"X-Tenant \(\$TENANT\)") as caught:
        env_headers(config, {"APP_TOKEN": "t0k"})
    assert "t0k" not in str(caught.value)


def test_inline_json_and_its_errors() -> None:
    assert isinstance(
        target_from_text('{"type": "lambda", "functionName": "f", "answerPath": "$.a"}', "-"), LambdaTarget
    )
    with pytest.raises(InputError, match="not valid JSON, nor bedrock:MODEL_ID"):
        target_from_text("openai:gpt", "--target")
    with pytest.raises(InputError, match="'type' appear twice"):
        target_from_text('{"type": "http", "type": "lambda"}', "--target")


# --- templates and JSONPath ---------------------------------------------------------------

CONVERSATION = Conversation(
    "cancel-1",
    (Message("user", "Cancel BK-1"), Message("assistant", "Shall I?"), Message("user", "Yes")),
    context={"user": {"id": "u-7", "tier": "gold"}},
)


def test_a_whole_string_placeholder_becomes_the_value_and_an_embedded_one_its_text() -> None:
    # Given a template using every variable
    template = {
        "messages": "{{messages}}",
        "input": "{{ message }}",
        "history": "{{transcript}}",
        "session": "evalpipe-{{scenarioId}}",
        "ctx": "{{context}}",
        "user": "{{context.user.id}}",
        "label": "tier={{context.user.tier}} user={{context.user}}",
        "n": 3,
        "list": ["{{scenarioId}}", None],
    }

    # When rendered
    body = render_template(template, CONVERSATION)

    # Then structured values stay structured, and text is substituted inside strings
    assert body == {
        "messages": [
            {"role": "user", "content": "Cancel BK-1"},
            {"role": "assistant", "content": "Shall I?"},
            {"role": "user", "content": "Yes"},
        ],
        "input": "Yes",
        "history": "User: Cancel BK-1\nAssistant: Shall I?\nUser: Yes",
        "session": "evalpipe-cancel-1",
        "ctx": {"user": {"id": "u-7", "tier": "gold"}},
        "user": "u-7",
        "label": 'tier=gold user={"id": "u-7", "tier": "gold"}',
        "n": 3,
        "list": ["cancel-1", None],
    }
    assert template["messages"] == "{{messages}}"  # the template is not modified


def test_a_context_key_the_scenario_lacks_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="the scenario's context has no 'locale'"):
        render_template({"l": "{{context.locale}}"}, CONVERSATION)


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        ("$.answer", {"answer": "hi"}, "hi"),
        ("$.choices[0].message.content", {"choices": [{"message": {"content": "x"}}]}, "x"),
        ("$.output.message.content[0].text", {"output": {"message": {"content": [{"text": "t"}]}}}, "t"),
        (
            "$.items[?(@.role == 'assistant')].text",
            {"items": [{"role": "user", "text": "q"}, {"role": "assistant", "text": "a"}]},
            "a",
        ),
        ("$.parts[*]", {"parts": ["first", "second"]}, "first"),
    ],
)
def test_the_answer_is_the_first_match_of_the_jsonpath(path: str, document: object, expected: str) -> None:
    assert answer_at(path, document) == expected


def test_no_match_or_a_non_text_match_is_an_error_with_an_excerpt() -> None:
    with pytest.raises(
        AnswerNotFound, match=r'answerPath \$.answer matches nothing in the response \{"error": "busy"\}'
    ):
        answer_at("$.answer", {"error": "busy"})
    with pytest.raises(AnswerNotFound, match="points at a dict, not text"):
        answer_at("$.answer", {"answer": {"text": "hi"}})


def test_token_counts_are_read_when_numeric() -> None:
    document = {"usage": {"in": 12, "out": 3.0, "flag": True}}
    assert tokens_at("$.usage.in", document) == 12
    assert tokens_at("$.usage.out", document) == 3
    assert tokens_at("$.usage.flag", document) is None
    assert tokens_at("$.usage.missing", document) is None
    assert tokens_at(None, document) is None
