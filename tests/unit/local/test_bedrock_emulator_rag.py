"""The emulator on precomputed RAG jobs: every conversation turn is scored, the parser reads it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalpipe.results import iter_output_records
from local.bedrock_emulator.backend import COMPLETED
from local.bedrock_emulator.judges import OfflineJudge
from local.bedrock_emulator.outputs import DictObjectStore, JobFailedError, ModelEvaluationRunner

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples" / "suites" / "kb-assistant-rag.json").read_text(encoding="utf-8"))
DATASET = (ROOT / "examples" / "datasets" / "kb-assistant-rag" / "sample.jsonl").read_bytes()
KB = "kb-assistant-v1"


def request(
    metrics: list[str] | None = None, source: str = "retrieveAndGenerateSourceConfig"
) -> dict[str, Any]:
    automated = json.loads(json.dumps(SUITE["evaluationConfig"]["automated"]))
    config = automated["datasetMetricConfigs"][0]
    config["dataset"]["datasetLocation"] = {"s3Uri": "s3://data/kb.jsonl"}
    if metrics is not None:
        config["metricNames"] = metrics
    return {
        "jobName": "rag-job",
        "applicationType": "RagEvaluation",
        "evaluationConfig": {"automated": automated},
        "inferenceConfig": {
            "ragConfigs": [{"precomputedRagSourceConfig": {source: {"ragSourceIdentifier": KB}}}]
        },
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }


def run(body: dict[str, Any], data: bytes = DATASET) -> tuple[DictObjectStore, list[str]]:
    store = DictObjectStore({"data": {"kb.jsonl": data}})
    result = ModelEvaluationRunner(store, "us-east-1", lambda region: OfflineJudge()).run("rag-job", body)
    assert result.status == COMPLETED
    outputs = [key for key in store.buckets["data"] if key.endswith("_output.jsonl")]
    return store, outputs


def test_a_precomputed_rag_job_scores_every_turn() -> None:
    # Given the example RAG suite and dataset / When the job runs
    store, (key,) = run(request())

    # Then the output sits in the reported RAG layout and has one line per conversation
    assert "/inference_configs/0/datasets/kb-assistant-rag/" in key
    lines = [json.loads(line) for line in store.buckets["data"][key].decode().splitlines()]
    inputs = [json.loads(line) for line in DATASET.decode().splitlines()]
    assert len(lines) == len(inputs)
    for line, record in zip(lines, inputs, strict=True):
        # And each turn holds its input turn, its output and its results side by side (reported shape)
        assert set(line) == {"conversationTurns"}
        rejoined = [{**turn["inputRecord"], "output": turn["output"]} for turn in line["conversationTurns"]]
        assert rejoined == record["conversationTurns"]
        for turn in line["conversationTurns"]:
            assert set(turn) == {"inputRecord", "output", "results"}
            assert [r["metricName"] for r in turn["results"]] == SUITE["evaluationConfig"]["automated"][
                "datasetMetricConfigs"
            ][0]["metricNames"]


def test_the_parser_reads_one_record_per_turn_in_order() -> None:
    store, (key,) = run(request())
    records = list(iter_output_records(store.buckets["data"][key].splitlines()))
    turns = [turn for line in DATASET.decode().splitlines() for turn in json.loads(line)["conversationTurns"]]
    assert [r.index for r in records] == list(range(len(turns)))
    assert [r.prompt for r in records] == [t["prompt"]["content"][0]["text"] for t in turns]
    assert [(r.conversation, r.turn) for r in records][:5] == [(1, 1), (2, 1), (2, 2), (2, 3), (3, 1)]


def test_faithfulness_and_citations_follow_the_passages() -> None:
    # Given the example's unfaithful turn (a price the passages do not give) / When scored
    store, (key,) = run(request())
    records = list(iter_output_records(store.buckets["data"][key].splitlines()))
    business = next(r for r in records if r.prompt == "And the Business plan?")
    scores = {s.metric: s.score for s in business.scores}
    # Then its citation does not quote a passage and its claims are not all supported
    assert scores["Builtin.CitationPrecision"] == 0.0
    assert scores["Builtin.Faithfulness"] < 1.0
    first = {s.metric: s.score for s in records[0].scores}
    assert first["Builtin.CitationPrecision"] == 1.0
    assert first["Builtin.Faithfulness"] == 1.0
    # and a turn without citations is N/A on CitationPrecision
    delete = next(r for r in records if r.prompt == "What happens if I delete a workspace?")
    assert {s.metric: s.score for s in delete.scores}["Builtin.CitationPrecision"] is None


def test_retrieve_only_jobs_score_context_metrics() -> None:
    # Given a retrieve-only line: 2 of the prompt's 4 content words are in the passage
    passage = "Digital purchases can be refunded within 14 days."
    line = {
        "conversationTurns": [
            {
                "prompt": {"content": [{"text": "What is the refund window for digital purchases?"}]},
                "referenceResponses": [{"content": [{"text": passage}]}],
                "output": {"retrievedResults": {"retrievalResults": [
                    {"content": {"text": passage}}
                ]}},
            }
        ]
    }  # fmt: skip
    body = request(["Builtin.ContextRelevance", "Builtin.ContextCoverage"], "retrieveSourceConfig")
    store, (key,) = run(body, (json.dumps(line) + "\n").encode())
    (record,) = iter_output_records(store.buckets["data"][key].splitlines())
    assert {s.metric: s.score for s in record.scores} == {
        "Builtin.ContextRelevance": 0.5,
        "Builtin.ContextCoverage": 1.0,
    }


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda t: t["output"].update(knowledgeBaseIdentifier="other"),
            "does not match the ragSourceIdentifier",
        ),
        (lambda t: t["output"].pop("text"), "output.text"),
        (lambda t: t.pop("prompt"), "prompt of conversationTurns[0]"),
    ],
)
def test_an_unusable_rag_line_fails_the_job(change: Any, fragment: str) -> None:
    record = json.loads(DATASET.decode().splitlines()[0])
    change(record["conversationTurns"][0])
    store = DictObjectStore({"data": {"kb.jsonl": (json.dumps(record) + "\n").encode()}})
    with pytest.raises(JobFailedError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        ModelEvaluationRunner(store, "us-east-1", lambda region: OfflineJudge()).run("rag-job", request())


def test_a_retrieve_only_job_rejects_generation_metrics() -> None:
    store = DictObjectStore({"data": {"kb.jsonl": DATASET}})
    with pytest.raises(JobFailedError, match="not available for this RAG evaluation"):
        ModelEvaluationRunner(store, "us-east-1").run("rag-job", request(None, "retrieveSourceConfig"))
