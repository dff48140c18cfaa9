"""Pre-flight results on the run: the cost estimate of a valid run, the problems of a rejected one."""

from __future__ import annotations

import copy
import json
import re

from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import load_prices
from evalpipe.notification import build_notification
from evalpipe.run.status import RunStatus
from evalpipe.steps.notify import notify
from evalpipe.steps.validate import validate
from handlers import notify as notify_handler
from handlers import validate as validate_handler

from .conftest import JUDGE, RECORDS, SUITE, FakeContext, jsonl

DATASET_KEY = "datasets/smoke/run.jsonl"


# --- the estimate of a valid run ------------------------------------------------------------


def test_a_valid_run_records_the_estimate_as_plain_json(ports, dropped, monkeypatch):
    monkeypatch.delenv("EVALPIPE_PRICES", raising=False)
    # Given the smoke suite and dataset / When validated
    result = validate(dropped(), ports)
    # Then the run item carries the estimate the CLI would print, numbers back as int/float
    assert result["outcome"] == "VALID"
    stored = ports.runs.get(result["run_id"]).estimate
    expected = estimate_run(SUITE, DatasetMeasure.of([jsonl(RECORDS)]), load_prices()).as_dict()
    assert stored == expected
    assert json.loads(json.dumps(stored)) == stored
    assert stored["records"] == 3
    assert stored["metrics"] == 3
    assert stored["total_usd"] > 0
    assert stored["items"][0]["usd"] == 0  # precomputed responses: nothing to collect


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


def test_an_unknown_judge_price_stores_no_number_and_a_note(ports, dropped, tmp_path, monkeypatch):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"amazon.nova-lite-v1:0": {"input": 0.06, "output": 0.24}}}))
    monkeypatch.setenv("EVALPIPE_PRICES", str(prices))
    run_id = validate(dropped(), ports)["run_id"]
    stored = ports.runs.get(run_id).estimate
    assert stored["total_usd"] is None
    assert any(note.startswith(f"no price for {JUDGE}") for note in stored["notes"])
    assert "Est. cost" not in notify_body(ports, run_id)


def test_a_broken_price_file_does_not_block_a_valid_run(ports, dropped, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALPIPE_PRICES", str(tmp_path / "absent.json"))
    result = validate(dropped(), ports)
    assert result["outcome"] == "VALID"
    stored = ports.runs.get(result["run_id"]).estimate
    assert stored["total_usd"] is None
    assert stored["notes"][0].startswith("no estimate: cannot read price file")


def test_a_rejected_run_has_no_estimate(ports, dropped):
    records = copy.deepcopy(RECORDS)
    del records[0]["prompt"]
    run = ports.runs.get(validate(dropped(records), ports)["run_id"])
    assert run.status == "REJECTED"
    assert run.estimate is None


def notify_body(ports, run_id: str) -> str:
    return build_notification(ports.runs.get(run_id)).message


# --- the rejection notification, through the handlers ---------------------------------------


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
