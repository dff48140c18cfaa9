"""The COLLECT path of the synthesized state machine in moto: dropped scenarios are collected in a Map
of batches (Converse through the Bedrock emulator), validated, evaluated and notified once.

The emulator's Converse stand-in asks for ``lookup_order`` whenever it is given tools: the example
scenarios without a canned result for it fail, and the run goes on with the others (warnings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.application import synthesize

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples/suites/support-assistant-collected.json").read_text())
SCENARIOS = (ROOT / "examples/scenarios/support-assistant.json").read_bytes()
SCENARIO_IDS = [scenario["id"] for scenario in json.loads(SCENARIOS)["scenarios"]]
# The scenarios whose toolResults lack lookup_order (see the module docstring).
WITHOUT_LOOKUP = ["cancel-order-missing-id", "return-policy", "address-change", "weather-out-of-scope"]
COLLECTED = [i for i in SCENARIO_IDS if i not in WITHOUT_LOOKUP]
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
    # When the example scenarios (7, in batches of 5) are dropped
    result = pipeline.run(pipeline.drop_dataset(KEY, SCENARIOS), timeout=120)
    # Then the execution collects two batches, validates the collected dataset and runs the job
    assert result.status == "SUCCEEDED", result.describe()
    path = result.path
    assert path[:3] == ["Validate", "CheckOutcome", "Collect"]
    assert path.count("CollectBatch") == 2
    after = path.index("ValidateCollected")
    assert path[after : after + 3] == ["ValidateCollected", "CheckOutcome", "Jobs"]
    assert path[-3:] == ["Parse", "Notify", "Done"]
    # And the run graded one record per collected scenario, in the scenarios' order
    run = pipeline.runs().load(result.output["run"]["run_id"])
    assert (run.status, run.trigger, run.record_count) == ("COMPLETED", "scenarios", len(COLLECTED))
    keys = [r.record_key for r in pipeline.runs().iter_records(run.run_id)]
    assert keys == [f"id:{i}" for i in COLLECTED]
    # And the scenarios that failed are the run's warnings, each with its error
    assert run.collection is not None
    assert [f.scenario_id for f in run.collection.failures] == WITHOUT_LOOKUP
    warned = [w.message for w in run.warnings if "was not collected" in w.message]
    assert len(warned) == len(WITHOUT_LOOKUP)
    assert all("MissingToolResult" in message for message in warned)
    # And exactly one notification went out, showing them
    [message] = pipeline.messages()
    assert message["attributes"]["verdict"] == run.verdict
    assert run.verdict in {"PASSED", "LOW_SCORES"}
    assert "scenario return-policy was not collected" in message["message"]


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
    # Given a suite whose target needs a tool result no scenario carries (every scenario fails)
    pipeline = deploy()
    suite = copy.deepcopy(SUITE)
    suite["pipeline"]["collect"]["target"]["toolConfig"] = {
        "tools": [
            {
                "toolSpec": {
                    "name": "no_such_tool",
                    "description": "Nothing canned answers it.",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            }
        ]
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
