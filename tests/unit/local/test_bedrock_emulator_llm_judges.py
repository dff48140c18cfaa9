"""The LLM judges' shared prompt/answer handling, the Converse judge (botocore Stubber) and the
judge selection from the environment. No network: the Stubber answers every call."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from local.bedrock_emulator.judges import (
    ConverseJudge,
    OfflineJudge,
    OpenAICompatibleJudge,
    judge_from_env,
)
from local.bedrock_emulator.judges.base import (
    BUILTIN_SCALES,
    MetricSpec,
    Rating,
    parse_answer,
    rating_scale,
    render_prompt,
)

RECORD = {
    "prompt": "Book me a flight to Paris.",
    "referenceResponse": "Shall I book the 9am flight?",
    "modelResponses": [{"response": "Booked the 9am flight.", "modelIdentifier": "app"}],
}
CUSTOM = MetricSpec(
    "confirmation_check",
    "amazon.nova-pro-v1:0",
    "Rule: confirm first.\nPrompt: {{prompt}}\nResponse: {{prediction}}\nIdeal: {{ground_truth}}",
    rating_scale(
        [
            {"definition": "N/A", "value": {"floatValue": -1}},
            {"definition": "Poor", "value": {"floatValue": 0}},
            {"definition": "Good", "value": {"floatValue": 1}},
        ]
    ),
)
HELPFULNESS = MetricSpec(
    "Builtin.Helpfulness", "amazon.nova-pro-v1:0", None, BUILTIN_SCALES["Builtin.Helpfulness"]
)


def test_custom_prompt_substitutes_the_variables_and_lists_the_ratings():
    # When the custom metric's prompt is rendered
    prompt = render_prompt(CUSTOM, RECORD)

    # Then the variables are filled and the rating list and answer format follow
    assert prompt.startswith(
        "Rule: confirm first.\nPrompt: Book me a flight to Paris.\nResponse: Booked the 9am flight.\n"
        "Ideal: Shall I book the 9am flight?"
    )
    assert '- "N/A"\n- "Poor"\n- "Good"' in prompt
    assert '"rating": "<one rating from the list>"' in prompt


def test_builtin_prompt_carries_rubric_prompt_reference_and_response():
    prompt = render_prompt(HELPFULNESS, RECORD)
    assert "How helpful is the response" in prompt
    assert "Book me a flight to Paris." in prompt
    assert "Shall I book the 9am flight?" in prompt
    assert "Booked the 9am flight." in prompt
    assert '- "Above and beyond"' in prompt


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"explanation": "Asked first.", "rating": "Good"}', (1.0, "Asked first.")),
        ('Sure: {"explanation": "No action involved.", "rating": "N/A"} done', (None, "No action involved.")),
        ("Rating: poor, it booked without asking.", (0.0, "Rating: poor, it booked without asking.")),
    ],
    ids=["json", "not-applicable-is-null", "label-in-text"],
)
def test_answers_are_parsed_into_values(answer, expected):
    assert parse_answer(CUSTOM, answer) == expected


def test_unparseable_answer_is_not_applicable_with_the_reason():
    value, explanation = parse_answer(CUSTOM, "I refuse to grade this.")
    assert value is None
    assert explanation.startswith("judge answer names no rating of the scale")


def test_longest_label_wins_in_free_text():
    # "Very unhelpful" must not be read as a shorter label it contains
    assert parse_answer(HELPFULNESS, "I would say: very unhelpful.")[0] == 0.1667


def test_string_valued_rating_has_no_number():
    metric = MetricSpec("tone", "m", "x", (Rating("Formal", "formal"), Rating("Casual", "casual")))
    assert parse_answer(metric, '{"rating": "Casual", "explanation": "chatty"}') == (
        None,
        "Rating: casual. chatty",
    )


def test_custom_metric_without_scale_reads_a_score():
    metric = MetricSpec("free", "m", "Rate {{prediction}}")
    assert parse_answer(metric, '{"score": 0.8, "explanation": "ok"}') == (0.8, "ok")
    assert '"score": <a number from 0 to 1>' in render_prompt(metric, RECORD)


def _converse_response(text: str) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 1},
    }


def test_converse_judge_sends_the_prompt_and_reads_the_rating():
    # Given a Bedrock Runtime client whose Converse answer is stubbed
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    judge = ConverseJudge(client=client)
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _converse_response('{"explanation": "Booked without asking.", "rating": "Poor"}'),
            expected_params={
                "modelId": "amazon.nova-pro-v1:0",
                "messages": [{"role": "user", "content": [{"text": render_prompt(CUSTOM, RECORD)}]}],
                "inferenceConfig": {"maxTokens": 1024, "temperature": 0.0},
            },
        )

        # When the custom metric is scored
        result = judge.score(CUSTOM, RECORD)

        # Then the exact request went out and the rating's value came back
        stub.assert_no_pending_responses()
    assert result == (0.0, "Booked without asking.")
    assert judge.evaluator_identifier(CUSTOM) == "amazon.nova-pro-v1:0"


def test_converse_judge_model_override_is_what_it_calls_and_reports():
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    judge = ConverseJudge(client=client, model_id="anthropic.claude-3-haiku-20240307-v1:0")
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _converse_response('{"explanation": "n/a", "rating": "N/A"}'),
            expected_params={
                "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
                "messages": [{"role": "user", "content": [{"text": render_prompt(CUSTOM, RECORD)}]}],
                "inferenceConfig": {"maxTokens": 1024, "temperature": 0.0},
            },
        )
        assert judge.score(CUSTOM, RECORD) == (None, "n/a")
    assert judge.evaluator_identifier(CUSTOM) == "anthropic.claude-3-haiku-20240307-v1:0"


def test_judge_selection_from_the_environment():
    # Given each EVALPIPE_JUDGE value; Then the matching judge (offline by default)
    assert isinstance(judge_from_env("us-east-1", {}), OfflineJudge)
    assert isinstance(judge_from_env("us-east-1", {"EVALPIPE_JUDGE": "offline"}), OfflineJudge)
    converse = judge_from_env("us-east-1", {"EVALPIPE_JUDGE": "converse", "EVALPIPE_JUDGE_MODEL": "m.x-v1:0"})
    assert isinstance(converse, ConverseJudge)
    assert converse.evaluator_identifier(CUSTOM) == "m.x-v1:0"
    openai = judge_from_env(
        "us-east-1",
        {
            "EVALPIPE_JUDGE": "openai",
            "EVALPIPE_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "EVALPIPE_OPENAI_MODEL": "q",
        },
    )
    assert isinstance(openai, OpenAICompatibleJudge)
    assert openai.evaluator_identifier(CUSTOM) == "openai-compatible/q"


@pytest.mark.parametrize(
    "environ",
    [
        {"EVALPIPE_JUDGE": "oracle"},
        {"EVALPIPE_JUDGE": "openai"},
        {"EVALPIPE_JUDGE": "openai", "EVALPIPE_OPENAI_BASE_URL": "file:///x", "EVALPIPE_OPENAI_MODEL": "q"},
    ],
    ids=["unknown", "openai-unconfigured", "openai-not-http"],
)
def test_bad_judge_settings_are_reported(environ):
    with pytest.raises(ValueError, match="EVALPIPE_"):
        judge_from_env("us-east-1", environ)
