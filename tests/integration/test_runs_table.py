"""Runs table adapter against moto: claims, updates, history and per-record items."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from evalpipe.aws.runs_table import (
    MAX_ITEM_BYTES,
    RecordTooLarge,
    RunNotFound,
    RunsTable,
    item_size,
    record_item,
)
from evalpipe.aws.wire import plain_client
from evalpipe.history.keys import content_key, key_of_item, record_key
from evalpipe.results import Aggregator, MetricScore, RecordResult
from evalpipe.run.model import ErrorInfo, Run
from evalpipe.run.status import RunStatus, Verdict

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class BelowHalf:
    def is_low(self, score: float) -> bool:
        return score < 0.5

    def badness(self, score: float) -> float:
        return -score

    def describe(self) -> str:
        return "< 0.5"


@pytest.fixture
def runs(dynamodb_table) -> RunsTable:
    return RunsTable(dynamodb_table, clock=lambda: NOW)


def a_run(run_id: str = "support-20250101-000000-abcd1234", suite: str = "support", **extra) -> Run:
    return Run.model_validate(
        {
            "run_id": run_id,
            "suite": suite,
            "created_at": "2025-01-01T00:00:00+00:00",
            "status": RunStatus.VALIDATING,
            "dataset": {
                "bucket": "b",
                "key": f"datasets/{suite}/d.jsonl",
                "version_id": None,
                "etag": None,
                "size": 10,
                "event_time": "2025-01-01T00:00:00+00:00",
            },
            **extra,
        }
    )


def a_record(index: int, explanation: str = "fine", metrics: int = 2) -> RecordResult:
    return RecordResult(
        index=index,
        prompt=f"prompt {index}\nsecond line",
        response="response",
        reference=None,
        category="greeting" if index % 2 else None,
        scores=[
            MetricScore(f"Builtin.M{m}", 0.5 if m else None, explanation, "judge") for m in range(metrics)
        ],
    )


def raw_items(table, run_id: str) -> list[dict]:
    response = table.query(KeyConditionExpression=Key("pk").eq(f"RUN#{run_id}"), ConsistentRead=True)
    return response["Items"]


# -- runs ----------------------------------------------------------------------------------------


def test_claim_twice_second_is_false(runs, dynamodb_table):
    # Given an unclaimed run
    run = a_run()

    # When it is claimed twice (a duplicated S3 event)
    first, second = runs.claim(run), runs.claim(a_run(status="REJECTED"))

    # Then only the first claim wins and the item keeps its keys as the design says
    assert (first, second) == (True, False)
    item = dynamodb_table.get_item(Key={"pk": f"RUN#{run.run_id}", "sk": "RUN"})["Item"]
    assert item["gsi1pk"] == "SUITE#support"
    assert item["gsi1sk"] == f"2025-01-01T00:00:00+00:00#{run.run_id}"
    assert item["status"] == "VALIDATING"


def test_a_claim_stores_only_what_the_run_was_given(runs, dynamodb_table):
    # Given a run built with a few attributes (the model's defaults, such as empty lists, are not given)
    run = a_run(client_token="t" * 64)

    # When it is claimed
    runs.claim(run)

    # Then the item holds exactly those attributes and the keys; nested None is kept as NULL
    item = dynamodb_table.get_item(Key={"pk": f"RUN#{run.run_id}", "sk": "RUN"})["Item"]
    assert set(item) == {
        "pk", "sk", "gsi1pk", "gsi1sk", "run_id", "suite", "created_at", "status", "dataset", "client_token",
    }  # fmt: skip
    assert item["dataset"]["version_id"] is None
    assert isinstance(item["dataset"]["size"], Decimal)


def test_get_reads_the_run_back_typed(runs):
    # Given a claimed run with nested numbers, a None inside a map and an attribute this version
    # does not know (written by a newer one)
    runs.claim(a_run(deadline=datetime(2025, 1, 2, tzinfo=UTC), ratio=0.25))

    # When it is read back
    run = runs.get("support-20250101-000000-abcd1234")

    # Then attributes are typed, nested None kept, and the unknown attribute survives
    assert run is not None
    assert run.dataset is not None and run.dataset.version_id is None and run.dataset.size == 10
    assert run.deadline == datetime(2025, 1, 2, tzinfo=UTC)
    assert run.model_extra == {"ratio": 0.25}
    assert run.to_item()["ratio"] == 0.25
    assert runs.get("never-claimed") is None
    with pytest.raises(RunNotFound, match="never-claimed"):
        runs.load("never-claimed")


def test_save_writes_exactly_what_changed_removes_none_and_stamps(runs, dynamodb_table):
    # Given a claimed run with problems, read by one step while another writes its estimate
    runs.claim(a_run(problems=[{"severity": "error", "file": "f", "message": "m"}]))
    run = runs.load("support-20250101-000000-abcd1234")
    other = runs.load(run.run_id)
    other.estimate = {"total_usd": 1.5}
    runs.save(other)

    # When the first step sets fields (enum, nested model) and clears one
    run.status = RunStatus.SUBMITTED
    run.verdict = Verdict.PASSED
    run.error = ErrorInfo(type="T", message="m")
    run.problems = []
    run.problem_count = None
    saved = runs.save(run)

    # Then they are written, the None one removed, updated_at stamped, and the other step's
    # attribute is not overwritten by this step's stale copy
    assert saved.status is RunStatus.SUBMITTED and saved.verdict is Verdict.PASSED
    assert saved.error == ErrorInfo(type="T", message="m")
    assert saved.problems == [] and "problem_count" not in saved.to_item()
    assert saved.updated_at == NOW
    assert saved.estimate == {"total_usd": 1.5}
    assert runs.get(run.run_id) == saved
    item = dynamodb_table.get_item(Key={"pk": f"RUN#{run.run_id}", "sk": "RUN"})["Item"]
    assert item["status"] == "SUBMITTED" and item["updated_at"] == "2025-01-02T03:04:05+00:00"
    # And a second save without changes writes only the stamp
    assert run.changes() == {}


def test_save_refuses_nan_and_unknown_runs(runs):
    # Given a claimed run
    runs.claim(a_run())
    run = runs.load("support-20250101-000000-abcd1234")

    # When saved with a NaN (nested), or for a run never claimed
    # Then each is refused, and no partial run item is created
    run.categories = {"c": {"m": float("nan")}}
    with pytest.raises(ValueError, match="nan"):
        runs.save(run)
    ghost = a_run("ghost")
    ghost.status = RunStatus.ERROR
    with pytest.raises(RunNotFound, match="ghost"):
        runs.save(ghost)
    assert runs.get("ghost") is None


def test_history_newest_first(runs):
    # Given three runs of suite "a" and one of suite "b", claimed out of order
    runs.claim(a_run("a-2", "a", created_at="2025-01-02T00:00:00+00:00"))
    runs.claim(a_run("b-1", "b", created_at="2025-01-05T00:00:00+00:00"))
    runs.claim(a_run("a-3", "a", created_at="2025-01-03T00:00:00+00:00"))
    runs.claim(a_run("a-1", "a", created_at="2025-01-01T00:00:00+00:00"))

    # When each suite's history is queried
    # Then only its own runs come back, newest first, and the limit applies
    assert [r.run_id for r in runs.history("a")] == ["a-3", "a-2", "a-1"]
    assert [r.run_id for r in runs.history("a", limit=2)] == ["a-3", "a-2"]
    assert [r.run_id for r in runs.history("b")] == ["b-1"]
    assert runs.history("none") == []


def test_a_summary_recorded_on_the_run_is_stored(runs):
    # Given a claimed run and the summary of two records, one of them low
    runs.claim(a_run())
    run = runs.load("support-20250101-000000-abcd1234")
    agg = Aggregator(lambda metric: BelowHalf())
    agg.add(RecordResult(0, "p0", "r", None, "c", [MetricScore("Builtin.X", 0.25, "bad", "j")]))
    agg.add(RecordResult(1, "p1", "r", None, None, [MetricScore("Builtin.X", None, "n/a", "j")]))
    summary = agg.summary()

    # When it is recorded on the run with the final status and saved
    summary.record_on(run)
    run.status = RunStatus.COMPLETED
    stored = runs.save(run)

    # Then the run holds the aggregate and reads back as the summary
    assert stored.verdict is Verdict.LOW_SCORES and stored.status is RunStatus.COMPLETED
    assert stored.record_count == 2
    assert stored.metrics["Builtin.X"].na == 1
    assert stored.categories == {"c": {"Builtin.X": 0.25}, "uncategorized": {"Builtin.X": None}}
    assert stored.low_records[0].prompt_excerpt == "p0"
    assert (stored.metrics, stored.low_records) == (summary.metrics, summary.low_records)
    assert "datasets" not in stored.to_item()  # one dataset: its averages are the metrics'


# -- records -------------------------------------------------------------------------------------


def test_put_records_twice_is_idempotent(runs, dynamodb_table):
    # Given 30 parsed records
    run_id = "r1"
    records = [a_record(i) for i in range(30)]

    # When they are written, then written again (a re-parse of the same job)
    first = runs.put_records(run_id, records)
    items_after_first = raw_items(dynamodb_table, run_id)
    second = runs.put_records(run_id, records)
    items_after_second = raw_items(dynamodb_table, run_id)

    # Then both writes report 30 and the table holds the same 30 items, no duplicates
    assert first == second == 30
    assert len(items_after_second) == 30
    assert items_after_second == items_after_first


def test_record_item_attributes(runs, dynamodb_table):
    # Given a record with a long prompt, a long explanation and an N/A score
    rec = RecordResult(
        index=7,
        prompt="p" * 1000,
        response="r" * 1000,
        reference="ref",
        category=None,
        scores=[MetricScore("Builtin.A", 0.1, "e" * 5000, "j"), MetricScore("custom", None, None, None)],
    )

    # When it is written
    runs.put_records("r1", [rec])

    # Then the item follows the design: keys, trimmed texts, Decimal scores, None = N/A
    (item,) = raw_items(dynamodb_table, "r1")
    assert item["sk"] == "REC#00007"
    assert item["index"] == 7
    assert item["category"] == "uncategorized"
    assert item["prompt_hash"] == rec.prompt_hash
    assert len(item["prompt_excerpt"]) == 300
    assert len(item["response_excerpt"]) == 300
    assert item["scores"]["Builtin.A"]["score"] == Decimal("0.1")
    assert len(item["scores"]["Builtin.A"]["explanation"]) == 1000
    assert item["scores"]["custom"] == {"score": None, "explanation": None}
    assert item["record_key"] == record_key(rec.prompt, "uncategorized")
    assert set(item) == {
        "pk", "sk", "index", "category", "prompt_hash", "record_key",
        "prompt_excerpt", "response_excerpt", "scores",
    }  # fmt: skip


def test_iter_records_in_index_order_across_pages(runs, dynamodb_table):
    # Given 300 records of ~4 KB (1.2 MB: more than one 1 MB query page), written in reverse
    # order, plus the run item itself under the same partition key
    runs.claim(a_run("r2"))
    runs.put_records("r2", (a_record(i, explanation="x" * 1000, metrics=4) for i in reversed(range(300))))
    calls: list[int] = []
    dynamodb_table.meta.client.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append(1))

    # When they are read back
    items = list(runs.iter_records("r2"))

    # Then every page was followed and the records come in index order, typed
    assert len(calls) >= 2
    assert [i.index for i in items] == list(range(300))
    assert "pk" not in (items[0].model_extra or {})
    assert items[1].category == "greeting"
    assert items[0].scores["Builtin.M1"].score == 0.5


def test_iter_record_scores_reads_what_a_score_table_keeps_without_texts(runs, dynamodb_table):
    # Given 300 records of ~4 KB (more than one 1 MB page), and one stored before record keys
    # existed (a prompt hash only), under the same run
    runs.claim(a_run("r4"))
    runs.put_records("r4", (a_record(i, explanation="x" * 1000, metrics=4) for i in range(300)))
    dynamodb_table.put_item(
        Item={"pk": "RUN#r4", "sk": "REC#00300", "index": 300, "category": "old", "prompt_hash": "ab" * 16,
              "scores": {"Builtin.M1": {"score": Decimal("0.25"), "explanation": "kept"}}}
    )  # fmt: skip
    client = plain_client(dynamodb_table)
    calls: list[dict] = []
    client.meta.events.register(
        "before-parameter-build.dynamodb.Query", lambda params, **_: calls.append(params)
    )
    # When the scores are read
    scores = list(RunsTable(dynamodb_table, client=client).iter_record_scores("r4"))
    # Then every page was followed, in index order, and each record has its key, category and
    # scores (N/A as None), exactly what the typed items say
    assert len(calls) >= 2 and [s["index"] for s in scores] == list(range(301))
    for score, item in zip(scores, runs.iter_records("r4"), strict=True):
        assert score == {
            "index": item.index,
            "record_key": key_of_item(item),
            "category": item.category,
            "scores": {metric: {"score": entry.score} for metric, entry in item.scores.items()},
        }
    assert scores[0]["scores"]["Builtin.M0"] == {"score": None}
    assert scores[300]["record_key"] == content_key("ab" * 16, "old")
    # And the query projected the texts away (the excerpts are not among its attributes)
    assert set(calls[0]["ExpressionAttributeNames"].values()) == {
        "index", "record_key", "prompt_hash", "category", "scores"
    }  # fmt: skip
    assert calls[0]["ProjectionExpression"] == "#index, #key, #hash, #category, #scores"


def test_iter_record_scores_refuses_a_score_that_is_not_a_number(runs, dynamodb_table):
    # Given a record item whose score is text (never written by put_records; a hand-edited item)
    dynamodb_table.put_item(
        Item={"pk": "RUN#r6", "sk": "REC#00000", "index": 0, "record_key": "k",
              "scores": {"Builtin.M1": {"score": "0.5"}}}
    )  # fmt: skip
    # When the scores are read, then the read fails naming the record and the metric, not guessed
    with pytest.raises(ValueError, match=r"record 0: metric Builtin\.M1: a score that is not a number"):
        list(runs.iter_record_scores("r6"))


def test_iter_record_scores_raises_the_services_error(runs, dynamodb_table):
    # Given the table gone (a wrong name in the function's environment)
    dynamodb_table.delete()
    # When the scores are read, then DynamoDB's error comes through as botocore parses it
    with pytest.raises(ClientError) as raised:
        list(runs.iter_record_scores("r5"))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_delete_records_from_shortens_a_reparse(runs, dynamodb_table):
    # Given 10 records stored, and a re-parse that found only 6
    runs.claim(a_run("r3"))
    runs.put_records("r3", [a_record(i) for i in range(10)])

    # When the records from index 6 on are deleted
    deleted = runs.delete_records_from("r3", 6)

    # Then 4 items are gone, the first 6 and the run item remain
    assert deleted == 4
    assert [i.index for i in runs.iter_records("r3")] == list(range(6))
    assert runs.get("r3") is not None


def test_size_guard_shrinks_huge_explanations(runs, dynamodb_table):
    # Given a record with 200 metrics whose explanations are 4-byte characters (~800 KB trimmed)
    rec = RecordResult(
        index=0,
        prompt="p",
        response="r",
        reference=None,
        category="c",
        scores=[MetricScore(f"metric_{m}", 0.5, "😀" * 5000, "j") for m in range(200)],
    )

    # When it is written
    runs.put_records("r4", [rec])

    # Then the stored item stays under the guard, explanations shortened but present
    (item,) = raw_items(dynamodb_table, "r4")
    assert item_size(item) < MAX_ITEM_BYTES
    explanation = item["scores"]["metric_0"]["explanation"]
    assert 0 < len(explanation) < 1000
    assert explanation.endswith("…")


def test_size_guard_gives_up_clearly_when_scores_alone_are_too_large():
    # Given a record whose metric names alone exceed the guard
    rec = RecordResult(
        0, "p", None, None, None, [MetricScore(f"{m:04d}" + "n" * 400, 1.0, None, None) for m in range(1000)]
    )

    # When its item is built
    # Then a clear error is raised instead of a failing batch write
    with pytest.raises(RecordTooLarge, match="record 0 of run r5"):
        record_item("r5", rec)


def test_record_index_bounds():
    # Given records outside the five-digit sort key range
    # When their items are built
    # Then they are refused (REC#<index:05d> would no longer sort by index)
    with pytest.raises(ValueError, match="outside"):
        record_item("r", a_record(100_000))
    with pytest.raises(ValueError, match="outside"):
        record_item("r", a_record(-1))


def test_get_records_reads_only_the_asked_indices_in_batches_of_100(runs, dynamodb_table):
    # Given 250 records stored
    runs.claim(a_run("r5"))
    runs.put_records("r5", [a_record(i) for i in range(250)])
    calls: list[int] = []

    def count(params, **_):
        calls.append(len(params["RequestItems"][dynamodb_table.name]["Keys"]))

    dynamodb_table.meta.client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", count)

    # When 205 of them are asked for, plus two indices no record has
    wanted = set(range(0, 205)) | {400, 401}
    found = runs.get_records("r5", wanted)

    # Then exactly the stored ones come back, typed, in three BatchGetItem calls of at most 100 keys
    assert set(found) == set(range(205))
    assert found[3].index == 3 and found[3].prompt_excerpt
    assert calls == [100, 100, 7]
    assert runs.get_records("r5", []) == {}
