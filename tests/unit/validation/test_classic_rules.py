"""Classic automated suites (Accuracy / Robustness / Toxicity, no judge) and built-in datasets."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.validation import Report, Severity, validate_dataset, validate_suite
from evalpipe.validation.deployment import DeploymentLimits
from tests.builders import jsonl
from tests.unit.validation.builders import (
    AUTOMATED,
    CONFIG,
    DATASET_FILE,
    SUITE_FILE,
    at,
    make_suite,
    only,
    put,
)

LIVE_MODEL = "amazon.nova-lite-v1:0"
ENTRY = "evaluationConfig.automated.datasetMetricConfigs"


def classic_suite(task_type: str = "QuestionAndAnswer", metrics: list[str] | None = None) -> dict[str, Any]:
    """A classic suite on a custom dataset, run live on Nova Lite."""
    suite = make_suite()
    automated = at(suite, *AUTOMATED)
    del automated["evaluatorModelConfig"], automated["customMetricConfig"]
    put(suite, (*CONFIG, "taskType"), task_type)
    names = metrics if metrics is not None else ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"]
    put(suite, (*CONFIG, "metricNames"), names)
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": LIVE_MODEL}}]}
    del suite["pipeline"]["lowScore"]["metrics"]
    return suite


def builtin_entry(name: str, task_type: str, metrics: list[str]) -> dict[str, Any]:
    return {"taskType": task_type, "dataset": {"name": name}, "metricNames": metrics}


def check(suite: Any, **kwargs: Any) -> Report:
    return validate_suite(suite, SUITE_FILE, limits=DeploymentLimits(**kwargs))


def errors(report: Report) -> list[str]:
    return [p.render() for p in report.problems if p.severity is Severity.ERROR]


# -- the suite ----------------------------------------------------------------------------------


def test_a_classic_suite_with_builtin_datasets_beside_its_custom_dataset_is_valid() -> None:
    # Given a QnA classic suite on a custom dataset plus BoolQ and TriviaQA (either API spelling)
    suite = classic_suite()
    configs = at(suite, *AUTOMATED, "datasetMetricConfigs")
    configs.append(builtin_entry("Builtin.BoolQ", "QuestionAndAnswer", ["Builtin.Accuracy"]))
    configs.append(builtin_entry("Builtin.TriviaQa", "QuestionAndAnswer", ["Builtin.Robustness"]))

    # When validated with Nova Lite allowed for live inference
    report = check(suite, allowed_inference_models=[LIVE_MODEL])

    # Then nothing is reported
    assert report.problems == []


@pytest.mark.parametrize(
    ("task_type", "why"),
    [("General", "task type of jobs graded by a judge model"), ("Custom", "has no classic metrics")],
)
def test_a_classic_job_takes_one_of_the_four_task_types(task_type: str, why: str) -> None:
    # Given the judge jobs' "General" or "Custom" in a classic suite / When validated
    problem = only(check(classic_suite(task_type)), f"{ENTRY}[0].taskType")

    # Then the four task types are named with the reason
    assert "one of Summarization, Classification, QuestionAndAnswer, Generation" in problem.message
    assert why in problem.message


def test_toxicity_is_not_computed_for_classification() -> None:
    # Given Toxicity on a Classification dataset / When validated
    suite = classic_suite("Classification", ["Builtin.Accuracy", "Builtin.Toxicity"])

    # Then the metric is named at its place, with what the task type offers
    problem = only(check(suite), f"{ENTRY}[0].metricNames[1]")
    assert "Builtin.Toxicity is not computed for the Classification task type" in problem.message
    assert "Builtin.Accuracy, Builtin.Robustness" in problem.message


def test_classic_metrics_need_a_model_run_live() -> None:
    # Given a classic suite on precomputed responses / When validated
    suite = classic_suite()
    suite["inferenceConfig"] = {
        "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "my-app-v1"}}]
    }

    # Then live inference is asked for, and the judge alternative named
    problem = only(check(suite), "inferenceConfig.models[0].precomputedInferenceSource")
    assert "bedrockModel" in problem.message
    assert "judge model" in problem.message


def test_classic_metrics_and_a_custom_metric_do_not_mix() -> None:
    # Given a classic metric beside a custom metric's definition (which needs a judge)
    suite = make_suite()
    put(suite, (*CONFIG, "metricNames"), ["Builtin.Toxicity", "confirmation_check"])
    del at(suite, *AUTOMATED)["evaluatorModelConfig"]
    del suite["pipeline"]["lowScore"]["metrics"]

    # When validated / Then the mix is the error, at the classic metric
    problem = only(check(suite), f"{ENTRY}[0].metricNames[0]")
    assert "classic automated metric" in problem.message
    assert "cannot mix the two" in problem.message


def test_the_live_model_must_be_allowed_by_the_deployment() -> None:
    # Given a classic suite and a deployment that allows another model / When validated
    report = check(classic_suite(), allowed_inference_models=["amazon.nova-pro-v1:0"])

    # Then the existing live-inference allowlist applies
    only(report, "inferenceConfig.models[0].bedrockModel.modelIdentifier")


# -- built-in dataset entries ------------------------------------------------------------------


def with_builtin(entry: dict[str, Any]) -> dict[str, Any]:
    suite = classic_suite()
    at(suite, *AUTOMATED, "datasetMetricConfigs").append(entry)
    return suite


def test_an_unknown_builtin_dataset_is_named_with_a_suggestion() -> None:
    # Given a misspelled built-in dataset / When validated
    suite = with_builtin(builtin_entry("Builtin.Boolq", "QuestionAndAnswer", ["Builtin.Accuracy"]))

    # Then the closest name is suggested
    problem = only(check(suite), f"{ENTRY}[1].dataset.name")
    assert "did you mean 'Builtin.BoolQ'" in problem.message


def test_a_builtin_dataset_has_no_location() -> None:
    # Given BoolQ with a datasetLocation / When validated
    entry = builtin_entry("Builtin.BoolQ", "QuestionAndAnswer", ["Builtin.Accuracy"])
    entry["dataset"]["datasetLocation"] = {"s3Uri": "s3://bucket/boolq.jsonl"}

    # Then removing it is asked for, by an error and nothing else (no "ignored" warning: a built-in
    # entry is sent as written, so its location would not be ignored)
    problem = only(check(with_builtin(entry)), f"{ENTRY}[1].dataset.datasetLocation")
    assert problem.severity is Severity.ERROR
    assert "remove datasetLocation" in problem.message


def test_only_the_custom_entrys_location_is_called_ignored() -> None:
    # Given a classic suite whose custom entry and BoolQ entry both carry a datasetLocation
    suite = classic_suite()
    put(suite, (*CONFIG, "dataset", "datasetLocation"), {"s3Uri": "s3://bucket/old-drop.jsonl"})
    entry = builtin_entry("Builtin.BoolQ", "QuestionAndAnswer", ["Builtin.Accuracy"])
    entry["dataset"]["datasetLocation"] = {"s3Uri": "s3://bucket/boolq.jsonl"}
    at(suite, *AUTOMATED, "datasetMetricConfigs").append(entry)

    # When validated
    report = check(suite)

    # Then the custom entry's location is a warning (the dropped object replaces it) and BoolQ's an error
    custom, boolq = f"{ENTRY}[0].dataset.datasetLocation", f"{ENTRY}[1].dataset.datasetLocation"
    assert sorted(p.field for p in report.problems) == [custom, boolq], [p.render() for p in report.problems]
    found = {p.field: p for p in report.problems}
    assert found[custom].severity is Severity.WARNING
    assert "the pipeline sends the location of the dropped dataset" in found[custom].message
    assert found[boolq].severity is Severity.ERROR
    assert "built-in dataset that Bedrock provides" in found[boolq].message


@pytest.mark.parametrize(
    ("name", "judge_suite"),
    [
        pytest.param("Builtin.Boolq", False, id="unknown-builtin-name"),
        pytest.param("Builtin.BoolQ", True, id="builtin-in-a-judge-suite"),
    ],
)
def test_a_builtin_entrys_location_gets_no_ignored_warning_whatever_its_error(
    name: str, judge_suite: bool
) -> None:
    # Given a built-in entry with a location that is wrong for another reason: its name is not a
    # built-in dataset, or the suite is graded by a judge (built-in datasets are classic only)
    suite = make_suite() if judge_suite else classic_suite()
    metrics = ["Builtin.Helpfulness"] if judge_suite else ["Builtin.Accuracy"]
    entry = builtin_entry(name, "General" if judge_suite else "QuestionAndAnswer", metrics)
    entry["dataset"]["datasetLocation"] = {"s3Uri": "s3://bucket/boolq.jsonl"}
    at(suite, *AUTOMATED, "datasetMetricConfigs").append(entry)

    # When validated
    report = check(suite)

    # Then that error is reported at the name, and the location gets no misleading "ignored" warning
    assert [p.field for p in report.problems if p.severity is Severity.ERROR] == [f"{ENTRY}[1].dataset.name"]
    assert [p.render() for p in report.problems if "is ignored" in p.message] == []


def test_a_builtin_dataset_belongs_to_its_task_type() -> None:
    # Given Gigaword (a summarization dataset) in a QuestionAndAnswer entry / When validated
    entry = builtin_entry("Builtin.Gigaword", "QuestionAndAnswer", ["Builtin.Accuracy"])

    # Then the fitting task type and the fitting datasets are named
    problem = only(check(with_builtin(entry)), f"{ENTRY}[1].taskType")
    assert 'set taskType to "Summarization"' in problem.message
    assert "Builtin.BoolQ, Builtin.NaturalQuestions, Builtin.TriviaQA" in problem.message


def test_a_metric_the_guide_does_not_recommend_for_a_dataset_is_a_warning() -> None:
    # Given Accuracy on RealToxicityPrompts (no reference answers) / When validated
    entry = builtin_entry(
        "Builtin.RealToxicityPrompts", "Generation", ["Builtin.Accuracy", "Builtin.Toxicity"]
    )
    suite = classic_suite("Generation", ["Builtin.Toxicity"])
    at(suite, *AUTOMATED, "datasetMetricConfigs").append(entry)

    # Then a warning at Accuracy only
    problem = only(check(suite), f"{ENTRY}[1].metricNames[0]")
    assert problem.severity is Severity.WARNING
    assert "does not list Builtin.RealToxicityPrompts for Builtin.Accuracy" in problem.message


def test_builtin_datasets_serve_only_classic_jobs() -> None:
    # Given a judge suite with a BoolQ entry / When validated
    suite = make_suite()
    entry = builtin_entry("Builtin.BoolQ", "General", ["Builtin.Helpfulness"])
    at(suite, *AUTOMATED, "datasetMetricConfigs").append(entry)

    # Then the entry is the error
    problem = only(check(suite), f"{ENTRY}[1].dataset.name")
    assert "serve only classic automated metrics" in problem.message


# -- the custom dataset's lines ----------------------------------------------------------------


def test_qna_lines_need_a_reference_and_no_responses() -> None:
    # Given a QnA classic suite and lines without a reference, with a blank one, and with responses
    lines = jsonl(
        [
            {
                "prompt": "Do you ship to Canada?",
                "referenceResponse": "Yes, in 5 days.",
                "category": "shipping",
            },
            {"prompt": "What is the return window?"},
            {"prompt": "Can I pay by card?", "referenceResponse": "  "},
            {"prompt": "Hi", "referenceResponse": "Hello", "modelResponses": [{"response": "x"}]},
        ],
    )

    # When the dataset is validated
    report = validate_dataset([lines], DATASET_FILE, suite=classic_suite())

    # Then each problem names the file, the line and the field
    rendered = [p.render() for p in report.problems]
    assert [(p.line, p.field) for p in report.problems] == [
        (2, "referenceResponse"),
        (3, "referenceResponse"),
        (4, "modelResponses"),
    ]
    assert rendered[0].startswith(f"{DATASET_FILE}:2: referenceResponse: error: missing;")
    assert "Builtin.Accuracy and Builtin.Robustness and the QuestionAndAnswer task type" in rendered[0]
    assert "is empty" in rendered[1]


def test_a_toxicity_only_generation_dataset_needs_no_reference() -> None:
    # Given a Generation suite that only measures Toxicity / When prompt-only lines are validated
    suite = classic_suite("Generation", ["Builtin.Toxicity"])
    report = validate_dataset([jsonl([{"prompt": "Tell me about your day"}])], DATASET_FILE, suite=suite)

    # Then nothing is reported
    assert report.problems == []


def test_a_classification_line_is_asked_for_its_label() -> None:
    # Given a Classification suite with Accuracy / When a line has no reference
    suite = classic_suite("Classification", ["Builtin.Accuracy"])
    report = validate_dataset([jsonl([{"prompt": "Great dress!"}])], DATASET_FILE, suite=suite)

    # Then the label is what is asked for
    problem = only(report, "referenceResponse", line=1)
    assert "the expected label" in problem.message
