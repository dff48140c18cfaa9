"""The suite's pipeline.regression block: model defaults and precedence, validation, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evalpipe.suite import RegressionSettings, Suite, SuiteError
from evalpipe.validation import validate_suite
from scripts.generate_schema import SCHEMA_PATH
from tests.unit.history.builders import suite_document

SUITE_FILE = "suites/support-bot.json"
FULL_BLOCK = {
    "baselineRunId": "support-bot-20250301-091500-5f2c9a1e",
    "minScoredRecords": 5,
    "default": {"maxAbsoluteDrop": 0.1, "maxRelativeDrop": 0.15},
    "metrics": {"Builtin.Correctness": {"maxAbsoluteDrop": 0.05}, "Helpfulness": {"maxRelativeDrop": None}},
}
_SCHEMA = jsonschema.Draft202012Validator(json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8")))


def problems(regression: Any) -> list[tuple[str | None, str]]:
    report = validate_suite(suite_document(regression=regression), SUITE_FILE)
    return [(p.field, p.message) for p in report.problems]


def test_defaults() -> None:
    settings = Suite.from_document("s", suite_document()).pipeline.regression
    assert settings.baseline_run_id is None
    assert settings.min_scored_records == 10
    assert settings.limits_for("Builtin.Helpfulness") == (0.1, 0.2)
    assert settings.limits_for("anything") == (0.1, 0.2)


def test_the_full_block_is_accepted_by_validator_model_and_schema() -> None:
    document = suite_document(regression=FULL_BLOCK)
    assert problems(FULL_BLOCK) == []
    assert list(_SCHEMA.iter_errors(document)) == []
    settings = Suite.from_document("s", document).pipeline.regression
    assert settings.baseline_run_id == "support-bot-20250301-091500-5f2c9a1e"
    assert settings.min_scored_records == 5
    # Most specific first: metrics entry (either spelling), then default, then built-in
    assert settings.limits_for("Builtin.Correctness") == (0.05, 0.15)
    assert settings.limits_for("Correctness") == (0.05, 0.15)
    assert settings.limits_for("Builtin.Helpfulness") == (0.1, None)
    assert settings.limits_for("confirmation_check") == (0.1, 0.15)


def test_a_partial_default_keeps_the_other_built_in_default() -> None:
    settings = RegressionSettings.model_validate({"default": {"maxAbsoluteDrop": 0.3}})
    assert settings.limits_for("m") == (0.3, 0.2)


def test_dumps_keep_absent_and_null_apart_so_they_round_trip() -> None:
    settings = RegressionSettings.model_validate(FULL_BLOCK)
    dumped = settings.model_dump(by_alias=True)
    assert dumped["metrics"]["Helpfulness"] == {"maxRelativeDrop": None}
    assert dumped["metrics"]["Builtin.Correctness"] == {"maxAbsoluteDrop": 0.05}
    again = RegressionSettings.model_validate(dumped)
    assert again.limits_for("Builtin.Helpfulness") == settings.limits_for("Builtin.Helpfulness")


@pytest.mark.parametrize(
    ("block", "field", "expected"),
    [
        ([], "pipeline.regression", "must be an object"),
        (
            {"baseline": "x"},
            "pipeline.regression.baseline",
            "allowed: baselineRunId, minScoredRecords, default",
        ),
        ({"baselineRunId": "Not A Run"}, "pipeline.regression.baselineRunId", "must be the run id"),
        ({"baselineRunId": 7}, "pipeline.regression.baselineRunId", "must be the run id"),
        ({"minScoredRecords": 0}, "pipeline.regression.minScoredRecords", "integer of at least 1"),
        ({"minScoredRecords": 2.5}, "pipeline.regression.minScoredRecords", "integer of at least 1"),
        ({"minScoredRecords": True}, "pipeline.regression.minScoredRecords", "integer of at least 1"),
        ({"default": 0.1}, "pipeline.regression.default", 'like {"maxAbsoluteDrop": 0.1}'),
        ({"default": {"maxAbsoluteDrop": -0.1}}, "pipeline.regression.default.maxAbsoluteDrop", "at least 0"),
        (
            {"default": {"maxRelativeDrop": "10%"}},
            "pipeline.regression.default.maxRelativeDrop",
            "at least 0",
        ),
        ({"default": {"maxDrop": 0.1}}, "pipeline.regression.default.maxDrop", "allowed: maxAbsoluteDrop"),
        ({"metrics": []}, "pipeline.regression.metrics", "metric name -> limits"),
        (
            {"metrics": {"Builtin.Corectness": {"maxAbsoluteDrop": 0.1}}},
            'pipeline.regression.metrics["Builtin.Corectness"]',
            "not in this suite's metricNames, so the limit would never apply",
        ),
    ],
)
def test_the_validator_names_each_problem(block: Any, field: str, expected: str) -> None:
    found = problems(block)
    assert len(found) == 1, found
    assert found[0][0] == field
    assert expected in found[0][1]


@pytest.mark.parametrize(
    "block",
    [
        {"baselineRunId": "Not A Run"},
        {"minScoredRecords": 0},
        {"default": {"maxAbsoluteDrop": -0.1}},
        {"default": {"maxDrop": 0.1}},
        {"metrics": {"bad name!": {}}},
    ],
)
def test_the_model_and_the_schema_reject_what_the_validator_rejects(block: dict) -> None:
    document = suite_document(regression=block)
    with pytest.raises(SuiteError):
        Suite.from_document("s", document)
    assert list(_SCHEMA.iter_errors(document)) != []


def test_null_values_are_valid_everywhere_they_mean_off_or_default() -> None:
    block = {"baselineRunId": None, "default": {"maxAbsoluteDrop": None, "maxRelativeDrop": None}}
    assert problems(block) == []
    assert list(_SCHEMA.iter_errors(suite_document(regression=block))) == []
    settings = Suite.from_document("s", suite_document(regression=block)).pipeline.regression
    assert settings.limits_for("m") == (None, None)
