"""End to end in the local mode: a live-inference suite (``inferenceConfig.models[0].bedrockModel``).

The local stack allows ``amazon.nova-lite-v1:0`` for live inference (local.demo.LOCAL_INFERENCE_MODELS),
and the Bedrock emulator answers its prompts with an offline, deterministic stand-in before the
judge grades them. The run goes through the same validation, history and notification as a
precomputed one.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROOT, drop_dataset

pytestmark = pytest.mark.slow

SUITE = "support-assistant-live"
SUITE_FILE = ROOT / "examples" / "suites" / f"{SUITE}.json"
DATASET_FILE = ROOT / "examples" / "datasets" / SUITE / "sample.jsonl"
LIVE_MODEL = "amazon.nova-lite-v1:0"


def test_a_live_inference_suite_runs_through_the_pipeline(stack, tmp_path):
    # Given the live example suite (Amazon Nova Lite answers, Nova Pro judges)
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    dataset = DATASET_FILE.read_bytes()

    # When a user uploads its prompt-only dataset
    run = drop_dataset(stack, f"datasets/{SUITE}/e2e-live.jsonl", dataset, tmp_path)

    # Then the execution succeeded and the run completed with every record
    assert run["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    assert item.status == "COMPLETED"
    assert item.record_count == len(dataset.splitlines())
    assert set(item.categories) >= {"orders", "returns", "shipping"}

    # And Bedrock ran the model live: its output sits under models/<model-id>/
    [job] = stack.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"]
    assert job["status"] == "Completed"
    keys = [
        obj["Key"]
        for obj in stack.client("s3")
        .list_objects_v2(Bucket=stack.bucket, Prefix=f"results/{SUITE}/{run_id}/")
        .get("Contents", [])
    ]
    assert any(f"/models/{LIVE_MODEL}/" in key and key.endswith("_output.jsonl") for key in keys)

    # And the records are stored with the responses the model generated
    records = stack.records(run_id)
    assert len(records) == item.record_count
    assert all(record.response_excerpt.startswith("Thanks for") for record in records)

    # And the subscriber got exactly one notification for the run
    messages = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert len(messages) == 1
    assert messages[0]["attributes"]["suite"] == SUITE
