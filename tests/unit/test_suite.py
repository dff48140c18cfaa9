"""The suite file model: parsing, the guide's spelling, pipeline settings, accessors, schema."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evalpipe.suite import LowScoreRule, LowScoreSettings, Suite, SuiteError
from scripts.generate_schema import SCHEMA_PATH, build_schema, main, render_schema
from tests.builders import JUDGE, POOR_GOOD, custom_metric, judge_suite


def _document(**overrides: Any) -> dict[str, Any]:
    """A guide-shaped suite: two built-ins and one custom metric (API spelling `name`)."""
    document = judge_suite(
        application_type=None,
        dataset=None,
        metrics=["Builtin.Helpfulness", "Builtin.Correctness", "brevity"],
        custom=[custom_metric("brevity", "Short? Prompt: {{prompt}}\nResponse: {{prediction}}", POOR_GOOD)],
        source="app-v1",
    )
    document.update(overrides)
    return document


def _definition(suite: Suite, index: int = 0) -> dict[str, Any]:
    metrics = suite.evaluation_config["automated"]["customMetricConfig"]["customMetrics"]
    return metrics[index]["customMetricDefinition"]


def _with_guide_spelling(document: dict[str, Any]) -> dict[str, Any]:
    definition = document["evaluationConfig"]["automated"]["customMetricConfig"]["customMetrics"][0][
        "customMetricDefinition"
    ]
    definition.clear()
    definition.update(
        {
            "metricName": "brevity",
            "instructions": "Short? Prompt: {{prompt}}\nResponse: {{prediction}}",
            "ratingScale": [{"definition": "Good", "value": {"floatValue": 1}}],
        }
    )
    return document


def _problems(document: Any, name: str = "demo") -> list[str]:
    with pytest.raises(SuiteError) as caught:
        Suite.from_document(name, document)
    return caught.value.problems


# --- parsing ------------------------------------------------------------------------------


def test_minimal_document_gets_the_documented_defaults() -> None:
    # Given a suite with only the two required API members
    document = _document()

    # When it is parsed
    suite = Suite.from_document("demo", document)

    # Then the pipeline settings take the defaults of docs/suite-file.md
    assert suite.name == "demo"
    assert suite.application_type == "ModelEvaluation"
    assert suite.evaluation_config == document["evaluationConfig"]
    assert suite.inference_config == document["inferenceConfig"]
    assert suite.pipeline.description is None
    assert suite.pipeline.job_tags == {}
    assert suite.pipeline.low_score.builtin == LowScoreRule(below=0.5)
    assert suite.pipeline.low_score.custom == LowScoreRule(at_or_below=0)
    assert suite.pipeline.low_score.metrics == {}
    assert suite.pipeline.notification.max_low_records == 10
    assert suite.warnings == []


def test_full_pipeline_section_is_read_from_its_camel_case_keys() -> None:
    # Given the pipeline section of docs/suite-file.md
    pipeline = {
        "description": "Support assistant, nightly grading",
        "jobTags": {"team": "support"},
        "lowScore": {
            "builtin": {"below": 0.6},
            "custom": {"atOrBelow": 0.25},
            "metrics": {"Builtin.Correctness": {"below": 0.7}},
        },
        "notification": {"maxLowRecords": 3},
    }

    # When the suite is parsed
    suite = Suite.from_document("demo", _document(applicationType="ModelEvaluation", pipeline=pipeline))

    # Then every setting lands in the typed model
    assert suite.pipeline.description == "Support assistant, nightly grading"
    assert suite.pipeline.job_tags == {"team": "support"}
    assert suite.pipeline.low_score.builtin.below == 0.6
    assert suite.pipeline.low_score.custom.at_or_below == 0.25
    assert suite.pipeline.low_score.metrics == {"Builtin.Correctness": LowScoreRule(below=0.7)}
    assert suite.pipeline.notification.max_low_records == 3


def test_schema_reference_is_dropped() -> None:
    # Given a suite that points editors at the schema
    document = {"$schema": "../../schema/suite.schema.json", **_document()}

    # When it is parsed
    suite = Suite.from_document("demo", document)

    # Then "$schema" is accepted and kept nowhere in the model
    assert "$schema" not in suite.model_dump(by_alias=True)
    assert "$schema" in document


def test_parsing_neither_mutates_nor_aliases_the_document() -> None:
    # Given a document in the guide's spelling and a pristine copy of it
    document = _with_guide_spelling(_document(pipeline={"jobTags": {"team": "support"}}))
    pristine = copy.deepcopy(document)

    # When it is parsed and the caller then changes its document
    suite = Suite.from_document("demo", document)
    assert document == pristine
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"].append("x")
    document["inferenceConfig"]["models"].clear()

    # Then the suite is unaffected
    assert suite.metric_names == ["Builtin.Helpfulness", "Builtin.Correctness", "brevity"]
    assert suite.inference_source_identifier == "app-v1"


def test_guide_spelling_metric_name_is_renamed_in_place_with_a_warning() -> None:
    # Given a custom metric written with the guide's `metricName`
    document = _with_guide_spelling(_document())

    # When the suite is parsed
    suite = Suite.from_document("demo", document)

    # Then the definition carries the API's `name` at the same key position
    definition = _definition(suite)
    assert list(definition) == ["name", "instructions", "ratingScale"]
    assert definition["name"] == "brevity"
    assert suite.custom_metric_names == ["brevity"]
    # And the rename is reported for the validator to pass on
    assert suite.warnings == [
        "evaluationConfig.automated.customMetricConfig.customMetrics[0].customMetricDefinition: "
        "'metricName' is the practitioner's guide spelling; the API field is 'name' (sent as 'name')"
    ]


def test_guide_spelling_is_renamed_on_direct_construction_too() -> None:
    # Given a suite built without from_document (e.g. by a test or a tool)
    document = _with_guide_spelling(_document())

    # When the model is constructed by field name
    suite = Suite(
        name="demo",
        evaluation_config=document["evaluationConfig"],
        inference_config=document["inferenceConfig"],
    )

    # Then no `metricName` survives either
    assert "metricName" not in _definition(suite)
    assert _definition(suite)["name"] == "brevity"


def test_same_name_under_both_spellings_keeps_one_name() -> None:
    # Given a definition that repeats its name as `metricName`
    document = _document()
    _definition_doc = document["evaluationConfig"]["automated"]["customMetricConfig"]["customMetrics"][0]
    _definition_doc["customMetricDefinition"]["metricName"] = "brevity"

    # When it is parsed
    suite = Suite.from_document("demo", document)

    # Then only `name` remains
    assert list(_definition(suite)) == ["name", "instructions", "ratingScale"]
    assert len(suite.warnings) == 1


def test_different_names_under_both_spellings_are_rejected() -> None:
    # Given a definition whose `name` and `metricName` disagree
    document = _document()
    metric = document["evaluationConfig"]["automated"]["customMetricConfig"]["customMetrics"][0]
    metric["customMetricDefinition"]["metricName"] = "concise"

    # When it is parsed, then the conflict is named
    problems = _problems(document)
    assert problems == [
        "evaluationConfig.automated.customMetricConfig.customMetrics[0].customMetricDefinition: "
        "both 'name' ('brevity') and 'metricName' ('concise') are given; keep 'name'"
    ]


@pytest.mark.parametrize("document", [[], "suite", None, 3])
def test_a_document_that_is_not_an_object_is_rejected(document: Any) -> None:
    # Given JSON that is not an object; when parsed; then a SuiteError (a ValueError) says so
    with pytest.raises(ValueError, match=r"suite 'demo': the suite file must hold a JSON object"):
        Suite.from_document("demo", document)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("evaluationConfig"), "evaluationConfig: Field required"),
        (lambda d: d.update(inferenceConfig=[]), "inferenceConfig: Input should be a valid dictionary"),
        (
            lambda d: d.update(pipline={}),
            "pipline: unknown key (check the spelling against docs/suite-file.md)",
        ),
        (
            lambda d: d.update(roleArn="arn:aws:iam::123456789012:role/x"),
            "roleArn: comes from the deployment (the Bedrock service role); remove it",
        ),
        (
            lambda d: d.update(jobName="x"),
            "jobName: is derived from the dataset object by the pipeline; remove it",
        ),
        (lambda d: d.update(jobTags=[]), "jobTags: use pipeline.jobTags (a map of key to value) instead"),
        (lambda d: d.update(name="other"), "name: unknown key (the suite's name comes from its file name)"),
        (
            lambda d: d.update(applicationType="Evaluation"),
            "applicationType: Input should be 'ModelEvaluation' or 'RagEvaluation'",
        ),
        (
            lambda d: d.update(pipeline={"lowscore": {}}),
            "pipeline.lowscore: unknown key (check the spelling against docs/suite-file.md)",
        ),
        (
            lambda d: d.update(pipeline={"lowScore": {"builtin": {"below": 0.5, "atOrBelow": 0.5}}}),
            "pipeline.lowScore.builtin: give exactly one of 'below', 'atOrBelow', 'above' or 'atOrAbove'",
        ),
        (
            lambda d: d.update(pipeline={"lowScore": {"custom": {}}}),
            "pipeline.lowScore.custom: give exactly one of 'below', 'atOrBelow', 'above' or 'atOrAbove'",
        ),
        (
            lambda d: d.update(
                pipeline={"lowScore": {"metrics": {"Builtin.Correctness": {"above": 0.5, "atOrAbove": 1}}}}
            ),
            "pipeline.lowScore.metrics.Builtin.Correctness: "
            "give exactly one of 'below', 'atOrBelow', 'above' or 'atOrAbove'",
        ),
        (
            lambda d: d.update(pipeline={"lowScore": {"custom": {"atOrAbove": [1]}}}),
            "pipeline.lowScore.custom.atOrAbove: Input should be a valid number",
        ),
        (
            lambda d: d.update(pipeline={"lowScore": {"metrics": {"Builtin.Correctness": {"under": 1}}}}),
            "pipeline.lowScore.metrics.Builtin.Correctness.under: unknown key "
            "(check the spelling against docs/suite-file.md)",
        ),
        (
            lambda d: d.update(pipeline={"lowScore": {"metrics": {"bad name!": {"below": 1}}}}),
            "pipeline.lowScore.metrics: metric names ['bad name!'] must match ^[0-9a-zA-Z._-]{1,63}$",
        ),
        (
            lambda d: d.update(pipeline={"notification": {"maxLowRecords": 51}}),
            "pipeline.notification.maxLowRecords: Input should be less than or equal to 50",
        ),
        (
            lambda d: d.update(pipeline={"notification": {"maxLowRecords": -1}}),
            "pipeline.notification.maxLowRecords: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d.update(pipeline={"description": ""}),
            "pipeline.description: String should have at least 1 character",
        ),
        (
            lambda d: d.update(pipeline={"description": "x" * 201}),
            "pipeline.description: String should have at most 200 characters",
        ),
        (
            lambda d: d.update(pipeline={"jobTags": {"evalpipe:suite": "x"}}),
            "pipeline.jobTags: tag keys ['evalpipe:suite'] are reserved "
            "(evalpipe:suite and evalpipe:run-id are set by the pipeline, 'aws:' keys by AWS)",
        ),
        (
            lambda d: d.update(pipeline={"jobTags": {"AWS:owner": "x"}}),
            "pipeline.jobTags: tag keys ['AWS:owner'] are reserved "
            "(evalpipe:suite and evalpipe:run-id are set by the pipeline, 'aws:' keys by AWS)",
        ),
        (
            lambda d: d.update(pipeline={"jobTags": {"team#1": "x"}}),
            "pipeline.jobTags: tag keys ['team#1'] must match ^[a-zA-Z0-9\\s._:/=+@-]{1,128}$",
        ),
        (
            lambda d: d.update(pipeline={"jobTags": {"team": 1}}),
            "pipeline.jobTags.team: Input should be a valid string",
        ),
    ],
)
def test_a_shape_the_model_rejects_is_one_readable_problem(change: Any, expected: str) -> None:
    # Given a valid suite with one thing wrong
    document = _document()
    change(document)

    # When it is parsed, then exactly that problem is reported with its path
    assert _problems(document) == [expected]


def test_every_problem_is_listed_in_one_error() -> None:
    # Given a suite with three problems
    document = _document(pipeline={"notification": {"maxLowRecords": 99}, "jobTag": {}})
    document.pop("inferenceConfig")

    # When it is parsed
    with pytest.raises(SuiteError) as caught:
        Suite.from_document("my-suite", document)

    # Then the error lists all of them (in pydantic's order), and its message names the suite
    assert caught.value.problems == [
        "inferenceConfig: Field required",
        "pipeline.notification.maxLowRecords: Input should be less than or equal to 50",
        "pipeline.jobTag: unknown key (check the spelling against docs/suite-file.md)",
    ]
    assert str(caught.value) == "suite 'my-suite' is not valid: " + "; ".join(caught.value.problems)


def test_suite_name_must_follow_the_key_convention() -> None:
    # Given a name that cannot come from suites/<suite>.json; when parsed; then it is rejected
    problems = _problems(_document(), name="-bad name")
    assert len(problems) == 1
    assert problems[0].startswith("name: String should match pattern")


# --- low-score rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "low"),
    [(0.49, True), (0.5, False), (0.51, False), (0, True), (Decimal("0.4999"), True), (None, False)],
)
def test_below_rule_is_strict(score: Any, low: bool) -> None:
    # Given "below 0.5"; when a score is judged; then only scores under 0.5 are low, N/A never
    assert LowScoreRule(below=0.5).is_low(score) is low


@pytest.mark.parametrize(
    ("score", "low"),
    [(-1, True), (0, True), (0.0, True), (Decimal("0"), True), (0.01, False), (1, False), (None, False)],
)
def test_at_or_below_rule_includes_its_bound(score: Any, low: bool) -> None:
    # Given "at or below 0"; when a score is judged; then 0 and less are low, N/A never
    assert LowScoreRule.model_validate({"atOrBelow": 0}).is_low(score) is low


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"below": 0.5}, "< 0.5"),
        ({"below": 1}, "< 1"),
        ({"below": 0.75}, "< 0.75"),
        ({"atOrBelow": 0}, "<= 0"),
        ({"atOrBelow": -1.0}, "<= -1"),
        ({"atOrBelow": 0.333}, "<= 0.333"),
        ({"above": 0.5}, "> 0.5"),
        ({"above": 0}, "> 0"),
        ({"atOrAbove": 1}, ">= 1"),
        ({"atOrAbove": 0.75}, ">= 0.75"),
    ],
)
def test_describe_prints_the_operator_and_the_shortest_number(rule: dict, text: str) -> None:
    # Given a rule from a suite file; when described; then it reads like the notification shows it
    assert LowScoreRule.model_validate(rule).describe() == text


@pytest.mark.parametrize(
    ("score", "low"),
    [(0.51, True), (1, True), (Decimal("0.5001"), True), (0.5, False), (0, False), (None, False)],
)
def test_above_rule_is_strict(score: Any, low: bool) -> None:
    # Given "above 0.5" (a detector: 1 = the bad outcome); then only scores over 0.5 are flagged
    assert LowScoreRule(above=0.5).is_low(score) is low


@pytest.mark.parametrize(
    ("score", "low"),
    [(1, True), (1.0, True), (Decimal("1"), True), (2, True), (0.99, False), (0, False), (None, False)],
)
def test_at_or_above_rule_includes_its_bound(score: Any, low: bool) -> None:
    # Given "at or above 1"; then 1 and more are flagged, N/A never
    assert LowScoreRule.model_validate({"atOrAbove": 1}).is_low(score) is low


@pytest.mark.parametrize(
    ("rule", "score", "badness"),
    [
        ({"below": 0.5}, 0.25, -0.25),
        ({"atOrBelow": 0}, 0, 0.0),
        ({"atOrBelow": 0}, Decimal("-1"), 1.0),
        ({"above": 0.5}, 1, 1.0),
        ({"atOrAbove": 0.75}, Decimal("0.75"), 0.75),
    ],
)
def test_badness_is_minus_the_score_for_below_rules_and_the_score_for_above_rules(
    rule: dict, score: Any, badness: float
) -> None:
    # Given a rule and a score it flags; when its badness is asked; then lower (or higher) is worse
    value = LowScoreRule.model_validate(rule).badness(score)
    assert value == badness
    assert isinstance(value, float)


def test_badness_orders_worse_scores_higher_under_each_kind_of_rule() -> None:
    # Given one rule of each direction
    below, above = LowScoreRule(below=0.5), LowScoreRule(above=0.5)

    # Then a lower score is worse under "below" and a higher score is worse under "above"
    assert below.badness(0.0) > below.badness(0.25) > below.badness(0.49)
    assert above.badness(1.0) > above.badness(0.75) > above.badness(0.51)
    assert below.flags_high_scores is False
    assert above.flags_high_scores is True


@pytest.mark.parametrize(
    "rule",
    [{}, {"below": 0.5, "above": 0.5}, {"atOrBelow": 0, "atOrAbove": 1}, {"above": 1, "atOrAbove": 1}],
)
def test_rule_needs_exactly_one_bound(rule: dict) -> None:
    # Given no bound or two bounds; when validated; then rejected naming the four keys
    with pytest.raises(ValueError, match="exactly one of 'below', 'atOrBelow', 'above' or 'atOrAbove'"):
        LowScoreRule.model_validate(rule)


def test_rule_accepts_alias_and_field_name_and_dumps_only_its_bound() -> None:
    # Given the same rule written by alias and by field name
    by_alias = LowScoreRule.model_validate({"atOrBelow": 0.2})
    by_name = LowScoreRule(at_or_below=0.2)

    # Then they are equal and dump as the file spells them
    assert by_alias == by_name
    assert by_name.model_dump(by_alias=True) == {"atOrBelow": 0.2}
    assert LowScoreRule.model_validate({"atOrAbove": 1}) == LowScoreRule(at_or_above=1)
    assert LowScoreRule(at_or_above=1).model_dump(by_alias=True) == {"atOrAbove": 1.0}
    assert LowScoreRule(above=0.5).model_dump(by_alias=True) == {"above": 0.5}
    assert LowScoreSettings().model_dump(by_alias=True) == {
        "builtin": {"below": 0.5},
        "custom": {"atOrBelow": 0.0},
        "metrics": {},
    }


@pytest.mark.parametrize("bound", [float("nan"), float("inf")])
@pytest.mark.parametrize("key", ["below", "atOrBelow", "above", "atOrAbove"])
def test_rule_rejects_non_finite_bounds(key: str, bound: float) -> None:
    # Given NaN/inf (Python's json accepts them); when validated; then rejected
    with pytest.raises(ValueError, match="finite number"):
        LowScoreRule.model_validate({key: bound})


# --- accessors ----------------------------------------------------------------------------


def _suite_with_low_scores(metrics: dict[str, dict]) -> Suite:
    return Suite.from_document("demo", _document(pipeline={"lowScore": {"metrics": metrics}}))


def test_metric_lists_keep_the_suite_order() -> None:
    # Given the example document; when read; then names come back in file order
    suite = Suite.from_document("demo", _document())
    assert suite.metric_names == ["Builtin.Helpfulness", "Builtin.Correctness", "brevity"]
    assert suite.custom_metric_names == ["brevity"]


@pytest.mark.parametrize(
    ("metric", "builtin"),
    [("Builtin.Helpfulness", True), ("brevity", False), ("Accuracy", True), ("Builtin.Unlisted", True)],
)
def test_a_metric_is_builtin_unless_the_suite_defines_it(metric: str, builtin: bool) -> None:
    # Given the suite with custom metric "brevity"; when asked; then only "brevity" is custom
    assert Suite.from_document("demo", _document()).is_builtin(metric) is builtin


def test_low_rule_uses_the_defaults_without_overrides() -> None:
    # Given no per-metric rules
    suite = Suite.from_document("demo", _document())

    # Then built-ins use "below 0.5" and custom metrics "at or below 0"
    assert suite.low_rule("Builtin.Helpfulness").describe() == "< 0.5"
    assert suite.low_rule("brevity").describe() == "<= 0"


def test_low_rule_prefers_the_per_metric_override() -> None:
    # Given overrides for one built-in and one custom metric
    suite = _suite_with_low_scores({"Builtin.Correctness": {"below": 0.7}, "brevity": {"below": 0.5}})

    # Then those metrics use them and the others keep the defaults
    assert suite.low_rule("Builtin.Correctness").describe() == "< 0.7"
    assert suite.low_rule("brevity").describe() == "< 0.5"
    assert suite.low_rule("Builtin.Helpfulness").describe() == "< 0.5"


@pytest.mark.parametrize(
    ("override_key", "reported_as"),
    [("Builtin.Accuracy", "Accuracy"), ("Accuracy", "Builtin.Accuracy")],
)
def test_builtin_override_matches_with_or_without_prefix(override_key: str, reported_as: str) -> None:
    # Given an override spelled one way and an output file spelling the metric the other way
    suite = _suite_with_low_scores({override_key: {"atOrBelow": 0.9}})

    # When the rule is looked up, then the override applies
    assert suite.low_rule(reported_as).describe() == "<= 0.9"


DETECTORS = ["Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Refusal"]


def _detector_suite(pipeline: dict | None = None, custom: str | None = None) -> Suite:
    """A judge suite listing the three detectors and Helpfulness (and maybe a custom metric)."""
    document = _document(pipeline=pipeline or {})
    config = document["evaluationConfig"]["automated"]
    config["datasetMetricConfigs"][0]["metricNames"] = ["Builtin.Helpfulness", *DETECTORS]
    if custom is None:
        del config["customMetricConfig"]
    else:
        config["datasetMetricConfigs"][0]["metricNames"].append(custom)
        config["customMetricConfig"]["customMetrics"][0]["customMetricDefinition"]["name"] = custom
    return Suite.from_document("demo", document)


@pytest.mark.parametrize("metric", [*DETECTORS, *(name.removeprefix("Builtin.") for name in DETECTORS)])
def test_detectors_default_to_above_half(metric: str) -> None:
    # Given no rules at all; when a detector's rule is looked up (as the suite or an output spells it)
    rule = _detector_suite().low_rule(metric)

    # Then a "yes" (1) is flagged and a "no" (0) is not
    assert rule == LowScoreRule(above=0.5)
    assert (rule.describe(), rule.is_low(1), rule.is_low(0), rule.is_low(None)) == (
        "> 0.5",
        True,
        False,
        False,
    )


def test_builtin_default_does_not_reach_the_detectors() -> None:
    # Given a suite-wide built-in rule
    suite = _detector_suite({"lowScore": {"builtin": {"below": 0.8}}})

    # Then it applies to Helpfulness but the detectors keep their own default
    assert suite.low_rule("Builtin.Helpfulness").describe() == "< 0.8"
    assert [suite.low_rule(metric).describe() for metric in DETECTORS] == ["> 0.5"] * 3


@pytest.mark.parametrize(
    ("override_key", "reported_as"),
    [
        ("Builtin.Refusal", "Builtin.Refusal"),
        ("Builtin.Refusal", "Refusal"),
        ("Refusal", "Builtin.Refusal"),
        ("Refusal", "Refusal"),
    ],
)
def test_a_per_metric_rule_overrides_a_detectors_default(override_key: str, reported_as: str) -> None:
    # Given a suite that wants refusals (a red-team dataset): flag a Refusal score below 1
    suite = _detector_suite({"lowScore": {"metrics": {override_key: {"below": 1}}}})

    # Then the override wins over the detector default, in either spelling
    assert suite.low_rule(reported_as).describe() == "< 1"
    # and the other detectors keep the default
    assert suite.low_rule("Builtin.Harmfulness").describe() == "> 0.5"


def test_the_exact_spelling_wins_over_the_other_spelling() -> None:
    # Given rules for both spellings of one detector
    rules = {"Builtin.Harmfulness": {"atOrAbove": 1}, "Harmfulness": {"above": 0}}
    suite = _detector_suite({"lowScore": {"metrics": rules}})

    # Then each spelling finds its own rule first
    assert suite.low_rule("Builtin.Harmfulness").describe() == ">= 1"
    assert suite.low_rule("Harmfulness").describe() == "> 0"


def test_a_custom_metric_named_like_a_detector_keeps_the_custom_default() -> None:
    # Given a custom metric called "Refusal" (custom names may reuse built-in names without the prefix)
    suite = _detector_suite(custom="Refusal")

    # Then it is a custom metric: its rule is the custom default, not the detector default
    assert suite.is_builtin("Refusal") is False
    assert suite.low_rule("Refusal").describe() == "<= 0"
    assert suite.low_rule("Builtin.Refusal").describe() == "> 0.5"


def test_low_score_settings_rule_for_follows_the_documented_precedence() -> None:
    # Given settings with an override for one detector and a custom default
    settings = LowScoreSettings.model_validate(
        {"builtin": {"below": 0.6}, "custom": {"below": 1}, "metrics": {"Stereotyping": {"atOrAbove": 1}}}
    )

    # Then: exact name, then custom default, then the other spelling, then detector default, then builtin
    assert settings.rule_for("Stereotyping", builtin=True).describe() == ">= 1"
    assert settings.rule_for("Builtin.Stereotyping", builtin=True).describe() == ">= 1"
    assert settings.rule_for("Builtin.Harmfulness", builtin=True).describe() == "> 0.5"
    assert settings.rule_for("Builtin.Coherence", builtin=True).describe() == "< 0.6"
    assert settings.rule_for("Harmfulness", builtin=False).describe() == "< 1"


def test_custom_metric_override_is_matched_exactly() -> None:
    # Given an override for "Builtin.brevity" (not the custom metric "brevity")
    suite = _suite_with_low_scores({"Builtin.brevity": {"below": 0.9}})

    # Then the custom metric keeps the custom default
    assert suite.low_rule("brevity").describe() == "<= 0"


def test_evaluator_model_prefers_the_top_level_config() -> None:
    # Given different judges at the two levels; then the top-level one is reported
    document = _document()
    document["evaluationConfig"]["automated"]["evaluatorModelConfig"] = {
        "bedrockEvaluatorModels": [{"modelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0"}]
    }
    assert Suite.from_document("demo", document).evaluator_model == "anthropic.claude-3-haiku-20240307-v1:0"


def test_evaluator_model_falls_back_to_the_custom_metric_config() -> None:
    # Given only custom metrics (no top-level judge); then the custom one is reported
    document = _document()
    del document["evaluationConfig"]["automated"]["evaluatorModelConfig"]
    assert Suite.from_document("demo", document).evaluator_model == JUDGE


@pytest.mark.parametrize(
    ("inference_config", "identifier"),
    [
        (
            {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "my-app-v1"}}]},
            "my-app-v1",
        ),
        ({"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}, None),
        (
            {
                "ragConfigs": [
                    {"precomputedRagSourceConfig": {"retrieveSourceConfig": {"ragSourceIdentifier": "kb-1"}}}
                ]
            },
            "kb-1",
        ),
        (
            {
                "ragConfigs": [
                    {
                        "precomputedRagSourceConfig": {
                            "retrieveAndGenerateSourceConfig": {"ragSourceIdentifier": "rag-v2"}
                        }
                    }
                ]
            },
            "rag-v2",
        ),
        ({}, None),
    ],
)
def test_inference_source_identifier(inference_config: dict, identifier: str | None) -> None:
    # Given an inferenceConfig; when read; then the precomputed source identifier (or None)
    suite = Suite.from_document("demo", _document(inferenceConfig=inference_config))
    assert suite.inference_source_identifier == identifier


def test_dataset_name_is_read_when_given() -> None:
    # Given a dataset name in the single dataset metric config
    document = _document()
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"] = {"name": "golden"}

    # Then it is reported; without one it is None
    assert Suite.from_document("demo", document).dataset_name == "golden"
    assert Suite.from_document("demo", _document()).dataset_name is None


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (None, "evalpipe run of suite demo"),
        ("Nightly grading", "Nightly grading"),
        ("Nightly\ngrading,  v2 ", "Nightly grading, v2"),
        ("  \n ", "evalpipe run of suite demo"),
    ],
)
def test_job_description_is_one_line_with_a_default(description: str | None, expected: str) -> None:
    # Given a pipeline description (or none); when the job description is built
    pipeline = {} if description is None else {"description": description}
    suite = Suite.from_document("demo", _document(pipeline=pipeline))

    # Then it is the description on one line, or the default naming the suite
    assert suite.job_description() == expected


@pytest.mark.parametrize(
    "evaluation_config",
    [
        {},
        {"automated": []},
        {"automated": {"datasetMetricConfigs": "x", "customMetricConfig": {"customMetrics": {}}}},
        {"automated": {"datasetMetricConfigs": [], "evaluatorModelConfig": {"bedrockEvaluatorModels": []}}},
        {"automated": {"datasetMetricConfigs": [{"metricNames": [1, None]}]}},
        {"human": {"datasetMetricConfigs": "x", "customMetrics": {}}},
        {"human": {"datasetMetricConfigs": [{"metricNames": [1, None]}], "customMetrics": [{"name": 3}]}},
    ],
)
def test_accessors_tolerate_incomplete_configs(evaluation_config: dict) -> None:
    # Given an evaluationConfig the validator will reject later
    suite = Suite.from_document("demo", _document(evaluationConfig=evaluation_config))

    # When the accessors are read, then they report "nothing" instead of raising
    assert suite.metric_names == []
    assert suite.custom_metric_names == []
    assert suite.evaluator_model is None
    assert suite.dataset_name is None


def test_a_human_suite_lists_its_own_metrics() -> None:
    # Given a human job (evaluationConfig.human) / When read / Then its metrics are the human ones
    human = {
        "datasetMetricConfigs": [{"metricNames": ["resolved"]}],
        "customMetrics": [{"name": "resolved", "ratingMethod": "ThumbsUpDown"}],
    }
    suite = Suite.from_document("demo", _document(evaluationConfig={"human": human}))
    assert suite.is_human
    assert suite.metric_names == suite.custom_metric_names == ["resolved"]
    assert not suite.is_builtin("resolved")


# --- the JSON Schema ----------------------------------------------------------------------


def test_committed_schema_matches_the_model() -> None:
    # Given the checked-in schema; when the model is rendered; then they are identical
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "schema/suite.schema.json is stale: run python scripts/generate_schema.py"
    )
    assert main(["--check"]) == 0


def test_schema_is_a_valid_draft_2020_12_schema_with_the_file_keys() -> None:
    # Given the generated schema
    schema = build_schema()

    # Then it is well formed and lists the file's camelCase keys (no model-only fields)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(schema["properties"]) == [
        "$schema",
        "applicationType",
        "evaluationConfig",
        "inferenceConfig",
        "pipeline",
    ]
    assert schema["required"] == ["evaluationConfig", "inferenceConfig"]
    assert schema["additionalProperties"] is False
    pipeline = schema["$defs"]["PipelineSettings"]["properties"]
    assert list(pipeline) == [
        "description",
        "jobTags",
        "lowScore",
        "notification",
        "regression",
        "polling",
        "shardSize",
        "schedule",
        "collect",
    ]
    assert "API_CreateEvaluationJob" in schema["properties"]["evaluationConfig"]["description"]


_SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "pipeline",
    [
        {},
        {"lowScore": {"builtin": {"atOrBelow": 0.4}, "metrics": {"brevity": {"below": 1}}}},
        {"lowScore": {"custom": {"above": 0.5}, "metrics": {"Builtin.Correctness": {"atOrAbove": 1}}}},
        {"jobTags": {"team": "support", "cost center": "a/b"}, "notification": {"maxLowRecords": 0}},
        {"jobTags": {"evalpipe:owner": "me", "awsome": "yes"}},
    ],
)
def test_schema_accepts_what_the_model_accepts(pipeline: dict) -> None:
    # Given a valid suite; then both the model and the schema accept it
    document = {"$schema": "x", **_document(pipeline=pipeline)}
    Suite.from_document("demo", document)
    assert list(_SCHEMA_VALIDATOR.iter_errors(document)) == []


@pytest.mark.parametrize(
    "pipeline",
    [
        {"lowScore": {"builtin": {"below": 0.5, "atOrBelow": 0.5}}},
        {"lowScore": {"builtin": {"below": 0.5, "above": 0.5}}},
        {"lowScore": {"builtin": {"above": 0.5, "atOrAbove": 0.5}}},
        {"lowScore": {"custom": {"atOrAbove": [1]}}},
        {"lowScore": {"custom": {}}},
        {"lowScore": {"metrics": {"bad name!": {"below": 1}}}},
        {"notification": {"maxLowRecords": 51}},
        {"jobTags": {"evalpipe:suite": "x"}},
        {"jobTags": {"evalpipe:run-id": "x"}},
        {"jobTags": {"x" * 129: "x"}},
        {"jobTags": {"Aws:thing": "x"}},
        {"jobTags": {"team": 1}},
        {"description": ""},
        {"lowscore": {}},
    ],
)
def test_schema_rejects_what_the_model_rejects(pipeline: dict) -> None:
    # Given a suite with a bad pipeline section; then both the model and the schema reject it
    document = _document(pipeline=pipeline)
    with pytest.raises(SuiteError):
        Suite.from_document("demo", document)
    assert list(_SCHEMA_VALIDATOR.iter_errors(document)) != []
