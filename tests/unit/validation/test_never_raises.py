"""Validation never raises, whatever it is given: arbitrary bytes, JSON and Python values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalpipe.validation import Report, validate_dataset, validate_run, validate_suite
from evalpipe.validation.deployment import DeploymentLimits
from tests.builders import jsonl
from tests.unit.validation.builders import DATASET_FILE, JUDGE, SUITE_FILE, make_line, make_suite

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys the rules look for, so generated objects reach deep into them.
KEYS = st.sampled_from(
    [
        "applicationType", "evaluationConfig", "automated", "human", "datasetMetricConfigs", "taskType",
        "dataset", "name", "metricNames", "evaluatorModelConfig", "bedrockEvaluatorModels",
        "modelIdentifier", "customMetricConfig", "customMetrics", "customMetricDefinition", "metricName",
        "instructions", "ratingScale", "definition", "value", "floatValue", "stringValue",
        "inferenceConfig", "models", "precomputedInferenceSource", "inferenceSourceIdentifier",
        "bedrockModel", "ragConfigs", "pipeline", "jobTags", "lowScore", "metrics", "below", "above",
        "notification", "maxLowRecords", "prompt", "referenceResponse", "category", "modelResponses",
        "response", "$schema",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["General", "Builtin.Correctness", "{{prompt}}", "<thinking>", JUDGE, "RagEvaluation"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


SUITE_PATHS = paths(make_suite())
LINE_PATHS = paths(make_line())


def assert_sound(report: Report) -> None:
    """A report whose problems render and serialise, with counts no lower than what is listed."""
    assert isinstance(report, Report)
    assert report.error_count + report.warning_count >= len(report.problems)
    for problem in report.problems:
        assert isinstance(problem.render(), str)
        json.dumps(problem.as_dict())


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@SETTINGS
@given(st.binary(max_size=500), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_as_a_dataset(data: bytes, size: int) -> None:
    # Given any bytes in any chunking / When validated / Then a sound report comes back
    assert_sound(validate_dataset(chunked(data, size), DATASET_FILE, suite=make_suite()))


@SETTINGS
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_arbitrary_bytes_as_suite_and_dataset(suite_bytes: bytes, data: bytes) -> None:
    # Given any bytes for both files / When validated together / Then a sound report comes back
    assert_sound(
        validate_run(
            suite_bytes,
            SUITE_FILE,
            [data],
            DATASET_FILE,
            limits=DeploymentLimits(allowed_evaluator_models=[JUDGE]),
        )
    )


@SETTINGS
@given(JSON)
def test_arbitrary_json_as_a_suite(suite: Any) -> None:
    # Given any JSON value as the suite / When validated, alone and with a dataset
    # Then sound reports come back
    assert_sound(validate_suite(suite, SUITE_FILE, limits=DeploymentLimits(allowed_evaluator_models=[JUDGE])))
    assert_sound(validate_dataset([jsonl([make_line()])], DATASET_FILE, suite=suite))


@SETTINGS
@given(st.sampled_from(SUITE_PATHS), JSON)
def test_any_part_of_a_valid_suite_replaced_by_arbitrary_json(path: tuple, value: Any) -> None:
    # Given the valid suite with one part replaced / When validated / Then sound reports come back
    suite = replaced(make_suite(), path, value)
    assert_sound(validate_suite(suite, SUITE_FILE, limits=DeploymentLimits(allowed_evaluator_models=[JUDGE])))
    assert_sound(validate_dataset([jsonl([make_line()])], DATASET_FILE, suite=suite))


@SETTINGS
@given(st.lists(JSON, max_size=5))
def test_arbitrary_json_values_as_dataset_lines(values: list[Any]) -> None:
    # Given any JSON values, one per line / When validated / Then a sound report comes back
    data = b"".join(json.dumps(value).encode() + b"\n" for value in values)
    assert_sound(validate_dataset([data], DATASET_FILE, suite=make_suite()))


@SETTINGS
@given(st.sampled_from(LINE_PATHS), JSON)
def test_any_part_of_a_valid_line_replaced_by_arbitrary_json(path: tuple, value: Any) -> None:
    # Given a valid record with one part replaced / When validated / Then a sound report comes back
    data = jsonl([make_line(), replaced(make_line(), path, value)])
    assert_sound(validate_dataset([data], DATASET_FILE, suite=make_suite()))
    assert_sound(validate_dataset([data], DATASET_FILE))


def deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(10**5000, id="int-beyond-the-str-digit-limit"),
        pytest.param(float("nan"), id="nan"),
        pytest.param({1: "non-string key"}, id="non-string-key"),
        pytest.param({"evaluationConfig": {"automated": {("tuple",): 1}}}, id="tuple-key"),
        pytest.param(
            {"pipeline": {"jobTags": {"team": b"bytes"}, "lowScore": {"builtin": {"below": 10**400}}}},
            id="bytes-and-huge-float-bound",
        ),
        pytest.param({"pipeline": {"description": deep(5000)}}, id="deep-description"),
        pytest.param({"evaluationConfig": deep(5000)}, id="deep-config"),
        pytest.param({"applicationType": {1, 2}}, id="set"),
        pytest.param(object(), id="object"),
    ],
)
def test_python_values_no_json_parser_makes(value: Any) -> None:
    # Given values a caller could pass but no JSON parser produces / When validated / Then no raise
    assert_sound(validate_suite(value, SUITE_FILE))
    assert_sound(validate_dataset([jsonl([make_line()])], DATASET_FILE, suite=value))
    suite = make_suite()
    suite["pipeline"]["lowScore"]["metrics"] = {"Builtin.Correctness": {"below": value}}
    assert_sound(validate_suite(suite, SUITE_FILE))
