"""Human evaluation suites (evaluationConfig.human) and their datasets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from evalpipe.validation import Report, validate_dataset, validate_suite
from tests.builders import jsonl
from tests.unit.validation.builders import DATASET_FILE, SUITE_FILE

FLOW = "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/my-flow"
HUMAN_SUITE: dict[str, Any] = {
    "evaluationConfig": {
        "human": {
            "humanWorkflowConfig": {"flowDefinitionArn": FLOW, "instructions": "Rate each answer."},
            "customMetrics": [
                {"name": "helpful", "description": "Did it help?", "ratingMethod": "ThumbsUpDown"},
                {"name": "tone", "description": "Tone 1-5", "ratingMethod": "IndividualLikertScale"},
            ],
            "datasetMetricConfigs": [
                {"taskType": "Generation", "dataset": {"name": "d"}, "metricNames": ["helpful", "tone"]}
            ],
        }
    },
    "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v1"}}]},
}
HUMAN = ("evaluationConfig", "human")


def human_suite() -> dict[str, Any]:
    return copy.deepcopy(HUMAN_SUITE)


def errors(report: Report) -> dict[str, str]:
    return {p.field or "": p.message for p in report.problems if p.severity.value == "error"}


def check(suite: Any) -> dict[str, str]:
    return errors(validate_suite(suite, SUITE_FILE))


def test_a_valid_human_suite_passes() -> None:
    assert check(human_suite()) == {}


def test_flow_definition_arn_must_match_the_service_pattern() -> None:
    suite = human_suite()
    suite["evaluationConfig"]["human"]["humanWorkflowConfig"]["flowDefinitionArn"] = "my-flow"
    assert (
        "SageMakerFlowDefinitionArn"
        in check(suite)["evaluationConfig.human.humanWorkflowConfig.flowDefinitionArn"]
    )


def test_instructions_at_most_5000_characters() -> None:
    suite = human_suite()
    suite["evaluationConfig"]["human"]["humanWorkflowConfig"]["instructions"] = "x" * 5001
    assert "at most 5000" in check(suite)["evaluationConfig.human.humanWorkflowConfig.instructions"]


def test_one_to_ten_custom_metrics() -> None:
    suite = human_suite()
    human = suite["evaluationConfig"]["human"]
    human["customMetrics"] = [{"name": f"m{i}", "ratingMethod": "ThumbsUpDown"} for i in range(11)]
    human["datasetMetricConfigs"][0]["metricNames"] = [f"m{i}" for i in range(11)]
    assert "evaluationConfig.human.customMetrics" in check(suite)


def test_rating_method_must_be_one_of_the_five() -> None:
    suite = human_suite()
    suite["evaluationConfig"]["human"]["customMetrics"][0]["ratingMethod"] = "ThumbsUpdown"
    message = check(suite)["evaluationConfig.human.customMetrics[0].ratingMethod"]
    assert "is not a rating method" in message and "did you mean 'ThumbsUpDown'" in message


def test_metric_names_must_be_exactly_the_custom_metrics() -> None:
    # Given one custom metric missing from metricNames and one name not defined
    suite = human_suite()
    suite["evaluationConfig"]["human"]["datasetMetricConfigs"][0]["metricNames"] = ["helpful", "style"]
    problems = check(suite)
    assert "not in metricNames" in problems["evaluationConfig.human.customMetrics[1].name"]
    assert (
        "evaluationConfig.human.customMetrics"
        in problems["evaluationConfig.human.datasetMetricConfigs[0].metricNames[1]"]
    )


def test_comparison_methods_need_two_models() -> None:
    suite = human_suite()
    suite["evaluationConfig"]["human"]["customMetrics"][1]["ratingMethod"] = "ComparisonChoice"
    assert "compares the responses of two models" in check(suite)["inferenceConfig.models"]
    # and with two models the suite passes
    suite["inferenceConfig"]["models"].append(
        {"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v2"}}
    )
    assert check(suite) == {}


def test_individual_methods_accept_two_models_but_not_three() -> None:
    suite = human_suite()
    models = suite["inferenceConfig"]["models"]
    models.append({"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v2"}})
    assert check(suite) == {}
    models.append({"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v3"}})
    assert "inferenceConfig.models" in check(suite)


def test_no_evaluator_model_in_a_human_job() -> None:
    suite = human_suite()
    suite["evaluationConfig"]["human"]["evaluatorModelConfig"] = {
        "bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]
    }
    problems = check(suite)
    assert any(path.startswith("evaluationConfig.human.evaluatorModelConfig") for path in problems)


def line(*identifiers: str) -> dict[str, Any]:
    return {
        "prompt": "hi",
        "modelResponses": [{"response": f"answer of {i}", "modelIdentifier": i} for i in identifiers],
    }


def check_dataset(suite: dict[str, Any], *records: dict[str, Any]) -> dict[str, str]:
    return errors(validate_dataset([jsonl(records)], DATASET_FILE, suite=suite))


def two_model_suite() -> dict[str, Any]:
    suite = human_suite()
    suite["inferenceConfig"]["models"].append(
        {"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v2"}}
    )
    return suite


def test_a_two_model_human_dataset_carries_one_response_per_model() -> None:
    assert check_dataset(two_model_suite(), line("app-v1", "app-v2"), line("app-v2", "app-v1")) == {}


@pytest.mark.parametrize(
    ("identifiers", "field", "expected"),
    [
        (("app-v1",), "modelResponses", "has 1 entries; this human job compares 2 models"),
        (("app-v1", "app-v3"), "modelResponses[1].modelIdentifier", "is not one of the suite's"),
        (("app-v1", "app-v1"), "modelResponses[1].modelIdentifier", "appears twice"),
    ],
)
def test_two_model_human_dataset_errors(identifiers: tuple[str, ...], field: str, expected: str) -> None:
    assert expected in check_dataset(two_model_suite(), line(*identifiers))[field]


def test_a_one_model_human_dataset_follows_the_precomputed_rules() -> None:
    assert check_dataset(human_suite(), line("app-v1")) == {}
    assert "exactly one response" in check_dataset(human_suite(), line("app-v1", "app-v2"))["modelResponses"]
