"""The notify step and handler against moto: one message per run, with its filterable attributes."""

from __future__ import annotations

import copy
import re

from evalpipe.run.status import RunStatus
from evalpipe.steps.notify import notify
from evalpipe.steps.validate import validate
from handlers import _runtime
from handlers import notify as notify_handler
from handlers import validate as validate_handler
from tests.integration.steps.flow import RECORDS, FakeContext, emf_documents, metric_points

# --- the step --------------------------------------------------------------------------------


def test_notify_publishes_once_with_filterable_attributes(ports, dropped, sns_messages):
    # Given a rejected run
    result = validate(dropped(suite=None), ports)
    # When notified twice (a retried Lambda)
    first = notify(result["run_id"], ports)
    second = notify(result["run_id"], ports)
    # Then exactly one message was published, with the attributes a subscription filters on
    messages = sns_messages()
    # the retry answers with the same message and says it sent nothing itself
    assert {**first.as_output(), "published": False} == second.as_output()
    assert (first.published, second.published) == (True, False)
    assert len(messages) == 1
    attributes = messages[0]["attributes"]
    assert attributes["suite"] == "smoke"
    assert attributes["verdict"] == "REJECTED"
    assert attributes["severity"] == "error"
    assert "suites/smoke.json" in messages[0]["message"]


def test_the_notification_shows_the_estimate(ports, dropped, sns_messages, monkeypatch):
    monkeypatch.delenv("EVALPIPE_PRICES", raising=False)
    # Given a validated run that later completed
    run_id = validate(dropped(), ports)["run_id"]
    run = ports.runs.load(run_id)
    run.status, run.record_count, run.metrics = RunStatus.COMPLETED, 3, {}
    ports.runs.save(run)
    # When notified
    notify(run_id, ports)
    # Then the body shows the pre-flight estimate
    total = ports.runs.get(run_id).estimate["total_usd"]
    shown = "< $0.01" if total < 0.01 else f"${total:,.2f}"
    message = sns_messages()[0]["message"]
    assert re.search(rf"Est\. cost:\s+{re.escape(shown)} \(estimated before submission\)", message), message


# --- the handler -----------------------------------------------------------------------------


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
    points = metric_points(emf_documents(capsys.readouterr().out))
    suite = run["suite"]
    assert points == {
        ("RunVerdict", (("service", "evalpipe"), ("suite", suite), ("verdict", "REJECTED"))): (1.0, "Count"),
        ("RunVerdict", (("service", "evalpipe"), ("verdict", "REJECTED"))): (1.0, "Count"),
    }

    # When the state is retried after the notification went out
    result = notify_handler.handler({"run_id": run["run_id"]}, FakeContext())

    # Then neither the message nor the metric is sent again
    assert result["published"] is False
    assert emf_documents(capsys.readouterr().out) == []
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


# --- the rejection notification, through the handlers ---------------------------------------


DATASET_KEY = "datasets/smoke/run.jsonl"


def test_the_rejected_notification_lists_the_first_problems_and_the_total(
    function_env, dropped, sns_messages
):
    # Given a dataset of 25 records that each name the wrong model identifier
    records = []
    for i in range(25):
        record = copy.deepcopy(RECORDS[0])
        record["modelResponses"][0]["modelIdentifier"] = f"other-app-{i}"
        records.append(record)
    # When the validate and notify Lambda handlers run
    run = validate_handler.handler(dropped(records), FakeContext())
    result = notify_handler.handler({"run_id": run["run_id"]}, FakeContext())
    # Then one REJECTED message lists the first 20 problems by file:line:field and counts all 25
    assert run["outcome"] == "REJECTED"
    assert result["verdict"] == "REJECTED"
    (message,) = sns_messages()
    body = message["message"]
    assert "(25 problems)" in message["subject"]
    assert "Problems (25)" in body
    listed = re.findall(
        rf"^\s*{re.escape(DATASET_KEY)}:(\d+): modelResponses\[0\]\.modelIdentifier: ", body, re.M
    )
    assert [int(line) for line in listed] == list(range(1, 21))
    assert "'other-app-0' differs from the suite's inferenceConfig" in " ".join(body.split())  # wrapped
    assert "other-app-19" in body
    assert "other-app-20" not in body
    assert "... and 5 more" in body
    assert "Nothing was submitted" in body
