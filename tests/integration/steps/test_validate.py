"""The validate step and handler against moto: the run claimed, the dataset and suite checked,
the cost estimate recorded."""

from __future__ import annotations

import copy
import io
import json

from evalpipe.estimate.cost import estimate_run
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import load_prices
from evalpipe.notification import build_notification
from evalpipe.run.triggers import DatasetObject
from evalpipe.steps.validate import validate
from handlers import _runtime
from handlers import validate as validate_handler
from tests.builders import JUDGE, jsonl
from tests.integration.steps.flow import RECORDS, SUITE, FakeContext, smoke_suite

# --- the step --------------------------------------------------------------------------------


def test_validate_accepts_a_good_dataset_and_keeps_the_suite_it_validated(ports, dropped):
    # Given a suite and a well-formed dataset in the bucket
    event = dropped()
    # When the validate step runs
    result = validate(event, ports)
    # Then the run is claimed, valid, and carries the suite as validated
    assert result == {
        "run_id": DatasetObject.from_event(event).run_id,
        "suite": "smoke",
        "outcome": "VALID",
        "shards": [1],
    }
    run = ports.runs.get(result["run_id"])
    assert run.status == "VALIDATING"
    assert json.loads(run.suite_document)["inferenceConfig"] == SUITE["inferenceConfig"]
    assert run.dataset.key == "datasets/smoke/run.jsonl"


def test_the_same_object_event_delivered_twice_is_claimed_once(ports, dropped):
    # Given an event that was already validated
    event = dropped()
    first = validate(event, ports)
    # When the same event arrives again
    second = validate(event, ports)
    # Then the second delivery is a no-op
    assert first["outcome"] == "VALID"
    assert second == {"run_id": first["run_id"], "suite": "smoke", "outcome": "DUPLICATE"}


def test_validate_rejects_a_bad_line_naming_file_line_and_field(ports, dropped):
    # Given a dataset whose second line lacks a response and whose third names another model
    records = copy.deepcopy(RECORDS)
    del records[1]["modelResponses"][0]["response"]
    records[2]["modelResponses"][0]["modelIdentifier"] = "my-app-v2"
    event = dropped(records)
    # When the validate step runs (the Stubber has no responses: any Bedrock call would fail)
    result = validate(event, ports)
    # Then the run is REJECTED with problems that name the file, line and field
    assert result["outcome"] == "REJECTED"
    run = ports.runs.get(result["run_id"])
    assert run.status == "REJECTED"
    assert run.verdict == "REJECTED"
    assert run.problem_count == 2
    where = {(p.file, p.line, p.field) for p in run.problems}
    assert ("datasets/smoke/run.jsonl", 2, "modelResponses[0].response") in where
    assert ("datasets/smoke/run.jsonl", 3, "modelResponses[0].modelIdentifier") in where


def test_validate_rejects_unreadable_json(ports, dropped):
    # Given a dataset with a truncated JSON line
    event = dropped(jsonl(RECORDS[:1]) + b'{"prompt": "hi", \n')
    # When validated
    result = validate(event, ports)
    # Then line 2 is named
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert [p.line for p in run.problems] == [2]


def test_validate_rejects_a_dataset_whose_suite_file_is_missing(ports, dropped):
    # Given a dataset for a suite nobody uploaded
    event = dropped(suite=None)
    # When validated
    result = validate(event, ports)
    # Then the problem says which suite file to upload
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert run.problems[0].file == "suites/smoke.json"
    assert "suite file not found" in run.problems[0].message


def test_validate_rejects_a_key_outside_the_suite_folders(ports, dropped):
    # Given a dataset dropped directly under datasets/
    event = dropped(key="datasets/loose.jsonl")
    # When validated
    result = validate(event, ports)
    # Then it is rejected under the placeholder suite with the expected layout in the message
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert result["suite"] == "unknown-suite"
    assert "datasets/<suite>/<name>.jsonl" in run.problems[0].message


def test_validate_rejects_a_judge_the_deployment_cannot_invoke(ports, dropped):
    # Given a suite naming a judge outside ALLOWED_EVALUATOR_MODELS
    suite = json.loads(json.dumps(SUITE).replace(JUDGE, "anthropic.claude-3-haiku-20240307-v1:0"))
    event = dropped(suite=suite)
    # When validated
    result = validate(event, ports)
    # Then it is rejected before any job exists
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert any(JUDGE in p.message for p in run.problems)


def test_a_timeout_that_outlasts_the_state_machine_is_rejected_with_the_deployment_interval(ports, dropped):
    # Given a timeout that fits alone, but not with the deployment's polls (every 30 s, backing off
    # to ten intervals: 300 s) around it
    longest = 35 * 86_400 - 3_600
    event = dropped(suite=smoke_suite(polling={"jobTimeoutSeconds": longest}))
    # When validated
    result = validate(event, ports)
    # Then the run is rejected, naming the key and the largest timeout that fits
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    [problem] = run.problems
    assert problem.field == "pipeline.polling.jobTimeoutSeconds"
    assert f"must be at most {longest - 600}" in problem.message
    assert "35 days" in problem.message


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


# --- the handler -----------------------------------------------------------------------------


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
