"""Human evaluation outputs: ratings of a work team read into 0-1 scores, comparisons kept."""

from __future__ import annotations

import pytest

from evalpipe.results import Aggregator, parse_output_line


class Below:
    def is_low(self, score: float) -> bool:
        return score < 0.5

    def badness(self, score: float) -> float:
        return -score

    def describe(self) -> str:
        return "< 0.5"


def line(*scores: dict) -> dict:
    return {
        "humanEvaluationResult": {"scores": list(scores)},
        "inputRecord": {"prompt": "hi", "modelResponses": [{"response": "hello", "modelIdentifier": "app"}]},
    }


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"ratingMethod": "ThumbsUpDown", "result": "ThumbsUp"}, 1.0),
        ({"ratingMethod": "ThumbsUpDown", "result": "thumbs_down"}, 0.0),
        ({"ratingMethod": "ThumbsUpDown", "result": True}, 1.0),
        ({"ratingMethod": "ThumbsUpDown", "workerRatings": [{"rating": "up"}, {"rating": "down"}]}, 0.5),
        ({"ratingMethod": "IndividualLikertScale", "result": 5}, 1.0),
        ({"ratingMethod": "IndividualLikertScale", "result": {"floatValue": 2}}, 0.25),
        ({"ratingMethod": "IndividualLikertScale", "result": "3", "scale": 3}, 1.0),
        ({"ratingMethod": "IndividualLikertScale", "result": 9}, None),
        ({"ratingMethod": "ThumbsUpDown", "result": None}, None),
        ({"workerRatings": [{"value": 0.5}, {"value": 1}]}, 0.75),
    ],
)
def test_ratings_become_scores(entry: dict, expected: float | None) -> None:
    record = parse_output_line(line({"metricName": "m", **entry}), 0)
    assert record.scores[0].metric == "m"
    assert record.scores[0].score == expected


def test_comparisons_and_unknown_fields_are_kept() -> None:
    comparison = {"metricName": "prefer", "ratingMethod": "ComparisonChoice", "result": "app-v2"}
    rated = {"metricName": "tone", "ratingMethod": "IndividualLikertScale", "result": 4, "workerCount": 3}
    record = parse_output_line({**line(comparison, rated), "humanLoopArn": "arn:x"}, 0)
    assert [s.score for s in record.scores] == [None, 0.75]
    assert record.extra["comparisons"]["prefer"] == {"ratingMethod": "ComparisonChoice", "result": "app-v2"}
    assert record.extra["humanRatings"]["tone"] == {"workerCount": 3}
    assert record.extra["humanLoopArn"] == "arn:x"
    assert record.response == "hello"


def test_a_list_under_human_evaluation_results_is_read_too() -> None:
    obj = {
        "humanEvaluationResults": [{"name": "resolved", "ratingMethod": "ThumbsUpDown", "result": "No"}],
        "inputRecord": {"prompt": "p"},
    }
    assert parse_output_line(obj, 0).scores[0].score == 0.0


def test_human_scores_aggregate_per_metric() -> None:
    aggregator = Aggregator(lambda metric: Below())
    for index, (thumb, likert) in enumerate([("ThumbsUp", 5), ("ThumbsDown", 3), ("ThumbsUp", None)]):
        aggregator.add(
            parse_output_line(
                line(
                    {"metricName": "resolved", "ratingMethod": "ThumbsUpDown", "result": thumb},
                    {"metricName": "tone", "ratingMethod": "IndividualLikertScale", "result": likert},
                ),
                index,
            )
        )
    summary = aggregator.summary()
    assert summary.metrics["resolved"].low_count == 1
    assert summary.metrics["resolved"].average == pytest.approx(2 / 3)
    assert summary.metrics["tone"].average == pytest.approx(0.75)
