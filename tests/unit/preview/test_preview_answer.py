"""A judge's answer on the rating scale: numeric and string scales, N/A, and what cannot be mapped."""

from __future__ import annotations

import pytest

from evalpipe.preview import Rating, read_answer

STRING_SCALE = (Rating("Poor", "poor"), Rating("Excellent", "excellent"))


@pytest.mark.parametrize(
    ("answer", "definition", "score"),
    [
        ('{"reasoning": "It asks first.", "rating": "Good"}', "Good", 1.0),
        ('{"reasoning": "Acts.", "rating": " poor. "}', "Poor", 0.0),  # case, spaces, full stop
        ('{"reasoning": "Acts.", "rating": "\\"Poor\\""}', "Poor", 0.0),  # quoted
        ('{"reasoning": "By value.", "rating": 1}', "Good", 1.0),  # the value as a number
        ('{"reasoning": "By value.", "rating": "0"}', "Poor", 0.0),  # the value as the prompt shows it
        ('Sure:\n```json\n{"reasoning": "Fenced.", "rating": "Good"}\n```', "Good", 1.0),
        ('Here it is: {"reasoning": "Prose first.", "rating": "Good"} Hope that helps.', "Good", 1.0),
        ("Good", "Good", 1.0),  # no JSON, but the whole answer is a definition
    ],
)
def test_a_numeric_rating_maps_to_its_value(scale, answer, definition, score):
    judgement = read_answer(answer, scale)
    assert judgement.rating is not None
    assert (judgement.rating.definition, judgement.score, judgement.unmappable) == (definition, score, None)
    assert not judgement.not_applicable


def test_the_reasoning_is_the_answers_reasoning_or_explanation(scale):
    assert read_answer('{"reasoning": "Because.", "rating": "Good"}', scale).reasoning == "Because."
    assert read_answer('{"explanation": "So.", "rating": "Good"}', scale).reasoning == "So."


@pytest.mark.parametrize(
    ("rating", "scale"),
    [
        ("N/A", (Rating("N/A", -1.0), Rating("Good", 1.0))),
        ("Not applicable", (Rating("Not applicable", 0.0), Rating("Good", 1.0))),  # by its definition
        ("none", (Rating("None", -1.0), Rating("Good", 1.0))),
    ],
)
def test_the_na_rating_is_na_never_a_number(rating, scale):
    judgement = read_answer(f'{{"reasoning": "No action.", "rating": "{rating}"}}', scale)
    assert judgement.not_applicable
    assert judgement.score is None
    assert judgement.unmappable is None


def test_a_string_rating_has_no_number_but_keeps_its_value():
    judgement = read_answer('{"reasoning": "Great.", "rating": "Excellent"}', STRING_SCALE)
    assert judgement.rating == Rating("Excellent", "excellent")
    assert judgement.score is None
    assert not judgement.not_applicable


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ('{"reasoning": "Mostly.", "rating": "Very good"}', "Very good"),  # never the nearest label
        ('{"reasoning": "Hmm.", "rating": "Good or Poor"}', "Good or Poor"),
        ('{"reasoning": "Between.", "rating": 0.5}', "0.5"),  # a value the scale does not have
        ('{"reasoning": "No rating given."}', '{"reasoning": "No rating given."}'),
        ("I would say it is Good overall.", "I would say it is Good overall."),  # a label inside prose
        ("", ""),
    ],
)
def test_an_answer_naming_no_rating_is_unmappable_and_shown_as_written(scale, answer, shown):
    judgement = read_answer(answer, scale)
    assert judgement.rating is None
    assert judgement.score is None
    assert judgement.unmappable == shown


def test_a_long_unmappable_answer_is_shortened_for_display(scale):
    judgement = read_answer("x" * 1000, scale)
    assert judgement.unmappable is not None
    assert len(judgement.unmappable) == 300
    assert judgement.unmappable.endswith("...")


def test_without_a_rating_scale_there_is_no_score_only_the_reasoning():
    judgement = read_answer('{"reasoning": "Short and complete.", "rating": "Good"}', ())
    assert (judgement.reasoning, judgement.rating, judgement.score, judgement.unmappable) == (
        "Short and complete.",
        None,
        None,
        None,
    )
