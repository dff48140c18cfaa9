"""The COLLECT path of the synthesized state machine in moto: dropped scenarios are collected in a Map
of batches (Converse through the Bedrock emulator), validated, evaluated and notified once.

The emulator's Converse stand-in calls a tool only when the user's turn mentions it and can fill its
inputs (docs/local-bedrock-emulator.md): every example scenario collects, four of them through the tool
loop. An extra scenario whose canned results lack the tool the model calls fails, and the run goes on
with the others (a warning naming the scenario and the tool)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from evalpipe.run.triggers import RunRequest, run_request_event
from infra.application import synthesize

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples/suites/support-assistant-collected.json").read_text())
EXAMPLE = json.loads((ROOT / "examples/scenarios/support-assistant.json").read_text())
SCENARIOS = (ROOT / "examples/scenarios/support-assistant.json").read_bytes()
COLLECTED = [scenario["id"] for scenario in EXAMPLE["scenarios"]]
# A scenario whose question calls for lookup_order, without a canned result for it.
UNCANNED = {"id": "order-without-canned-result", "category": "orders", "turns": ["Where is my order BK-99?"]}
WITH_UNCANNED = json.dumps({"scenarios": [*EXAMPLE["scenarios"], UNCANNED]}).encode()
# What the tool loop answered (the stand-in repeats the canned result it was given).
TOOL_ANSWERS = {
    "order-status": "Here is what lookup_order returned: ",
    "cancel-order-confirmed": "Here is what cancel_order returned: ",
    "return-policy": "Here is what get_return_policy returned: Books can be returned within 30 days",
    "late-order-complaint": "Thanks for your question about 'Fine.",
    "weather-out-of-scope": "Thanks for your question about",
}
KEY = "scenarios/support-assistant-collected/chat.json"
MODEL = SUITE["pipeline"]["collect"]["target"]["modelId"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The pipeline of a deployment whose collectModels allows the example suite's model."""
    context = {"aws:cdk:bundling-stacks": [], "collectModels": [MODEL]}
    return synthesize(context, outdir=str(tmp_path_factory.mktemp("cdk-collect")))


def test_dropped_scenarios_are_collected_then_evaluated(deploy):
    # Given a deployment whose collectModels allows the suite's model
    pipeline = deploy()
    pipeline.upload_suite("support-assistant-collected", SUITE)
    # When the example scenarios and one without the canned result it needs (8, in batches of 5) are dropped
    result = pipeline.run(pipeline.drop_dataset(KEY, WITH_UNCANNED), timeout=120)
    # Then the execution collects two batches, validates the collected dataset and runs the job
    assert result.status == "SUCCEEDED", result.describe()
    path = result.path
    assert path[:3] == ["Validate", "CheckOutcome", "Collect"]
    assert path.count("CollectBatch") == 2
    after = path.index("ValidateCollected")
    assert path[after : after + 3] == ["ValidateCollected", "CheckOutcome", "Jobs"]
    assert path[-3:] == ["Parse", "Notify", "Done"]
    # And the run graded one record per example scenario, in the scenarios' order
    run = pipeline.runs().load(result.output["run"]["run_id"])
    assert (run.status, run.trigger, run.record_count) == ("COMPLETED", "scenarios", len(COLLECTED))
    keys = [r.record_key for r in pipeline.runs().iter_records(run.run_id)]
    assert keys == [f"id:{i}" for i in COLLECTED]
    # And the tool loop answered where the user's turn called for a tool, and words elsewhere
    assert run.input_dataset is not None
    body = pipeline.clients["s3"].get_object(Bucket=pipeline.bucket, Key=run.input_dataset.key)["Body"]
    records = {r["id"]: r for r in map(json.loads, body.read().splitlines())}
    answers = {i: r["modelResponses"][0]["response"] for i, r in records.items()}
    for scenario_id, start in TOOL_ANSWERS.items():
        assert answers[scenario_id].startswith(start), (scenario_id, answers[scenario_id])
    assert '"cancelled":true' in answers["cancel-order-confirmed"]
    # (the complaint's second turn gave the order number: the tool answered it, the third is words)
    assert (
        "User: It's order BK-10602.\nAssistant: Here is what lookup_order returned: "
        in (records["late-order-complaint"]["prompt"])
    )
    # And the scenario that failed is the run's warning, naming it and the tool
    assert run.collection is not None
    assert (run.collection.collected, run.collection.failed) == (len(COLLECTED), 1)
    [failure] = run.collection.failures
    assert failure.scenario_id == UNCANNED["id"]
    assert "MissingToolResult: the model called tool 'lookup_order'" in failure.error
    [warned] = [w.message for w in run.warnings if "was not collected" in w.message]
    assert warned.startswith(f"scenario {UNCANNED['id']} was not collected: MissingToolResult")
    # And exactly one notification went out, showing it
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == run.verdict
    assert run.verdict in {"PASSED", "LOW_SCORES"}
    assert f"scenario {UNCANNED['id']} was not collected" in " ".join(message["message"].split())


def test_a_requested_run_collects_from_the_suites_scenarios_file(deploy):
    # Given the collecting suite (pipeline.collect.scenarios: support-assistant.json) and that file
    pipeline = deploy()
    pipeline.upload_suite("support-assistant-collected", SUITE)
    scenarios_file = SUITE["pipeline"]["collect"]["scenarios"]
    key = f"scenarios/support-assistant-collected/{scenarios_file}"
    pipeline.clients["s3"].put_object(Bucket=pipeline.bucket, Key=key, Body=SCENARIOS)
    # When `evalpipe run --suite support-assistant-collected` requests a run
    event = run_request_event(
        "support-assistant-collected", "cli", request_id="u-1", time="2026-11-23T06:00:00Z"
    )
    result = pipeline.run(event, timeout=120)
    # Then the execution takes the collection path and the run completes under the request's identity
    assert result.status == "SUCCEEDED", result.describe()
    assert result.path[:3] == ["Validate", "CheckOutcome", "Collect"]
    assert "ValidateCollected" in result.path and result.path[-3:] == ["Parse", "Notify", "Done"]
    run = pipeline.runs().load(result.output["run"]["run_id"])
    assert run.run_id == RunRequest.from_event(event).run_id
    assert (run.status, run.trigger, run.record_count) == ("COMPLETED", "cli", len(COLLECTED))
    assert run.collection is not None and run.collection.collected == len(COLLECTED)
    # And its one notification names the trigger and the scenarios file
    [message] = pipeline.messages()
    assert message["attributes"]["run_id"] == run.run_id
    assert "manual run by evalpipe run" in message["message"]
    assert f"s3://{pipeline.bucket}/{key}" in message["message"]


def test_scenarios_of_a_model_the_deployment_does_not_allow_are_rejected_and_notified(deploy):
    # Given a suite collecting from a model the deployment's collectModels lacks
    pipeline = deploy()
    suite = copy.deepcopy(SUITE)
    suite["pipeline"]["collect"]["target"]["modelId"] = "amazon.nova-micro-v1:0"
    pipeline.upload_suite("support-assistant-collected", suite)
    # When scenarios are dropped
    result = pipeline.run(pipeline.drop_dataset(KEY, SCENARIOS))
    # Then nothing is collected: the run is REJECTED and notified, naming the setting
    assert result.status == "SUCCEEDED", result.describe()
    assert "Collect" not in result.path and result.path[-2:] == ["Notify", "Done"]
    run = pipeline.runs().load(result.output["run"]["run_id"])
    assert run.status == "REJECTED"
    assert any("collectModels" in p.message for p in run.problems)
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "REJECTED"


def _jobs() -> list[dict]:
    return boto3.client("bedrock", region_name="us-east-1").list_evaluation_jobs()["jobSummaries"]


def test_a_batch_that_cannot_be_collected_ends_the_run_in_error_notified_once(deploy, monkeypatch):
    # Given a CollectBatch function that fails on every call (the bucket refuses its writes)
    def failing_batch(*args, **kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "injected outage"}}, "PutObject")

    monkeypatch.setattr("handlers.collect.collect_batch", failing_batch)
    pipeline = deploy()
    pipeline.upload_suite("support-assistant-collected", SUITE)
    # When scenarios are dropped
    result = pipeline.run(pipeline.drop_dataset(KEY, SCENARIOS), timeout=120)
    # Then the run ends ERROR before anything is submitted or scored, and one notification says so
    assert result.status == "FAILED", result.describe()
    assert "CollectBatch" in result.path and "Jobs" not in result.path and "Parse" not in result.path
    [run] = pipeline.runs().history("support-assistant-collected")
    assert (run.status, run.verdict) == ("ERROR", "ERROR")
    assert list(pipeline.runs().iter_records(run.run_id)) == []
    assert _jobs() == []
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "ERROR"


def test_scenarios_of_which_none_is_collected_are_rejected_never_passed(deploy):
    # Given a suite whose target must call a tool (toolChoice any) no scenario has a result for
    pipeline = deploy()
    suite = copy.deepcopy(SUITE)
    suite["pipeline"]["collect"]["target"]["toolConfig"] = {
        "toolChoice": {"any": {}},
        "tools": [
            {
                "toolSpec": {
                    "name": "no_such_tool",
                    "description": "Nothing canned answers it.",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            }
        ],
    }
    pipeline.upload_suite("support-assistant-collected", suite)
    # When scenarios are dropped
    result = pipeline.run(pipeline.drop_dataset(KEY, SCENARIOS), timeout=120)
    # Then nothing was scored: the run is REJECTED (never PASSED), no job ran, one notification
    assert result.status == "SUCCEEDED", result.describe()
    assert "Jobs" not in result.path
    run = pipeline.runs().load(result.output["run"]["run_id"])
    assert (run.status, run.verdict) == ("REJECTED", "REJECTED")
    assert list(pipeline.runs().iter_records(run.run_id)) == []
    assert _jobs() == []
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == "REJECTED"
