"""End to end in the local mode: a live-inference suite (``inferenceConfig.models[0].bedrockModel``).

The local stack allows ``amazon.nova-lite-v1:0`` for live inference (local.demo.LOCAL_INFERENCE_MODELS),
and the Bedrock emulator answers its prompts with an offline, deterministic stand-in before the
judge grades them. The run goes through the same validation, history and notification as a
precomputed one.
"""

from __future__ import annotations

import pytest

from tests.e2e.scenario import given_suite, then_run_completed, when_dataset_dropped

pytestmark = pytest.mark.slow

LIVE_MODEL = "amazon.nova-lite-v1:0"


def test_a_live_inference_suite_runs_through_the_pipeline(stack):
    # Given the live example suite (Amazon Nova Lite answers, Nova Pro judges)
    suite = given_suite(stack, "support-assistant-live")
    dataset = suite.dataset()

    # When a user uploads its prompt-only dataset
    dropped = when_dataset_dropped(stack, suite, "e2e-live.jsonl", dataset)

    # Then the execution succeeded and the run completed with every record
    item = then_run_completed(dropped, records=len(dataset.splitlines()))
    assert set(item.categories) >= {"orders", "returns", "shipping"}

    # And Bedrock ran the model live: its output sits under models/<model-id>/
    assert dropped.job()["status"] == "Completed"
    assert any(f"/models/{LIVE_MODEL}/" in key for key in dropped.output_files())

    # And the records are stored with the responses the model generated
    records = dropped.records
    assert len(records) == item.record_count
    assert all(record.response_excerpt.startswith("Thanks for") for record in records)

    # And the subscriber got exactly one notification for the run
    assert dropped.message(count=10)["attributes"]["suite"] == suite.name
