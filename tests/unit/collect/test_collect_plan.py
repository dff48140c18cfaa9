"""`evalpipe.collect.plan`: a run's collection read, planned in batches and assembled, offline (an
in-memory bucket in place of `evalpipe.aws.objects.Objects`)."""

from __future__ import annotations

import doctest
import json
from typing import Any

from evalpipe.aws.objects import ObjectTooLarge
from evalpipe.collect import plan as plan_module
from evalpipe.collect.plan import (
    assemble,
    batch_of,
    failure_warnings,
    nothing_collected,
    plan,
    read_scenarios,
)
from evalpipe.collect.scenarios import MAX_SCENARIOS_BYTES
from evalpipe.run.model import StoredObject
from evalpipe.validation import Severity

KEY = "scenarios/smoke/chat.json"
COPY = StoredObject(bucket="b", key="inputs/smoke/r/collected/chat.scenarios.json", version_id="v1")


class Bucket:
    """The two reads the plan makes, from a dict of key -> bytes (``max_bytes`` enforced)."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.reads: list[tuple[str, str | None]] = []

    def read_bytes(self, key: str, version_id: str | None = None, max_bytes: int = 1_000_000) -> bytes:
        self.reads.append((key, version_id))
        data = self.objects[key]
        if len(data) > max_bytes:
            raise ObjectTooLarge(key)
        return data


def scenarios_file(count: int) -> bytes:
    items = [{"id": f"s{n}", "category": "c", "turns": [f"question {n}"]} for n in range(1, count + 1)]
    return json.dumps({"scenarios": items}).encode()


def jsonl(*entries: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(entry).encode() + b"\n" for entry in entries)


def test_the_copy_is_read_at_its_version_and_planned_in_batches() -> None:
    # Given seven scenarios in the run's copy
    bucket = Bucket({COPY.key: scenarios_file(7)})
    # When read and planned in batches of three
    found, problems = read_scenarios(bucket, COPY, KEY)  # type: ignore[arg-type]
    collection = plan(
        len(found), 3, input_key=COPY.key, prefix="inputs/smoke/r/collected/", dataset_name="chat"
    )
    # Then the copy's version was read, and three batches cover the file in order (the last shorter)
    assert problems == [] and bucket.reads == [(COPY.key, "v1")]
    assert (collection.scenarios, collection.batches) == (7, 3)
    assert [[s.id for s in batch_of(found, collection, n)] for n in (1, 2, 3)] == [
        ["s1", "s2", "s3"],
        ["s4", "s5", "s6"],
        ["s7"],
    ]


def test_problems_of_the_file_name_the_users_key_and_the_field() -> None:
    # Given a scenario without turns, and a file too large to read
    bad = json.dumps({"scenarios": [{"id": "s1", "category": "c", "turns": []}]}).encode()
    huge = b" " * (MAX_SCENARIOS_BYTES + 1)
    # When read / Then each is an error on the key the user dropped (not the run's copy)
    _, [problem] = read_scenarios(Bucket({COPY.key: bad}), COPY, KEY)  # type: ignore[arg-type]
    assert (problem.severity, problem.file, problem.field) == (Severity.ERROR, KEY, "scenarios[0].turns")
    _, [too_large] = read_scenarios(Bucket({COPY.key: huge}), COPY, KEY)  # type: ignore[arg-type]
    assert too_large.message == f"scenarios file is larger than {MAX_SCENARIOS_BYTES} bytes"


def test_batches_are_joined_in_order_and_failures_read_from_their_metadata() -> None:
    # Given two collected batches, one scenario of the second failed
    collection = plan(3, 2, input_key=COPY.key, prefix="p/", dataset_name="chat")
    bucket = Bucket(
        {
            "p/batch-0001.jsonl": jsonl({"id": "s1"}, {"id": "s2"}),
            "p/batch-0001.meta.jsonl": jsonl(
                {"id": "s1", "status": "collected"}, {"id": "s2", "status": "collected"}
            ),
            "p/batch-0002.jsonl": b"",
            "p/batch-0002.meta.jsonl": jsonl(
                {"id": "s3", "scenarioId": "s3", "status": "failed", "error": "boom"}
            ),
        }
    )
    # When assembled and recorded
    assembled = assemble(collection, bucket)  # type: ignore[arg-type]
    recorded = assembled.recorded_on(collection, listed=20)
    # Then the records keep the scenarios' order, and the failure is counted and named
    assert [json.loads(line)["id"] for line in assembled.data.splitlines()] == ["s1", "s2"]
    assert (recorded.collected, recorded.records, recorded.failed) == (2, 2, 1)
    assert [(f.scenario_id, f.error) for f in recorded.failures] == [("s3", "boom")]
    [warning] = failure_warnings(assembled.failures, KEY)
    assert (warning.severity, warning.file) == (Severity.WARNING, KEY)
    assert warning.message == "scenario s3 was not collected: boom"


def test_nothing_collected_lists_the_first_failures_and_counts_the_rest() -> None:
    collection = plan(3, 3, input_key=COPY.key, prefix="p/", dataset_name="chat")
    failed = [{"scenarioId": f"s{n}", "status": "failed", "error": "HTTP 401"} for n in (1, 2, 3)]
    bucket = Bucket({"p/batch-0001.jsonl": b"", "p/batch-0001.meta.jsonl": jsonl(*failed)})
    assembled = assemble(collection, bucket)  # type: ignore[arg-type]
    problem = nothing_collected(assembled.failures, KEY, listed=2)
    assert assembled.records == 0
    assert problem.severity is Severity.ERROR
    assert "(failed: s1, s2 and 1 more); the warnings say why" in problem.message


def test_the_examples_in_the_docstrings_hold() -> None:
    assert doctest.testmod(plan_module).failed == 0
