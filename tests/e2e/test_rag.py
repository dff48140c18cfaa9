"""End to end in the local mode: a precomputed RAG suite (``precomputedRagSourceConfig``).

The Bedrock emulator scores every conversation turn; the parse step stores one record per
turn, in conversation order, and the run is notified once like any other.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROOT, drop_dataset

pytestmark = pytest.mark.slow

SUITE = "kb-assistant-rag"
SUITE_FILE = ROOT / "examples" / "suites" / f"{SUITE}.json"
DATASET_FILE = ROOT / "examples" / "datasets" / SUITE / "sample.jsonl"
KB = "kb-assistant-v1"


def test_a_precomputed_rag_suite_runs_through_the_pipeline(stack, tmp_path):
    # Given the RAG example suite, when a user uploads its dataset of conversations
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    dataset = DATASET_FILE.read_bytes()
    run = drop_dataset(stack, f"datasets/{SUITE}/e2e-rag.jsonl", dataset, tmp_path)

    # Then the execution succeeded and the run completed with one record per turn
    assert run["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    conversations = [json.loads(line)["conversationTurns"] for line in dataset.decode().splitlines()]
    turns = [turn for conversation in conversations for turn in conversation]
    assert item.status == "COMPLETED"
    assert item.record_count == len(turns)
    assert {"Builtin.Faithfulness", "Builtin.CitationPrecision"} <= set(item.metrics)
    assert set(item.categories) >= {"account", "billing", "data"}

    # And Bedrock ran one job whose output sits under models/<ragSourceIdentifier>/
    [job] = stack.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"]
    assert job["status"] == "Completed"
    keys = [
        obj["Key"]
        for obj in stack.client("s3")
        .list_objects_v2(Bucket=stack.bucket, Prefix=f"results/{SUITE}/{run_id}/")
        .get("Contents", [])
    ]
    assert any(f"/models/{KB}/" in key and key.endswith("_output.jsonl") for key in keys)

    # And the records read back turn by turn, in conversation order
    records = stack.records(run_id)
    assert [r.index for r in records] == list(range(len(turns)))
    expected = [
        (line, turn) for line, c in enumerate(conversations, start=1) for turn in range(1, len(c) + 1)
    ]
    assert [(r.conversation, r.turn) for r in records] == expected
    assert [r.prompt_excerpt for r in records] == [t["prompt"]["content"][0]["text"] for t in turns]

    # And the subscriber got exactly one notification for the run
    messages = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert len(messages) == 1
    assert messages[0]["attributes"]["suite"] == SUITE
