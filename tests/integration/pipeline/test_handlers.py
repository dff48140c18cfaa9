"""The Lambda entry points themselves: Powertools wiring, input parsing, and what they log."""

from __future__ import annotations

import io
import json

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from handlers import _runtime
from handlers import notify as notify_handler
from handlers import parse as parse_handler
from handlers import submit as submit_handler
from handlers import validate as validate_handler

from .conftest import RECORDS, FakeContext
from .test_steps import output_line, write_outputs

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdef123456"


def test_validate_handler_logs_ids_and_counts_but_never_prompt_text(function_env, dropped, monkeypatch):
    # Given a dataset with recognisable prompt text, and the handler's JSON log stream captured
    event = dropped()
    stream = io.StringIO()
    monkeypatch.setattr(_runtime.logger.registered_handler, "stream", stream)
    # When the Lambda handler runs
    result = validate_handler.handler(event, FakeContext())
    # Then it answers for the state machine and its JSON logs carry the run id, not the prompts
    assert result["outcome"] == "VALID"
    logged = stream.getvalue()
    records = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(r.get("run_id") == result["run_id"] for r in records)
    for record in RECORDS:
        assert record["prompt"] not in logged
        assert record["modelResponses"][0]["response"] not in logged


def test_submit_handler_rejects_an_input_that_is_not_a_run_reference(function_env):
    # Given an input whose run id could not be a job name, When the handler parses it, Then it refuses
    with pytest.raises(ValidationError):
        submit_handler.handler({"run_id": "Not A Run"}, FakeContext())


def test_submit_handler_creates_the_job_through_the_shared_adapters(function_env, dropped):
    # Given a validated run and Bedrock pinned on the handler's own client
    run = validate_handler.handler(dropped(), FakeContext())
    client = _runtime.ports().jobs._client
    with Stubber(client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        # When the submit handler runs
        result = submit_handler.handler({"run_id": run["run_id"]}, FakeContext())
    # Then it returns the job for the polling loop
    assert result["job_arn"] == JOB_ARN
    assert result["wait_seconds"] == 60  # POLL_INTERVAL_SECONDS default


def test_notify_handler_publishes_the_rejection(function_env, dropped, sns_messages):
    # Given a rejected run (no suite file)
    run = validate_handler.handler(dropped(suite=None), FakeContext())
    # When notified through the handler
    result = notify_handler.handler({"run_id": run["run_id"]}, FakeContext())
    # Then one message went out with the REJECTED verdict
    messages = sns_messages()
    assert result["verdict"] == "REJECTED"
    assert [m["attributes"]["verdict"] for m in messages] == ["REJECTED"]


def test_notify_handler_publishes_the_verdict_of_any_run_once(function_env, dropped, sns_messages, capsys):
    # Given a rejected run (no suite file): it never reaches the parse state
    run = validate_handler.handler(dropped(suite=None), FakeContext())
    capsys.readouterr()

    # When notified through the handler
    notify_handler.handler({"run_id": run["run_id"]}, FakeContext())

    # Then RunVerdict counts it under its suite and in the roll-up over every suite
    points = _metric_points(_emf_documents(capsys.readouterr().out))
    suite = run["suite"]
    assert points == {
        ("RunVerdict", (("service", "evalpipe"), ("suite", suite), ("verdict", "REJECTED"))): (1.0, "Count"),
        ("RunVerdict", (("service", "evalpipe"), ("verdict", "REJECTED"))): (1.0, "Count"),
    }

    # When the state is retried after the notification went out
    result = notify_handler.handler({"run_id": run["run_id"]}, FakeContext())

    # Then neither the message nor the metric is sent again
    assert result["published"] is False
    assert _emf_documents(capsys.readouterr().out) == []
    assert len(sns_messages()) == 1


def test_notify_handler_still_answers_when_the_verdict_metric_cannot_be_published(
    function_env, dropped, sns_messages, monkeypatch
):
    # Given a rejected run whose metric publication fails
    run = validate_handler.handler(dropped(suite=None), FakeContext())

    def broken(groups):
        raise RuntimeError("stdout closed")

    monkeypatch.setattr(_runtime, "_flush", broken)

    # When / Then the notification is still sent and the state machine gets its result
    assert notify_handler.handler({"run_id": run["run_id"]}, FakeContext())["published"] is True
    assert [m["attributes"]["verdict"] for m in sns_messages()] == ["REJECTED"]


def _emf_documents(stdout: str) -> list[dict]:
    """The CloudWatch EMF documents Powertools printed (its JSON log lines are left out)."""
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if "_aws" in document:
                documents.append(document)
    return documents


def _metric_points(documents: list[dict]) -> dict[tuple, tuple]:
    """(metric name, dimension set as (name, value) pairs) -> (value, unit), one per dimension set."""
    points = {}
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "EvalPipe"
        for dimension_set in directive["Dimensions"]:
            key = tuple(sorted((name, document[name]) for name in dimension_set))
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                single = value[0] if isinstance(value, list) else value
                points[(metric["Name"], key)] = (single, metric["Unit"])
    return points


def test_parse_handler_publishes_per_suite_metric_statistics(function_env, dropped, put, capsys):
    # Given a submitted run whose job wrote scores (one N/A on every record)
    run = validate_handler.handler(dropped(), FakeContext())
    with Stubber(_runtime.ports().jobs._client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        submit_handler.handler({"run_id": run["run_id"]}, FakeContext())
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
    documents = _emf_documents(capsys.readouterr().out)
    points = _metric_points(documents)
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
    with Stubber(_runtime.ports().jobs._client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN})
        submit_handler.handler({"run_id": run["run_id"]}, FakeContext())
    write_outputs(put, run["run_id"], [output_line(RECORDS[0], {"Builtin.Helpfulness": 1.0})])

    def broken(groups):
        raise RuntimeError("stdout closed")

    monkeypatch.setattr(_runtime, "_flush", broken)

    # When / Then the state machine still gets its result (the telemetry failure is only logged)
    assert parse_handler.handler({"run_id": run["run_id"]}, FakeContext())["record_count"] == 1
