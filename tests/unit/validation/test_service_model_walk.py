"""The generic walk of values along botocore's bedrock shapes."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.validation import Severity
from evalpipe.validation.service_model import ShapeWalker, WalkPolicy, request_member, shape


def walk(value: Any, shape_name: str, policy: WalkPolicy | None = None) -> list[Any]:
    return list(ShapeWalker("s.json", policy).walk(value, shape(shape_name), "x"))


def messages(value: Any, shape_name: str, policy: WalkPolicy | None = None) -> list[str]:
    return [p.render() for p in walk(value, shape_name, policy)]


def metric_config(**fields: Any) -> dict[str, Any]:
    config = {"taskType": "Generation", "dataset": {"name": "d"}, "metricNames": ["Builtin.Helpfulness"]}
    config.update(fields)
    return config


def test_a_valid_value_has_no_problems() -> None:
    # Given a dataset metric config as the API defines it / When walked / Then nothing is reported
    assert walk(metric_config(), "EvaluationDatasetMetricConfig") == []


def test_missing_required_member() -> None:
    # Given a config without metricNames
    config = metric_config()
    del config["metricNames"]
    # When walked
    # Then the missing member is named at its path, with the required list
    assert messages(config, "EvaluationDatasetMetricConfig") == [
        "s.json: x.metricNames: error: is required in EvaluationDatasetMetricConfig "
        "(required: taskType, dataset, metricNames)"
    ]


def test_unknown_member_names_the_allowed_ones() -> None:
    # Given a misspelled member
    config = metric_config(metricName=["Builtin.Helpfulness"])
    # When walked
    (problem,) = walk(config, "EvaluationDatasetMetricConfig")
    # Then the error names every allowed member and the closest one
    assert problem.field == "x.metricName"
    assert "allowed: taskType, dataset, metricNames" in problem.message
    assert "did you mean 'metricNames'?" in problem.message


@pytest.mark.parametrize(
    ("value", "shape_name", "expected"),
    [
        ([], "EvaluationDataset", "must be an object (EvaluationDataset), not array"),
        ("Builtin.Helpfulness", "EvaluationMetricNames", "must be an array, not string"),
        (7, "EvaluationMetricName", "must be a string, not integer"),
        (2.5, "MaxTokens", "must be an integer, not number"),
        (True, "MaxTokens", "must be an integer, not boolean"),
        ("0.5", "Temperature", "must be a number, not string"),
        ("yes", "Boolean", "must be true or false, not string"),
        (None, "EvaluationMetricName", "is null; give a string or remove the key"),
    ],
)
def test_type_errors(value: Any, shape_name: str, expected: str) -> None:
    # Given a value of the wrong JSON type / When walked / Then the expected type is named
    assert [p.message for p in walk(value, shape_name)] == [expected]


def test_numbers_accept_integers_and_floats_where_the_shape_is_float() -> None:
    # Given an integer for a float shape / When walked / Then it is accepted
    assert walk(1, "Temperature") == []
    assert walk(0.2, "Temperature") == []


def test_a_document_takes_any_json_value_but_nothing_else() -> None:
    # Given a filter value (a document) holding nested JSON, and one holding a Python set
    # When walked / Then the JSON is accepted and the set is not
    assert walk({"a": [1, "b", None, {"c": True}]}, "FilterValue") == []
    assert [p.message for p in walk([{1, 2}], "FilterValue")] == ["contains a set, which is not a JSON value"]


@pytest.mark.parametrize(
    ("value", "shape_name", "expected"),
    [
        ("", "EvaluationMetricName", "is empty; give a value"),
        ("m" * 64, "EvaluationMetricName", "is 64 characters long; EvaluationMetricName allows at most 63"),
        (
            "x" * 5001,
            "CustomMetricInstructions",
            "is 5001 characters long; CustomMetricInstructions allows at most 5000",
        ),
        ([], "EvaluationMetricNames", "has 0 items; EvaluationMetricNames needs at least 1"),
        (["m"] * 26, "EvaluationMetricNames", "has 26 items; EvaluationMetricNames allows at most 25"),
        (101, "KnowledgeBaseVectorSearchConfigurationNumberOfResultsInteger", "101 is above the maximum 100"),
        (-0.1, "Temperature", "-0.1 is below the minimum 0"),
        (float("nan"), "Temperature", "nan is not a finite number"),
    ],
)
def test_lengths_counts_and_ranges(value: Any, shape_name: str, expected: str) -> None:
    # Given a value outside the shape's limits / When walked / Then the limit is named
    assert [p.message for p in walk(value, shape_name)] == [expected]


@pytest.mark.parametrize(
    ("value", "shape_name"),
    [
        ("my metric", "EvaluationMetricName"),  # an unanchored search would find "my"
        ("Builtin.Correctness\n", "EvaluationMetricName"),  # "$" alone would allow the newline
        ("-app", "EvaluationPrecomputedInferenceSourceIdentifier"),
        ("amazon.nova-pro-v1:0 please", "EvaluatorModelIdentifier"),
        ("nova-pro", "EvaluatorModelIdentifier"),
    ],
)
def test_patterns_are_anchored_at_both_ends(value: str, shape_name: str) -> None:
    # Given a value with a valid part but invalid as a whole
    # When walked
    problems = walk(value, shape_name)
    # Then the whole value must match
    assert len(problems) == 1
    assert problems[0].severity is Severity.ERROR


@pytest.mark.parametrize(
    ("value", "shape_name"),
    [
        ("Builtin.Correctness", "EvaluationMetricName"),
        ("my-app_v1.2", "EvaluationPrecomputedInferenceSourceIdentifier"),
        ("amazon.nova-pro-v1:0", "EvaluatorModelIdentifier"),
        ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "EvaluatorModelIdentifier"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "EvaluatorModelIdentifier"),
    ],
)
def test_valid_values_match_their_pattern(value: str, shape_name: str) -> None:
    # Given values the service accepts / When walked / Then they pass
    assert walk(value, shape_name) == []


def test_a_long_pattern_is_not_printed() -> None:
    # Given an invalid evaluator model id (its pattern is hundreds of characters long)
    # When walked
    (problem,) = walk("Nova Pro", "EvaluatorModelIdentifier")
    # Then the message names the shape instead of the regex
    assert (
        problem.message
        == "'Nova Pro' is not a valid EvaluatorModelIdentifier (see the CreateEvaluationJob API reference)"
    )


def test_enums() -> None:
    # Given an applicationType outside the enum / When walked / Then the allowed values are named
    problems = list(ShapeWalker("s.json").walk("Model", request_member("applicationType"), "applicationType"))
    assert [p.message for p in problems] == [
        "'Model' is not allowed; use one of: ModelEvaluation, RagEvaluation"
    ]
    # ... and skip_enum leaves a shape's enum to another rule
    assert (
        walk("General", "EvaluationTaskType", WalkPolicy(skip_enum=frozenset({"EvaluationTaskType"}))) == []
    )
    assert len(walk("General", "EvaluationTaskType")) == 1


@pytest.mark.parametrize(
    ("value", "found"),
    [({"floatValue": 1, "stringValue": "good"}, "floatValue, stringValue"), ({}, "none")],
)
def test_a_union_needs_exactly_one_member(value: dict, found: str) -> None:
    # Given a rating value with both or neither of its members
    # When walked
    (problem,) = walk(value, "RatingScaleItemValue")
    # Then exactly one is asked for
    assert problem.message == (
        f"set exactly one of: stringValue, floatValue (RatingScaleItemValue is a union); found {found}"
    )


def test_recursive_shapes_stop_at_a_depth_limit() -> None:
    # Given a retrieval filter nested far deeper than any real config
    leaf = {"equals": {"key": "k", "value": 1}}
    value: dict[str, Any] = leaf
    for _ in range(200):
        value = {"andAll": [value, leaf]}
    # When walked
    problems = walk(value, "RetrievalFilter")
    # Then it ends with a depth error instead of exhausting the stack
    assert {p.message for p in problems} == {"nested more than 40 levels deep; simplify it"}
    assert len(problems) <= 2  # the deepest list's two items


def test_policy_optional_ignored_and_alias_members() -> None:
    policy = WalkPolicy(
        optional_members={"EvaluationDataset": frozenset({"name"})},
        ignored_members={"EvaluationDataset": {"datasetLocation": "is ignored"}},
        aliases={"CustomMetricDefinition": {"metricName": "name"}},
    )
    # Given a dataset without its required name / When walked / Then the name may be left out
    assert walk({}, "EvaluationDataset", policy) == []
    # Given an ignored member / When walked / Then it is a warning, and its value is not checked
    (ignored,) = walk({"datasetLocation": {"s3Uri": 5}}, "EvaluationDataset", policy)
    assert (ignored.severity, ignored.field, ignored.message) == (
        Severity.WARNING,
        "x.datasetLocation",
        "is ignored",
    )
    # Given an ignored member whose warning depends on the structure / When walked
    by_name = WalkPolicy(
        optional_members=policy.optional_members,
        ignored_members={"EvaluationDataset": {"datasetLocation": lambda d: None if "name" in d else "why"}},
    )
    # Then the function decides the warning (None: none), and the value is not checked either way
    assert walk({"name": "n", "datasetLocation": {"s3Uri": 5}}, "EvaluationDataset", by_name) == []
    (unnamed,) = walk({"datasetLocation": {"s3Uri": 5}}, "EvaluationDataset", by_name)
    assert (unnamed.severity, unnamed.field) == (Severity.WARNING, "x.datasetLocation")
    assert unnamed.message == "why"
    # Given an alias / When walked / Then it stands for the member, with a warning
    (alias,) = walk({"metricName": "m", "instructions": "i"}, "CustomMetricDefinition", policy)
    assert (alias.severity, alias.field) == (Severity.WARNING, "x.metricName")
    assert "sent to the API as 'name'" in alias.message
    # ... and the alias value is checked as the member
    bad = walk({"metricName": "a b", "instructions": "i"}, "CustomMetricDefinition", policy)
    assert [p.field for p in bad] == ["x.metricName", "x.metricName"]
    # Given both the alias and the member / When walked / Then it is an error
    (both,) = walk({"metricName": "m", "name": "m", "instructions": "i"}, "CustomMetricDefinition", policy)
    assert both.severity is Severity.ERROR
    assert "not both" in both.message
