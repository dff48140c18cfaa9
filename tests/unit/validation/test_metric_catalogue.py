"""The built-in metric catalogue per application type and job kind."""

from __future__ import annotations

import pytest

from evalpipe.validation.metrics import (
    JUDGE_BUILTINS,
    LOWER_IS_BETTER,
    MetricFamily,
    families_of,
    lower_is_better,
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


def test_the_detectors_are_the_lower_is_better_judge_metrics() -> None:
    # Given the catalogue / Then exactly the three yes/no detectors are lower-is-better, and all
    # of them are judge metrics of both families that list them
    detectors = LOWER_IS_BETTER
    assert detectors == {"Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Refusal"}
    assert detectors <= MetricFamily.MODEL_JUDGE.metrics
    assert detectors <= MetricFamily.RAG_RETRIEVE_AND_GENERATE.metrics


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("Builtin.Harmfulness", True),
        ("Builtin.Stereotyping", True),
        ("Builtin.Refusal", True),
        ("Harmfulness", True),  # output files may drop the prefix
        ("Stereotyping", True),
        ("Refusal", True),
        ("Builtin.Helpfulness", False),
        ("Correctness", False),
        ("refusal", False),  # metric names are case-sensitive
        ("Builtin.Builtin.Refusal", False),
        ("", False),
    ],
)
def test_lower_is_better_accepts_both_spellings(metric: str, expected: bool) -> None:
    # Given a metric name as a suite or an output file spells it / When asked / Then the answer
    assert lower_is_better(metric) is expected
