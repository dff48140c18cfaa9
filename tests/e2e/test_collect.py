"""End to end in the local mode: scenarios dropped under ``scenarios/<suite>/`` are collected in the
pipeline (a Map of collect batches against the suite's ``pipeline.collect`` target), then evaluated
and notified as a dropped dataset would be.

The example suite ``support-assistant-collected`` collects from ``amazon.nova-lite-v1:0`` through
Converse (the emulator's offline stand-in); the local stack's ``collectModels`` allows that model
(local.demo.LOCAL_COLLECT_MODELS). The emulator's stand-in calls a tool only when the user's turn
mentions it and can fill its inputs, so every example scenario collects, the order, cancel and
return-policy ones through the tool loop with their canned results.

The local stack serves the other two targets too (`local.targets`): the bookstore app of
local/target_app.py over HTTP on localhost (its bearer token in a Secrets Manager secret the
deployment's collectSecrets lists) and as the Lambda function ``bookstore-assistant`` (collectFunctions).
"""

from __future__ import annotations

import json

import pytest

from local.demo import EXAMPLES
from local.targets import collect_target
from tests.e2e.scenario import DROP_TIMEOUT, Execution, given_suite

pytestmark = pytest.mark.slow

SCENARIOS = EXAMPLES / "scenarios" / "support-assistant.json"
EXAMPLE = "support-assistant-collected"


def when_scenarios_dropped(stack, suite: str, file_name: str) -> Execution:
    """Upload the example scenarios as ``scenarios/<suite>/<file_name>``; wait for their execution."""
    key = f"scenarios/{suite}/{file_name}"
    stack.upload(SCENARIOS, key)
    arn = stack.execution_for(key)
    return Execution(stack, suite, arn, stack.wait_for_execution(arn, timeout=DROP_TIMEOUT * 2), key)


def test_dropped_scenarios_are_collected_evaluated_and_notified_once(stack):
    # Given the suite that collects its dataset from a Bedrock model with the app's tools
    suite = given_suite(stack, EXAMPLE)
    scenario_ids = [scenario["id"] for scenario in json.loads(SCENARIOS.read_text())["scenarios"]]

    # When a user drops the example scenarios for it
    dropped = when_scenarios_dropped(stack, suite.name, "e2e-collect.json")

    # Then the execution collected the scenarios in batches, validated the collected dataset and ran the job
    assert dropped.status == "SUCCEEDED", dropped.description.get("cause")
    states = dropped.states()
    assert states[:2] == ["Validate", "CheckOutcome"]
    assert states.count("CollectBatch") == 2  # 7 scenarios, batches of 5
    assert "ValidateCollected" in states and "Parse" in states
    run = dropped.run
    assert run is not None
    assert (run.status, run.trigger) == ("COMPLETED", "scenarios")
    assert run.collection is not None
    assert (run.collection.scenarios, run.collection.collected, run.collection.failed) == (7, 7, 0)

    # And every scenario is one record, in the scenarios' order
    assert run.record_count == len(scenario_ids)
    assert run.input_dataset is not None
    assert run.input_dataset.key == f"inputs/{suite.name}/{run.run_id}/e2e-collect.jsonl"
    lines = stack.client("s3").get_object(Bucket=stack.bucket, Key=run.input_dataset.key)["Body"].read()
    records = [json.loads(line) for line in lines.splitlines()]
    assert [record["id"] for record in records] == scenario_ids
    # (the tool loop answered the order question with its canned result)
    answers = {record["id"]: record["modelResponses"][0]["response"] for record in records}
    assert answers["order-status"].startswith("Here is what lookup_order returned: ")
    assert [r.index for r in dropped.records] == list(range(len(scenario_ids)))

    # And one notification went out, with the run's verdict
    message = dropped.message(count=1)
    assert message["attributes"]["verdict"] in {"PASSED", "LOW_SCORES"}
    assert run.verdict in {"PASSED", "LOW_SCORES"}
    assert dropped.messages(wait=2, count=1) == []  # exactly once


@pytest.mark.parametrize("kind", ["http", "lambda"])
def test_scenarios_are_collected_through_the_local_apps_http_and_lambda_targets(stack, kind):
    # Given the collecting example pointed at the local app as an http (or lambda) target
    document = json.loads((EXAMPLES / "suites" / f"{EXAMPLE}.json").read_text())
    document["pipeline"]["collect"]["target"] = {
        **collect_target(kind, stack.targets),
        "modelIdentifier": "bookstore-assistant-v3",
    }
    suite = given_suite(stack, EXAMPLE, as_name=f"bookstore-{kind}", document=document)
    scenarios = json.loads(SCENARIOS.read_text())["scenarios"]

    # When a user drops the example scenarios for it
    dropped = when_scenarios_dropped(stack, suite.name, f"e2e-{kind}.json")

    # Then every scenario was collected from the app (its reasoning stripped) and the run completed
    assert dropped.status == "SUCCEEDED", dropped.description.get("cause")
    run = dropped.run
    assert run is not None
    assert (run.status, run.trigger) == ("COMPLETED", "scenarios")
    assert run.collection is not None
    assert (run.collection.collected, run.collection.failed) == (len(scenarios), 0), run.collection.failures
    assert run.input_dataset is not None
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key=run.input_dataset.key)["Body"].read()
    records = {r["id"]: r for r in map(json.loads, body.splitlines())}
    assert list(records) == [scenario["id"] for scenario in scenarios]
    # (the app's deterministic answers: the cancellation confirmed on the second turn, a greeting by name)
    assert records["order-status"]["modelResponses"][0]["response"] == (
        "Order BK-10482 shipped on May 3 and should arrive by May 8."
    )
    assert records["cancel-order-confirmed"]["modelResponses"][0]["response"].startswith(
        "Done: order BK-10517 is cancelled"
    )
    assert "Hi Dana!" in records["address-change"]["prompt"]  # the scenario's context reached the app
    assert all("<thinking>" not in r["modelResponses"][0]["response"] for r in records.values())

    # And one notification went out
    assert dropped.message(count=1)["attributes"]["verdict"] in {"PASSED", "LOW_SCORES"}
