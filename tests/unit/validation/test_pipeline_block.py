"""The suite's pipeline block: description, jobTags, lowScore, notification."""

from __future__ import annotations

from typing import Any

import pytest

from evalpipe.validation import Report, validate_suite
from tests.unit.validation.builders import SUITE_FILE, only


def check(suite: dict) -> Report:
    return validate_suite(suite, SUITE_FILE)


def test_the_full_example_block_is_valid(suite: dict) -> None:
    # Given the block of docs/suite-file.md / When validated / Then nothing is reported
    assert check(suite).problems == []


def test_the_block_may_be_left_out(suite: dict) -> None:
    # Given no pipeline block / When validated / Then the defaults apply silently
    del suite["pipeline"]
    assert check(suite).problems == []


@pytest.mark.parametrize("value", [[], "x", None])
def test_the_block_must_be_an_object(suite: dict, value: Any) -> None:
    # Given a block that is not an object / When validated / Then it is an error
    suite["pipeline"] = value
    only(check(suite), "pipeline")


def test_unknown_keys(suite: dict) -> None:
    # Given a misspelled key / When validated / Then the allowed keys are named
    suite["pipeline"]["notifications"] = {}
    problem = only(check(suite), "pipeline.notifications")
    assert "allowed: description, jobTags, lowScore, notification" in problem.message


@pytest.mark.parametrize(
    ("description", "expected"),
    [("", "is empty"), ("d" * 201, "allows at most 200"), ("two\nlines", "must match .+")],
)
def test_description_is_a_job_description(suite: dict, description: str, expected: str) -> None:
    # Given a description the API rejects as jobDescription / When validated / Then it is named
    suite["pipeline"]["description"] = description
    assert expected in only(check(suite), "pipeline.description").message


@pytest.mark.parametrize(
    ("tags", "field", "expected"),
    [
        (["team"], "pipeline.jobTags", "must be an object of tag key -> value"),
        ({"team#1": "a"}, 'pipeline.jobTags["team#1"]', "must match"),
        ({"k" * 129: "a"}, "pipeline.jobTags." + "k" * 129, "allows at most 128"),
        ({"team": "v" * 257}, "pipeline.jobTags.team", "allows at most 256"),
        ({"team": "é"}, "pipeline.jobTags.team", "must match"),
        ({"team": 1}, "pipeline.jobTags.team", "must be a string"),
        ({"evalpipe:owner": "a"}, 'pipeline.jobTags["evalpipe:owner"]', "reserved for the pipeline"),
        ({"AWS:owner": "a"}, 'pipeline.jobTags["AWS:owner"]', "reserved by AWS"),
        ({"te\tam": "a"}, 'pipeline.jobTags["te\\tam"]', "no tabs or line breaks"),
    ],
)
def test_job_tags_follow_the_tag_shapes(suite: dict, tags: Any, field: str, expected: str) -> None:
    # Given a tag the API or the pipeline would reject / When validated / Then it is named
    suite["pipeline"]["jobTags"] = tags
    assert expected in only(check(suite), field).message


def test_job_tags_leave_room_for_the_pipelines_tags(suite: dict) -> None:
    # Given 199 tags (the API allows 200 and the pipeline adds 2) / When validated
    suite["pipeline"]["jobTags"] = {f"k{i}": "v" for i in range(199)}
    # Then the limit is 198
    assert "at most 198" in only(check(suite), "pipeline.jobTags").message


@pytest.mark.parametrize(
    ("rule", "field", "expected"),
    [
        ({"below": 0.5, "atOrBelow": 0.5}, "pipeline.lowScore.builtin", "found 2: below, atOrBelow"),
        ({"below": 0.5, "above": 0.5}, "pipeline.lowScore.builtin", "found 2: below, above"),
        ({"above": 0.5, "atOrAbove": 1, "atOrBelow": 0}, "pipeline.lowScore.builtin", "found 3"),
        (
            {},
            "pipeline.lowScore.builtin",
            "give exactly one of 'below' (score < value), 'atOrBelow' (<=), 'above' (>) or 'atOrAbove' (>=)",
        ),
        ({"above": "0.5"}, "pipeline.lowScore.builtin.above", "must be a number"),
        ({"atOrAbove": None}, "pipeline.lowScore.builtin.atOrAbove", "must be a number"),
        ({"atOrAbove": float("nan")}, "pipeline.lowScore.builtin.atOrAbove", "must be a number"),
        ({"below": "0.5"}, "pipeline.lowScore.builtin.below", "must be a number"),
        ({"below": True}, "pipeline.lowScore.builtin.below", "must be a number"),
        ({"below": float("inf")}, "pipeline.lowScore.builtin.below", "must be a number"),
        (0.5, "pipeline.lowScore.builtin", 'must be an object like {"below": 0.5}'),
    ],
)
def test_a_low_score_rule_has_exactly_one_numeric_bound(
    suite: dict, rule: Any, field: str, expected: str
) -> None:
    # Given a malformed rule / When validated / Then it is an error at the rule
    suite["pipeline"]["lowScore"]["builtin"] = rule
    assert expected in only(check(suite), field).message


def test_unknown_keys_in_a_rule_and_in_low_score(suite: dict) -> None:
    # Given unknown keys at both levels / When validated / Then both are named
    suite["pipeline"]["lowScore"]["custom"] = {"atOrBelow": 0, "over": 1}
    suite["pipeline"]["lowScore"]["defaults"] = {}
    report = check(suite)
    assert [p.field for p in report.problems] == [
        "pipeline.lowScore.custom.over",
        "pipeline.lowScore.defaults",
    ]
    assert "allowed: below, atOrBelow, above, atOrAbove" in report.problems[0].message


@pytest.mark.parametrize("rule", [{"below": 0.5}, {"atOrBelow": 0}, {"above": 0.5}, {"atOrAbove": 1}])
def test_each_rule_kind_is_valid_everywhere(suite: dict, rule: dict) -> None:
    # Given the rule kind as the built-in, custom and per-metric rule / When validated / Then fine
    low_score = {"builtin": rule, "custom": rule, "metrics": {"Builtin.Correctness": rule}}
    suite["pipeline"]["lowScore"] = low_score
    assert check(suite).problems == []


def test_a_detector_may_be_given_its_own_rule(suite: dict) -> None:
    # Given a suite grading Harmfulness with a stricter detector rule (prefix dropped, as outputs do)
    names = suite["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"]
    names.append("Builtin.Harmfulness")
    suite["pipeline"]["lowScore"]["metrics"] = {"Harmfulness": {"atOrAbove": 1}}

    # When validated / Then nothing is reported
    assert check(suite).problems == []


def test_a_metric_rule_must_name_an_evaluated_metric(suite: dict) -> None:
    # Given a rule for a metric the suite does not evaluate (a typo leaves low scores unflagged)
    suite["pipeline"]["lowScore"]["metrics"] = {"Builtin.Corectness": {"below": 0.7}}
    # When validated / Then the evaluated metrics are named
    problem = only(check(suite), 'pipeline.lowScore.metrics["Builtin.Corectness"]')
    assert "use one of: Builtin.Correctness, Builtin.Helpfulness, confirmation_check" in problem.message


def test_a_metric_rule_may_name_a_built_in_without_its_prefix(suite: dict) -> None:
    # Given a rule keyed as classic outputs name built-ins / When validated / Then it applies
    suite["pipeline"]["lowScore"]["metrics"] = {"Correctness": {"below": 0.7}}
    assert check(suite).problems == []


@pytest.mark.parametrize("value", [51, -1, True, 1.5, "10"])
def test_max_low_records_is_an_integer_from_0_to_50(suite: dict, value: Any) -> None:
    # Given an out-of-range or non-integer value / When validated / Then the range is named
    suite["pipeline"]["notification"]["maxLowRecords"] = value
    assert "integer from 0 to 50" in only(check(suite), "pipeline.notification.maxLowRecords").message


def test_unknown_notification_keys(suite: dict) -> None:
    # Given an unknown notification key / When validated / Then it is an error
    suite["pipeline"]["notification"]["email"] = "a@b.c"
    only(check(suite), "pipeline.notification.email")
