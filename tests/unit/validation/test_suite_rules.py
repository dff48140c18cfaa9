"""validate_suite: the request members against the service model, the traps, the metric rules."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.validation import Report, Severity, validate_suite
from evalpipe.validation.deployment import DeploymentLimits
from evalpipe.validation.suite_rules import variables_not_last
from tests.unit.validation.builders import (
    AUTOMATED,
    CONFIG,
    CUSTOM,
    JUDGE,
    OTHER_JUDGE,
    SUITE_FILE,
    at,
    fields,
    make_suite,
    only,
    put,
)

METRIC_NAMES = (*CONFIG, "metricNames")
TOP_EVALUATOR = "evaluationConfig.automated.evaluatorModelConfig"
CUSTOM_PATH = "evaluationConfig.automated.customMetricConfig.customMetrics[0].customMetricDefinition"
CUSTOM_EVALUATOR = (
    "evaluationConfig.automated.customMetricConfig.evaluatorModelConfig"
    ".bedrockEvaluatorModels[0].modelIdentifier"
)


def check(suite: Any, suite_name: str | None = None, **limits: Any) -> Report:
    return validate_suite(suite, SUITE_FILE, suite_name=suite_name, limits=DeploymentLimits(**limits))


def metric_path(index: int) -> str:
    return f"evaluationConfig.automated.datasetMetricConfigs[0].metricNames[{index}]"


def classic_suite() -> dict[str, Any]:
    """An automated job without a judge: classic metrics only."""
    suite = make_suite()
    automated = at(suite, *AUTOMATED)
    del automated["evaluatorModelConfig"], automated["customMetricConfig"]
    put(suite, (*CONFIG, "taskType"), "QuestionAndAnswer")
    put(suite, METRIC_NAMES, ["Builtin.Accuracy", "Builtin.Toxicity"])
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}
    del suite["pipeline"]["lowScore"]["metrics"]
    return suite


def rag_suite(source: str, metrics: list[str]) -> dict[str, Any]:
    """A RAG evaluation of precomputed retrievals (``retrieveSourceConfig``) or answers."""
    suite = make_suite()
    suite["applicationType"] = "RagEvaluation"
    suite["inferenceConfig"] = {
        "ragConfigs": [{"precomputedRagSourceConfig": {source: {"ragSourceIdentifier": "my-rag-v1"}}}]
    }
    put(suite, METRIC_NAMES, [*metrics, "confirmation_check"])
    del suite["pipeline"]["lowScore"]["metrics"]
    return suite


# -- the valid suite and the suite file's departures from the request ------------------------


def test_the_minimal_suite_is_valid() -> None:
    # Given the minimal suite / When validated against the allowed judge / Then nothing is reported
    report = check(make_suite(), suite_name="demo", allowed_evaluator_models=[JUDGE])
    assert report.problems == []


@pytest.mark.parametrize("value", [None, [], "suite", 3])
def test_a_suite_must_be_an_object(value: Any) -> None:
    # Given JSON that is not an object / When validated / Then one file-level error
    problem = only(check(value))
    assert problem.field is None
    assert "must be a JSON object" in problem.message


def test_the_suite_name_must_follow_the_naming_rule(suite: dict) -> None:
    # Given a suite name with a space / When validated / Then the name rule is named
    problem = only(check(suite, suite_name="my suite"))
    assert "must match" in problem.message


def test_required_request_members(suite: dict) -> None:
    # Given a suite without evaluationConfig / When validated / Then the member is required
    del suite["evaluationConfig"]
    assert "evaluationConfig" in fields(check(suite))


def test_request_members_the_pipeline_sets_are_rejected(suite: dict) -> None:
    # Given a pasted jobName and jobDescription / When validated / Then each says where it belongs
    suite["jobName"] = "nightly"
    suite["jobDescription"] = "nightly"
    report = check(suite)
    assert fields(report) == ["jobName", "jobDescription"]
    assert "set by the pipeline" in report.problems[0].message
    assert "pipeline.description" in report.problems[1].message


def test_unknown_top_level_keys(suite: dict) -> None:
    # Given a misspelled top-level key / When validated / Then the allowed keys are named
    suite["inferenceconfig"] = suite.pop("inferenceConfig")
    messages = [p.message for p in check(suite).problems]
    assert any("allowed: $schema, applicationType" in m and "'inferenceConfig'" in m for m in messages)


def test_schema_reference_must_be_a_string(suite: dict) -> None:
    # Given a "$schema" that is not a string / When validated / Then it is an error
    suite["$schema"] = 1
    only(check(suite), "$schema")


def test_the_dataset_location_and_name_may_be_left_to_the_pipeline(suite: dict) -> None:
    # Given no dataset name (the file name is used) / When validated / Then nothing is reported
    del at(suite, *CONFIG)["dataset"]["name"]
    assert check(suite).problems == []
    # Given no dataset object at all / When validated / Then nothing is reported either
    del at(suite, *CONFIG)["dataset"]
    assert check(suite).problems == []


def test_a_dataset_location_in_the_suite_is_ignored_with_a_warning(suite: dict) -> None:
    # Given the guide's placeholder location
    put(suite, (*CONFIG, "dataset", "datasetLocation"), {"s3Uri": "s3://YOUR_BUCKET/datasets/x.jsonl"})
    # When validated
    report = check(suite)
    # Then it is a warning: the dropped object is what runs
    problem = only(report, "evaluationConfig.automated.datasetMetricConfigs[0].dataset.datasetLocation")
    assert problem.severity is Severity.WARNING
    assert report.ok


def test_the_guides_metric_name_key_is_accepted_with_a_warning(suite: dict) -> None:
    # Given a custom metric spelled the guide's way (metricName)
    definition = at(suite, *CUSTOM)
    definition["metricName"] = definition.pop("name")
    # When validated
    report = check(suite)
    # Then it passes with a warning that it is sent as name
    problem = only(report, f"{CUSTOM_PATH}.metricName")
    assert problem.severity is Severity.WARNING
    assert "sent to the API as 'name'" in problem.message


def test_metric_name_and_name_together_are_an_error(suite: dict) -> None:
    # Given both spellings / When validated / Then it is an error
    at(suite, *CUSTOM)["metricName"] = "confirmation_check"
    problem = only(check(suite), f"{CUSTOM_PATH}.metricName")
    assert problem.severity is Severity.ERROR


# -- shapes (the walk itself is tested in test_service_model_walk.py) -------------------------


def test_request_members_are_walked_along_the_service_model(suite: dict) -> None:
    # Given an inference source identifier the service rejects
    put(
        suite,
        ("inferenceConfig", "models", 0, "precomputedInferenceSource", "inferenceSourceIdentifier"),
        "my app",
    )
    # When validated / Then the pattern error is at its path
    only(check(suite), "inferenceConfig.models[0].precomputedInferenceSource.inferenceSourceIdentifier")


def test_an_unknown_application_type(suite: dict) -> None:
    # Given an applicationType outside the enum / When validated / Then the values are named
    suite["applicationType"] = "Model"
    assert "use one of: ModelEvaluation, RagEvaluation" in only(check(suite), "applicationType").message


def test_instructions_over_5000_characters(suite: dict) -> None:
    # Given instructions of 5001 characters (variables at the end)
    body = "x" * (5001 - len("\nPrompt: {{prompt}}\nResponse: {{prediction}}"))
    at(suite, *CUSTOM)["instructions"] = body + "\nPrompt: {{prompt}}\nResponse: {{prediction}}"
    # When validated / Then the limit is named
    assert "allows at most 5000" in only(check(suite), f"{CUSTOM_PATH}.instructions").message


@pytest.mark.parametrize(
    ("value", "found"),
    [({"floatValue": 1, "stringValue": "good"}, "found floatValue, stringValue"), ({}, "found none")],
)
def test_a_rating_value_needs_exactly_one_of_float_and_string(suite: dict, value: dict, found: str) -> None:
    # Given a rating value with both or neither / When validated / Then exactly one is asked for
    at(suite, *CUSTOM)["ratingScale"][1]["value"] = value
    problem = only(check(suite), f"{CUSTOM_PATH}.ratingScale[1].value")
    assert found in problem.message


def test_a_rating_definition_over_100_characters(suite: dict) -> None:
    # Given a one-word definition of 101 characters / When validated / Then the length is named
    at(suite, *CUSTOM)["ratingScale"][1]["definition"] = "P" * 101
    assert "allows at most 100" in only(check(suite), f"{CUSTOM_PATH}.ratingScale[1].definition").message


# -- taskType (trap 1) ---------------------------------------------------------------------


def test_a_judge_job_needs_task_type_general(suite: dict) -> None:
    # Given a judge job with taskType Generation (valid per the service model's enum)
    put(suite, (*CONFIG, "taskType"), "Generation")
    # When validated
    problem = only(check(suite), "evaluationConfig.automated.datasetMetricConfigs[0].taskType")
    # Then it is an error that explains the trap
    assert 'must be "General"' in problem.message
    assert "Summarization, Classification" in problem.message


def test_a_classic_job_uses_the_enum() -> None:
    # Given a classic job with an enum task type / When validated / Then it passes
    assert check(classic_suite()).problems == []
    # Given one with a made-up task type / When validated / Then the enum is named
    suite = classic_suite()
    put(suite, (*CONFIG, "taskType"), "Summarisation")
    message = only(check(suite)).message
    assert "one of Summarization, Classification, QuestionAndAnswer, Generation" in message
    assert "did you mean 'Summarization'" in message


# -- one dataset, one model ----------------------------------------------------------------


def test_more_than_one_custom_dataset_metric_config(suite: dict) -> None:
    # Given two dataset entries, neither naming a built-in dataset
    configs = at(suite, *AUTOMATED, "datasetMetricConfigs")
    configs.append(dict(configs[0]))
    # When validated / Then the one-custom-dataset-per-run rule is explained
    problem = only(check(suite), "evaluationConfig.automated.datasetMetricConfigs")
    assert "2 entries with a custom dataset ([0] ('nightly'), [1] ('nightly'))" in problem.message
    assert "the dropped file fills the one custom entry" in problem.message


def test_built_in_dataset_entries_do_not_count_as_custom(suite: dict) -> None:
    # Given one custom entry and a second entry naming a built-in dataset
    configs = at(suite, *AUTOMATED, "datasetMetricConfigs")
    configs.append({**configs[0], "dataset": {"name": "Builtin.BoolQ"}})
    # When validated / Then the dataset-count rule says nothing
    fields = [p.field for p in check(suite).problems]
    assert "evaluationConfig.automated.datasetMetricConfigs" not in fields


def test_an_automated_job_evaluates_one_model(suite: dict) -> None:
    # Given two precomputed sources in an automated job
    suite["inferenceConfig"]["models"].append(
        {"precomputedInferenceSource": {"inferenceSourceIdentifier": "v2"}}
    )
    # When validated / Then keeping one is asked for
    assert "exactly one model" in only(check(suite), "inferenceConfig.models").message


def test_the_application_type_must_fit_the_inference_config() -> None:
    # Given RAG sources in a ModelEvaluation suite
    suite = rag_suite("retrieveSourceConfig", ["Builtin.ContextRelevance"])
    suite["applicationType"] = "ModelEvaluation"
    # When validated / Then RagEvaluation is asked for
    messages = [p.message for p in check(suite).problems if p.field == "applicationType"]
    assert messages == [
        "is ModelEvaluation, but inferenceConfig.ragConfigs evaluate a knowledge base: "
        'set it to "RagEvaluation"'
    ]


# -- metric names ----------------------------------------------------------------------------


def test_a_custom_metric_missing_from_metric_names_is_an_error(suite: dict) -> None:
    # Given a custom metric not listed in metricNames (the service would silently skip it)
    at(suite, *METRIC_NAMES).remove("confirmation_check")
    # When validated
    problem = only(check(suite), f"{CUSTOM_PATH}.name")
    # Then it says so
    assert "silently skip" in problem.message


def test_problems_of_a_guide_spelled_metric_point_at_metric_name(suite: dict) -> None:
    # Given a custom metric spelled metricName and missing from metricNames
    definition = at(suite, *CUSTOM)
    definition["metricName"] = definition.pop("name")
    at(suite, *METRIC_NAMES).remove("confirmation_check")
    # When validated
    report = check(suite)
    # Then the error points at the key the file uses
    assert [p.field for p in report.errors()] == [f"{CUSTOM_PATH}.metricName"]


def test_a_metric_name_that_is_neither_built_in_nor_custom(suite: dict) -> None:
    # Given a listed metric nobody defines / When validated / Then it is an error at its path
    at(suite, *METRIC_NAMES).append("confirmation_chek")
    problem = only(check(suite), metric_path(3))
    assert "neither a built-in metric of this job nor a custom metric" in problem.message
    assert "did you mean 'confirmation_check'?" in problem.message


def test_an_unknown_built_in(suite: dict) -> None:
    # Given a misspelled built-in / When validated / Then the closest one is suggested
    at(suite, *METRIC_NAMES).append("Builtin.Corectness")
    problem = only(check(suite), metric_path(3))
    assert "not a built-in metric (did you mean 'Builtin.Correctness'?)" in problem.message


def test_a_built_in_of_another_application_type(suite: dict) -> None:
    # Given a RAG metric in a model evaluation / When validated / Then both families are named
    at(suite, *METRIC_NAMES).append("Builtin.ContextRelevance")
    problem = only(check(suite), metric_path(3))
    assert "belongs to RAG evaluation, retrieve only" in problem.message
    assert "applicationType ModelEvaluation" in problem.message


def test_a_classic_metric_mixed_into_a_judge_job(suite: dict) -> None:
    # Given Builtin.Accuracy beside judge metrics / When validated / Then the mix is explained
    at(suite, *METRIC_NAMES).append("Builtin.Accuracy")
    problem = only(check(suite), metric_path(3))
    assert "classic automated metric" in problem.message
    assert "cannot mix" in problem.message


def test_rag_metrics_follow_the_rag_flavour() -> None:
    # Given retrieve-only RAG suites / When validated / Then retrieval metrics pass ...
    assert check(rag_suite("retrieveSourceConfig", ["Builtin.ContextCoverage"])).problems == []
    # ... and generation metrics do not
    report = check(rag_suite("retrieveSourceConfig", ["Builtin.CitationPrecision"]))
    assert "belongs to RAG evaluation, retrieve and generate" in only(report, metric_path(0)).message
    # Given a retrieve-and-generate suite / When validated / Then its metrics pass
    assert check(rag_suite("retrieveAndGenerateSourceConfig", ["Builtin.LogicalCoherence"])).problems == []


def test_duplicate_metric_names(suite: dict) -> None:
    # Given a metric listed twice / When validated / Then the second listing is the error
    at(suite, *METRIC_NAMES).append("Builtin.Correctness")
    problem = only(check(suite), metric_path(3))
    assert f"listed twice (also at {metric_path(0)})" in problem.message


def test_duplicate_custom_metric_names(suite: dict) -> None:
    # Given the same custom metric defined twice
    metrics = at(suite, *AUTOMATED, "customMetricConfig", "customMetrics")
    metrics.append(metrics[0])
    # When validated / Then the second definition is the error
    problem = only(
        check(suite),
        "evaluationConfig.automated.customMetricConfig.customMetrics[1].customMetricDefinition.name",
    )
    assert "defined twice" in problem.message


def test_custom_metric_names_may_not_use_the_builtin_prefix(suite: dict) -> None:
    # Given a custom metric named like a built-in
    at(suite, *CUSTOM)["name"] = "Builtin.Tone"
    put(suite, (*METRIC_NAMES, 2), "Builtin.Tone")
    # When validated / Then the prefix is reserved
    messages = [p.message for p in check(suite).problems]
    assert any("prefix is reserved" in m for m in messages)


def test_human_jobs_list_their_own_metrics() -> None:
    # Given a human job rating one custom metric
    suite = make_suite()
    suite["evaluationConfig"] = {
        "human": {
            "datasetMetricConfigs": [
                {
                    "taskType": "Generation",
                    "dataset": {"name": "d"},
                    "metricNames": ["quality", "Builtin.Helpfulness"],
                }
            ],
            "customMetrics": [{"name": "quality", "ratingMethod": "ThumbsUpDown"}],
        }
    }
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}
    del suite["pipeline"]["lowScore"]["metrics"]
    # When validated / Then only the built-in is an error
    problem = only(check(suite), "evaluationConfig.human.datasetMetricConfigs[0].metricNames[1]")
    assert (
        "human job rates only the metrics defined in evaluationConfig.human.customMetrics" in problem.message
    )


# -- evaluator models (trap 4) ---------------------------------------------------------------


def test_built_in_judge_metrics_need_the_top_level_evaluator(suite: dict) -> None:
    # Given judge built-ins but only the custom metrics' evaluator
    del at(suite, *AUTOMATED)["evaluatorModelConfig"]
    # When validated
    problem = only(check(suite), TOP_EVALUATOR)
    # Then the missing config is named with what it grades
    assert "grades Builtin.Correctness, Builtin.Helpfulness" in problem.message


def test_custom_metrics_need_their_own_evaluator(suite: dict) -> None:
    # Given custom metrics without customMetricConfig.evaluatorModelConfig / When validated
    del at(suite, *AUTOMATED, "customMetricConfig")["evaluatorModelConfig"]
    # Then the required member is named
    only(check(suite), "evaluationConfig.automated.customMetricConfig.evaluatorModelConfig")


def test_the_two_evaluators_must_name_the_same_model(suite: dict) -> None:
    # Given a different judge for custom metrics
    at(suite, *AUTOMATED, "customMetricConfig", "evaluatorModelConfig")["bedrockEvaluatorModels"] = [
        {"modelIdentifier": OTHER_JUDGE}
    ]
    # When validated / Then both models are named
    problem = only(check(suite), CUSTOM_EVALUATOR)
    assert OTHER_JUDGE in problem.message
    assert JUDGE in problem.message


def test_evaluators_the_role_cannot_invoke(suite: dict) -> None:
    # Given a deployment that allows only another judge
    # When validated
    report = check(suite, allowed_evaluator_models=[OTHER_JUDGE])
    # Then both evaluator places are errors naming the allowed model
    assert fields(report) == [f"{TOP_EVALUATOR}.bedrockEvaluatorModels[0].modelIdentifier", CUSTOM_EVALUATOR]
    assert all(f"may invoke only these evaluator models: {OTHER_JUDGE}" in p.message for p in report.problems)
    # Given no allow-list / When validated / Then any valid model passes
    assert check(suite, allowed_evaluator_models=()).problems == []


# -- custom metric instructions (trap 7) and rating definitions (trap 8) ---------------------


def test_instructions_need_prompt_and_prediction(suite: dict) -> None:
    # Given instructions without {{prediction}}
    at(suite, *CUSTOM)["instructions"] = "Is the answer polite?\n\nPrompt: {{prompt}}"
    # When validated / Then the missing variable is named
    problem = only(check(suite), f"{CUSTOM_PATH}.instructions")
    assert "missing: {{prediction}}" in problem.message


def test_instructions_with_an_unknown_variable(suite: dict) -> None:
    # Given a variable Bedrock does not fill in, and one written with spaces
    at(suite, *CUSTOM)["instructions"] = (
        "Rate it.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}\nRef: {{reference}}"
    )
    # When validated / Then it is named with the known ones
    assert "{{reference}} is not a variable" in only(check(suite)).message
    at(suite, *CUSTOM)["instructions"] = "Rate it.\n\nPrompt: {{ prompt }}\nResponse: {{prediction}}"
    messages = [p.message for p in check(suite).problems]
    assert any("write {{prompt}}" in m for m in messages)


def test_text_after_the_input_variables(suite: dict) -> None:
    # Given rubric text after the variables
    at(suite, *CUSTOM)["instructions"] = "Prompt: {{prompt}}\nResponse: {{prediction}}\n\nRate 0 or 1."
    # When validated / Then the trailing text is quoted
    problem = only(check(suite), f"{CUSTOM_PATH}.instructions")
    assert "text follows the last input variable (line 2): 'Rate 0 or 1.'" in problem.message


def test_an_input_variable_in_the_body(suite: dict) -> None:
    # Given a variable mentioned in the task description, far from the final block
    at(suite, *CUSTOM)["instructions"] = (
        "Check that {{prediction}} asks first.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}"
    )
    # When validated / Then the line is named
    assert "line 1 uses an input variable in the body" in only(check(suite)).message


@pytest.mark.parametrize(
    "text",
    [
        "Rate it.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}",  # the guide's layout
        "Rate it.\nPrompt: {{prompt}}\nResponse: {{prediction}}\n\n  \n",  # blank lines after
        "... {{prompt}} ... {{prediction}} ...",  # one line: text beside variables is allowed
        "Rate it.\n\nPrompt: {{prompt}}\nReference: {{ground_truth}}\nResponse: {{prediction}}",
    ],
)
def test_variables_that_come_last(text: str) -> None:
    # Given variables in the final block / When checked / Then they come last
    assert variables_not_last(text) is None


def test_a_rating_definition_over_five_words(suite: dict) -> None:
    # Given a six-word definition / When validated / Then the word limit is named
    at(suite, *CUSTOM)["ratingScale"][1]["definition"] = "Acts without asking the user first"
    problem = only(check(suite), f"{CUSTOM_PATH}.ratingScale[1].definition")
    assert "has 6 words" in problem.message
    # Given five words / When validated / Then it passes
    at(suite, *CUSTOM)["ratingScale"][1]["definition"] = "Acts without asking user first"
    assert check(suite).problems == []


# -- live inference (inferenceConfig.models[].bedrockModel) ----------------------------------

LIVE_MODEL = "amazon.nova-lite-v1:0"
LIVE = "inferenceConfig.models[0].bedrockModel"


def live_suite(**model: Any) -> dict[str, Any]:
    suite = make_suite()
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": LIVE_MODEL, **model}}]}
    return suite


def test_a_live_suite_with_json_object_inference_params_is_valid() -> None:
    # Given a live model with parameters as a JSON object string / When validated / Then it passes
    suite = live_suite(inferenceParams='{"inferenceConfig": {"maxTokens": 512}}')
    assert check(suite, allowed_inference_models=[LIVE_MODEL]).problems == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ('{"inferenceConfig": {"maxTokens": 512}', "is not valid JSON (Expecting ',' delimiter"),
        ("maxTokens=512", "is not valid JSON (Expecting value"),
        ("[1, 2]", "holds a JSON array, not an object"),
        ('{"a": 1, "a": 2}', "key(s) 'a' appear twice"),
    ],
)
def test_inference_params_must_be_a_json_object_string(params: str, expected: str) -> None:
    # Given inferenceParams that is no JSON object / When validated
    problem = only(check(live_suite(inferenceParams=params)), f"{LIVE}.inferenceParams")
    # Then the JSON problem is named
    assert expected in problem.message


def test_live_models_the_role_cannot_invoke() -> None:
    # Given a deployment that allows another live model / When validated
    problem = only(
        check(live_suite(), allowed_inference_models=["amazon.nova-micro-v1:0"]), f"{LIVE}.modelIdentifier"
    )
    # Then the allowed models and the fix are named
    assert "may invoke only these models for live inference: amazon.nova-micro-v1:0" in problem.message
    assert "inferenceModels" in problem.message
    # Given a deployment that allows none / Then the model is an error too
    problem = only(check(live_suite(), allowed_inference_models=()), f"{LIVE}.modelIdentifier")
    assert "may invoke no model for live inference" in problem.message
    # Given no allow-list at all (None: offline checks) / Then any model passes
    assert check(live_suite()).problems == []
