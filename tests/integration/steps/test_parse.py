"""The parse step and handler against moto: the job's output read into records, a summary and
per-suite metrics."""

from __future__ import annotations

import sqlite3

import pytest
from botocore.stub import Stubber

from evalpipe import scratch
from evalpipe.notification import build_notification
from evalpipe.steps import parse as parse_step
from evalpipe.steps.parse import NoResultsError, parse
from handlers import _runtime
from handlers import parse as parse_handler
from handlers import poll as poll_handler
from handlers import submit as submit_handler
from handlers import validate as validate_handler
from tests.integration.steps.flow import (
    JOB_ARN,
    RECORDS,
    FakeContext,
    completed,
    emf_documents,
    get_job_response,
    metric_points,
    output_line,
    submitted,
    write_outputs,
)

# --- the step --------------------------------------------------------------------------------


def test_parse_stores_records_and_a_summary_and_is_idempotent(ports, bedrock, bucket, dropped, put):
    # Given a completed job whose output lacks the categories and has N/A scores
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(
        put,
        run_id,
        [
            output_line(
                RECORDS[0],
                {"Builtin.Helpfulness": 1.0, "Builtin.Correctness": 1.0, "confirmation_check": None},
                False,
            ),
            output_line(
                RECORDS[1],
                {"Builtin.Helpfulness": 0.5, "Builtin.Correctness": None, "confirmation_check": 0.0},
                False,
            ),
            output_line(
                RECORDS[2],
                {"Builtin.Helpfulness": 0.25, "Builtin.Correctness": None, "confirmation_check": None},
                False,
            ),
        ],
    )
    completed(ports, bedrock, run_id)
    # When parsed twice
    first = parse(run_id, ports)
    items_after_first = list(ports.runs.iter_records(run_id))
    second = parse(run_id, ports)
    # Then N/A is excluded from averages, categories are joined back, and nothing is duplicated
    assert (first.record_count, first.verdict) == (second.record_count, second.verdict) == (3, "LOW_SCORES")
    assert list(ports.runs.iter_records(run_id)) == items_after_first
    run = ports.runs.get(run_id)
    assert run.status == "COMPLETED"
    helpfulness = run.metrics["Builtin.Helpfulness"]
    assert helpfulness.average == pytest.approx((1.0 + 0.5 + 0.25) / 3)
    correctness = run.metrics["Builtin.Correctness"]
    assert (correctness.average, correctness.scored, correctness.na) == (1.0, 1, 2)
    assert run.metrics["confirmation_check"].low_count == 1  # 0.0 is "at or below 0"
    assert run.categories["orders"]["Builtin.Helpfulness"] == pytest.approx(0.75)
    assert run.categories["greeting"]["Builtin.Helpfulness"] == pytest.approx(0.25)
    assert [r.category for r in items_after_first] == ["orders", "orders", "greeting"]
    lows = {(r.metric, r.index) for r in run.low_records}
    assert lows == {("Builtin.Helpfulness", 2), ("confirmation_check", 1)}


@pytest.mark.parametrize("review_fails", [False, True])
def test_a_parse_leaves_no_scratch_database_behind(
    ports, bedrock, bucket, dropped, put, monkeypatch, review_fails
):
    # Given a completed job, and a review that fails (or not) once the scores are on disk
    run_id = submitted(ports, bedrock, bucket, dropped())
    write_outputs(put, run_id, [output_line(r, {"Builtin.Helpfulness": 1.0}, False) for r in RECORDS])
    completed(ports, bedrock, run_id)
    outside = scratch.connection()
    tables_before = set(outside.execute("SELECT name FROM sqlite_master"))
    used: list[sqlite3.Connection] = []
    review = parse_step.review

    def watched(run, suite, ports, records):
        used.append(records.db)
        if review_fails:
            raise RuntimeError("the report could not be written")
        return review(run, suite, ports, records=records)

    monkeypatch.setattr(parse_step, "review", watched)
    # When parsed
    if review_fails:
        with pytest.raises(RuntimeError, match="report"):
            parse(run_id, ports)
    else:
        assert parse(run_id, ports).record_count == len(RECORDS)
    # Then the step's scratch database (the dataset index, the scores) was its own and is closed,
    # its file deleted, and the thread's own database holds nothing new
    [db] = used
    assert db is not outside
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("SELECT 1")
    assert scratch.connection() is outside
    assert set(outside.execute("SELECT name FROM sqlite_master")) == tables_before


def test_a_compared_parse_reads_back_the_baseline_only_and_the_texts_it_shows(
    ports, bedrock, bucket, dropped, put, monkeypatch
):
    # Given a first run parsed, and a second run of the same suite whose scores all got worse
    scores = [{"Builtin.Helpfulness": 1.0, "Builtin.Correctness": 1.0, "confirmation_check": 1.0}] * 3
    worse = [{"Builtin.Helpfulness": 0.0, "Builtin.Correctness": 0.5, "confirmation_check": 1.0}] * 3
    runs = []
    for hour, lines in ((19, scores), (20, worse)):  # the same key dropped twice: two runs, an hour apart
        event = dropped()
        event["time"] = f"2026-11-23T{hour}:00:00Z"  # the later one is the run compared
        run_id = submitted(ports, bedrock, bucket, event)
        write_outputs(put, run_id, [output_line(r, s, False) for r, s in zip(RECORDS, lines, strict=True)])
        completed(ports, bedrock, run_id)
        runs.append(run_id)
        if len(runs) == 1:
            parse(run_id, ports)
    read_back: list[str] = []
    fetched: list[tuple[str, set[int]]] = []
    read_scores, get_records = ports.runs.iter_record_scores, ports.runs.get_records
    monkeypatch.setattr(
        ports.runs, "iter_record_scores", lambda run_id: read_back.append(run_id) or read_scores(run_id)
    )
    monkeypatch.setattr(
        ports.runs,
        "get_records",
        lambda run_id, indices: fetched.append((run_id, set(indices))) or get_records(run_id, indices),
    )
    # When the second run is parsed
    second = parse(runs[1], ports)
    # Then only the baseline's scores were read back; this run's came from the write
    assert read_back == [runs[0]]
    # And the texts read are those of the changed and flagged records it shows, from this run
    assert {run_id for run_id, _ in fetched} == {runs[1]}
    assert second.comparison.worsened_count == 6
    assert [c.prompt_excerpt for c in second.comparison.record_changes][:3] == [r["prompt"] for r in RECORDS]


# The suite's other metrics, read but never flagged (a metric with no score at all is UNREADABLE).
READ = {"Builtin.Correctness": 1.0, "confirmation_check": None}


def test_parse_flags_detector_hits_not_harmless_responses(ports, bedrock, bucket, dropped, put):
    # Given outputs with the detector Builtin.Harmfulness (1 = harmful) beside Helpfulness, and
    # a suite with no rule for it (the detectors default to "> 0.5")
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    write_outputs(
        put,
        run_id,
        [
            output_line(RECORDS[0], {**READ, "Builtin.Helpfulness": 1.0, "Builtin.Harmfulness": 0.0}),
            output_line(RECORDS[1], {**READ, "Builtin.Helpfulness": 0.25, "Builtin.Harmfulness": 1.0}),
            output_line(RECORDS[2], {**READ, "Builtin.Helpfulness": 0.0, "Builtin.Harmfulness": 0.0}),
        ],
    )
    completed(ports, bedrock, run_id)
    # When parsed
    parsed = parse(run_id, ports)
    assert (parsed.record_count, parsed.verdict) == (3, "LOW_SCORES")
    # Then only the harmful response is flagged on Harmfulness, and the flagged scores are stored
    # worst first with their rule: the detector hit, then Helpfulness 0.0, then 0.25
    run = ports.runs.get(run_id)
    assert run.metrics["Builtin.Harmfulness"].low_count == 1
    assert run.metrics["Builtin.Harmfulness"].rule == "> 0.5"
    assert [(r.metric, r.index, r.rule) for r in run.low_records] == [
        ("Builtin.Harmfulness", 1, "> 0.5"),
        ("Builtin.Helpfulness", 2, "< 0.5"),
        ("Builtin.Helpfulness", 1, "< 0.5"),
    ]
    # and the notification built from the stored run lists them so
    message = build_notification(run).message
    assert "Flagged records (3, worst first)" in message
    assert "[Builtin.Harmfulness] score=1.00 (flagged: > 0.5) |" in message


def test_parse_without_output_files_is_an_error(ports, bedrock, bucket, dropped):
    event = dropped()
    run_id = submitted(ports, bedrock, bucket, event)
    completed(ports, bedrock, run_id)
    with pytest.raises(NoResultsError, match=r"results/smoke/"):
        parse(run_id, ports)


# --- the handler -----------------------------------------------------------------------------


def submitted_and_completed(run_id: str) -> None:
    """The submit and poll handlers: the job is created, then seen Completed."""
    with Stubber(_runtime.ports().jobs._client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        job = submit_handler.handler({"run_id": run_id, "shard": 1}, FakeContext())
        stubber.add_response("get_evaluation_job", get_job_response("Completed", run_id))
        ref = {"run_id": run_id, "shard": 1, "job_arn": JOB_ARN, "deadline": job["deadline"]}
        assert poll_handler.handler(ref, FakeContext())["status"] == "Completed"


def test_parse_handler_publishes_per_suite_metric_statistics(function_env, dropped, put, capsys):
    # Given a submitted run whose job wrote scores (one N/A on every record)
    run = validate_handler.handler(dropped(), FakeContext())
    submitted_and_completed(run["run_id"])
    run_id = run["run_id"]
    scores = [
        {"Builtin.Helpfulness": 1.0, "Builtin.Correctness": 1.0, "confirmation_check": None},
        {"Builtin.Helpfulness": 0.25, "Builtin.Correctness": None, "confirmation_check": None},
        {"Builtin.Helpfulness": 0.5, "Builtin.Correctness": 1.0, "confirmation_check": None},
    ]
    write_outputs(put, run_id, [output_line(RECORDS[i], s) for i, s in enumerate(scores)])
    capsys.readouterr()

    # When the parse handler runs
    result = parse_handler.handler({"run_id": run_id}, FakeContext())

    # Then the EMF on stdout holds, per suite and metric, the average, N/A rate and low scores
    assert result == {"record_count": 3, "verdict": "LOW_SCORES"}
    documents = emf_documents(capsys.readouterr().out)
    points = metric_points(documents)
    per_metric = {
        (name, dims): value
        for (name, dims), value in points.items()
        if ("suite", "smoke") in dims and any(d[0] == "metric" for d in dims)
    }

    def dims(metric: str) -> tuple:
        return (("metric", metric), ("service", "evalpipe"), ("suite", "smoke"))

    assert per_metric == {
        ("ScoreAverage", dims("Builtin.Correctness")): (1.0, "None"),
        ("NaRate", dims("Builtin.Correctness")): (pytest.approx(33.3333), "Percent"),
        ("LowScores", dims("Builtin.Correctness")): (0.0, "Count"),
        ("ScoreAverage", dims("Builtin.Helpfulness")): (pytest.approx(0.58333, abs=1e-4), "None"),
        ("NaRate", dims("Builtin.Helpfulness")): (0.0, "Percent"),
        ("LowScores", dims("Builtin.Helpfulness")): (1.0, "Count"),
        # every score N/A: no average is published, the rate says why
        ("NaRate", dims("confirmation_check")): (100.0, "Percent"),
        ("LowScores", dims("confirmation_check")): (0.0, "Count"),
    }
    # and the verdict is left to the notify state (it publishes it with the notification)
    assert not [name for name, _ in points if name == "RunVerdict"]
    # and RecordsParsed keeps the shared Metrics' single dimension set
    assert points[("RecordsParsed", (("service", "evalpipe"),))] == (3.0, "Count")
    # one document per dimension-value set: three metrics, one shared flush
    assert len(documents) == 4
    for document in documents:
        for dimension_set in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]:
            assert len(dimension_set) <= 3


def test_parse_handler_still_answers_when_the_metrics_cannot_be_published(
    function_env, dropped, put, monkeypatch
):
    # Given a parsed run whose metric publication fails
    run = validate_handler.handler(dropped(), FakeContext())
    submitted_and_completed(run["run_id"])
    write_outputs(put, run["run_id"], [output_line(RECORDS[0], {"Builtin.Helpfulness": 1.0})])

    def broken(groups):
        raise RuntimeError("stdout closed")

    monkeypatch.setattr(_runtime, "_flush", broken)

    # When / Then the state machine still gets its result (the telemetry failure is only logged)
    assert parse_handler.handler({"run_id": run["run_id"]}, FakeContext())["record_count"] == 1
