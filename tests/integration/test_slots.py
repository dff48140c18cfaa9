"""The account's job pools (a DynamoDB counting semaphore) against moto, and a run's shard entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evalpipe.aws.runs_table import RunsTable
from evalpipe.aws.slots import AUTOMATED_POOL, HUMAN_POOL, Slots
from evalpipe.run.model import Run, Shard, ShardStatus

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def slots(dynamodb_table) -> Slots:
    return Slots(dynamodb_table, lambda: NOW)


def test_a_pool_hands_out_at_most_its_size_and_a_released_slot_is_free_again(slots):
    # Given a pool of 2 / When three holders ask
    taken = [slots.acquire(AUTOMATED_POOL, f"run-{n}#1", 2) for n in range(3)]
    # Then two hold a slot, the third waits
    assert taken == [True, True, False]
    assert sorted(slots.holders(AUTOMATED_POOL)) == ["run-0#1", "run-1#1"]
    # When one gives its slot back / Then the third gets it; releasing twice frees nothing more
    assert slots.release(AUTOMATED_POOL, "run-0#1") is True
    assert slots.release(AUTOMATED_POOL, "run-0#1") is False
    assert slots.acquire(AUTOMATED_POOL, "run-2#1", 2) is True
    assert slots.acquire(AUTOMATED_POOL, "run-3#1", 2) is False


def test_acquiring_again_is_idempotent_and_pools_are_apart(slots):
    # Given a holder with its slot / When its (retried) call asks again / Then it still holds one slot
    assert slots.acquire(AUTOMATED_POOL, "run-a#1", 1) is True
    assert slots.acquire(AUTOMATED_POOL, "run-a#1", 1) is True
    assert list(slots.holders(AUTOMATED_POOL)) == ["run-a#1"]
    # And the human pool is counted apart
    assert slots.acquire(HUMAN_POOL, "run-b#1", 1) is True
    assert slots.acquire(AUTOMATED_POOL, "run-b#1", 1) is False


def test_release_run_gives_back_every_slot_of_the_run_and_no_other(slots):
    for holder in ("run-a#1", "run-a#2", "run-ab#1"):
        assert slots.acquire(AUTOMATED_POOL, holder, 10)
    assert slots.acquire(HUMAN_POOL, "run-a#3", 10)
    # When the run "run-a" ends abnormally / Then its three slots are free; "run-ab" keeps its own
    assert slots.release_run("run-a") == 3
    assert list(slots.holders(AUTOMATED_POOL)) == ["run-ab#1"]
    assert slots.holders(HUMAN_POOL) == {}


def test_shards_of_one_run_are_written_one_entry_at_a_time(dynamodb_table):
    # Given a run of three shards
    runs = RunsTable(dynamodb_table, clock=lambda: NOW)
    run = Run.model_validate(
        {
            "run_id": "support-20261203-120000-abcd1234",
            "suite": "support",
            "created_at": NOW.isoformat(),
            "status": "VALIDATING",
        }
    )
    run.shards = {
        s.key: s
        for s in (
            Shard(run_id=run.run_id, number=n, first_line=n * 10 - 9, last_line=n * 10) for n in (1, 2, 3)
        )
    }
    assert runs.claim(run)
    # When two parallel branches each record their own shard
    first, third = run.shard(1), run.shard(3)
    first.status, third.status = ShardStatus.COMPLETED, ShardStatus.FAILED
    runs.save_shard(run.run_id, first)
    runs.save_shard(run.run_id, third)
    # Then both are kept and the untouched one is as planned
    stored = runs.load(run.run_id)
    assert [s.status for s in stored.all_shards()] == ["COMPLETED", "PLANNED", "FAILED"]
    assert stored.shard(3).lines == "lines 21-30"


def test_job_names_tokens_and_prefixes_of_shards_stay_unique_and_within_the_api():
    run_id = "a" * 30 + "-20261203-120000-abcd1234"  # the longest run id: 55 characters
    one = Shard(run_id=run_id, number=1, attempt=1)
    assert one.job_name_for(sharded=False) == run_id
    assert one.client_token("t" * 64, sharded=False) == "t" * 64
    assert one.results_prefix("results/s/r/", sharded=False) == "results/s/r/"
    names, tokens, prefixes = set(), set(), set()
    for number in (1, 2, 99):
        for attempt in (1, 2):
            shard = Shard(run_id=run_id, number=number, attempt=attempt)
            names.add(shard.job_name_for(sharded=True))
            tokens.add(shard.client_token("t" * 64, sharded=True))
            prefixes.add(shard.results_prefix("results/s/r/", sharded=True))
    assert len(names) == len(tokens) == len(prefixes) == 6
    assert max(len(name) for name in names) <= 63
    assert "a" * 30 + "-20261203-120000-abcd1234-s99-r2" in names
    # a prefix never lists another attempt's files
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)
