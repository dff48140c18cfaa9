"""The documented human output record (AWS user guide, model-evaluation-report-s3): every worker's
rating per metric and model, 0-1 scores per record, tallies as given, and a line nothing can be
read from named so the run is UNREADABLE rather than PASSED (issue 12)."""

from __future__ import annotations

import json

from evalpipe.results import Aggregator, iter_output_records, parse_output_line
from evalpipe.run.status import Verdict

MODEL_A = "arn:aws:bedrock:us-west-2::foundation-model/model-a"
MODEL_B = "app-v2"


class Below:
    def is_low(self, score: float) -> bool:
        return score < 0.5

    def badness(self, score: float) -> float:
        return -score

    def describe(self) -> str:
        return "< 0.5"


def answer(worker: str, results: dict) -> dict:
    return {
        "acceptanceTime": "2023-11-09T19:17:43.107Z",
        "answerContent": {"evaluationResults": results},
        "submissionTime": "2023-11-09T19:17:52.101Z",
        "timeSpentInSeconds": 8.994,
        "workerId": worker,
        "workerMetadata": {"identityData": {"identityProviderType": "Cognito"}},
    }


def documented_line(*answers: dict, id_map: dict | None = None) -> dict:
    """The user guide's example record, with the answers given."""
    return {
        "humanEvaluationResult": [
            {
                "flowDefinitionArn": "arn:aws:sagemaker:us-west-2:111122223333:flow-definition/flow",
                "humanAnswers": list(answers),
                "humanLoopName": "b3b1c64a2166e001e094123456789012",
                "inputContent": {"evaluationMetrics": [{"metricName": "m", "ratingMethod": "ThumbsUpDown"}]},
                "modelResponseIdMap": id_map if id_map is not None else {"0": MODEL_A},
            }
        ],
        "inputRecord": {"category": "Fitness", "prompt": "What is HIIT?", "referenceResponse": "..."},
        "modelResponses": [
            {"modelIdentifier": MODEL_A, "response": "High-Intensity Interval Training is..."}
        ],
    }


def test_the_user_guides_thumbs_record_yields_a_score_and_a_rating() -> None:
    # Given the documented record: one worker, thumbs down (a boolean) for response 0
    line = documented_line(
        answer(
            "444455556666",
            {"thumbsUpDown": [{"metricName": "helpful", "modelResponseId": "0", "result": False}]},
        )
    )
    # When parsed
    record = parse_output_line(line, 0)
    # Then the metric is scored 0 (not lost), the rating is kept as given with its worker and model
    assert [(s.metric, s.score) for s in record.scores] == [("helpful", 0.0)]
    [rating] = record.human
    assert (rating.metric, rating.method, rating.model, rating.value, rating.worker) == (
        "helpful", "ThumbsUpDown", MODEL_A, 0.0, "444455556666"
    )  # fmt: skip
    # And the loop's other fields are kept, the prompt, response and category read
    assert record.extra["humanLoops"][0]["humanLoopName"] == "b3b1c64a2166e001e094123456789012"
    assert record.extra["humanLoops"][0]["humanAnswers"][0]["timeSpentInSeconds"] == 8.994
    assert (record.prompt, record.category) == ("What is HIIT?", "Fitness")
    assert record.response == "High-Intensity Interval Training is..."


def test_two_workers_two_models_every_method_is_read_per_model() -> None:
    # Given two workers rating two models with every rating method
    def results(thumb: bool, likert: int, chosen: str, first: str) -> dict:
        second = "1" if first == "0" else "0"
        return {
            "thumbsUpDown": [
                {"metricName": "ok", "modelResponseId": "0", "result": thumb},
                {"metricName": "ok", "modelResponseId": "1", "result": True},
            ],
            "individualLikertScale": [
                {"metricName": "tone", "modelResponseId": "0", "result": likert},
                {"metricName": "tone", "modelResponseId": "1", "result": 3},
            ],
            "comparisonChoice": [{"metricName": "pick", "result": {"modelResponseId": chosen}}],
            "comparisonRank": [
                {
                    "metricName": "rank",
                    "result": [{"modelResponseId": first, "rank": 1}, {"modelResponseId": second, "rank": 2}],
                }
            ],
            "comparisonLikertScale": [
                {"metricName": "pref", "leftModelResponseId": "0", "rightModelResponseId": "1", "result": 2}
            ],
        }

    line = documented_line(
        answer("w1", results(True, 5, "0", "0")),
        answer("w2", results(False, 4, "1", "0")),
        id_map={"0": MODEL_A, "1": MODEL_B},
    )
    # When parsed
    record = parse_output_line(line, 0)
    scores = {s.metric: s.score for s in record.scores}
    # Then each metric is scored per model (workers averaged, on 0-1)
    assert scores[f"ok@{MODEL_A}"] == 0.5 and scores[f"ok@{MODEL_B}"] == 1.0
    assert scores[f"tone@{MODEL_A}"] == (1.0 + 0.75) / 2 and scores[f"tone@{MODEL_B}"] == 0.5
    assert scores[f"pick@{MODEL_A}"] == 0.5 and scores[f"pick@{MODEL_B}"] == 0.5
    assert scores[f"rank@{MODEL_A}"] == 1.0 and scores[f"rank@{MODEL_B}"] == 0.0
    # And the comparison Likert scale has no 0-1 score (direction undocumented), only its tally
    assert scores["pref"] is None

    # When aggregated
    aggregator = Aggregator(lambda metric: Below())
    aggregator.add(record)
    summary = aggregator.summary()
    tallies = {(h.metric, h.model): h for h in summary.human}
    # Then the ratings are tallied as given: Likert values, thumbs 1/0, ranks, choices, workers
    tone = tallies[("tone", MODEL_A)]
    assert (tone.average, tone.distribution, tone.workers, tone.ratings) == (4.5, {"4": 1, "5": 1}, 2, 2)
    assert tallies[("ok", MODEL_A)].distribution == {"0": 1, "1": 1}
    assert tallies[("rank", MODEL_A)].average == 1.0 and tallies[("rank", MODEL_B)].average == 2.0
    assert tallies[("pick", MODEL_B)].distribution == {"0": 1, "1": 1}
    assert tallies[("pref", f"{MODEL_A} vs {MODEL_B}")].distribution == {"2": 2}
    assert summary.verdict is not Verdict.UNREADABLE


def test_a_record_nothing_can_be_read_from_is_named_and_the_run_is_unreadable() -> None:
    # Given an output file whose second line has a human loop with no readable rating
    good = documented_line(
        answer("w1", {"thumbsUpDown": [{"metricName": "ok", "modelResponseId": "0", "result": True}]})
    )
    bad = documented_line(answer("w1", {"thumbsUpDown": [{"modelResponseId": "0", "result": "maybe"}]}))
    lines = [json.dumps(bad), json.dumps(bad)]
    # When read and aggregated
    aggregator = Aggregator(lambda metric: Below(), expected_metrics=["ok"])
    records = list(iter_output_records(lines, source="out/j/id/datasets/d/u_output.jsonl"))
    for record in records:
        aggregator.add(record)
    summary = aggregator.summary()
    # Then the run is UNREADABLE, naming the file and the first unreadable line; the records are kept
    assert summary.verdict is Verdict.UNREADABLE
    assert summary.unreadable is not None
    assert (summary.unreadable.file, summary.unreadable.line, summary.unreadable.unread_records) == (
        "out/j/id/datasets/d/u_output.jsonl", 1, 2
    )  # fmt: skip
    assert "no score for any metric could be read" in summary.unreadable.message
    assert records[0].extra["unparsedScores"] == [
        {"thumbsUpDown": {"modelResponseId": "0", "result": "maybe"}}
    ]

    # Given a run where the metric "ok" is read but the suite's "tone" appears nowhere
    aggregator = Aggregator(lambda metric: Below(), expected_metrics=["ok", "tone"])
    aggregator.add(parse_output_line(good, 0))
    # Then it is UNREADABLE too, naming the metric
    summary = aggregator.summary()
    assert summary.verdict is Verdict.UNREADABLE
    assert summary.unreadable is not None and "tone" in summary.unreadable.message


def test_the_older_layout_still_parses_and_is_tallied() -> None:
    # Given a line of the layout the emulator wrote before (stored outputs)
    line = {
        "humanEvaluationResult": {
            "scores": [
                {"metricName": "tone", "ratingMethod": "IndividualLikertScale", "result": 4,
                 "workerRatings": [{"workerId": "w", "rating": 4}, {"workerId": "v", "rating": 2}]},
            ]
        },
        "inputRecord": {"prompt": "hi"},
    }  # fmt: skip
    # When parsed and aggregated
    record = parse_output_line(line, 0)
    aggregator = Aggregator(lambda metric: Below(), expected_metrics=["tone"])
    aggregator.add(record)
    summary = aggregator.summary()
    # Then the score is as before and the ratings are tallied as given
    assert record.scores[0].score == (0.75 + 0.25) / 2
    assert [(h.metric, h.average, h.distribution) for h in summary.human] == [("tone", 3.0, {"2": 1, "4": 1})]
    assert summary.verdict is Verdict.PASSED
