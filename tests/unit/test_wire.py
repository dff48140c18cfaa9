"""The runs table's wire format and batch write (evalpipe.aws.wire), offline."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from evalpipe.aws import wire
from evalpipe.aws.wire import (
    BATCH_SIZE,
    MAX_ATTEMPTS,
    UnprocessedItemsError,
    batch_put,
    item_to_wire,
    to_wire,
)


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        7,
        -3,
        True,
        None,
        Decimal("0.1"),
        Decimal("1E-7"),
        Decimal("12345678901234567890.123"),
        [1, "a", None, [Decimal("2.5")]],
        {"score": Decimal("0.75"), "explanation": None, "nested": {"ok": False}},
        {"a", "b"},
        b"bytes",
    ],
)
def test_to_wire_is_what_the_type_serializer_writes(value):
    assert to_wire(value) == TypeSerializer().serialize(value)


@pytest.mark.parametrize("value", [0.5, Decimal("NaN"), Decimal("Infinity"), 10**40])
def test_to_wire_rejects_what_the_type_serializer_rejects(value):
    with pytest.raises(Exception) as ours:
        to_wire(value)
    with pytest.raises(Exception) as theirs:
        TypeSerializer().serialize(value)
    assert type(ours.value) is type(theirs.value)


class FakeClient:
    """A low-level client recording the bodies it would send; leaves items unprocessed on demand."""

    def __init__(self, unprocessed_calls: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.unprocessed_calls = unprocessed_calls
        self.meta = self
        self.events = self
        self.handlers: dict[str, Any] = {}

    def register(self, event: str, handler: Any, unique_id: str) -> None:
        self.handlers[unique_id] = handler

    def batch_write_item(self, RequestItems: dict) -> dict:
        params: dict[str, Any] = {"body": json.dumps({"RequestItems": RequestItems}).encode()}
        for handler in self.handlers.values():
            handler(params=params)
        body = json.loads(params["body"])
        self.bodies.append(body)
        if self.unprocessed_calls:
            self.unprocessed_calls -= 1
            return {"UnprocessedItems": {"t": body["RequestItems"]["t"][-1:]}}
        return {"UnprocessedItems": {}}


def an_item(index: int, note: str = "") -> dict[str, Any]:
    return item_to_wire({"pk": "RUN#r", "sk": f"REC#{index:05d}", "note": note})


def test_batch_put_sends_25_items_a_call_and_the_last_of_a_repeated_key():
    # Given 60 items, one key repeated within the first batch
    client = FakeClient()
    items = [an_item(i) for i in range(60)]
    items.insert(10, an_item(3, note="again"))

    # When they are put
    calls = batch_put(client, "t", items)

    # Then 3 calls of 25, 25 and 10 distinct items, the repeated key sent once with its last value
    sent = [[r["PutRequest"]["Item"] for r in b["RequestItems"]["t"]] for b in client.bodies]
    assert calls == 3
    assert [len(batch) for batch in sent] == [BATCH_SIZE, BATCH_SIZE, 10]
    assert [i for i in sent[0] if i["sk"]["S"] == "REC#00003"] == [an_item(3, note="again")]
    assert sum(len(batch) for batch in sent) == 60


def test_batch_put_retries_unprocessed_items_with_backoff():
    # Given DynamoDB leaves one item unprocessed twice
    client = FakeClient(unprocessed_calls=2)
    waits: list[float] = []

    # When 5 items are put
    calls = batch_put(client, "t", [an_item(i) for i in range(5)], sleep=waits.append)

    # Then the item is sent again after each wait, alone
    assert calls == 3
    assert len(waits) == 2
    assert [len(b["RequestItems"]["t"]) for b in client.bodies] == [5, 1, 1]


def test_batch_put_gives_up_after_the_last_attempt():
    client = FakeClient(unprocessed_calls=MAX_ATTEMPTS)
    with pytest.raises(UnprocessedItemsError, match="1 of 1 items unprocessed"):
        batch_put(client, "t", [an_item(0)], sleep=lambda _: None)


def test_a_record_item_in_the_wire_format_is_what_the_type_serializer_writes():
    # Given a record with an N/A score, a repeated metric (RAG turns), an empty explanation
    from evalpipe.aws.runs_table import record_item
    from evalpipe.results import MetricScore, RecordResult

    record = RecordResult(
        index=3,
        prompt="p" * 400,
        response=None,
        reference=None,
        category=None,
        scores=[
            MetricScore("Builtin.A", 0.1, "why", "j"),
            MetricScore("Builtin.A", 1e-05, "", "j"),
            MetricScore("custom", None, None, None),
            MetricScore("int", 3, "three", None),
        ],
        conversation=2,
        turn=1,
    )

    # Then its wire item is the serializer's, attribute for attribute
    item = record_item("r", record)
    assert item_to_wire(item) == {k: TypeSerializer().serialize(v) for k, v in item.items()}


def _query_response(body: bytes, status: int = 200) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"status_code": status, "headers": {}, "body": body}, {}


def test_a_query_pages_items_are_handed_over_as_decoded_and_the_rest_left_to_botocore(monkeypatch):
    # Given a Query response of `query_pages` (its flag on), with an item and a next-page key
    monkeypatch.setattr(wire._raw, "on", True, raising=False)
    item = {"index": {"N": "7"}, "scores": {"M": {"m": {"M": {"score": {"NULL": True}}}}}}
    body = {"Items": [item], "Count": 1, "LastEvaluatedKey": {"pk": {"S": "RUN#r"}}}
    response, customized = _query_response(json.dumps(body).encode())
    # When the before-parse handler sees it
    wire._take_raw_items(response_dict=response, customized_response_dict=customized)
    # Then the items are handed over as they are, and botocore's parser gets the rest
    assert customized == {"Items": [item]}
    assert json.loads(response["body"]) == {"Count": 1, "LastEvaluatedKey": {"pk": {"S": "RUN#r"}}}


@pytest.mark.parametrize(
    ("on", "status", "body"),
    [
        (False, 200, b'{"Items": [], "Count": 0}'),  # another Query of the same client
        (True, 400, b'{"__type": "ResourceNotFoundException", "message": "gone"}'),  # an error
        (True, 200, b'{"Items": [{"index": '),  # a damaged body: botocore's CRC32 check retries it
        (True, 200, b""),
        (True, 200, b"[1, 2]"),
    ],
)
def test_a_response_not_of_query_pages_or_not_whole_is_left_to_botocore(monkeypatch, on, status, body):
    # Given a response the handler must not touch
    monkeypatch.setattr(wire._raw, "on", on, raising=False)
    response, customized = _query_response(body, status)
    # When it sees it, then it raises nothing and changes nothing
    wire._take_raw_items(response_dict=response, customized_response_dict=customized)
    assert (response["body"], customized) == (body, {})
