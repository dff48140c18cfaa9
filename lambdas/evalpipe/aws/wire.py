"""DynamoDB's low-level wire format, and the batch write of items already in it.

The boto3 resource's batch writer spends most of a large write on the client side: for every
call it deep-copies the request, serialises each value with `TypeSerializer`, then botocore
validates every attribute value against the service model. Record items are written once and
never read back by the writer, so `batch_put` takes items serialised once by `to_wire` (the
same output as `TypeSerializer`, so the stored items do not change) and sends them with the
low-level client's BatchWriteItem, 25 a call, retrying what DynamoDB leaves unprocessed.

Examples
--------
>>> to_wire({"index": 7, "score": Decimal("0.5"), "note": None})
{'M': {'index': {'N': '7'}, 'score': {'N': '0.5'}, 'note': {'NULL': True}}}
"""

from __future__ import annotations

import json
import random
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_ATTEMPTS = 10  # of one batch, while DynamoDB keeps items unprocessed
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 5.0
# Ints of up to 38 digits are exactly what TypeSerializer writes for them (str of the Decimal).
_MAX_PLAIN_INT = 10**38

_serializer = TypeSerializer()


class UnprocessedItemsError(RuntimeError):
    """DynamoDB left items of a batch unprocessed after every retry (sustained throttling)."""


def to_wire(value: Any) -> dict[str, Any]:
    """One attribute value in the wire format, exactly as `TypeSerializer.serialize` writes it.

    The types the runs table stores (str, bool, int, Decimal, None, dict, list) are handled
    here; anything else (sets, bytes) goes to `TypeSerializer` itself.

    Raises
    ------
    TypeError
        For a type DynamoDB cannot store (a float: use `runs_table.to_dynamo` first).
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is dict:
        return {"M": item_to_wire(value)}
    if kind is Decimal or (kind is int and -_MAX_PLAIN_INT < value < _MAX_PLAIN_INT):
        number = str(value) if kind is int else str(DYNAMODB_CONTEXT.create_decimal(value))
        if number in ("Infinity", "NaN"):
            raise TypeError("Infinity and NaN not supported")
        return {"N": number}
    if value is None:
        return {"NULL": True}
    if kind is bool:
        return {"BOOL": value}
    if kind is list:
        return {"L": [to_wire(v) for v in value]}
    return _serializer.serialize(value)


def item_to_wire(item: dict[str, Any]) -> dict[str, Any]:
    """A whole item (attribute name -> value) in the wire format."""
    wire: dict[str, Any] = {}
    for name, value in item.items():  # strings and nulls inline: most values of a record item
        kind = type(value)
        if kind is str:
            wire[name] = {"S": value}
        elif value is None:
            wire[name] = {"NULL": True}
        else:
            wire[name] = to_wire(value)
    return wire


def plain_client(table: Any) -> Any:
    """A low-level DynamoDB client like the one behind a boto3 ``Table`` resource.

    The resource's own client carries boto3's value transformation (every call's values are
    deep-copied and serialised), so wire-format items need a client of their own: the same
    region, endpoint, configuration and, when they were given explicitly, credentials (the
    default chain otherwise, so refreshable credentials keep refreshing). Client-side parameter
    validation is off for this client only: its callers, `batch_put` and `query_pages`, send
    items built by `to_wire` and fixed query shapes, and DynamoDB validates every request itself
    (a bad item is still rejected, with a ValidationException instead of botocore's
    ParamValidationError).
    """
    import boto3  # noqa: PLC0415 -- only the parse step writes records
    from botocore.config import Config  # noqa: PLC0415

    resource_client = table.meta.client
    meta = resource_client.meta
    credentials = resource_client._get_credentials()
    keys: dict[str, Any] = {}
    if credentials is not None and credentials.method == "explicit":
        frozen = credentials.get_frozen_credentials()
        keys = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }
    return boto3.session.Session().client(
        "dynamodb",
        region_name=meta.region_name,
        endpoint_url=meta.endpoint_url,
        config=meta.config.merge(Config(parameter_validation=False)),
        **keys,
    )


def batch_put(
    client: Any,
    table_name: str,
    items: Iterable[dict[str, Any]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Put wire-format items with BatchWriteItem, 25 a call; returns the number of calls.

    Two items with the same key within one batch would make DynamoDB reject the whole call, so
    a repeated key replaces the earlier item of the batch (the last one wins, as the resource's
    ``batch_writer(overwrite_by_pkeys=...)`` does). Items DynamoDB returns unprocessed are sent
    again after an exponential backoff with full jitter.

    Parameters
    ----------
    client
        A low-level DynamoDB client (not a resource's: its client re-serialises values).
    table_name
        The table.
    items
        Items in the wire format, each with ``pk`` and ``sk`` string keys.
    sleep
        Waits between retries (injected so tests do not wait).

    Raises
    ------
    UnprocessedItemsError
        If items are still unprocessed after `MAX_ATTEMPTS` calls for their batch.
    """
    calls = 0
    batch: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        key = (item["pk"]["S"], item["sk"]["S"])
        batch.pop(key, None)  # a repeated key: the later item, in the later position
        batch[key] = item
        if len(batch) == BATCH_SIZE:
            calls += _write(client, table_name, list(batch.values()), sleep)
            batch.clear()
    if batch:
        calls += _write(client, table_name, list(batch.values()), sleep)
    return calls


def _write(client: Any, table_name: str, items: list[dict[str, Any]], sleep: Callable[[float], None]) -> int:
    def send(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = _batch_write_item(client, table_name, requests)
        return response.get("UnprocessedItems", {}).get(table_name, [])

    return until_processed(send, [{"PutRequest": {"Item": item}} for item in items], "items", sleep)


def until_processed(
    send: Callable[[list[Any]], list[Any]],
    pending: list[Any],
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``send(pending)`` with what it left unprocessed (a batch call's ``UnprocessedItems`` or
    ``UnprocessedKeys``) until nothing is left; an exponential backoff with full jitter between
    calls. Returns the number of calls.

    Raises
    ------
    UnprocessedItemsError
        If some are still unprocessed after `MAX_ATTEMPTS` calls.
    """
    total = len(pending)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pending = send(pending)
        if not pending:
            return attempt
        if attempt < MAX_ATTEMPTS:
            sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
    raise UnprocessedItemsError(
        f"DynamoDB left {len(pending)} of {total} {what} unprocessed after {MAX_ATTEMPTS} attempts"
    )


# -- one BatchWriteItem call, its body encoded once ----------------------------------------------

_prebuilt = threading.local()
_PREBUILT_BODY_HANDLER = "evalpipe-prebuilt-batch-write-body"


def _batch_write_item(client: Any, table_name: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """BatchWriteItem with a body JSON-encoded here, in one C-speed `json.dumps`.

    botocore's JSON serializer walks the service model for every attribute value (some 170,000
    calls per 1,000 records x 25 metrics) to produce what ``json.dumps`` of a wire-format request
    already is. So the client serialises a one-item stand-in of the request, and a
    ``before-call`` handler (botocore's documented hook on the request dict, before signing)
    swaps in the whole body: the call keeps botocore's endpoint, signing, retries, error parsing
    and tracing. The handler is registered once per client and acts only while a body is set.
    """
    client.meta.events.register(
        "before-call.dynamodb.BatchWriteItem", _use_prebuilt_body, unique_id=_PREBUILT_BODY_HANDLER
    )
    _prebuilt.body = json.dumps({"RequestItems": {table_name: requests}}, separators=(",", ":")).encode()
    try:
        response: dict[str, Any] = client.batch_write_item(RequestItems={table_name: requests[:1]})
    finally:
        _prebuilt.body = None
    return response


def _use_prebuilt_body(params: dict[str, Any], **_: Any) -> None:
    body = getattr(_prebuilt, "body", None)
    if body is not None:
        params["body"] = body


# -- Query pages whose items stay in the wire format ----------------------------------------------

_raw = threading.local()
_RAW_ITEMS_HANDLER = "evalpipe-raw-query-items"


def query_pages(client: Any, **params: Any) -> Iterator[list[dict[str, Any]]]:
    """The items of every page of a Query, in DynamoDB's wire format, parsed by one ``json.loads``.

    botocore's JSON parser walks the service model for every attribute value of the response, 20x
    what ``json.loads`` of the same body costs, and holds its copy beside the decoded body. So a
    ``before-parse`` handler (botocore's hook on the raw response, before its parser runs) takes
    the ``Items`` out of a successful response's body and hands them back as they are; botocore
    still parses the rest (``LastEvaluatedKey``, counts) and every error response. Only for items
    without binary attributes (``B``/``BS`` stay base64 text here): the record items have none.
    """
    client.meta.events.register("before-parse.dynamodb.Query", _take_raw_items, unique_id=_RAW_ITEMS_HANDLER)
    while True:
        _raw.on = True  # the handler acts only for these calls, not other Queries of the client
        try:
            response = client.query(**params)
        finally:
            _raw.on = False
        yield response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _take_raw_items(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    if not getattr(_raw, "on", False) or response_dict.get("status_code") != 200:
        return
    try:
        body = json.loads(response_dict["body"])
        items = body.pop("Items", [])
    except (ValueError, TypeError, AttributeError, KeyError):
        return  # a damaged body is botocore's to parse, and its CRC32 check's to retry
    customized_response_dict["Items"] = items
    response_dict["body"] = json.dumps(body).encode()
