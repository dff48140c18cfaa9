"""Per-record comparison: which prompts got worse, by how much, N/A transitions, duplicates."""

from __future__ import annotations

import random

import pytest

from evalpipe.history.records import compare_records
from evalpipe.run.model import ChangeKind, RecordItem
from tests.unit.history.builders import CORRECTNESS, CUSTOM, HARMFULNESS, HELPFULNESS, make_suite, record

SUITE = make_suite()


def test_worse_scores_are_listed_worst_first_with_the_amount() -> None:
    # Given three prompts: one much worse, one a little worse, one better
    baseline = [
        record(0, "refund?", {HELPFULNESS: 1.0}),
        record(1, "hello", {HELPFULNESS: 0.75}),
        record(2, "order?", {HELPFULNESS: 0.25}),
    ]
    current = [
        record(0, "refund?", {HELPFULNESS: 0.25}, explanation="no steps given"),
        record(1, "hello", {HELPFULNESS: 0.5}),
        record(2, "order?", {HELPFULNESS: 1.0}),
    ]
    # When compared
    changes = compare_records(current, baseline, SUITE)
    # Then only the worse ones, worst first, with both scores and this run's explanation
    assert [(c.prompt_excerpt, c.worsened_by) for c in changes] == [("refund?", 0.75), ("hello", 0.25)]
    first = changes.worsened[0]
    assert first.kind == ChangeKind.WORSENED
    assert (first.baseline_score, first.score) == (1.0, 0.25)
    assert first.explanation == f"no steps given ({HELPFULNESS})"
    assert first.metric == HELPFULNESS
    assert (first.index, first.baseline_index, first.category) == (0, 0, "general")


def test_for_a_detector_a_higher_score_is_worse() -> None:
    baseline = [record(0, "p1", {HARMFULNESS: 0.0}), record(1, "p2", {HARMFULNESS: 1.0})]
    current = [record(0, "p1", {HARMFULNESS: 1.0}), record(1, "p2", {HARMFULNESS: 0.0})]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.prompt_excerpt, c.worsened_by) for c in changes] == [("p1", 1.0)]


def test_rag_turn_metrics_take_their_metrics_direction() -> None:
    # RAG lines score a metric once per turn: the record item names turn 2 "<metric>#2"
    baseline = [record(0, "p", {HARMFULNESS: 0.0, f"{HARMFULNESS}#2": 0.0})]
    current = [record(0, "p", {HARMFULNESS: 0.0, f"{HARMFULNESS}#2": 1.0})]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.metric, c.worsened_by) for c in changes] == [(f"{HARMFULNESS}#2", 1.0)]


def test_na_transitions_are_reported_separately_after_the_worse_scores() -> None:
    baseline = [
        record(0, "a", {CUSTOM: 1.0, HELPFULNESS: 1.0}),
        record(1, "b", {CUSTOM: None, HELPFULNESS: 1.0}),
        record(2, "c", {CUSTOM: None}),
    ]
    current = [
        record(0, "a", {CUSTOM: None, HELPFULNESS: 0.5}),
        record(1, "b", {CUSTOM: 0.0, HELPFULNESS: 1.0}),
        record(2, "c", {CUSTOM: None}),  # N/A both times: nothing to say
    ]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.kind, c.metric, c.prompt_excerpt) for c in changes] == [
        (ChangeKind.WORSENED, HELPFULNESS, "a"),
        (ChangeKind.BECAME_NA, CUSTOM, "a"),
        (ChangeKind.BECAME_SCORED, CUSTOM, "b"),
    ]
    worsened, transitions = changes.worsened, changes.transitions
    assert [c.kind for c in worsened] == [ChangeKind.WORSENED]
    assert [(c.baseline_score, c.score, c.worsened_by) for c in transitions] == [
        (1.0, None, None),
        (None, 0.0, None),
    ]


def test_records_are_matched_by_key_not_by_index() -> None:
    # Given the dataset reordered between runs
    baseline = [record(0, "first", {HELPFULNESS: 1.0}), record(1, "second", {HELPFULNESS: 1.0})]
    current = [record(0, "second", {HELPFULNESS: 0.0}), record(1, "first", {HELPFULNESS: 1.0})]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.prompt_excerpt, c.index, c.baseline_index) for c in changes] == [("second", 0, 1)]


def test_the_category_is_part_of_the_match() -> None:
    # Given the same prompt moved to another category / Then it is a different record
    baseline = [record(0, "hello", {HELPFULNESS: 1.0}, category="greeting")]
    current = [record(0, "hello", {HELPFULNESS: 0.0}, category="smalltalk")]
    assert list(compare_records(current, baseline, SUITE)) == []


def test_an_explicit_id_matches_an_edited_prompt() -> None:
    baseline = [record(0, "Where is my order?", {HELPFULNESS: 1.0}, explicit_id="q-1")]
    current = [record(5, "Where is order 123?", {HELPFULNESS: 0.5}, explicit_id="q-1", category="orders")]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.key, c.index, c.baseline_index, c.worsened_by) for c in changes] == [("id:q-1", 5, 0, 0.5)]


def test_legacy_items_without_record_key_match_new_ones() -> None:
    baseline = [record(0, "hello", {HELPFULNESS: 1.0}, legacy=True)]
    current = [record(0, "hello", {HELPFULNESS: 0.0})]
    assert len(compare_records(current, baseline, SUITE)) == 1


def test_duplicate_keys_pair_in_index_order_whatever_the_input_order() -> None:
    # Given the same prompt three times in the baseline and twice now
    baseline = [
        record(0, "dup", {HELPFULNESS: 1.0}),
        record(4, "dup", {HELPFULNESS: 0.5}),
        record(9, "dup", {HELPFULNESS: 0.0}),
    ]
    current = [record(2, "dup", {HELPFULNESS: 0.25}), record(3, "dup", {HELPFULNESS: 0.25})]
    expected = [(2, 0, 0, 0.75), (3, 4, 1, 0.25)]
    # When compared in any order
    for seed in range(5):
        shuffled_base, shuffled_now = baseline[:], current[:]
        random.Random(seed).shuffle(shuffled_base)
        random.Random(seed + 100).shuffle(shuffled_now)
        changes = compare_records(shuffled_now, shuffled_base, SUITE)
        # Then the first occurrence pairs with the first, the second with the second
        assert [(c.index, c.baseline_index, c.occurrence, c.worsened_by) for c in changes] == expected


def test_ties_are_ordered_by_metric_then_index() -> None:
    baseline = [record(i, f"p{i}", {HELPFULNESS: 1.0, CORRECTNESS: 1.0}) for i in range(3)]
    current = [record(i, f"p{i}", {HELPFULNESS: 0.5, CORRECTNESS: 0.5}) for i in (2, 0, 1)]
    changes = compare_records(current, baseline, SUITE)
    assert [(c.metric, c.index) for c in changes] == [
        (CORRECTNESS, 0),
        (CORRECTNESS, 1),
        (CORRECTNESS, 2),
        (HELPFULNESS, 0),
        (HELPFULNESS, 1),
        (HELPFULNESS, 2),
    ]


def test_unmatched_records_and_metrics_and_unkeyed_items_are_skipped() -> None:
    baseline = [record(0, "old only", {HELPFULNESS: 1.0}), record(1, "both", {CORRECTNESS: 1.0})]
    current = [
        record(0, "new only", {HELPFULNESS: 0.0}),
        record(1, "both", {HELPFULNESS: 0.0}),  # metric not in the baseline's record
        RecordItem(index=2, scores={HELPFULNESS: {"score": 0.0}}),  # no key at all
    ]
    assert list(compare_records(current, baseline, SUITE)) == []


def test_without_a_suite_the_builtin_detectors_are_lower_is_better() -> None:
    baseline = [record(0, "p", {HARMFULNESS: 0.0, HELPFULNESS: 1.0})]
    current = [record(0, "p", {HARMFULNESS: 1.0, HELPFULNESS: 0.0})]
    assert {c.metric for c in compare_records(current, baseline, None)} == {HARMFULNESS, HELPFULNESS}


def test_long_texts_are_shortened_and_decimal_scores_read() -> None:
    from decimal import Decimal

    baseline = [record(0, "x" * 400, {HELPFULNESS: 1.0})]
    stored = record(0, "x" * 400, {HELPFULNESS: 0.5}, explanation="y" * 2000).model_dump()
    stored["scores"][HELPFULNESS]["score"] = Decimal("0.5")  # as DynamoDB returns a number
    current = [RecordItem.model_validate(stored)]
    (change,) = compare_records(current, baseline, SUITE)
    assert len(change.prompt_excerpt) == 160
    assert change.prompt_excerpt.endswith("…")
    assert len(change.explanation) == 400
    assert change.worsened_by == pytest.approx(0.5)


def test_a_bounded_comparison_keeps_the_worst_and_counts_them_all() -> None:
    # Given 30 records that all got worse by different amounts, and 4 that became N/A
    baseline = [record(i, f"p{i}", {HELPFULNESS: 1.0}) for i in range(34)]
    current = [record(i, f"p{i}", {HELPFULNESS: 1.0 - (i + 1) / 100}) for i in range(30)]
    current += [record(i, f"p{i}", {HELPFULNESS: None}) for i in range(30, 34)]
    # When compared keeping 5 of each kind
    changes = compare_records(current, baseline, SUITE, limit=5)
    # Then the 5 worst are kept, worst first, with their texts, and the totals are exact
    assert [c.index for c in changes.worsened] == [29, 28, 27, 26, 25]
    assert [c.prompt_excerpt for c in changes.worsened] == ["p29", "p28", "p27", "p26", "p25"]
    assert (changes.worsened_count, changes.transition_count) == (30, 4)
    assert [c.index for c in changes.transitions] == [30, 31, 32, 33]
    # And the bounded result is the head of the unbounded one
    full = compare_records(current, baseline, SUITE)
    assert changes.worsened == full.worsened[:5]
