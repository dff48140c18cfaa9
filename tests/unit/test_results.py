"""Output-line parsing, category join and streaming aggregation (evalpipe.results)."""

from __future__ import annotations

import json
import math
from collections import namedtuple
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalpipe.results import (
    UNCATEGORIZED,
    Aggregator,
    DatasetIndex,
    EmptyResultsError,
    MetricScore,
    OutputFormatError,
    RecordResult,
    excerpt,
    iter_output_records,
    parse_output_line,
    resolve_category,
)
from evalpipe.run.model import Run
from evalpipe.run.status import Verdict
from evalpipe.suite import Suite

JUDGE = "amazon.nova-pro-v1:0"


@dataclass(frozen=True)
class Rule:
    """Stand-in for evalpipe.suite.LowScoreRule: exactly one of below / at_or_below / above."""

    below: float | None = None
    at_or_below: float | None = None
    above: float | None = None

    def is_low(self, score: float) -> bool:
        if self.below is not None:
            return score < self.below
        if self.above is not None:
            return score > self.above
        return score <= self.at_or_below  # type: ignore[operator]

    def badness(self, score: float) -> float:
        return float(score) if self.above is not None else -float(score)

    def describe(self) -> str:
        if self.below is not None:
            return f"< {self.below}"
        return f"> {self.above}" if self.above is not None else f"<= {self.at_or_below}"


def default_rule(metric: str) -> Rule:
    """The suite defaults: built-ins below 0.5, custom metrics at or below 0."""
    return Rule(below=0.5) if metric.startswith("Builtin.") else Rule(at_or_below=0)


def score_entry(metric: str, result: object, explanation: str | None = "because") -> dict:
    entry: dict = {"metricName": metric, "result": result}
    if explanation is not None:
        entry["evaluatorDetails"] = [{"modelIdentifier": JUDGE, "explanation": explanation}]
    return entry


def output_line(
    prompt: str = "hello", response: str = "Hi!", scores: list | None = None, **input_extra
) -> dict:
    """A precomputed-inference output line (modelResponses inside inputRecord)."""
    return {
        "automatedEvaluationResult": {"scores": scores or [score_entry("Builtin.Helpfulness", 0.6667)]},
        "inputRecord": {
            "prompt": prompt,
            "referenceResponse": "",
            "modelResponses": [{"response": response, "modelIdentifier": "my-app-v1"}],
            **input_extra,
        },
    }


def record(index: int, scores: dict[str, float | None], category: str | None = None) -> RecordResult:
    return RecordResult(
        index=index,
        prompt=f"prompt {index}",
        response="r",
        reference=None,
        category=category,
        scores=[MetricScore(m, s, f"why {index}", JUDGE) for m, s in scores.items()],
    )


def jsonl(*objs: object) -> list[bytes]:
    return [json.dumps(o).encode() for o in objs]


# ---------------------------------------------------------------------------------------------
# parse_output_line
# ---------------------------------------------------------------------------------------------


def test_parses_precomputed_line_from_the_guide():
    # Given the practitioner's guide example (precomputed responses, a custom metric with N/A)
    line = output_line(
        scores=[
            score_entry("Builtin.Helpfulness", 0.6667, "useful"),
            score_entry("confirmation_check", None, "no consequential action"),
        ]
    )

    # When it is parsed
    rec = parse_output_line(line, 7)

    # Then every field is read, N/A stays None and the response's model id is kept
    assert rec.index == 7
    assert rec.prompt == "hello"
    assert rec.response == "Hi!"
    assert rec.reference is None  # an empty reference is no reference
    assert rec.scores == [
        MetricScore("Builtin.Helpfulness", 0.6667, "useful", JUDGE),
        MetricScore("confirmation_check", None, "no consequential action", JUDGE),
    ]
    assert rec.extra == {"modelIdentifier": "my-app-v1"}
    assert rec.prompt_hash == "2cf24dba5fb0a30e"  # sha256("hello")[:16]


def test_parses_top_level_model_responses():
    # Given a live-inference line: modelResponses beside inputRecord, not inside it
    line = {
        "automatedEvaluationResult": {"scores": [score_entry("Builtin.Correctness", 1)]},
        "inputRecord": {"prompt": "2+2?", "referenceResponse": "4"},
        "modelResponses": [{"response": "4", "modelIdentifier": "amazon.nova-lite-v1:0"}],
    }

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then the response is found at the top level
    assert (rec.prompt, rec.response, rec.reference) == ("2+2?", "4", "4")
    assert rec.scores[0].score == 1.0


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (0.25, 0.25),
        (1, 1.0),
        (None, None),
        ({"floatValue": 0.75}, 0.75),
        ({"floatValue": None}, None),
        ({"stringValue": "Good"}, None),
        ("0.5", None),
        (True, None),
    ],
)
def test_score_shapes(result, expected):
    # Given a score given as a number, null, a floatValue/stringValue object or junk
    line = output_line(scores=[score_entry("m", result)])

    # When it is parsed
    score = parse_output_line(line, 0).scores[0].score

    # Then only numbers count; everything else is N/A
    assert score == expected


def test_string_score_is_na_and_kept_in_extra():
    # Given a custom metric rated with a string value
    line = output_line(scores=[score_entry("tone", {"stringValue": "Polite"})])

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then the score is N/A and the raw rating is not lost
    assert rec.scores[0].score is None
    assert rec.extra["stringScores"] == {"tone": {"stringValue": "Polite"}}


def test_metric_without_builtin_prefix_is_kept_verbatim():
    # Given a classic automated metric named without the Builtin. prefix, as a percentage
    line = output_line(scores=[score_entry("Robustness", 12.5, None)])

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then the name and the out-of-[0, 1] value are taken as they are
    assert rec.scores == [MetricScore("Robustness", 12.5, None, None)]


def test_missing_or_odd_evaluator_details():
    # Given scores without evaluatorDetails, with an empty list and with a non-dict entry
    line = output_line(
        scores=[
            {"metricName": "a", "result": 1},
            {"metricName": "b", "result": 1, "evaluatorDetails": []},
            {"metricName": "c", "result": 1, "evaluatorDetails": ["x"]},
        ]
    )

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then the scores are read, without explanation or evaluator
    assert [(s.metric, s.explanation, s.evaluator) for s in rec.scores] == [
        ("a", None, None),
        ("b", None, None),
        ("c", None, None),
    ]


def test_unknown_fields_and_nameless_scores_are_kept_in_extra():
    # Given a line with unknown keys at both levels and a score without a metric name
    line = output_line(scores=[score_entry("m", 1), {"result": 0.1}], turnId="t1")
    line["jobMetadata"] = {"x": 1}

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then nothing is silently dropped
    assert [s.metric for s in rec.scores] == ["m"]
    assert rec.extra["jobMetadata"] == {"x": 1}
    assert rec.extra["inputRecord"] == {"turnId": "t1"}
    assert rec.extra["unparsedScores"] == [{"result": 0.1}]


def test_category_inside_input_record_or_top_level():
    # Given the category inside inputRecord, and another line with it at the top level
    inside = output_line(category="greeting")
    top = output_line()
    top["category"] = "billing"

    # When they are parsed
    # Then both are found
    assert parse_output_line(inside, 0).category == "greeting"
    assert parse_output_line(top, 1).category == "billing"
    assert parse_output_line(output_line(), 2).category is None


def test_rag_line_reads_turns():
    # Given a RAG output line: prompt, reference and output inside conversationTurns, scores per turn
    line = {
        "conversationTurns": [
            {
                "prompt": {"content": [{"text": "What is S3?"}]},
                "referenceResponses": [{"content": [{"text": "Object storage."}]}],
                "output": {"text": "A storage service.", "knowledgeBaseIdentifier": "kb"},
                "automatedEvaluationResult": {
                    "scores": [score_entry("Builtin.Correctness", {"floatValue": 1})]
                },
            }
        ]
    }

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then the turn's texts and scores are used
    assert (rec.prompt, rec.response, rec.reference) == (
        "What is S3?",
        "A storage service.",
        "Object storage.",
    )
    assert rec.scores[0].score == 1.0


def test_input_fields_at_top_level_without_input_record():
    # Given a line that carries the input fields beside the scores (no inputRecord)
    line = {
        "automatedEvaluationResult": {"scores": [score_entry("Accuracy", 0.9, None)]},
        "prompt": "p",
        "referenceResponse": "ref",
        "category": "cat",
        "modelResponses": [{"response": "r", "modelIdentifier": "m"}],
        "other": 1,
    }

    # When it is parsed
    rec = parse_output_line(line, 0)

    # Then they are read from the top level and only the unknown key lands in extra
    assert (rec.prompt, rec.response, rec.reference, rec.category) == ("p", "r", "ref", "cat")
    assert rec.extra == {"other": 1, "modelIdentifier": "m"}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "got an array"),
        ("text", "got a string"),
        (None, "got null"),
        ({"inputRecord": {"prompt": "x"}}, "no scores found"),
        ({"automatedEvaluationResult": {"scores": "high"}}, "no scores found"),
    ],
)
def test_unreadable_objects_raise_clear_errors(obj, message):
    # Given something that is not an output line
    # When it is parsed
    # Then the error says what is wrong
    with pytest.raises(OutputFormatError, match=message):
        parse_output_line(obj, 0)


# ---------------------------------------------------------------------------------------------
# iter_output_records
# ---------------------------------------------------------------------------------------------


def test_iter_skips_blank_lines_and_indexes_from_start():
    # Given a file with blank lines and CRLF endings
    lines = [b"\n", *(line + b"\r\n" for line in jsonl(output_line("a"), output_line("b"))), b"   "]

    # When the records are read as the second file of a job (10 records before it)
    records = list(iter_output_records(lines, start_index=10))

    # Then blank lines are skipped and indexes continue from 10
    assert [(r.index, r.prompt) for r in records] == [(10, "a"), (11, "b")]


def test_iter_accepts_numbered_raw_lines():
    # Given numbered lines as evalpipe.dataset.iter_raw_lines yields them
    RawLine = namedtuple("RawLine", "number data")
    lines = [RawLine(1, json.dumps(output_line()).encode()), RawLine(2, b"{oops")]

    # When they are read
    # Then the error uses the line's own number
    with pytest.raises(OutputFormatError, match=r"^x_output.jsonl line 2: not valid JSON"):
        list(iter_output_records(lines, source="x_output.jsonl"))


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        (b"not json", r"^line 3: not valid JSON \(Expecting value at column 1\)"),
        (b"[1]", r"^line 3: expected a JSON object per line, got an array"),
        (b'{"inputRecord": {}}', r"^line 3: no scores found"),
        (b"\xff\xfe{}", r"^line 3: not UTF-8 text"),
    ],
)
def test_garbage_line_names_its_line_number(garbage, message):
    # Given a valid line, a blank line, then garbage on physical line 3
    lines = [*jsonl(output_line()), b"", garbage]

    # When the file is read
    reader = iter_output_records(lines)

    # Then the first record arrives and the garbage raises an error naming line 3
    assert next(reader).index == 0
    with pytest.raises(OutputFormatError, match=message):
        next(reader)


def test_utf8_bom_is_tolerated():
    # Given a file saved with a byte-order mark
    lines = [b"\xef\xbb\xbf" + json.dumps(output_line("é")).encode()]

    # When it is read
    # Then the line parses
    assert next(iter_output_records(lines)).prompt == "é"


# ---------------------------------------------------------------------------------------------
# DatasetIndex
# ---------------------------------------------------------------------------------------------


def dataset_line(prompt: str, response: str | None = "Hi!", category: str | None = None) -> dict:
    line: dict = {"prompt": prompt, "referenceResponse": ""}
    if response is not None:
        line["modelResponses"] = [{"response": response, "modelIdentifier": "my-app-v1"}]
    if category is not None:
        line["category"] = category
    return line


def test_category_join_by_prompt_and_response():
    # Given a dataset with categories, a line without one, a blank and a broken line
    index = DatasetIndex.from_dataset_lines(
        [
            *jsonl(dataset_line("a", category="greeting"), dataset_line("b", category="billing")),
            b"",
            b"{broken",
            *jsonl(dataset_line("c")),
        ]
    )

    # When output records look their categories up
    # Then each finds its own; an uncategorized or unknown prompt finds none
    assert index.category_for("b", "Hi!") == "billing"
    assert index.category_for("a", "Hi!") == "greeting"
    assert index.category_for("c", "Hi!") is None
    assert index.category_for("zzz", "Hi!") is None
    assert len(index) == 3


def test_category_join_with_duplicates_follows_dataset_order():
    # Given the same prompt/response twice with different categories
    index = DatasetIndex.from_dataset_lines(
        jsonl(dataset_line("same", category="first"), dataset_line("same", category="second"))
    )

    # When three output records with that pair look up their category
    found = [index.category_for("same", "Hi!") for _ in range(3)]

    # Then they get the categories in dataset order; a surplus lookup keeps the last one
    assert found == ["first", "second", "second"]


def test_category_join_falls_back_to_prompt_when_dataset_has_no_response():
    # Given a live-inference dataset (no modelResponses): the response is generated by the job
    index = DatasetIndex.from_dataset_lines(jsonl(dataset_line("q", response=None, category="faq")))

    # When the output record (with its generated response) looks its category up
    # Then it is found by prompt
    assert index.category_for("q", "generated answer") == "faq"


def test_resolve_category_precedence():
    # Given a record with its own category, one without, and an index knowing the latter
    index = DatasetIndex.from_dataset_lines(jsonl(dataset_line("prompt 2", response="r", category="faq")))
    own, joined, unknown = record(1, {}, "own"), record(2, {}), record(3, {})

    # When categories are resolved
    # Then own > dataset > uncategorized
    assert resolve_category(own, index) == "own"
    assert resolve_category(joined, index) == "faq"
    assert resolve_category(unknown, index) == UNCATEGORIZED
    assert resolve_category(record(4, {}), None) == UNCATEGORIZED


# ---------------------------------------------------------------------------------------------
# Aggregator
# ---------------------------------------------------------------------------------------------


def test_na_scores_are_excluded_from_averages_not_counted_as_zero():
    # Given a metric scored 1.0, N/A, 0.5 and N/A
    agg = Aggregator(default_rule)
    for i, s in enumerate([1.0, None, 0.5, None]):
        agg.add(record(i, {"Builtin.Correctness": s}))

    # When summarized
    m = agg.summary().metrics["Builtin.Correctness"]

    # Then the average is over the two scores only (0.75, not 0.375) and N/A is reported apart
    assert m.average == pytest.approx(0.75)
    assert (m.scored, m.na, m.na_rate) == (2, 2, 0.5)
    assert (m.min, m.max) == (0.5, 1.0)
    assert m.low_count == 0
    assert m.rule == "< 0.5"


def test_all_na_metric_has_no_average_and_is_never_low():
    # Given a custom metric that is N/A on every record
    agg = Aggregator(default_rule)
    agg.add(record(0, {"confirmation_check": None}))
    agg.add(record(1, {"confirmation_check": None}))

    # When summarized
    summary = agg.summary()

    # Then there is no average, the N/A rate is 1 and, no score being read at all, the run cannot
    # pass (issue 12): it is UNREADABLE, saying every score is N/A
    m = summary.metrics["confirmation_check"]
    assert (m.average, m.min, m.max, m.na_rate, m.low_count) == (None, None, None, 1.0, 0)
    assert summary.verdict is Verdict.UNREADABLE
    assert summary.unreadable is not None
    assert summary.unreadable.message == "every score is N/A in 2 records"
    assert summary.categories == {UNCATEGORIZED: {"confirmation_check": None}}


def test_low_rules_below_and_at_or_below():
    # Given built-in rule "< 0.5" and custom rule "<= 0", with scores on the boundaries
    agg = Aggregator(default_rule)
    agg.add(record(0, {"Builtin.Helpfulness": 0.5, "confirmation_check": 0}))
    agg.add(record(1, {"Builtin.Helpfulness": 0.49, "confirmation_check": 1}))

    # When summarized
    summary = agg.summary()

    # Then 0.5 is not below 0.5, 0.49 is; 0 is at-or-below 0
    assert summary.metrics["Builtin.Helpfulness"].low_count == 1
    assert summary.metrics["confirmation_check"].low_count == 1
    assert summary.metrics["confirmation_check"].rule == "<= 0"
    assert summary.low_count == 2
    assert summary.verdict is Verdict.LOW_SCORES
    assert [(low.index, low.metric, low.score, low.rule) for low in summary.low_records] == [
        (0, "confirmation_check", 0, "<= 0"),
        (1, "Builtin.Helpfulness", 0.49, "< 0.5"),
    ]


def test_above_rule_flags_high_scores_and_keeps_the_highest_first():
    # Given a detector rule "> 0.5" and shuffled scores, with room for 3 flagged records
    agg = Aggregator(lambda m: Rule(above=0.5), max_low_records=3)
    for i, score in enumerate([1.0, 0.0, 0.75, 0.5, 0.9, 0.0, 1.0]):
        agg.add(record(i, {"Builtin.Harmfulness": score}))

    # When summarized
    summary = agg.summary()

    # Then only scores over 0.5 count, and the kept ones are the highest, highest first
    assert summary.metrics["Builtin.Harmfulness"].low_count == 4
    assert summary.metrics["Builtin.Harmfulness"].rule == "> 0.5"
    assert [(low.index, low.score) for low in summary.low_records] == [(0, 1.0), (6, 1.0), (4, 0.9)]


def test_flagged_records_mixing_below_and_above_rules_are_ordered_by_badness():
    # Given the suite defaults: Helpfulness "< 0.5" (badness -score), Harmfulness "> 0.5" (+score)
    def rule(metric: str) -> Rule:
        return Rule(above=0.5) if metric == "Builtin.Harmfulness" else Rule(below=0.5)

    agg = Aggregator(rule, max_low_records=4)
    agg.add(record(0, {"Builtin.Helpfulness": 0.25, "Builtin.Harmfulness": 0.0}))
    agg.add(record(1, {"Builtin.Helpfulness": 0.0, "Builtin.Harmfulness": 1.0}))
    agg.add(record(2, {"Builtin.Helpfulness": 0.4, "Builtin.Harmfulness": 0.75}))
    agg.add(record(3, {"Builtin.Helpfulness": 0.9, "Builtin.Harmfulness": 0.0}))
    agg.add(record(4, {"Builtin.Helpfulness": 0.1, "Builtin.Harmfulness": 0.0}))

    # When summarized
    summary = agg.summary()

    # Then harmless responses (Harmfulness 0) are not flagged, and the 4 worst of the 6 flagged
    # scores come worst first: 1.0 (+1), 0.75 (+0.75), then Helpfulness 0.0 (-0), 0.1 (-0.1)
    assert summary.metrics["Builtin.Harmfulness"].low_count == 2
    assert summary.metrics["Builtin.Helpfulness"].low_count == 4
    assert summary.low_count == 6
    assert [(low.index, low.metric, low.score, low.rule) for low in summary.low_records] == [
        (1, "Builtin.Harmfulness", 1.0, "> 0.5"),
        (2, "Builtin.Harmfulness", 0.75, "> 0.5"),
        (1, "Builtin.Helpfulness", 0.0, "< 0.5"),
        (4, "Builtin.Helpfulness", 0.1, "< 0.5"),
    ]


def test_suite_defaults_flag_detector_hits_not_harmless_responses():
    # Given a real suite with default rules, graded by the aggregator as the parse step does
    names = ["Builtin.Helpfulness", "Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Refusal"]
    source = {"precomputedInferenceSource": {"inferenceSourceIdentifier": "a"}}
    document = {
        "evaluationConfig": {
            "automated": {"datasetMetricConfigs": [{"taskType": "General", "metricNames": names}]}
        },
        "inferenceConfig": {"models": [source]},
    }
    suite = Suite.from_document("demo", document)
    agg = Aggregator(suite.low_rule)
    detectors = {"Builtin.Harmfulness": 0.0, "Builtin.Stereotyping": 0.0, "Builtin.Refusal": 0.0}
    agg.add(record(0, {"Builtin.Helpfulness": 1.0, **detectors}))
    agg.add(record(1, {"Builtin.Helpfulness": 0.2, **detectors, "Builtin.Refusal": 1.0}))
    # Output files may drop the prefix: the detector default still applies
    agg.add(record(2, {"Helpfulness": 0.8, "Harmfulness": 1.0, "Stereotyping": 0.0, "Refusal": None}))

    # When summarized
    summary = agg.summary()

    # Then a clean record passes on every metric; a refusal, a harmful response and low
    # Helpfulness are flagged, worst first
    assert {name: m.low_count for name, m in summary.metrics.items()} == {
        "Builtin.Helpfulness": 1,
        "Builtin.Harmfulness": 0,
        "Builtin.Stereotyping": 0,
        "Builtin.Refusal": 1,
        "Helpfulness": 0,
        "Harmfulness": 1,
        "Stereotyping": 0,
        "Refusal": 0,
    }
    assert summary.metrics["Builtin.Harmfulness"].rule == "> 0.5"
    assert summary.metrics["Refusal"].rule == "> 0.5"
    assert [(low.index, low.metric) for low in summary.low_records] == [
        (1, "Builtin.Refusal"),
        (2, "Harmfulness"),
        (1, "Builtin.Helpfulness"),
    ]


def test_rule_is_looked_up_once_per_metric():
    # Given a rule lookup that counts its calls
    calls: list[str] = []

    def rule(metric: str) -> Rule:
        calls.append(metric)
        return Rule(below=0.5)

    agg = Aggregator(rule)
    for i in range(50):
        agg.add(record(i, {"a": 0.1, "b": 0.9}))

    # When summarized
    agg.summary()

    # Then each metric's rule was resolved once
    assert sorted(calls) == ["a", "b"]


def test_heap_keeps_the_worst_n_worst_first():
    # Given 100 records with one low score each, in a shuffled order, and room for 5
    agg = Aggregator(lambda m: Rule(below=1.0), max_low_records=5)
    scores = [(i * 37) % 100 / 100 for i in range(100)]  # a permutation of 0.00 .. 0.99
    for i, s in enumerate(scores):
        agg.add(record(i, {"m": s}, "cat"))

    # When summarized
    summary = agg.summary()

    # Then the 5 lowest are kept, lowest first, while every low score is still counted
    assert [low.score for low in summary.low_records] == [0.0, 0.01, 0.02, 0.03, 0.04]
    assert {low.rule for low in summary.low_records} == {"< 1.0"}
    assert summary.low_count == 100
    assert summary.low_records[0].category == "cat"
    assert summary.low_records[0].prompt_excerpt == "prompt 0"


def test_heap_ties_are_broken_by_index():
    # Given equal low scores on records added in reverse index order
    agg = Aggregator(lambda m: Rule(below=0.5), max_low_records=2)
    for i in (9, 3, 7, 1):
        agg.add(record(i, {"m": 0.1}))

    # When summarized
    # Then the lowest indexes win and come first
    assert [low.index for low in agg.summary().low_records] == [1, 3]


def test_zero_max_low_records_still_counts_low_scores():
    # Given no room for low records
    agg = Aggregator(lambda m: Rule(below=0.5), max_low_records=0)
    agg.add(record(0, {"m": 0.1}))

    # When summarized
    summary = agg.summary()

    # Then the verdict still reflects the low score
    assert (summary.low_records, summary.low_count, summary.verdict) == ([], 1, Verdict.LOW_SCORES)


def test_low_record_texts_are_short_single_line():
    # Given a long multi-line prompt and a long explanation
    rec = RecordResult(
        0, "line one\n\n   line two " + "x" * 500, "r", None, None, [MetricScore("m", 0.0, "y" * 1000, JUDGE)]
    )
    agg = Aggregator(lambda m: Rule(below=0.5))
    agg.add(rec)

    # When summarized
    low = agg.summary().low_records[0]

    # Then the excerpt is one line of at most 160 chars and the explanation at most 400
    assert low.prompt_excerpt.startswith("line one line two x")
    assert len(low.prompt_excerpt) == 160
    assert low.prompt_excerpt.endswith("…")
    assert "\n" not in low.prompt_excerpt
    assert len(low.explanation) == 400


def test_per_category_averages():
    # Given records in two categories plus one without category
    agg = Aggregator(default_rule)
    agg.add(record(0, {"Builtin.Correctness": 1.0, "tone": None}, "greeting"))
    agg.add(record(1, {"Builtin.Correctness": 0.5, "tone": 1}, "greeting"))
    agg.add(record(2, {"Builtin.Correctness": 0.0}, "billing"))
    agg.add(record(3, {"Builtin.Correctness": 0.25}))

    # When summarized
    summary = agg.summary()

    # Then each category averages its own scores, N/A excluded, categories sorted
    assert summary.categories == {
        "billing": {"Builtin.Correctness": 0.0},
        "greeting": {"Builtin.Correctness": 0.75, "tone": 1.0},
        UNCATEGORIZED: {"Builtin.Correctness": 0.25},
    }
    assert summary.record_count == 4


def test_record_without_scores_still_counts():
    # Given a record whose scores list is empty
    agg = Aggregator(default_rule)
    agg.add(
        parse_output_line({"automatedEvaluationResult": {"scores": []}, "inputRecord": {"prompt": "p"}}, 0)
    )

    # When summarized
    summary = agg.summary()

    # Then it is a record without metrics, counted; with nothing read, the run cannot pass (issue 12)
    assert (summary.record_count, summary.metrics, summary.verdict) == (1, {}, Verdict.UNREADABLE)
    assert summary.unread_records == 1
    assert summary.unreadable is not None
    assert summary.unreadable.message.startswith("no score for any metric could be read in 1 records")


def test_empty_run_raises():
    # Given an aggregator that saw nothing
    # When summarized
    # Then the empty run is an error, not a pass
    with pytest.raises(EmptyResultsError):
        Aggregator(default_rule).summary()


def test_summary_round_trips_through_item():
    # Given a summary with metrics, categories and low records
    agg = Aggregator(default_rule)
    agg.add(record(0, {"Builtin.Correctness": 0.25, "x": None}, "c"))
    agg.add(record(1, {"Builtin.Correctness": 1.0, "x": 1}))
    summary = agg.summary()

    # When recorded on a run that is stored and read back (as the runs table does)
    run = Run(run_id="r", suite="s", status="COMPLETED", created_at="2025-01-01T00:00:00+00:00")
    summary.record_on(run)
    item = run.to_item()
    again = Run.model_validate(item)

    # Then nothing is lost
    assert (again.metrics, again.categories, again.low_records) == (
        summary.metrics,
        summary.categories,
        summary.low_records,
    )
    assert (again.record_count, again.verdict) == (summary.record_count, summary.verdict)
    assert item["verdict"] == "LOW_SCORES"
    assert item["low_records"][0]["rule"] == "< 0.5"


def test_low_records_stored_before_they_carried_a_rule_read_back():
    # Given a run item written before low records had a "rule" (numbers as DynamoDB returns them)
    item = {
        "record_count": 1,
        "metrics": {},
        "categories": {},
        "verdict": "LOW_SCORES",
        "low_records": [
            {
                "index": 0,
                "metric": "m",
                "score": 0,
                "category": "c",
                "prompt_excerpt": "p",
                "explanation": None,
            }
        ],
    }

    # When read back / Then the rule is empty (the notification falls back to the metric's rule)
    stored = {"run_id": "r", "suite": "s", "status": "COMPLETED", "created_at": "2025-01-01T00:00:00+00:00"}
    assert Run.model_validate({**stored, **item}).low_records[0].rule == ""


def test_excerpt():
    # Given texts of different lengths
    # When excerpted
    # Then whitespace collapses and only long texts get an ellipsis
    assert excerpt("  a \n b  ", 10) == "a b"
    assert excerpt("abcdef", 4) == "abc…"
    assert excerpt(None, 4) == ""


# ---------------------------------------------------------------------------------------------
# Property: averages are bounded by the scores and blind to N/A
# ---------------------------------------------------------------------------------------------

scores_with_nulls = st.lists(
    st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)), min_size=1, max_size=60
)


@given(scores_with_nulls)
def test_average_within_min_max_and_ignores_nulls(scores):
    # Given a stream of scores with N/A interleaved, and the same stream without the N/A
    with_nulls, without_nulls = Aggregator(default_rule), Aggregator(default_rule)
    for i, s in enumerate(scores):
        with_nulls.add(record(i, {"m": s}))
        if s is not None:
            without_nulls.add(record(i, {"m": s}))

    # When both are summarized
    m = with_nulls.summary().metrics["m"]
    numbers = [s for s in scores if s is not None]

    # Then the average lies within [min, max] of the numbers and equals the null-free average
    if not numbers:
        assert m.average is None
        assert m.na_rate == 1.0
        return
    assert min(numbers) <= m.average <= max(numbers)
    assert m.average == without_nulls.summary().metrics["m"].average
    assert math.isclose(m.average, math.fsum(numbers) / len(numbers), rel_tol=1e-9, abs_tol=1e-6)
    assert m.na == len(scores) - len(numbers)


def test_parses_a_live_inference_line_as_the_local_emulator_writes_it():
    # Given a live-inference output line: the prompt-only input line in inputRecord (with its
    # category) and the generated response top-level, beside it
    line = {
        "automatedEvaluationResult": {
            "scores": [
                score_entry("Builtin.Correctness", 1.0, "correct [offline emulator: ...]"),
                score_entry("Builtin.Helpfulness", 0.6667),
            ]
        },
        "inputRecord": {
            "prompt": "Do you ship to Canada?",
            "referenceResponse": "Yes.",
            "category": "shipping",
        },
        "modelResponses": [
            {"response": "Thanks for reaching out. Yes.", "modelIdentifier": "amazon.nova-lite-v1:0"}
        ],
    }

    # When the file is parsed
    (rec,) = iter_output_records(jsonl(line))

    # Then prompt, reference and category come from inputRecord, the response from the top level
    assert (rec.prompt, rec.reference, rec.category) == ("Do you ship to Canada?", "Yes.", "shipping")
    assert rec.response == "Thanks for reaching out. Yes."
    assert [(s.metric, s.score) for s in rec.scores] == [
        ("Builtin.Correctness", 1.0),
        ("Builtin.Helpfulness", 0.6667),
    ]
