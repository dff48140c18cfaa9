"""DynamoDB adapter for the runs table: one run summary item and one item per record score.

Keys (docs/design.md)::

    run summary   pk=RUN#<run_id>  sk=RUN            gsi1pk=SUITE#<suite>  gsi1sk=<created_at>#<run_id>
    record score  pk=RUN#<run_id>  sk=REC#<index:05d>

The boto3 Table resource is injected. This is the one place that sees the stored items: runs
go in and come out as `evalpipe.run.model.Run`, records come out as `RecordItem`. Floats become
Decimal on the way in and numbers come back as int or float, so the models never see Decimal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from evalpipe.aws.slots import Slots
from evalpipe.aws.wire import batch_put, item_to_wire, plain_client, query_pages, until_processed
from evalpipe.history.keys import key_of_record, stored_key
from evalpipe.results import RecordResult, excerpt, truncate
from evalpipe.run.model import UNCATEGORIZED, RecordItem, Run, Shard
from evalpipe.run.triggers import iso, now_utc

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

GSI_NAME = "by-suite"
KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")
RUN_SK = "RUN"
RECORD_PREFIX = "REC#"
MAX_RECORD_INDEX = 99_999  # REC#<index:05d> sorts by index only up to five digits
EXCERPT_CHARS = 300
EXPLANATION_CHARS = 1000
# DynamoDB's hard limit is 400 KB; stay clear of it so estimates and overheads never bite.
MAX_ITEM_BYTES = 350_000
BATCH_GET_KEYS = 100  # BatchGetItem's most keys a call


class RunNotFound(LookupError):
    """The run item does not exist (a step handed an unknown run id, or an update of an unclaimed run)."""


class RecordTooLarge(ValueError):
    """A record item stays too large even with every explanation removed."""


class RunsTable:
    """The runs table.

    Parameters
    ----------
    table
        A boto3 DynamoDB `Table` resource.
    clock
        Current UTC time, for `updated_at` (injected so tests can pin it).
    client
        A low-level DynamoDB client for `put_records` and `iter_record_scores` (a resource's own
        client converts every value); by default one like the table's, made on first use
        (`wire.plain_client`).

    Examples
    --------
    >>> runs = RunsTable(boto3.resource("dynamodb").Table("runs"))  # doctest: +SKIP
    >>> runs.claim_run({"run_id": "r1", "suite": "s", "created_at": "2025-01-01T00:00:00+00:00",
    ...                 "status": "VALIDATING"})  # doctest: +SKIP
    True
    """

    def __init__(
        self, table: Any, clock: Callable[[], datetime] = now_utc, client: Any | None = None
    ) -> None:
        self._table = table
        self._clock = clock
        self._client = client

    def job_slots(self, clock: Callable[[], datetime]) -> Slots:
        """The account's job pools, kept in this table (`evalpipe.aws.slots`)."""
        return Slots(self._table, clock)

    # -- runs ------------------------------------------------------------------------------

    def claim(self, run: Run) -> bool:
        """Create the run item unless it exists (the guard against duplicated S3 events).

        Returns
        -------
        bool
            True if this call created the item, False if the run was already claimed.
        """
        attributes = {k: to_dynamo(v) for k, v in run.to_item().items() if k not in KEY_ATTRIBUTES}
        item = {
            **attributes,
            "pk": _run_pk(run.run_id),
            "sk": RUN_SK,
            "gsi1pk": f"SUITE#{run.suite}",
            "gsi1sk": f"{attributes['created_at']}#{run.run_id}",
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        run.saved()
        return True

    def get(self, run_id: str) -> Run | None:
        """The run, or None."""
        response = self._table.get_item(Key={"pk": _run_pk(run_id), "sk": RUN_SK}, ConsistentRead=True)
        item = response.get("Item")
        return Run.model_validate(_plain(item)) if item else None

    def load(self, run_id: str) -> Run:
        """The run a step was handed.

        Raises
        ------
        RunNotFound
            The run id has no run item (the execution input was tampered with).
        """
        run = self.get(run_id)
        if run is None:
            raise RunNotFound(f"run {run_id} is not in the runs table")
        return run

    def save(self, run: Run) -> Run:
        """Write the attributes of ``run`` that changed since it was read, and stamp `updated_at`.

        Returns
        -------
        Run
            The whole run as stored after the update (attributes other steps wrote included).

        Raises
        ------
        RunNotFound
            If the run was never claimed (an update never creates a partial run item).
        ValueError
            If a value is NaN or infinite.
        """
        fields = run.changes()
        fields.setdefault("updated_at", iso(self._clock()))
        stored = Run.model_validate(self._update(run.run_id, fields))
        run.saved()
        return stored

    def save_shard(self, run_id: str, shard: Shard) -> None:
        """Write one shard of the run (its entry of ``shards`` only: the run's other shards are
        updated by parallel branches of the state machine at the same time)."""
        value = to_dynamo(shard.model_dump(mode="json"))
        kwargs: dict[str, Any] = {
            "Key": {"pk": _run_pk(run_id), "sk": RUN_SK},
            "UpdateExpression": "SET shards.#k = :shard, updated_at = :now",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#k": shard.key},
            "ExpressionAttributeValues": {":shard": value, ":now": iso(self._clock())},
        }
        try:
            self._table.update_item(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise RunNotFound(f"run {run_id} does not exist") from exc
            if code != "ValidationException":  # a run recorded before runs had shards
                raise
            self._table.update_item(
                Key={"pk": _run_pk(run_id), "sk": RUN_SK},
                UpdateExpression="SET shards = if_not_exists(shards, :empty)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":empty": {}},
            )
            self._table.update_item(**kwargs)

    def _update(self, run_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = to_dynamo(value)
                sets.append(f"#f{i} = :v{i}")
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(sets)}" if sets else "",
                f"REMOVE {', '.join(removes)}" if removes else "",
            )
            if part
        )
        kwargs: dict[str, Any] = {
            "Key": {"pk": _run_pk(run_id), "sk": RUN_SK},
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            response = self._table.update_item(**kwargs)
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise RunNotFound(f"run {run_id} does not exist") from exc
            raise
        return _plain(response["Attributes"])

    def history(self, suite: str, limit: int = 20) -> list[Run]:
        """The suite's most recent runs, newest first (by `created_at`, then run id)."""
        if limit <= 0:
            return []
        kwargs: dict[str, Any] = {
            "IndexName": GSI_NAME,
            "KeyConditionExpression": Key("gsi1pk").eq(f"SUITE#{suite}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        runs: list[Run] = []
        while len(runs) < limit:
            response = self._table.query(**kwargs)
            runs.extend(Run.model_validate(_plain(item)) for item in response.get("Items", ()))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            kwargs["Limit"] = limit - len(runs)
        return runs[:limit]

    def iter_runs(self, attributes: Sequence[str] = ()) -> Iterator[Run]:
        """Every run item, in no particular order (paginated lazily).

        A Scan of the `by-suite` index: only run items carry `gsi1pk`, so the index is sparse and
        the scan reads the runs without the (far more numerous) record items.

        Parameters
        ----------
        attributes
            What to read: top-level names or dotted paths (``comparison.baseline_run_id``);
            empty reads whole items. A projection must keep what every run has (``run_id``,
            ``suite``, ``status``, ``created_at``).
        """
        kwargs: dict[str, Any] = {"IndexName": GSI_NAME}
        if attributes:
            names: dict[str, str] = {}
            paths = []
            for attribute in attributes:
                parts = []
                for part in attribute.split("."):
                    placeholder = next((k for k, v in names.items() if v == part), None)
                    if placeholder is None:
                        placeholder = f"#a{len(names)}"
                        names[placeholder] = part
                    parts.append(placeholder)
                paths.append(".".join(parts))
            kwargs["ProjectionExpression"] = ", ".join(paths)
            kwargs["ExpressionAttributeNames"] = names
        while True:
            response = self._table.scan(**kwargs)
            for item in response.get("Items", ()):
                yield Run.model_validate(_plain(item))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- records ---------------------------------------------------------------------------

    def put_records(
        self,
        run_id: str,
        records: Iterable[RecordResult],
        on_item: Callable[[dict[str, Any]], None] | None = None,
    ) -> int:
        """Write one item per record; re-writing the same records overwrites the same items.

        Items are keyed by the record index only, so parsing a job twice leaves exactly one item
        per record. Texts are trimmed (excerpts to 300, explanations to 1000 characters) and,
        if an item would still exceed ~350 KB (many metrics), explanations are shortened further.

        Parameters
        ----------
        run_id
            The run.
        records
            Parsed records (streamed; not held in memory). `category` None is stored as
            `uncategorized`.
        on_item
            Called with every item (plain values) as it is written.

        Returns
        -------
        int
            Number of distinct record items written.

        Raises
        ------
        RecordTooLarge
            If an item is too large even without explanations.
        """
        # One bit per possible index: memory stays flat however many records a run has.
        written = bytearray(MAX_RECORD_INDEX // 8 + 1)

        def items() -> Iterator[dict[str, Any]]:
            for record in records:
                item = record_item(run_id, record)  # checks the index is in range
                if on_item is not None:
                    on_item(item)
                yield item_to_wire(item)
                written[record.index >> 3] |= 1 << (record.index & 7)

        # Serialised once, written with the low-level client (evalpipe.aws.wire: the resource's
        # batch writer costs several times the parse itself in CPU).
        batch_put(self._wire_client(), self._table.name, items())
        return int.from_bytes(written, "little").bit_count()

    def _wire_client(self) -> Any:
        """The low-level client of `put_records` and `iter_record_scores` (made on first use)."""
        if self._client is None:
            self._client = plain_client(self._table)
        return self._client

    def iter_records(self, run_id: str) -> Iterator[RecordItem]:
        """The run's record items in index order (paginated lazily)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_run_pk(run_id)) & Key("sk").begins_with(RECORD_PREFIX),
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**kwargs)
            for item in response.get("Items", ()):
                yield RecordItem.model_validate(_plain(item))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def iter_record_scores(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The run's records in index order without their texts: what a review's `ScoreTable` keeps.

        Each is ``{"index", "record_key", "category", "scores": {metric: {"score": float | None}}}``,
        as `ScoreTable.add_stored` takes it; ``record_key`` is derived from ``prompt_hash`` for items
        stored before it existed (as `key_of_item` does). The query projects the excerpts away and
        its pages are decoded by ``json.loads`` (`wire.query_pages`), not botocore's parser, then
        only the scores are read (not the explanations): a fraction of `iter_records`'s CPU.
        """
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :records)",
            "ExpressionAttributeValues": {":pk": {"S": _run_pk(run_id)}, ":records": {"S": RECORD_PREFIX}},
            "ProjectionExpression": "#index, #key, #hash, #category, #scores",
            "ExpressionAttributeNames": {
                "#index": "index",
                "#key": "record_key",
                "#hash": "prompt_hash",
                "#category": "category",
                "#scores": "scores",
            },
            "ConsistentRead": True,
        }
        for page in query_pages(self._wire_client(), **kwargs):
            for item in page:
                yield _record_scores(item)

    def get_records(self, run_id: str, indices: Collection[int]) -> dict[int, RecordItem]:
        """The run's record items with these indices (those that exist), by index.

        BatchGetItem, 100 keys a call, retrying the keys DynamoDB leaves unprocessed as the record
        writes do (`evalpipe.aws.wire.until_processed`): the review reads back only the few records
        it shows (`evalpipe.history.score_table`).
        """
        client = self._table.meta.client  # the resource's client: native values in and out
        keys = [{"pk": _run_pk(run_id), "sk": _record_sk(index)} for index in sorted(set(indices))]
        found: dict[int, RecordItem] = {}

        def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
            request = {self._table.name: {"Keys": batch, "ConsistentRead": True}}
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table.name, ()):
                record = RecordItem.model_validate(_plain(item))
                found[record.index] = record
            return response.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])

        for start in range(0, len(keys), BATCH_GET_KEYS):
            until_processed(send, keys[start : start + BATCH_GET_KEYS], "keys")
        return found

    def delete_records_from(self, run_id: str, index: int) -> int:
        """Delete the run's record items with index >= `index` (a re-parse found fewer records).

        Returns
        -------
        int
            Number of items deleted.
        """
        # "$" sorts right after "#", so the range covers every REC#<n> with n >= index.
        condition = Key("pk").eq(_run_pk(run_id)) & Key("sk").between(_record_sk(index), "REC$")
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        deleted = 0
        with self._table.batch_writer() as batch:
            while True:
                response = self._table.query(**kwargs)
                for item in response.get("Items", ()):
                    batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                    deleted += 1
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return deleted


# -- record items ----------------------------------------------------------------------------


def record_item(run_id: str, record: RecordResult) -> dict[str, Any]:
    """The DynamoDB item of one record, shrunk below `MAX_ITEM_BYTES` if needed.

    Raises
    ------
    RecordTooLarge
        If the item is too large even with every explanation emptied.
    """
    limit = EXPLANATION_CHARS
    while True:
        item = _record_item(run_id, record, limit)
        if _size_bound(item) < MAX_ITEM_BYTES or item_size(item) < MAX_ITEM_BYTES:
            return item
        if limit == 0:
            raise RecordTooLarge(
                f"record {record.index} of run {run_id} exceeds {MAX_ITEM_BYTES} bytes "
                f"without explanations ({len(record.scores)} scores)"
            )
        limit = limit // 2 if limit > 16 else 0


def _record_item(run_id: str, record: RecordResult, explanation_chars: int) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for score in record.scores:
        name = score.metric
        n = 1
        while name in scores:  # RAG lines may score a metric once per turn: keep every turn
            n += 1
            name = f"{score.metric}#{n}"
        explanation = truncate(score.explanation, explanation_chars) if score.explanation else None
        value = score.score  # nearly always a float: skip to_dynamo's type tests
        scores[name] = {
            "score": _finite_decimal(value) if type(value) is float else to_dynamo(value),
            "explanation": explanation,
        }
    return {
        "pk": _run_pk(run_id),
        "sk": _record_sk(record.index),
        "index": record.index,
        "category": record.category or UNCATEGORIZED,
        "prompt_hash": record.prompt_hash,
        # Matches this record with the same prompt in other runs (regressions per record).
        "record_key": key_of_record(record),
        "prompt_excerpt": excerpt(record.prompt, EXCERPT_CHARS),
        "response_excerpt": excerpt(record.response, EXCERPT_CHARS) if record.response is not None else None,
        "scores": scores,
        # RAG: one item per conversation turn; these say which conversation and which turn.
        **({"conversation": record.conversation} if record.conversation is not None else {}),
        **({"turn": record.turn} if record.turn is not None else {}),
        # The output file's dataset and task type (several datasetMetricConfigs entries).
        **({"dataset": record.dataset} if record.dataset else {}),
        **({"task_type": record.task_type} if record.task_type else {}),
    }


def _size_bound(item: dict[str, Any]) -> int:
    """An upper bound of `item_size` of a record item, without walking it (the walk costs as much
    as building the item): 4 bytes a character (UTF-8's most), 64 for each attribute's overhead
    and number. Only an item near the limit is measured exactly."""
    scores = item["scores"]
    chars = 0
    for name, entry in scores.items():
        chars += len(name) + (len(entry["explanation"]) if entry["explanation"] else 0)
    for name, value in item.items():
        chars += len(name) + (len(value) if type(value) is str else 0)
    return 4 * chars + 64 * (len(scores) + len(item) + 1)


def item_size(value: Any) -> int:
    """An upper estimate of DynamoDB's size of an item (or attribute value), in bytes.

    Follows the documented rules: strings count their UTF-8 bytes, numbers at most 21 bytes,
    maps and lists 3 bytes plus 1 per element, attribute names their UTF-8 bytes.
    """
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | Decimal):
        return 21
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(str(k).encode("utf-8")) + item_size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return 3 + sum(1 + item_size(v) for v in value)
    return len(str(value).encode("utf-8"))


# -- conversions -----------------------------------------------------------------------------


def to_dynamo(value: Any) -> Any:
    """Plain Python -> what the boto3 serializer accepts: floats to Decimal, recursively.

    Datetimes become ISO-8601 UTC strings, enums their value, dataclasses dicts, tuples lists;
    None stays None (DynamoDB NULL) inside maps and lists.

    Raises
    ------
    ValueError
        For NaN or infinite numbers (DynamoDB cannot store them).
    """
    if isinstance(value, Enum):  # before str/int: a StrEnum is stored as its plain value
        return to_dynamo(value.value)
    if value is None or isinstance(value, str | int | bytes):  # bool is an int
        return value
    if isinstance(value, float | Decimal):
        return _finite_decimal(value)
    if isinstance(value, datetime):
        return iso(value)
    if is_dataclass(value) and not isinstance(value, type):
        return to_dynamo(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _finite_decimal(value: float | Decimal) -> Decimal:
    """A float or Decimal as the Decimal DynamoDB stores; it has no NaN or infinity.

    Raises
    ------
    ValueError
        For NaN or infinite numbers.
    """
    if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        raise ValueError(f"cannot store {value} in DynamoDB")
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value))  # repr = shortest exact round-trip, so 0.1 stays 0.1


def from_dynamo(value: Any) -> Any:
    """DynamoDB values -> plain Python: Decimal to int (when integral) or float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {from_dynamo(v) for v in value}
    return value


def _record_scores(wire: dict[str, Any]) -> dict[str, Any]:
    """A record item's projection (`RunsTable.iter_record_scores`) from DynamoDB's wire format."""
    category = wire.get("category", {}).get("S", UNCATEGORIZED)
    key = stored_key(wire.get("record_key", {}).get("S"), wire.get("prompt_hash", {}).get("S"), category)
    scores: dict[str, dict[str, float | None]] = {}
    for metric, entry in wire.get("scores", {}).get("M", {}).items():
        value = entry["M"].get("score", {"NULL": True})
        if "N" in value:
            scores[metric] = {"score": float(value["N"])}
        elif "NULL" in value:
            scores[metric] = {"score": None}
        else:  # never written (`_record_item`); not guessed at
            raise ValueError(
                f"record {int(wire['index']['N'])}: metric {metric}: a score that is not a number: {value}"
            )
    return {"index": int(wire["index"]["N"]), "record_key": key, "category": category, "scores": scores}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: from_dynamo(v) for k, v in item.items() if k not in KEY_ATTRIBUTES}


def _run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def _record_sk(index: int) -> str:
    if not 0 <= index <= MAX_RECORD_INDEX:
        raise ValueError(f"record index {index} is outside 0..{MAX_RECORD_INDEX}")
    return f"{RECORD_PREFIX}{index:05d}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
