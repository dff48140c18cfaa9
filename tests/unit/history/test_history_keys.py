"""Record keys: stable across runs, the explicit id wins, the category matters, old items match."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from evalpipe.history.keys import (
    explicit_id_of,
    key_of_item,
    key_of_record,
    normalize_id,
    record_key,
)
from evalpipe.results import UNCATEGORIZED, RecordResult, parse_output_line
from evalpipe.run.model import RecordItem


def test_the_same_prompt_and_category_give_the_same_key_every_time() -> None:
    # Given one prompt graded in two runs / When keyed / Then the keys are equal and pinned
    first = record_key("Where is my order?", "order-status")
    second = record_key("Where is my order?", "order-status")
    assert first == second
    # The format is part of the stored data: changing it breaks matching of stored runs.
    assert first.startswith("h:")
    assert len(first) == 2 + 32
    prompt_hash = hashlib.sha256(b"Where is my order?").hexdigest()[:16]
    assert first == "h:" + hashlib.sha256(f"{prompt_hash}\x1forder-status".encode()).hexdigest()[:32]


def test_the_category_is_part_of_the_key() -> None:
    # Given the same prompt in two categories / Then they are two records
    assert record_key("hello", "greeting") != record_key("hello", "smalltalk")


def test_no_category_is_the_uncategorized_category() -> None:
    assert record_key("hello", None) == record_key("hello", "") == record_key("hello", UNCATEGORIZED)


def test_any_edit_of_the_prompt_is_a_new_record() -> None:
    assert record_key("hello", "g") != record_key("hello ", "g")


def test_an_explicit_id_wins_over_prompt_and_category() -> None:
    # Given a record whose prompt was edited between runs but whose id stayed
    before = record_key("Where is my order?", "orders", explicit_id="q-17")
    after = record_key("Where is my order #123?", "order-status", explicit_id="q-17")
    # Then it is the same record; and the same prompt with another id is another record
    assert before == after == "id:q-17"
    assert record_key("Where is my order?", "orders", explicit_id="q-18") != before


def test_integer_and_string_ids_are_the_same_id() -> None:
    assert record_key("p", "c", explicit_id=7) == record_key("p", "c", explicit_id="7") == "id:7"


def test_unusable_ids_fall_back_to_the_content() -> None:
    content = record_key("p", "c")
    for bad in (None, "", "   ", True, False, 1.5, ["x"], {"id": 1}):
        assert record_key("p", "c", explicit_id=bad) == content  # type: ignore[arg-type]
    assert normalize_id(" a ") == "a"


def test_long_ids_are_hashed_to_a_bounded_key() -> None:
    key = record_key("p", "c", explicit_id="x" * 500)
    assert key.startswith("idh:")
    assert len(key) == 4 + 32
    assert key != record_key("p", "c", explicit_id="x" * 501)


def test_a_legacy_item_without_record_key_gets_the_same_key_from_its_prompt_hash() -> None:
    # Given an item written before record_key existed (prompt_hash + category only)
    output_line = {
        "automatedEvaluationResult": {"scores": [{"metricName": "Builtin.Correctness", "result": 1}]},
        "inputRecord": {"prompt": "Can I get a refund?", "category": "refund"},
    }
    parsed = parse_output_line(output_line, 0)
    legacy = RecordItem(index=0, category="refund", prompt_hash=parsed.prompt_hash)
    # Then its derived key equals the key the parse step now stores
    assert key_of_item(legacy) == key_of_record(parsed) == record_key("Can I get a refund?", "refund")


def test_a_stored_record_key_wins_and_an_item_without_either_has_no_key() -> None:
    assert key_of_item(RecordItem(index=0, record_key="id:9", prompt_hash="abc", category="x")) == "id:9"
    assert key_of_item(RecordItem(index=1, category="x")) is None


def test_the_explicit_id_is_read_from_the_output_line() -> None:
    # Given Bedrock copied the dataset line's id into inputRecord (kept in extra by the parser)
    nested = parse_output_line(
        {
            "automatedEvaluationResult": {"scores": []},
            "inputRecord": {"prompt": "p", "id": "case-1"},
        },
        0,
    )
    # Or the line has no inputRecord and the id sits at the top level
    flat = parse_output_line({"automatedEvaluationResult": {"scores": []}, "prompt": "p", "id": 12}, 1)
    assert explicit_id_of(nested) == "case-1"
    assert explicit_id_of(flat) == "12"
    assert key_of_record(nested) == "id:case-1"
    # And an id the parse step found in the dataset overrides a missing one
    bare = RecordResult(0, "p", None, None, "c", [])
    assert explicit_id_of(bare) is None
    assert key_of_record(bare, explicit_id="from-dataset") == "id:from-dataset"
    assert key_of_record(bare) == record_key("p", "c")


@given(st.text(max_size=200), st.text(max_size=40), st.text(max_size=200), st.text(max_size=40))
def test_content_keys_are_deterministic_and_separate_distinct_records(
    prompt: str, category: str, other_prompt: str, other_category: str
) -> None:
    key = record_key(prompt, category)
    assert key == record_key(prompt, category)
    same = prompt == other_prompt and (category or UNCATEGORIZED) == (other_category or UNCATEGORIZED)
    assert (key == record_key(other_prompt, other_category)) == same
