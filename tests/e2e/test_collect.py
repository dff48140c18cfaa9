"""End to end in the local mode: scenarios dropped under ``scenarios/<suite>/`` are collected in the
pipeline (a Map of collect batches against the suite's ``pipeline.collect`` target), then evaluated
and notified as a dropped dataset would be.

The example suite ``support-assistant-collected`` collects from ``amazon.nova-lite-v1:0`` through
Converse (the emulator's offline stand-in); the local stack's ``collectModels`` allows that model
(local.demo.LOCAL_COLLECT_MODELS). The emulator's stand-in asks for ``lookup_order`` whenever it is
given tools, which four example scenarios have no canned result for (they fail, as
tests/integration/workflow/test_collect.py shows), so here the target goes without its tools.
"""

from __future__ import annotations

import json

import pytest

from local.demo import EXAMPLES
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
    # Given the suite that collects its dataset from a Bedrock model (here without tools)
    document = json.loads((EXAMPLES / "suites" / f"{EXAMPLE}.json").read_text())
    del document["pipeline"]["collect"]["target"]["toolConfig"]
    suite = given_suite(stack, EXAMPLE, document=document)
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
    assert [json.loads(line)["id"] for line in lines.splitlines()] == scenario_ids
    assert [r.index for r in dropped.records] == list(range(len(scenario_ids)))

    # And one notification went out, with the run's verdict
    message = dropped.message(count=1)
    assert message["attributes"]["verdict"] in {"PASSED", "LOW_SCORES"}
    assert run.verdict in {"PASSED", "LOW_SCORES"}
    assert dropped.messages(wait=2, count=1) == []  # exactly once
