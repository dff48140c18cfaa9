"""The dataset beside the results: categories joined back, and whether the results cover the dataset."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator

from evalpipe import scratch
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


# The index's records live in scratch tables (`evalpipe.scratch`), not in Python: the parse step's
# memory stays flat from 1,000 records to 50,000.

_PAD = "x" * 2_000  # prompts of about 2 KB, as a real dataset's


def _synthetic(count: int) -> Callable[[], Iterator[bytes]]:
    """Opens ``count`` distinct lines, made as they are read (none held, so only the index counts)."""

    def open_lines() -> Iterator[bytes]:
        for n in range(count):
            yield line(f"prompt {n} {_PAD}", category=f"c{n % 7}")

    return open_lines


def _traced(count: int) -> tuple[int, int]:
    """Python memory (bytes) of indexing ``count`` synthetic lines and matching them: what the index
    holds once built, and the peak of building and matching."""
    gc.collect()
    tracemalloc.start()
    try:
        index = DatasetIndex.from_source(_synthetic(count))
        held = tracemalloc.get_traced_memory()[0]
        for n in range(count):
            resolve_category(result(n, f"prompt {n} {_PAD}"), index)
        coverage = index.coverage()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    index.close()
    assert coverage.complete and coverage.parsed == count
    return held, peak


def test_memory_stays_flat_from_a_thousand_lines_to_ten_thousand() -> None:
    # Given a warmed-up process (lazy imports, this thread's scratch connection)
    _traced(100)
    # When 1,000 and then 10,000 lines are indexed and matched
    held_1k, peak_1k = _traced(1_000)
    held_10k, peak_10k = _traced(10_000)
    # Then ten times the lines costs the same Python memory: the records are rows on disk, and only
    # the write buffer (at most `_BUFFER_ROWS` rows) is in memory. tracemalloc does not see SQLite's
    # own allocations; those are bounded by its page cache (PRAGMA cache_size, `scratch.CACHE_KIB`).
    assert peak_10k <= 1.25 * peak_1k, (peak_1k, peak_10k)
    assert held_10k - held_1k < 300_000, (held_1k, held_10k)


class _Steps:
    """Counts SQLite's virtual machine steps on this thread's scratch connection (by hundreds): its
    work, deterministic, unlike the clock."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> _Steps:
        scratch.connection().set_progress_handler(self._step, 100)
        return self

    def __exit__(self, *_: object) -> None:
        scratch.connection().set_progress_handler(None, 100)

    def _step(self) -> int:
        self.count += 1
        return 0  # go on


def _matching_work(index: DatasetIndex, prompts: list[str]) -> tuple[list[str], int]:
    """The categories of results with these prompts (in order), and SQLite's work to match them."""
    with _Steps() as steps:
        categories = [resolve_category(result(n, prompt), index) for n, prompt in enumerate(prompts)]
    return categories, steps.count


def test_thousands_of_copies_of_one_line_are_taken_one_by_one_in_dataset_order() -> None:
    # Given 3,000 copies of one prompt and response (each with its own category, to see the order),
    # and for comparison 1,000 distinct lines (indexes built before anything is measured)
    copies = 3_000
    index = DatasetIndex.from_dataset_lines([line("same", category=f"c{n}") for n in range(copies)])
    distinct = DatasetIndex.from_dataset_lines([line(f"p{n}") for n in range(1_000)])
    assert index.category_for("never", "seen") is None and distinct.category_for("never", "seen") is None
    _, work_distinct = _matching_work(distinct, [f"p{n}" for n in range(1_000)])
    # When 3,000 results of it are matched, a thousand at a time, and one more
    categories: list[str] = []
    work: list[int] = []
    for _ in range(3):
        found, steps = _matching_work(index, ["same"] * 1_000)
        categories += found
        work.append(steps)
    categories += _matching_work(index, ["same"])[0]
    # Then each takes the next copy in dataset order, the extra one is surplus with the last copy's
    # category, and every copy is counted
    assert categories == [f"c{n}" for n in range(copies)] + [f"c{copies - 1}"]
    coverage = index.coverage()
    assert (coverage.expected, coverage.parsed, coverage.missing_count, coverage.surplus_count) == (
        copies,
        copies + 1,
        0,
        1,
    )
    # And the next untaken copy is found by an index seek: each thousand costs what a thousand
    # distinct lines do, where passing over (or sorting) the key's copies would cost thousands of times more
    assert max(work) < 1.5 * work_distinct, (work, work_distinct)


def _scratch_tables() -> set[str]:
    rows = scratch.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def test_two_indexes_at_once_keep_their_own_records_and_drop_their_tables() -> None:
    # Given two indexes of the same prompts with different categories, alive at once
    before = _scratch_tables()
    first = DatasetIndex.from_dataset_lines([line(f"p{n}", category="one") for n in range(3)])
    second = DatasetIndex.from_dataset_lines([line(f"p{n}", category="two") for n in range(3)])
    created = _scratch_tables() - before
    assert len(created) == 2
    # When their matches interleave: the first takes p0 and p1, the second only p0
    found = [first.category_for("p0", "ok"), second.category_for("p0", "ok"), first.category_for("p1", "ok")]
    # Then each answers and counts from its own records
    assert found == ["one", "two", "one"]
    assert (first.coverage().missing_count, second.coverage().missing_count) == (1, 2)
    # When the first is closed
    first.close()
    # Then its table is dropped and the second still works
    assert len(_scratch_tables() & created) == 1
    assert second.category_for("p1", "ok") == "two" and second.coverage().missing_count == 1
    # When the second is collected
    del second
    gc.collect()
    # Then its table is dropped too
    assert not _scratch_tables() & created
