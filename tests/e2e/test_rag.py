"""End to end in the local mode: a precomputed RAG suite (``precomputedRagSourceConfig``).

The Bedrock emulator scores every conversation turn; the parse step stores one record per
turn, in conversation order, and the run is notified once like any other.
"""

from __future__ import annotations

import pytest

from tests.e2e.scenario import (
    given_suite,
    then_records_are_the_turns_in_order,
    then_run_completed,
    when_dataset_dropped,
)

pytestmark = pytest.mark.slow


def test_a_precomputed_rag_suite_runs_through_the_pipeline(stack):
    # Given the RAG example suite, when a user uploads its dataset of conversations
    suite = given_suite(stack, "kb-assistant-rag")
    conversations = suite.conversations()
    dropped = when_dataset_dropped(stack, suite, "e2e-rag.jsonl")

    # Then the execution succeeded and the run completed with one record per turn
    item = then_run_completed(dropped, records=sum(len(turns) for turns in conversations))
    assert {"Builtin.Faithfulness", "Builtin.CitationPrecision"} <= set(item.metrics)
    assert set(item.categories) >= {"account", "billing", "data"}

    # And Bedrock ran one job whose output sits in the reported RAG layout,
    # <job-name>/<job-id>/inference_configs/0/datasets/<dataset>/
    job = dropped.job()
    assert job["status"] == "Completed"
    layout = f"/{job['jobName']}/{job['jobArn'].rsplit('/', 1)[-1]}/inference_configs/0/datasets/"
    assert any(layout in key for key in dropped.output_files())

    # And the records read back turn by turn, in conversation order
    then_records_are_the_turns_in_order(dropped.records, conversations)

    # And the subscriber got exactly one notification for the run
    assert dropped.message(count=10)["attributes"]["suite"] == suite.name
