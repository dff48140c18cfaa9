"""Run identity and lifecycle: statuses, verdicts and the names derived from what started a run.

A run has one *trigger*: a dataset object dropped under ``datasets/<suite>/`` (`DatasetObject`,
from S3's ``Object Created`` event) or a run request (`RunRequest`, the ``Run Requested`` event a
suite's schedule or ``evalpipe run`` sends). Every name derives from the trigger, so a
re-delivered event yields the same run id, job name and idempotency token.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

SUITE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
JOB_NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
DATASET_PREFIX = "datasets/"
# Scenarios dropped here are collected into the run's dataset (a suite with pipeline.collect).
SCENARIOS_PREFIX = "scenarios/"
SUITE_PREFIX = "suites/"
RESULTS_PREFIX = "results/"
# The inputs of a run (the copy of its dataset; later its shards): never beside the user's datasets,
# so writing them starts no run.
INPUTS_PREFIX = "inputs/"
REPORTS_PREFIX = "reports/"
# Runs of objects whose key names no suite are recorded (and rejected) under this suite.
UNKNOWN_SUITE = "unknown-suite"
# The envelope of a run request (an EventBridge-style event; docs/design.md, "The state machine").
RUN_REQUEST_SOURCE = "evalpipe"
RUN_REQUEST_DETAIL_TYPE = "Run Requested"


class DatasetKeyError(ValueError):
    """The object key does not follow `datasets/<suite>/<name>.jsonl`."""


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (``Z`` accepted); a time without a zone is UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utc_isoformat(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _stamp_iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds")


class TriggerKind(StrEnum):
    """What started a run (the run item's ``trigger``)."""

    DATASET = "dataset"  # a dataset dropped under datasets/<suite>/
    SCENARIOS = "scenarios"  # scenarios dropped under scenarios/<suite>/, collected by the pipeline
    SCHEDULE = "schedule"  # the suite's EventBridge Scheduler schedule fired
    CLI = "cli"  # someone ran `evalpipe run --suite S`


class TriggerError(ValueError):
    """The execution input is neither an S3 ``Object Created`` event nor a run request."""


class DatasetObject(BaseModel):
    """The dropped dataset object, as the S3 event describes it (the run item's ``dataset``)."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    event_time: Annotated[datetime, PlainSerializer(_utc_isoformat, return_type=str)]

    kind: ClassVar[TriggerKind] = TriggerKind.DATASET
    # The run item attribute that holds `as_item()`.
    item_key: ClassVar[str] = "dataset"

    @property
    def suite(self) -> str:
        """The suite the key names, or `UNKNOWN_SUITE` when the key breaks the convention."""
        try:
            return suite_of_key(self.key)
        except DatasetKeyError:
            return UNKNOWN_SUITE

    @property
    def key_problem(self) -> str | None:
        """Why the key does not follow `datasets/<suite>/<name>.jsonl`, or None."""
        try:
            suite_of_key(self.key)
        except DatasetKeyError as exc:
            return str(exc)
        return dataset_file_problem(self.key)

    @property
    def name(self) -> str:
        """File name without the `.jsonl` suffix."""
        return self.key.rsplit("/", 1)[-1].removesuffix(".jsonl")

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def fingerprint(self) -> str:
        identity = f"{self.bucket}/{self.key}#{self.version_id or self.etag or ''}"
        return hashlib.sha256(identity.encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Also the Bedrock job name: `<suite-slug>-<YYYYMMDD-HHMMSS>-<hash8>`."""
        return _run_id(self.suite, self.event_time, self.fingerprint)

    @property
    def client_request_token(self) -> str:
        return self.fingerprint[:64]

    def describe(self) -> str:
        """How notifications name the trigger: ``dataset s3://bucket/key``."""
        return f"dataset {self.s3_uri}"

    def as_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_event(cls, event: dict) -> DatasetObject:
        """Read the object from an EventBridge `Object Created` event (S3 -> EventBridge)."""
        detail = event["detail"]
        obj = detail["object"]
        return cls(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            version_id=obj.get("version-id"),
            etag=obj.get("etag"),
            size=int(obj["size"]) if obj.get("size") is not None else None,
            event_time=datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
        )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DatasetObject:
        return cls.model_validate(item)


class RunRequest(BaseModel):
    """A run that no dataset drop starts: a suite's schedule fired, or ``evalpipe run`` asked for it.

    Only suites that name nothing but built-in datasets (``Builtin.BoolQ``, ...), or that collect their
    dataset from a scenarios file on each run (``pipeline.collect.scenarios``), run this way; the
    validate step rejects a request for a suite that needs a dataset object.

    Identity: a scheduled run is the suite and the *scheduled* time (``<aws.scheduler.scheduled-time>``),
    so the scheduler retrying one invocation (a new execution id, the same scheduled time) claims the
    same run and sends Bedrock the same token. A CLI run is the request's own id (a fresh UUID per
    invocation), so two invocations are two runs even within one second.

    Attributes
    ----------
    suite_name
        The suite as the request names it (`suite` is it when it is a valid suite name).
    requested_by
        `TriggerKind.SCHEDULE` or `TriggerKind.CLI`.
    request_id
        The envelope's ``id``: the scheduler's execution id, or the CLI's UUID.
    request_time
        The envelope's ``time``: the scheduled time, or when ``evalpipe run`` was invoked.
    schedule_arn
        The schedule that fired (scheduled runs).
    bucket
        The product bucket (the deployment's; a request names no object). Set by the validate
        step from the function's settings, for the notification's links.

    Examples
    --------
    >>> event = run_request_event("qa-weekly", TriggerKind.SCHEDULE, request_id="d32c5kddcf5bb8c3",
    ...                           time="2026-03-02T06:00:00Z")
    >>> request = RunRequest.from_event(event)
    >>> request.run_id.startswith("qa-weekly-20260302-060000-"), request.describe()
    (True, 'scheduled run')
    >>> retry = run_request_event("qa-weekly", TriggerKind.SCHEDULE, request_id="e8f1aa0c27d4b911",
    ...                           time="2026-03-02T06:00:00Z")
    >>> RunRequest.from_event(retry).client_request_token == request.client_request_token
    True
    """

    # Stored as the run item's ``request``, under the names docs/design.md gives.
    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
    )

    suite_name: str = Field(alias="suite")
    requested_by: TriggerKind
    request_id: str
    request_time: Annotated[datetime, PlainSerializer(_stamp_iso, return_type=str)] = Field(alias="time")
    schedule_arn: str | None = None
    bucket: str | None = None

    item_key: ClassVar[str] = "request"

    @property
    def kind(self) -> TriggerKind:
        return self.requested_by

    @property
    def suite(self) -> str:
        """The suite the request names, or `UNKNOWN_SUITE` when that is not a suite name."""
        return self.suite_name if SUITE_NAME_PATTERN.match(self.suite_name) else UNKNOWN_SUITE

    @property
    def key_problem(self) -> str | None:
        """Why the request names no valid suite, or None."""
        if SUITE_NAME_PATTERN.match(self.suite_name):
            return None
        return (
            f"the run request names suite {self.suite_name!r}, which must match {SUITE_NAME_PATTERN.pattern}"
        )

    @property
    def fingerprint(self) -> str:
        if self.requested_by is TriggerKind.SCHEDULE:
            identity = f"run-request/schedule/{self.suite_name}@{_stamp_iso(self.request_time)}"
        else:
            identity = f"run-request/{self.requested_by.value}/{self.suite_name}#{self.request_id}"
        return hashlib.sha256(identity.encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Also the Bedrock job name: `<suite-slug>-<YYYYMMDD-HHMMSS>-<hash8>`."""
        return _run_id(self.suite, self.request_time, self.fingerprint)

    @property
    def client_request_token(self) -> str:
        return self.fingerprint[:64]

    def describe(self) -> str:
        """How notifications name the trigger: ``scheduled run`` / ``manual run by evalpipe run``."""
        if self.requested_by is TriggerKind.SCHEDULE:
            return "scheduled run"
        return "manual run by evalpipe run"

    def as_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_event(cls, event: dict, *, bucket: str | None = None) -> RunRequest:
        """Read a ``Run Requested`` event (see `run_request_event`).

        Raises
        ------
        TriggerError
            When ``detail.requestedBy`` is not ``schedule`` or ``cli``, or a field is missing.
        """
        given_detail = event.get("detail")
        detail: dict[str, Any] = given_detail if isinstance(given_detail, dict) else {}
        try:
            requested_by = TriggerKind(str(detail.get("requestedBy")))
        except ValueError:
            requested_by = TriggerKind.DATASET
        if requested_by is TriggerKind.DATASET:
            given = detail.get("requestedBy")
            raise TriggerError(f"run request: detail.requestedBy must be 'schedule' or 'cli', not {given!r}")
        suite, request_id, when = detail.get("suite"), event.get("id"), event.get("time")
        if not isinstance(suite, str) or not isinstance(request_id, str) or not isinstance(when, str):
            raise TriggerError("run request: detail.suite, id and time must be strings")
        schedule_arn = detail.get("scheduleArn")
        return cls(
            suite_name=suite,
            requested_by=requested_by,
            request_id=request_id,
            request_time=parse_time(when),
            schedule_arn=schedule_arn if isinstance(schedule_arn, str) and schedule_arn else None,
            bucket=bucket,
        )

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RunRequest:
        return cls.model_validate(item)


class ScenariosObject(DatasetObject):
    """Dropped scenarios (``scenarios/<suite>/<name>.json``): the pipeline collects the run's dataset.

    Stored like a dataset object (the run item's ``dataset``), with ``trigger`` ``scenarios``.
    """

    kind: ClassVar[TriggerKind] = TriggerKind.SCENARIOS

    @property
    def suite(self) -> str:
        try:
            return suite_of_key(self.key, SCENARIOS_PREFIX)
        except DatasetKeyError:
            return UNKNOWN_SUITE

    @property
    def key_problem(self) -> str | None:
        try:
            suite_of_key(self.key, SCENARIOS_PREFIX)
        except DatasetKeyError as exc:
            return str(exc)
        if self.key.endswith(".json"):
            return None
        return (
            "only .json scenarios files (docs/collect.md) under scenarios/<suite>/ are collected; upload "
            f"it as {self.key.rsplit('/', 1)[0]}/<name>.json"
        )

    @property
    def name(self) -> str:
        """File name without the `.json` suffix."""
        return self.key.rsplit("/", 1)[-1].removesuffix(".json")

    def describe(self) -> str:
        return f"scenarios {self.s3_uri}"


RunTrigger = DatasetObject | RunRequest


def is_run_request(event: object) -> bool:
    """Whether an execution input is a run request (rather than S3's ``Object Created`` event)."""
    return (
        isinstance(event, dict)
        and event.get("source") == RUN_REQUEST_SOURCE
        and event.get("detail-type") == RUN_REQUEST_DETAIL_TYPE
    )


def trigger_from_event(event: dict, *, bucket: str | None = None) -> RunTrigger:
    """The trigger an execution input describes: a run request, else the dropped dataset object.

    Parameters
    ----------
    event
        The execution input (or the whole execution state, which carries its fields).
    bucket
        The product bucket, recorded on a run request (a dataset event names its own).

    Raises
    ------
    TriggerError
        The input is a malformed run request; a malformed S3 event raises KeyError as before.
    """
    if is_run_request(event):
        return RunRequest.from_event(event, bucket=bucket)
    dropped = DatasetObject.from_event(event)
    if dropped.key.startswith(SCENARIOS_PREFIX):
        return ScenariosObject.model_validate(dropped.model_dump())
    return dropped


def trigger_from_run(run: dict) -> RunTrigger | None:
    """The trigger stored on a run item (``dataset`` or ``request``), or None for neither."""
    if isinstance(run.get(RunRequest.item_key), dict):
        return RunRequest.from_item(run[RunRequest.item_key])
    if isinstance(run.get(DatasetObject.item_key), dict):
        if run.get("trigger") == TriggerKind.SCENARIOS.value:
            return ScenariosObject.model_validate(run[DatasetObject.item_key])
        return DatasetObject.from_item(run[DatasetObject.item_key])
    return None


def run_request_event(
    suite: str,
    requested_by: TriggerKind | str,
    *,
    request_id: str,
    time: str,
    schedule_arn: str | None = None,
) -> dict[str, Any]:
    """The ``Run Requested`` envelope that starts an execution without a dataset drop.

    The same shape as the S3 event the other executions start with (``source``, ``detail-type``,
    ``id``, ``time``, ``detail``), so the state machine reads both the same way. A schedule's
    target input is this envelope with EventBridge Scheduler's context attributes as values
    (``evalpipe.steps.sync_schedules``); ``evalpipe run`` fills in a UUID and the current time.

    Parameters
    ----------
    suite
        The suite to run (``suites/<suite>.json``).
    requested_by
        ``schedule`` or ``cli``.
    request_id, time
        The envelope's ``id`` and ``time`` (ISO-8601, e.g. ``2026-03-02T06:00:00Z``).
    schedule_arn
        The schedule (scheduled runs).
    """
    detail: dict[str, Any] = {"suite": suite, "requestedBy": TriggerKind(requested_by).value}
    if schedule_arn:
        detail["scheduleArn"] = schedule_arn
    return {
        "version": "0",
        "id": request_id,
        "detail-type": RUN_REQUEST_DETAIL_TYPE,
        "source": RUN_REQUEST_SOURCE,
        "time": time,
        "detail": detail,
    }


def _run_id(suite: str, when: datetime, fingerprint: str) -> str:
    stamp = when.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    slug = slugify(suite)[:30].strip("-") or "suite"
    return f"{slug}-{stamp}-{fingerprint[:8]}"


def slugify(text: str) -> str:
    """Lower-case, every run of characters outside [a-z0-9] becomes one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def suite_of_key(key: str, prefix: str = DATASET_PREFIX) -> str:
    """`datasets/<suite>/<name>` -> `<suite>`; anything else is a DatasetKeyError.

    The folder decides the suite whatever the file's type: a file that is not `.jsonl` is rejected
    by `dataset_file_problem` (with the suite's notification), not ignored.
    """
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != prefix or not parts[2]:
        what = (
            "datasets must be uploaded as datasets/<suite>/<name>.jsonl"
            if prefix == DATASET_PREFIX
            else f"scenarios must be uploaded as {prefix}<suite>/<name>.json"
        )
        raise DatasetKeyError(f"{key}: {what} (the folder names the suite file suites/<suite>.json)")
    suite = parts[1]
    if not SUITE_NAME_PATTERN.match(suite):
        raise DatasetKeyError(f"{key}: suite name {suite!r} must match {SUITE_NAME_PATTERN.pattern}")
    return suite


# What a file of another type should become (the pipeline evaluates JSON Lines only).
_CONVERSIONS = {
    ".json": "if it holds a JSON array of records, write one object per line instead "
    "(e.g. jq -c '.[]' FILE.json > FILE.jsonl)",
    ".csv": "convert each row to one JSON object per line",
    ".xlsx": "export it as CSV, then write each row as one JSON object per line",
}


def dataset_file_problem(key: str) -> str | None:
    """Why the pipeline does not evaluate the file at ``key`` (not `.jsonl`), with the way to fix it."""
    name = key.rsplit("/", 1)[-1]
    if name.endswith(".jsonl"):
        return None
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    hint = _CONVERSIONS.get(suffix, "save the records as JSON Lines, one JSON object per line")
    return (
        "only .jsonl files (JSON Lines: one JSON object per line) under datasets/<suite>/ are "
        f"evaluated; {hint}, and upload it as {key.rsplit('/', 1)[0]}/<name>.jsonl"
    )


def is_folder_marker(key: str) -> bool:
    """A key ending in ``/``: the S3 console's "Create folder", not a dataset."""
    return key.endswith("/")


def suite_key(suite: str) -> str:
    return f"{SUITE_PREFIX}{suite}.json"


def scenarios_key(suite: str, file_name: str) -> str:
    """``scenarios/<suite>/<file_name>``: where scenarios are dropped, and the file a run request of a
    suite with ``pipeline.collect.scenarios`` collects from."""
    return f"{SCENARIOS_PREFIX}{suite}/{file_name}"


def input_key(suite: str, run_id: str, name: str) -> str:
    """Where a run keeps its copy of the dataset ``name`` (``inputs/<suite>/<run_id>/<name>.jsonl``)."""
    return f"{INPUTS_PREFIX}{suite}/{run_id}/{name}.jsonl"


def collection_prefix(suite: str, run_id: str) -> str:
    """Where a collecting run keeps its scenarios copy and batches: ``inputs/<suite>/<run_id>/collected/``."""
    return f"{INPUTS_PREFIX}{suite}/{run_id}/collected/"


def results_prefix(suite: str, run_id: str) -> str:
    return f"{RESULTS_PREFIX}{suite}/{run_id}/"


def report_key(suite: str, run_id: str) -> str:
    return f"{REPORTS_PREFIX}{suite}/{run_id}.html"
