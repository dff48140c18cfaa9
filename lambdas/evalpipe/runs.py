"""Run identity and lifecycle: statuses, verdicts and the names derived from a dataset object.

Every name is derived from the object (bucket, key, version) and the S3 event time, so a
re-delivered event yields the same run id, job name and idempotency token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

SUITE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
JOB_NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
DATASET_PREFIX = "datasets/"
SUITE_PREFIX = "suites/"
RESULTS_PREFIX = "results/"
REPORTS_PREFIX = "reports/"
# Runs of objects whose key names no suite are recorded (and rejected) under this suite.
UNKNOWN_SUITE = "unknown-suite"


class RunStatus(StrEnum):
    VALIDATING = "VALIDATING"
    REJECTED = "REJECTED"
    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    ERROR = "ERROR"


class Verdict(StrEnum):
    PASSED = "PASSED"
    LOW_SCORES = "LOW_SCORES"
    REGRESSED = "REGRESSED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    ERROR = "ERROR"


SEVERITY: dict[Verdict, str] = {
    Verdict.PASSED: "info",
    Verdict.LOW_SCORES: "warning",
    Verdict.REGRESSED: "warning",
    Verdict.STOPPED: "warning",
    Verdict.FAILED: "error",
    Verdict.TIMED_OUT: "error",
    Verdict.REJECTED: "error",
    Verdict.ERROR: "error",
}


class DatasetKeyError(ValueError):
    """The object key does not follow `datasets/<suite>/<name>.jsonl`."""


@dataclass(frozen=True)
class DatasetObject:
    """The dropped dataset object, as the S3 event describes it."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    event_time: datetime

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
        return None

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
        stamp = self.event_time.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        slug = slugify(self.suite)[:30].strip("-") or "suite"
        return f"{slug}-{stamp}-{self.fingerprint[:8]}"

    @property
    def client_request_token(self) -> str:
        return self.fingerprint[:64]

    def as_item(self) -> dict:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "event_time": self.event_time.astimezone(UTC).isoformat(),
        }

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
    def from_item(cls, item: dict) -> DatasetObject:
        return cls(
            bucket=item["bucket"],
            key=item["key"],
            version_id=item.get("version_id"),
            etag=item.get("etag"),
            size=int(item["size"]) if item.get("size") is not None else None,
            event_time=datetime.fromisoformat(item["event_time"]),
        )


def slugify(text: str) -> str:
    """Lower-case, every run of characters outside [a-z0-9] becomes one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def suite_of_key(key: str) -> str:
    """`datasets/<suite>/<name>.jsonl` -> `<suite>`; anything else is a DatasetKeyError."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != DATASET_PREFIX or not parts[2].endswith(".jsonl"):
        raise DatasetKeyError(
            f"{key}: datasets must be uploaded as datasets/<suite>/<name>.jsonl "
            "(the folder names the suite file suites/<suite>.json)"
        )
    suite = parts[1]
    if not SUITE_NAME_PATTERN.match(suite):
        raise DatasetKeyError(f"{key}: suite name {suite!r} must match {SUITE_NAME_PATTERN.pattern}")
    return suite


def suite_key(suite: str) -> str:
    return f"{SUITE_PREFIX}{suite}.json"


def results_prefix(suite: str, run_id: str) -> str:
    return f"{RESULTS_PREFIX}{suite}/{run_id}/"


def report_key(suite: str, run_id: str) -> str:
    return f"{REPORTS_PREFIX}{suite}/{run_id}.html"


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds")
