"""End to end in the local mode: a live knowledge-base suite (``knowledgeBaseConfig``).

The local stack allows knowledge base ``KBASSIST01`` (local.demo.LOCAL_KNOWLEDGE_BASES, one per
folder of examples/knowledge-bases/) and registers its documents with the Bedrock emulator, which
retrieves passages lexically, answers extractively with citations, and scores every turn. The run
stores one record per turn, in conversation order, and is notified once like any other.
"""

from __future__ import annotations

import json

import pytest

from local.demo import register_knowledge_bases
from local.server import emulator_control
from tests.e2e.scenario import (
    Suite,
    given_suite,
    then_records_are_the_turns_in_order,
    then_run_completed,
    when_dataset_dropped,
)

pytestmark = pytest.mark.slow

SUITE = "kb-assistant-live"
KB = "KBASSIST01"
KB_FIELD = (
    "inferenceConfig.ragConfigs[0].knowledgeBaseConfig.retrieveAndGenerateConfig"
    ".knowledgeBaseConfiguration.knowledgeBaseId"
)


def _suite_for(knowledge_base_id: str) -> dict:
    document = json.loads(Suite(SUITE, SUITE).file.read_text(encoding="utf-8"))
    generate = document["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"][
        "retrieveAndGenerateConfig"
    ]
    generate["knowledgeBaseConfiguration"]["knowledgeBaseId"] = knowledge_base_id
    return document


def test_a_live_knowledge_base_suite_runs_through_the_pipeline(stack):
    # Given the live knowledge-base example suite (KBASSIST01 answers, Nova Pro judges)
    suite = given_suite(stack, SUITE)
    conversations = suite.conversations()
    turns = [turn for conversation in conversations for turn in conversation]

    # When a user uploads its dataset of conversations (prompts and references, no output)
    dropped = when_dataset_dropped(stack, suite, "e2e-live-rag.jsonl")

    # Then the execution succeeded and the run completed with one record per turn
    item = then_run_completed(dropped, records=len(turns))
    assert {"Builtin.Correctness", "Builtin.CitationPrecision", "Builtin.CitationCoverage"} <= set(
        item.metrics
    )
    assert set(item.categories) >= {"account", "billing", "data"}

    # And Bedrock ran one job whose output sits in the reported RAG layout
    job = dropped.job()
    assert job["status"] == "Completed"
    outputs = dropped.output_files()
    layout = f"/{job['jobName']}/{job['jobArn'].rsplit('/', 1)[-1]}/inference_configs/0/datasets/"
    assert outputs and all(layout in key for key in outputs)

    # And every turn carries what the knowledge base retrieved and the cited answer it generated
    produced = [
        turn["output"] for line in dropped.output_lines(*outputs) for turn in line["conversationTurns"]
    ]
    assert len(produced) == len(turns)
    assert all(output["knowledgeBaseIdentifier"] == KB for output in produced)
    answered = [output for output in produced if output["retrievedPassages"]["retrievalResults"]]
    assert len(answered) >= len(turns) - 1  # the out-of-scope question retrieves nothing
    for output in answered:
        assert output["citations"]
        for citation in output["citations"]:
            cited = citation["generatedResponsePart"]["textResponsePart"]["text"]
            assert cited in output["text"]
            assert citation["retrievedReferences"][0]["content"]["text"] in [
                result["content"]["text"] for result in output["retrievedPassages"]["retrievalResults"]
            ]

    # And the records read back turn by turn, in conversation order, with the generated answers
    records = dropped.records
    then_records_are_the_turns_in_order(records, conversations)
    assert [r.response_excerpt for r in records] == [output["text"][:300] for output in produced]

    # And the subscriber got exactly one notification for the run
    assert dropped.message(count=10)["attributes"]["suite"] == suite.name


def test_a_suite_for_a_knowledge_base_the_deployment_does_not_allow_is_rejected(stack):
    # Given the live suite pointed at a knowledge base outside the deployment's knowledgeBases
    suite = given_suite(stack, SUITE, as_name="kb-assistant-live-denied", document=_suite_for("KBUNKNOWN1"))

    # When its dataset is dropped
    dropped = when_dataset_dropped(stack, suite, "e2e.jsonl")

    # Then the run is REJECTED before any job, naming the knowledgeBaseId field
    assert dropped.status == "SUCCEEDED"
    item = dropped.run
    assert item.status == "REJECTED"
    assert [problem.field for problem in item.problems] == [KB_FIELD]
    assert "KBUNKNOWN1" in item.problems[0].message
    assert dropped.jobs() == []
    message = dropped.message(count=10)
    assert message["attributes"]["verdict"] == "REJECTED"
    assert KB_FIELD in message["body"]


def test_a_knowledge_base_missing_from_the_service_fails_the_job(stack):
    # Given an allowed knowledge base that Bedrock no longer has (deleted from the emulator)
    suite = given_suite(stack, SUITE)
    emulator_control(stack.endpoint, "knowledge-bases", {"region": stack.region, "delete": [KB]})
    try:
        # When its dataset is dropped
        dropped = when_dataset_dropped(stack, suite, "e2e-missing-kb.jsonl")
    finally:
        register_knowledge_bases(stack.endpoint, stack.region)

    # Then the job ends Failed with the service's message, and the run is FAILED
    item = dropped.run
    assert item.status == "FAILED"
    assert any(f"knowledge base {KB} was not found" in message for message in item.failure_messages)
    assert dropped.message(count=10)["attributes"]["verdict"] == "FAILED"
