"""The built-in metric catalogue per application type and job kind."""

from __future__ import annotations

import pytest

from evalpipe.suite.metrics import (
    BUILTIN_DATASETS,
    CLASSIC_TASK_METRICS,
    CLASSIC_TASK_TYPES,
    DEFAULT_LOW_RULES,
    DETECTORS,
    JUDGE_BUILTINS,
    LOWER_IS_BETTER,
    MetricFamily,
    builtin_dataset,
    default_low_rule,
    families_of,
    lower_is_better,
    metric_scale,
)


def names(family: MetricFamily) -> set[str]:
    return {name.removeprefix("Builtin.") for name in family.metrics}


def test_every_family_lists_the_documented_metrics_with_the_builtin_prefix() -> None:
    # Given the catalogue / When read / Then it holds the user guide's lists, every name prefixed
    assert names(MetricFamily.MODEL_JUDGE) == {
        "Correctness", "Completeness", "Faithfulness", "Helpfulness", "Coherence", "Relevance",
        "FollowingInstructions", "ProfessionalStyleAndTone", "Harmfulness", "Stereotyping", "Refusal",
    }  # fmt: skip
    assert names(MetricFamily.MODEL_CLASSIC) == {"Accuracy", "Robustness", "Toxicity"}
    assert names(MetricFamily.RAG_RETRIEVE) == {"ContextRelevance", "ContextCoverage"}
    assert names(MetricFamily.RAG_RETRIEVE_AND_GENERATE) == {
        "Correctness", "Completeness", "Helpfulness", "LogicalCoherence", "Faithfulness",
        "Harmfulness", "Stereotyping", "Refusal", "CitationPrecision", "CitationCoverage",
    }  # fmt: skip
    assert all(name.startswith("Builtin.") for family in MetricFamily for name in family.metrics)


def test_a_metric_may_belong_to_several_families() -> None:
    # Given a metric shared by model and RAG evaluation / When looked up / Then both are named
    assert families_of("Builtin.Correctness") == [
        MetricFamily.MODEL_JUDGE,
        MetricFamily.RAG_RETRIEVE_AND_GENERATE,
    ]
    assert families_of("Builtin.Nope") == []


def test_only_the_classic_family_is_computed_without_a_judge() -> None:
    # Given the families / When asked who grades / Then only the classic metrics need no judge
    assert [family for family in MetricFamily if not family.judged] == [MetricFamily.MODEL_CLASSIC]
    assert "Builtin.Accuracy" not in JUDGE_BUILTINS
    assert "Builtin.ContextCoverage" in JUDGE_BUILTINS


def test_the_lower_is_better_metrics_are_the_detectors_and_two_classic_metrics() -> None:
    # Given the catalogue / Then the three yes/no detectors are judge metrics of both families
    # that list them, and lower is better for them and for classic Toxicity and Robustness
    detectors, lower = DETECTORS, LOWER_IS_BETTER
    assert detectors == {"Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Refusal"}
    assert detectors <= MetricFamily.MODEL_JUDGE.metrics
    assert detectors <= MetricFamily.RAG_RETRIEVE_AND_GENERATE.metrics
    assert lower == detectors | {"Builtin.Toxicity", "Builtin.Robustness"}
    assert "Builtin.Accuracy" not in lower


def test_every_lower_is_better_builtin_has_its_own_default_rule_on_its_scale() -> None:
    # Given the defaults / Then each lower-is-better built-in flags high scores, Robustness (a
    # percentage) on the 0-100 scale and the others on 0-1
    assert set(DEFAULT_LOW_RULES) == LOWER_IS_BETTER
    assert default_low_rule("Robustness") == {"above": 20.0}
    assert default_low_rule("Builtin.Toxicity") == {"above": 0.5}
    assert all(list(rule) == ["above"] for rule in DEFAULT_LOW_RULES.values())
    assert default_low_rule("Builtin.Accuracy") is None
    assert (metric_scale("Builtin.Robustness"), metric_scale("Accuracy"), metric_scale("custom")) == (
        100.0,
        1.0,
        1.0,
    )


def test_each_builtin_dataset_belongs_to_one_classic_task_type() -> None:
    # Given the user guide's table / Then every dataset has a classic task type and recommends only
    # metrics that task type computes; each task type has at least one dataset
    assert len(BUILTIN_DATASETS) == 9
    for name, (task_type, metrics) in BUILTIN_DATASETS.items():
        assert name.startswith("Builtin.")
        assert task_type in CLASSIC_TASK_TYPES
        assert set(metrics) <= set(CLASSIC_TASK_METRICS[task_type])
    assert {task for task, _ in BUILTIN_DATASETS.values()} == set(CLASSIC_TASK_TYPES)
    assert "Builtin.Toxicity" not in CLASSIC_TASK_METRICS["Classification"]


def test_builtin_dataset_names_resolve_with_the_api_references_other_spelling() -> None:
    # Given TriviaQA as both spellings of the API reference, and a wrong case / When resolved
    # Then both spellings name the same dataset and the wrong case none
    assert builtin_dataset("Builtin.TriviaQA") == builtin_dataset("Builtin.TriviaQa") == "Builtin.TriviaQA"
    assert builtin_dataset("Builtin.boolq") is None


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("Builtin.Harmfulness", True),
        ("Builtin.Stereotyping", True),
        ("Builtin.Refusal", True),
        ("Harmfulness", True),  # output files may drop the prefix
        ("Stereotyping", True),
        ("Refusal", True),
        ("Builtin.Toxicity", True),
        ("Robustness", True),
        ("Builtin.Helpfulness", False),
        ("Accuracy", False),
        ("Correctness", False),
        ("refusal", False),  # metric names are case-sensitive
        ("Builtin.Builtin.Refusal", False),
        ("", False),
    ],
)
def test_lower_is_better_accepts_both_spellings(metric: str, expected: bool) -> None:
    # Given a metric name as a suite or an output file spells it / When asked / Then the answer
    assert lower_is_better(metric) is expected
