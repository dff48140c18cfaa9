"""What a suite asks a preview to judge, the Converse request of a judge call (pinned with botocore's
Stubber), the preview's cost, and calls that fail."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from evalpipe.dataset import iter_raw_lines
from evalpipe.estimate.prices import Price, PriceTable, load_prices
from evalpipe.preview import (
    CustomMetric,
    Rating,
    answer,
    first_records,
    metrics,
    plan_of,
    prompt,
    run,
    run_preview,
)
from evalpipe.suite.facts import SuiteKind
from tests.unit.preview.fakes import FakeConverse

ROOT = Path(__file__).resolve().parents[3]
SUPPORT = json.loads((ROOT / "examples/suites/support-assistant.json").read_text())
JUDGE = "amazon.nova-pro-v1:0"
BRIEF = CustomMetric(
    "brief",
    "Is the reply brief?\n\nPrompt: {{prompt}}\nResponse: {{prediction}}",
    (Rating("No", 0.0), Rating("Yes", 1.0)),
)
RECORD = {"prompt": "Where is BK-1?", "modelResponses": [{"response": "It shipped.", "modelIdentifier": "a"}]}


def _plan(*custom: CustomMetric):
    definitions = [
        {
            "customMetricDefinition": {
                "name": m.name,
                "instructions": m.instructions,
                "ratingScale": [
                    {"definition": r.definition, "value": {"floatValue": r.value}} for r in m.rating_scale
                ],
            }
        }
        for m in custom
    ]
    judge = {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}
    return plan_of(
        {
            "evaluationConfig": {
                "automated": {
                    "datasetMetricConfigs": [
                        {
                            "taskType": "General",
                            "metricNames": ["Builtin.Correctness", *(m.name for m in custom)],
                        }
                    ],
                    "evaluatorModelConfig": judge,
                    "customMetricConfig": {"customMetrics": definitions, "evaluatorModelConfig": judge},
                }
            },
            "inferenceConfig": {
                "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "a"}}]
            },
        }
    )


def test_the_example_suites_custom_metrics_builtins_and_evaluator():
    plan = plan_of(SUPPORT)
    assert [m.name for m in plan.custom_metrics] == ["confirmation_check", "response_brevity"]
    assert plan.custom_metrics[0].rating_scale == (
        Rating("N/A", -1.0),
        Rating("Poor", 0.0),
        Rating("Good", 1.0),
    )
    assert plan.builtin_metrics == (
        "Builtin.Helpfulness",
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Relevance",
        "Builtin.ProfessionalStyleAndTone",
        "Builtin.FollowingInstructions",
    )
    assert (plan.evaluator_model, plan.kind, plan.not_listed, plan.not_defined) == (
        JUDGE,
        SuiteKind.JUDGE,
        (),
        (),
    )


def test_unlisted_and_undefined_custom_metrics_and_the_guides_spelling_are_read():
    # Given a definition in the guide's spelling (metricName), one not listed, and a listed name undefined
    suite = json.loads(json.dumps(SUPPORT))
    automated = suite["evaluationConfig"]["automated"]
    definition = automated["customMetricConfig"]["customMetrics"][0]["customMetricDefinition"]
    definition["metricName"] = definition.pop("name")
    automated["datasetMetricConfigs"][0]["metricNames"] = ["confirmation_check", "ghost"]

    plan = plan_of(suite)

    assert [m.name for m in plan.custom_metrics] == ["confirmation_check"]
    assert (plan.not_listed, plan.not_defined, plan.builtin_metrics) == (
        ("response_brevity",),
        ("ghost",),
        (),
    )


def test_a_rag_suite_is_read_as_rag():
    plan = plan_of(json.loads((ROOT / "examples/suites/kb-assistant-rag.json").read_text()))
    assert plan.is_rag
    assert plan.custom_metrics == ()


def test_the_converse_request_of_a_judge_call_is_pinned():
    # Given a real bedrock-runtime client whose Converse is stubbed with the exact request expected
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    expected_prompt = (
        "Is the reply brief?\n\n"
        "Prompt: <prompt>Where is BK-1?</prompt>\n"
        "Response: <prediction>It shipped.</prediction>\n\n"
        "Rating scale: answer with exactly one of these definitions, as written "
        "(its value follows in brackets).\n"
        '- "No" [0]\n- "Yes" [1]\n\n'
        "Answer with one JSON object and nothing else:\n"
        '{"reasoning": "<why, in one to three sentences>", "rating": "<one definition of the rating scale>"}'
    )
    response = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"text": '{"reasoning": "Two words.", "rating": "Yes"}'}],
            }
        },
        "stopReason": "end_turn",
        "usage": {"inputTokens": 120, "outputTokens": 15, "totalTokens": 135},
        "metrics": {"latencyMs": 300},
    }
    expected = {
        "modelId": JUDGE,
        "messages": [{"role": "user", "content": [{"text": expected_prompt}]}],
        "inferenceConfig": {"maxTokens": 1024, "temperature": 0.0},
    }

    with Stubber(client) as stub:
        stub.add_response("converse", response, expected)
        # When one record is previewed on one metric
        preview = run_preview(_plan(BRIEF), [(1, RECORD)], client, judge_model=JUDGE, prices=load_prices())
        stub.assert_no_pending_responses()

    # Then the answer is read onto the scale, with Bedrock's usage
    (result,) = preview.results
    assert result.judgement is not None
    assert (result.judgement.score, result.judgement.reasoning) == (1.0, "Two words.")
    assert (result.input_tokens, result.output_tokens, result.error) == (120, 15, None)


def test_the_cost_is_the_usage_at_the_judges_price_and_needs_a_price():
    # Given two records, one metric, a judge answering with 1,000 input and 200 output tokens a call
    client = FakeConverse(lambda _: '{"reasoning": "ok", "rating": "Yes"}', usage=(1000, 200))
    prices = PriceTable({JUDGE: Price(JUDGE, 0.80, 3.20)}, "test prices")
    records = [(1, RECORD), (2, RECORD)]

    # When previewed with the judge priced, then with a judge the price file lacks
    priced = run_preview(_plan(BRIEF), records, client, judge_model="us." + JUDGE, prices=prices)
    unpriced = run_preview(_plan(BRIEF), records, client, judge_model="mistral.large-v1:0", prices=prices)

    # Then (2 x 1,000 x 0.80 + 2 x 200 x 3.20) / 1M; no price, no number
    assert (priced.cost.calls, priced.cost.input_tokens, priced.cost.output_tokens) == (2, 2000, 400)
    assert priced.cost.usd == pytest.approx(0.00288)
    assert priced.cost.price_source == "test prices"
    assert unpriced.cost.usd is None


def test_a_failed_call_is_recorded_the_others_go_on_and_only_answered_calls_cost():
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    answer_body = {
        "output": {
            "message": {"role": "assistant", "content": [{"text": '{"reasoning": "ok", "rating": "No"}'}]}
        },
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 1},
    }
    with Stubber(client) as stub:
        stub.add_client_error("converse", "ThrottlingException", "Too many requests", http_status_code=429)
        stub.add_response("converse", answer_body)
        preview = run_preview(
            _plan(BRIEF), [(1, RECORD), (2, RECORD)], client, judge_model=JUDGE, prices=load_prices()
        )

    first, second = preview.results
    assert first.error == "ThrottlingException: Too many requests"
    assert first.judgement is None
    assert second.judgement is not None and second.judgement.score == 0.0
    assert preview.failed == (first,)
    assert (preview.cost.calls, preview.cost.input_tokens) == (1, 10)


def test_results_keep_record_then_metric_order_with_calls_in_parallel():
    # Given a judge answering "Yes" for brief prompts and nonsense for the other metric
    other = CustomMetric(
        "other", "Other.\n\nResponse: {{prediction}}", (Rating("No", 0.0), Rating("Yes", 1.0))
    )
    client = FakeConverse(lambda text: '{"rating": "Yes"}' if text.startswith("Is the") else "banana")
    records = [(line, {**RECORD, "prompt": f"question {line}"}) for line in (1, 3, 4)]
    seen: list[str] = []

    # When previewed with four workers, only the metrics asked for
    preview = run_preview(
        _plan(BRIEF, other),
        records,
        client,
        judge_model=JUDGE,
        prices=load_prices(),
        workers=4,
        on_result=lambda r: seen.append(r.metric),
    )
    only_other = run_preview(
        _plan(BRIEF, other), records[:1], client, judge_model=JUDGE, prices=load_prices(), metrics=["other"]
    )

    # Then results come in record order, then the suite's metric order; unmappable answers are counted
    assert [(r.sample.line, r.metric) for r in preview.results] == [
        (1, "brief"),
        (1, "other"),
        (3, "brief"),
        (3, "other"),
        (4, "brief"),
        (4, "other"),
    ]
    assert sorted(seen) == sorted(r.metric for r in preview.results)
    assert [r.metric for r in preview.unmappable] == ["other", "other", "other"]
    assert (preview.records, preview.metrics, only_other.metrics) == (3, ("brief", "other"), ("other",))


def test_first_records_stops_at_the_limit_and_reports_what_is_not_a_record():
    skipped: list = []
    lines = iter_raw_lines([b'{"prompt": "a"}\n\n"text"\n{"prompt": "b"}\nnot json\n{"prompt": "c"}\n'])
    assert list(first_records(lines, 2, skipped)) == [(1, {"prompt": "a"}), (4, {"prompt": "b"})]
    assert [(s.line, s.reason) for s in skipped] == [(3, "not a JSON object")]


def test_the_modules_examples_hold():
    assert all(doctest.testmod(module).failed == 0 for module in (answer, metrics, prompt, run))
