"""Run identity for both triggers: a dropped dataset object and a run request (schedule / CLI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evalpipe.run.triggers import (
    JOB_NAME_PATTERN,
    UNKNOWN_SUITE,
    DatasetObject,
    RunRequest,
    TriggerError,
    TriggerKind,
    is_run_request,
    run_request_event,
    trigger_from_event,
    trigger_from_run,
)

SCHEDULED_AT = "2026-03-02T06:00:00Z"


def _scheduled(execution_id: str = "d32c5kddcf5bb8c3", time: str = SCHEDULED_AT) -> dict:
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/evalpipe/qa-weekly"
    return run_request_event(
        "qa-weekly", TriggerKind.SCHEDULE, request_id=execution_id, time=time, schedule_arn=arn
    )


def _s3_event() -> dict:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": "2026-03-02T06:00:00Z",
        "detail": {
            "bucket": {"name": "b"},
            "object": {"key": "datasets/support/a.jsonl", "version-id": "v1", "etag": "e", "size": 3},
        },
    }


def test_a_scheduler_retry_of_one_scheduled_time_is_the_same_run_and_token() -> None:
    # Given two deliveries of one scheduled time (the scheduler's retry has a new execution id)
    first = RunRequest.from_event(_scheduled("d32c5kddcf5bb8c3"))
    retry = RunRequest.from_event(_scheduled("a17bc0fe99d2e401"))

    # Then both claim the same run and send Bedrock the same idempotency token
    assert first.run_id == retry.run_id
    assert first.client_request_token == retry.client_request_token
    # And the run id has the form of every run: <slug>-<YYYYMMDD-HHMMSS>-<hash8>, a valid job name
    assert first.run_id.startswith("qa-weekly-20260302-060000-")
    assert JOB_NAME_PATTERN.match(first.run_id)


def test_the_next_scheduled_time_is_another_run() -> None:
    # Given the same schedule firing a week later
    this_week = RunRequest.from_event(_scheduled())
    next_week = RunRequest.from_event(_scheduled(time="2026-03-09T06:00:00Z"))

    # Then it is a new run with a new token
    assert this_week.run_id != next_week.run_id
    assert this_week.client_request_token != next_week.client_request_token


def test_two_cli_invocations_in_the_same_second_are_two_runs() -> None:
    # Given two `evalpipe run` requests at the same time, each with its own UUID
    one = run_request_event("qa-weekly", "cli", request_id="6a7e8feb-b491-4cf7", time=SCHEDULED_AT)
    two = run_request_event("qa-weekly", "cli", request_id="0f2c1d3e-aa41-49b2", time=SCHEDULED_AT)

    # Then they are two runs with two tokens
    first, second = RunRequest.from_event(one), RunRequest.from_event(two)
    assert first.run_id != second.run_id
    assert first.client_request_token != second.client_request_token
    assert first.describe() == "manual run by evalpipe run"


def test_a_cli_request_and_a_scheduled_one_at_the_same_time_differ() -> None:
    # Given a CLI request whose id equals a scheduler execution id, at the same time
    cli = RunRequest.from_event(run_request_event("qa-weekly", "cli", request_id="x1", time=SCHEDULED_AT))
    scheduled = RunRequest.from_event(_scheduled("x1"))

    # Then they are different runs
    assert cli.run_id != scheduled.run_id


def test_the_execution_input_is_read_as_its_trigger() -> None:
    # Given a run request and an S3 event
    # When read, then each becomes its kind of trigger
    assert is_run_request(_scheduled()) and not is_run_request(_s3_event())
    request = trigger_from_event(_scheduled(), bucket="product-bucket")
    dataset = trigger_from_event(_s3_event())
    assert isinstance(request, RunRequest) and request.kind is TriggerKind.SCHEDULE
    assert request.bucket == "product-bucket"
    assert isinstance(dataset, DatasetObject) and dataset.kind is TriggerKind.DATASET
    assert dataset.describe() == "dataset s3://b/datasets/support/a.jsonl"


def test_the_run_item_keeps_the_trigger_it_was_claimed_with() -> None:
    # Given a run request stored as the validate step stores it
    request = RunRequest.from_event(_scheduled(), bucket="product-bucket")
    run = {"run_id": request.run_id, request.item_key: request.as_item()}

    # When read back, then it is the same request (same identity)
    again = trigger_from_run(run)
    assert again == request
    assert again.as_item()["time"] == SCHEDULED_AT
    assert trigger_from_run({"run_id": "x"}) is None


def test_a_request_for_a_malformed_suite_name_is_kept_under_the_unknown_suite() -> None:
    # Given a request naming a path instead of a suite
    request = RunRequest.from_event(run_request_event("../etc", "cli", request_id="u", time=SCHEDULED_AT))

    # Then the run is recorded under the unknown suite and says why
    assert request.suite == UNKNOWN_SUITE
    assert "must match" in (request.key_problem or "")
    assert JOB_NAME_PATTERN.match(request.run_id)


@pytest.mark.parametrize(
    "detail",
    [
        {"suite": "s", "requestedBy": "dataset"},
        {"suite": "s", "requestedBy": "someone"},
        {"requestedBy": "cli"},
    ],
)
def test_a_malformed_run_request_is_refused(detail: dict) -> None:
    # Given a run request envelope with a bad detail
    event = {**_scheduled(), "detail": detail}
    # When read / Then it is a TriggerError naming the field
    with pytest.raises(TriggerError, match="run request"):
        RunRequest.from_event(event)


def test_a_time_without_a_zone_is_utc() -> None:
    # Given a request time without a zone
    request = RunRequest.from_event(run_request_event("s", "cli", request_id="u", time="2026-03-02T06:00:00"))
    # Then it is read as UTC
    assert request.request_time == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
