"""The dataset beside the results: categories joined back, and whether the results cover the dataset."""

from __future__ import annotations

import json

from evalpipe.results import DatasetIndex, RecordResult, resolve_category
from evalpipe.run.model import Coverage


def line(prompt: str, response: str | None = "ok", category: str | None = None) -> bytes:
    record: dict = {"prompt": prompt}
    if response is not None:
        record["modelResponses"] = [{"response": response, "modelIdentifier": "app"}]
    if category:
        record["category"] = category
    return json.dumps(record).encode()


def result(index: int, prompt: str, response: str | None = "ok", dataset: str | None = None) -> RecordResult:
    return RecordResult(index, prompt, response, None, None, [], dataset=dataset)


def covered(lines: list[bytes], results: list[RecordResult]) -> tuple[Coverage, list[str]]:
    index = DatasetIndex.from_dataset_lines(lines)
    categories = [resolve_category(record, index) for record in results]
    return index.coverage(), categories


def test_every_line_with_one_result_is_complete_and_categorised() -> None:
    # Given three lines and their three results, in order, the output without categories
    lines = [line("a", category="x"), line("b", category="y"), line("c")]
    coverage, categories = covered(lines, [result(0, "a"), result(1, "b"), result(2, "c")])
    # Then the results cover the dataset, and each result has its line's category
    assert coverage.complete and (coverage.expected, coverage.parsed) == (3, 3)
    assert categories == ["x", "y", "uncategorized"]


def test_results_missing_for_some_lines_are_named_with_their_line_numbers() -> None:
    # Given 18 lines and results for only the first 15 (a short output)
    lines = [line(f"prompt {n}") for n in range(18)]
    coverage, _ = covered(lines, [result(n, f"prompt {n}") for n in range(15)])
    # Then three are missing: lines 16, 17 and 18, with their prompts
    assert (coverage.expected, coverage.parsed, coverage.missing_count, coverage.surplus_count) == (
        18,
        15,
        3,
        0,
    )
    assert [(m.line, m.prompt_excerpt) for m in coverage.missing] == [
        (16, "prompt 15"),
        (17, "prompt 16"),
        (18, "prompt 17"),
    ]


def test_a_result_repeated_beyond_its_lines_is_surplus_and_takes_no_other_line() -> None:
    # Given the same prompt twice with different responses, and an output that repeats the first
    lines = [line("same", "first", "c1"), line("same", "second", "c2")]
    coverage, categories = covered(lines, [result(0, "same", "first"), result(1, "same", "first")])
    # Then the repeat is surplus (it does not take the second line), and the second line is missing
    assert (coverage.missing_count, coverage.surplus_count) == (1, 1)
    assert coverage.missing[0].line == 2 and coverage.surplus[0].index == 1
    assert categories == ["c1", "c1"]


def test_live_inference_results_match_by_prompt_alone() -> None:
    # Given prompts without responses (the model answers during the job)
    lines = [line("a", None, "x"), line("b", None, "y")]
    coverage, categories = covered(lines, [result(0, "a", "generated"), result(1, "b", "also generated")])
    assert coverage.complete and categories == ["x", "y"]


def test_rag_turns_are_records_of_their_line() -> None:
    # Given a two-turn conversation and a one-turn one, and results for only two of the three turns
    def turn(text: str) -> dict:
        return {"prompt": {"content": [{"text": text}]}, "output": {"text": f"answer {text}"}}

    lines = [
        json.dumps({"conversationTurns": [turn("t1"), turn("t2")], "category": "acc"}).encode(),
        json.dumps({"conversationTurns": [turn("u1")]}).encode(),
    ]
    coverage, _ = covered(lines, [result(0, "t1", "answer t1"), result(1, "u1", "answer u1")])
    # Then the missing one is line 1, turn 2
    assert (coverage.expected, coverage.missing_count) == (3, 1)
    assert (coverage.missing[0].line, coverage.missing[0].turn) == (1, 2)


def test_records_of_built_in_datasets_are_not_the_dataset_s() -> None:
    # Given a classic job over the dropped dataset and Builtin.BoolQ
    lines = [line("a")]
    coverage, _ = covered(lines, [result(0, "a"), result(1, "boolq?", dataset="Builtin.BoolQ")])
    # Then the BoolQ record is neither matched nor surplus
    assert coverage.complete and coverage.parsed == 1


def test_many_missing_records_are_counted_exactly_and_listed_briefly() -> None:
    coverage, _ = covered([line(f"p{n}") for n in range(100)], [])
    assert coverage.missing_count == 100 and len(coverage.missing) == 20


def test_missing_lines_are_quoted_from_a_second_read_of_the_dataset() -> None:
    # Given a dataset that can be opened again (as the parse step reads S3), 5 lines, 3 results
    lines = [line(f"prompt {n}") for n in range(5)]
    opened: list[int] = []

    def open_lines():
        opened.append(1)
        return iter(lines)  # a one-shot stream each time, like an S3 body

    index = DatasetIndex.from_source(open_lines)
    for n in range(3):
        resolve_category(result(n, f"prompt {n}"), index)
    # When the coverage is asked for
    coverage = index.coverage()
    # Then the missing lines are quoted by reading the dataset a second time (not held in memory)
    assert [(m.line, m.prompt_excerpt) for m in coverage.missing] == [(4, "prompt 3"), (5, "prompt 4")]
    assert len(opened) == 2


def test_complete_results_never_read_the_dataset_again() -> None:
    lines = [line(f"prompt {n}") for n in range(3)]
    opened: list[int] = []

    def open_lines():
        opened.append(1)
        return iter(lines)

    index = DatasetIndex.from_source(open_lines)
    for n in range(3):
        resolve_category(result(n, f"prompt {n}"), index)
    assert index.coverage().complete
    assert len(opened) == 1


def test_prompts_that_differ_only_across_the_separator_stay_apart() -> None:
    # ("a\x1f", "b") and ("a", "\x1fb") must not share a key once texts become digests
    index = DatasetIndex.from_dataset_lines(
        [line("a\x1f", response="b", category="one"), line("a", response="\x1fb", category="two")]
    )
    assert index.category_for("a", "\x1fb") == "two"
    assert index.category_for("a\x1f", "b") == "one"
