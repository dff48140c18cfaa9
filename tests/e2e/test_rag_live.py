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
from tests.e2e.conftest import ROOT, drop_dataset

pytestmark = pytest.mark.slow

SUITE = "kb-assistant-live"
SUITE_FILE = ROOT / "examples" / "suites" / f"{SUITE}.json"
DATASET_FILE = ROOT / "examples" / "datasets" / SUITE / "sample.jsonl"
KB = "KBASSIST01"
KB_FIELD = (
    "inferenceConfig.ragConfigs[0].knowledgeBaseConfig.retrieveAndGenerateConfig"
    ".knowledgeBaseConfiguration.knowledgeBaseId"
)


def _suite_for(knowledge_base_id: str) -> dict:
    document = json.loads(SUITE_FILE.read_text(encoding="utf-8"))
    generate = document["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"][
        "retrieveAndGenerateConfig"
    ]
    generate["knowledgeBaseConfiguration"]["knowledgeBaseId"] = knowledge_base_id
    return document


def _upload_suite(stack, name: str, document: dict, tmp_path) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    stack.upload(path, f"suites/{name}.json")


def _output_lines(stack, suite: str, run_id: str) -> tuple[list[str], list[dict]]:
    s3 = stack.client("s3")
    keys = [
        obj["Key"]
        for obj in s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"results/{suite}/{run_id}/").get(
            "Contents", []
        )
    ]
    outputs = [key for key in keys if key.endswith("_output.jsonl")]
    lines = [
        json.loads(line)
        for key in outputs
        for line in s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    return outputs, lines


def test_a_live_knowledge_base_suite_runs_through_the_pipeline(stack, tmp_path):
    # Given the live knowledge-base example suite (KBASSIST01 answers, Nova Pro judges)
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    dataset = DATASET_FILE.read_bytes()

    # When a user uploads its dataset of conversations (prompts and references, no output)
    run = drop_dataset(stack, f"datasets/{SUITE}/e2e-live-rag.jsonl", dataset, tmp_path)

    # Then the execution succeeded and the run completed with one record per turn
    assert run["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    conversations = [json.loads(line)["conversationTurns"] for line in dataset.decode().splitlines()]
    turns = [turn for conversation in conversations for turn in conversation]
    assert item.status == "COMPLETED"
    assert item.record_count == len(turns)
    assert {"Builtin.Correctness", "Builtin.CitationPrecision", "Builtin.CitationCoverage"} <= set(
        item.metrics
    )
    assert set(item.categories) >= {"account", "billing", "data"}

    # And Bedrock ran one job whose output sits under models/<knowledgeBaseId>/
    [job] = stack.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"]
    assert job["status"] == "Completed"
    outputs, lines = _output_lines(stack, SUITE, run_id)
    assert outputs and all(f"/models/{KB}/" in key for key in outputs)

    # And every turn carries what the knowledge base retrieved and the cited answer it generated
    produced = [turn["output"] for line in lines for turn in line["conversationTurns"]]
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
    records = stack.records(run_id)
    assert [r.index for r in records] == list(range(len(turns)))
    expected = [
        (line, turn) for line, c in enumerate(conversations, start=1) for turn in range(1, len(c) + 1)
    ]
    assert [(r.conversation, r.turn) for r in records] == expected
    assert [r.prompt_excerpt for r in records] == [t["prompt"]["content"][0]["text"] for t in turns]
    assert [r.response_excerpt for r in records] == [output["text"][:300] for output in produced]

    # And the subscriber got exactly one notification for the run
    messages = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert len(messages) == 1
    assert messages[0]["attributes"]["suite"] == SUITE


def test_a_suite_for_a_knowledge_base_the_deployment_does_not_allow_is_rejected(stack, tmp_path):
    # Given the live suite pointed at a knowledge base outside the deployment's knowledgeBases
    suite = "kb-assistant-live-denied"
    _upload_suite(stack, suite, _suite_for("KBUNKNOWN1"), tmp_path)

    # When its dataset is dropped
    run = drop_dataset(stack, f"datasets/{suite}/e2e.jsonl", DATASET_FILE.read_bytes(), tmp_path)

    # Then the run is REJECTED before any job, naming the knowledgeBaseId field
    assert run["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    assert item.status == "REJECTED"
    assert [problem.field for problem in item.problems] == [KB_FIELD]
    assert "KBUNKNOWN1" in item.problems[0].message
    assert stack.client("bedrock").list_evaluation_jobs(nameContains=run_id)["jobSummaries"] == []
    [message] = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert message["attributes"]["verdict"] == "REJECTED"
    assert KB_FIELD in message["body"]


def test_a_knowledge_base_missing_from_the_service_fails_the_job(stack, tmp_path):
    # Given an allowed knowledge base that Bedrock no longer has (deleted from the emulator)
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    emulator_control(stack.endpoint, "knowledge-bases", {"region": stack.region, "delete": [KB]})
    try:
        # When its dataset is dropped
        run = drop_dataset(
            stack, f"datasets/{SUITE}/e2e-missing-kb.jsonl", DATASET_FILE.read_bytes(), tmp_path
        )
    finally:
        register_knowledge_bases(stack.endpoint, stack.region)

    # Then the job ends Failed with the service's message, and the run is FAILED
    run_id = json.loads(run["description"]["output"])["run"]["run_id"]
    item = stack.run(run_id)
    assert item.status == "FAILED"
    assert any(f"knowledge base {KB} was not found" in message for message in item.failure_messages)
    [message] = [m for m in stack.messages(wait=10, count=10) if m["attributes"].get("run_id") == run_id]
    assert message["attributes"]["verdict"] == "FAILED"
