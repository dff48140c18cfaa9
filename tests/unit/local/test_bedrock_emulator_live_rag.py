"""The emulator on live knowledge-base jobs: knowledge bases, retrieval, answers, per-turn scores."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evalpipe.results import iter_output_records
from local.bedrock_emulator.backend import COMPLETED
from local.bedrock_emulator.judges import OfflineJudge
from local.bedrock_emulator.knowledge_bases import (
    CHUNK_ID_KEY,
    Document,
    KnowledgeBase,
    KnowledgeBaseRegistry,
    folder_payload,
    handle_control,
    matches_filter,
    read_folder,
    split_passages,
    stem,
)
from local.bedrock_emulator.live_rag import NO_ANSWER, extractive_answer
from local.bedrock_emulator.outputs import DictObjectStore, JobFailedError, ModelEvaluationRunner

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples" / "suites" / "kb-assistant-live.json").read_text(encoding="utf-8"))
DATASET = (ROOT / "examples" / "datasets" / "kb-assistant-live" / "sample.jsonl").read_bytes()
KB_FOLDER = ROOT / "examples" / "knowledge-bases" / "KBASSIST01"
KB = "KBASSIST01"
MODEL = "amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return KnowledgeBase.from_documents(KB, read_folder(KB_FOLDER))


def request(
    knowledge_base_config: dict[str, Any] | None = None, metrics: list[str] | None = None
) -> dict[str, Any]:
    automated = copy.deepcopy(SUITE["evaluationConfig"]["automated"])
    config = automated["datasetMetricConfigs"][0]
    config["dataset"]["datasetLocation"] = {"s3Uri": "s3://data/kb.jsonl"}
    if metrics is not None:
        config["metricNames"] = metrics
    inference = copy.deepcopy(SUITE["inferenceConfig"])
    if knowledge_base_config is not None:
        inference["ragConfigs"][0]["knowledgeBaseConfig"] = knowledge_base_config
    return {
        "jobName": "live-rag-job",
        "applicationType": "RagEvaluation",
        "evaluationConfig": {"automated": automated},
        "inferenceConfig": inference,
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }


def runner(store: DictObjectStore, knowledge_base: KnowledgeBase | None) -> ModelEvaluationRunner:
    registered = {knowledge_base.knowledge_base_id: knowledge_base} if knowledge_base else {}
    return ModelEvaluationRunner(
        store, "us-east-1", lambda region: OfflineJudge(), knowledge_bases=registered.get
    )


def run(body: dict[str, Any], knowledge_base: KnowledgeBase | None, data: bytes = DATASET, **objects: bytes):
    store = DictObjectStore({"data": {"kb.jsonl": data, **objects}})
    result = runner(store, knowledge_base).run("live-rag-job", body)
    assert result.status == COMPLETED
    (key,) = [key for key in store.buckets["data"] if key.endswith("_output.jsonl")]
    lines = [json.loads(line) for line in store.buckets["data"][key].decode().splitlines()]
    return key, lines, store.buckets["data"][key]


def retrieve_config(**search: Any) -> dict[str, Any]:
    return {
        "retrieveConfig": {
            "knowledgeBaseId": KB,
            "knowledgeBaseRetrievalConfiguration": {"vectorSearchConfiguration": search},
        }
    }


def one_turn_lines(*questions: str) -> bytes:
    return b"".join(
        json.dumps({"conversationTurns": [{"prompt": {"content": [{"text": q}]}}]}).encode() + b"\n"
        for q in questions
    )


# --- a retrieve-and-generate job on the example ------------------------------------------------


def test_a_live_job_answers_every_turn_and_keeps_the_input_unchanged(knowledge_base: KnowledgeBase) -> None:
    # Given the example suite, dataset and knowledge base / When the job runs
    key, lines, _ = run(request(), knowledge_base)

    # Then the output sits in the reported RAG layout with one line per conversation
    assert "/inference_configs/0/datasets/kb-assistant-live/" in key
    inputs = [json.loads(line) for line in DATASET.decode().splitlines()]
    assert len(lines) == len(inputs)
    metrics = SUITE["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"]
    for line, record in zip(lines, inputs, strict=True):
        # And each turn keeps its input turn, with the generated output beside it
        assert set(line) == {"conversationTurns"}
        assert [turn["inputRecord"] for turn in line["conversationTurns"]] == record["conversationTurns"]
        for turn in line["conversationTurns"]:
            assert set(turn) == {"inputRecord", "output", "results"}
            assert [r["metricName"] for r in turn["results"]] == metrics
            output = turn["output"]
            assert output["modelIdentifier"] == MODEL and output["knowledgeBaseIdentifier"] == KB
            assert len(output["retrievedPassages"]["retrievalResults"]) <= 3  # numberOfResults
            for score in turn["results"]:
                assert "[offline emulator:" in score["evaluatorDetails"][0]["explanation"]


def test_answers_are_extracted_from_the_passages_and_cited(knowledge_base: KnowledgeBase) -> None:
    _, lines, _ = run(request(), knowledge_base)
    first = lines[0]["conversationTurns"][0]["output"]
    # Then the password answer quotes the reset passage, and every cited part is in the answer
    assert "Forgot password" in first["text"]
    for citation in first["citations"]:
        part = citation["generatedResponsePart"]["textResponsePart"]
        assert first["text"][part["span"]["start"] : part["span"]["end"]] == part["text"]
        (reference,) = citation["retrievedReferences"]
        assert part["text"] in reference["content"]["text"]
        assert reference["location"] == {
            "type": "CUSTOM",
            "customDocumentLocation": {"id": "account-and-security.md"},
        }
        assert reference["metadata"]["topic"] == "account"


def test_a_follow_up_keeps_the_conversations_topic(knowledge_base: KnowledgeBase) -> None:
    # Given "Which option is safer?" after a question on two-step verification
    _, lines, _ = run(request(), knowledge_base)
    follow_up = lines[1]["conversationTurns"][1]["output"]
    # Then retrieval still finds the two-step passage and the answer compares the options
    top = follow_up["retrievedPassages"]["retrievalResults"][0]
    assert "Two-step verification" in top["content"]["text"]
    assert "authenticator app is safer" in follow_up["text"]


def test_a_question_the_knowledge_base_cannot_answer_gets_the_services_fallback(
    knowledge_base: KnowledgeBase,
) -> None:
    _, lines, _ = run(request(), knowledge_base)
    berlin = lines[-1]["conversationTurns"][0]
    assert berlin["output"]["text"] == NO_ANSWER
    assert (
        berlin["output"]["citations"] == []
        and berlin["output"]["retrievedPassages"]["retrievalResults"] == []
    )
    scores = {r["metricName"]: r["result"] for r in berlin["results"]}
    assert scores["Builtin.Correctness"] == 0 and scores["Builtin.CitationPrecision"] is None


def test_the_parser_reads_one_record_per_turn_in_order_with_the_generated_output(
    knowledge_base: KnowledgeBase,
) -> None:
    # Given the job's output file / When parsed as the parse step does
    _, lines, body = run(request(), knowledge_base)
    records = list(iter_output_records(body.splitlines()))
    turns = [turn for line in lines for turn in line["conversationTurns"]]
    # Then one record per turn, in order, with the generated text as the response
    assert [r.index for r in records] == list(range(len(turns)))
    assert [(r.conversation, r.turn) for r in records][:4] == [(1, 1), (2, 1), (2, 2), (3, 1)]
    assert [r.response for r in records] == [t["output"]["text"] for t in turns]
    assert [r.prompt for r in records] == [t["inputRecord"]["prompt"]["content"][0]["text"] for t in turns]
    # And what was retrieved and cited is kept with the record
    assert records[0].extra["output"]["citations"] == turns[0]["output"]["citations"]
    assert records[0].extra["knowledgeBaseIdentifier"] == KB
    # And the line carries no category (the reported layout has no line-level input): the parse
    # step takes it from the dataset beside the results
    assert records[0].category is None


def test_max_tokens_caps_the_answer(knowledge_base: KnowledgeBase) -> None:
    config = copy.deepcopy(SUITE["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"])
    inner = config["retrieveAndGenerateConfig"]["knowledgeBaseConfiguration"]
    inner["generationConfiguration"]["kbInferenceConfig"]["textInferenceConfig"]["maxTokens"] = 6
    _, lines, _ = run(request(config), knowledge_base)
    assert all(len(t["output"]["text"].split()) <= 6 for line in lines for t in line["conversationTurns"][:1]
               if t["output"]["citations"])  # fmt: skip


# --- retrieve only ---------------------------------------------------------------------------------


def test_a_retrieve_only_job_returns_passages_and_context_scores(knowledge_base: KnowledgeBase) -> None:
    # Given a retrieve-only job (numberOfResults 2) on one-turn prompts
    data = one_turn_lines("How are refunds issued?", "How many API requests per minute?")
    metrics = ["Builtin.ContextRelevance", "Builtin.ContextCoverage"]
    _, lines, _ = run(request(retrieve_config(numberOfResults=2), metrics), knowledge_base, data)
    # Then each turn carries passages but no text, and the context metrics score them
    for line in lines:
        (turn,) = line["conversationTurns"]
        assert set(turn["output"]) == {"knowledgeBaseIdentifier", "retrievedPassages"}
        assert 1 <= len(turn["output"]["retrievedPassages"]["retrievalResults"]) <= 2
        assert [r["metricName"] for r in turn["results"]] == metrics
    refund = lines[0]["conversationTurns"][0]
    assert (
        "Refunds are issued"
        in refund["output"]["retrievedPassages"]["retrievalResults"][0]["content"]["text"]
    )
    assert refund["results"][0]["result"] > 0


def test_a_metadata_filter_restricts_retrieval(knowledge_base: KnowledgeBase) -> None:
    # Given a retrieve-only job filtered to developer documents
    data = one_turn_lines("How many API requests per minute are allowed for a workspace?")
    search = {"filter": {"equals": {"key": "topic", "value": "developer"}}}
    _, lines, _ = run(request(retrieve_config(**search), ["Builtin.ContextRelevance"]), knowledge_base, data)
    results = lines[0]["conversationTurns"][0]["output"]["retrievedPassages"]["retrievalResults"]
    # Then only developer passages come back
    assert results and {r["metadata"]["topic"] for r in results} == {"developer"}


def test_a_retrieve_only_job_refuses_two_turns(knowledge_base: KnowledgeBase) -> None:
    turn = {"prompt": {"content": [{"text": "Refunds?"}]}}
    data = json.dumps({"conversationTurns": [turn, turn]}).encode()
    store = DictObjectStore({"data": {"kb.jsonl": data}})
    with pytest.raises(JobFailedError, match="must be a list of 1 to 1 turns"):
        runner(store, knowledge_base).run("j", request(retrieve_config(), ["Builtin.ContextRelevance"]))


# --- failures ---------------------------------------------------------------------------------------


def test_an_unknown_knowledge_base_fails_the_job_as_bedrock_would() -> None:
    # Given no knowledge base registered / When the example job runs
    store = DictObjectStore({"data": {"kb.jsonl": DATASET}})
    result = runner(store, None)(_job(request()))
    # Then it ends Failed with a message naming the knowledge base, and writes no results
    assert result.status == "Failed"
    assert result.failure_messages == [
        f"The knowledge base {KB} was not found in us-east-1, or the service role may not query it "
        f"(bedrock:Retrieve / bedrock:RetrieveAndGenerate on knowledge-base/{KB})."
    ]
    assert not [key for key in store.buckets["data"] if key.endswith("_output.jsonl")]


def test_a_dataset_line_with_an_output_fails_the_job(knowledge_base: KnowledgeBase) -> None:
    line = {"conversationTurns": [{"prompt": {"content": [{"text": "Hi?"}]}, "output": {"text": "x"}}]}
    store = DictObjectStore({"data": {"kb.jsonl": json.dumps(line).encode()}})
    with pytest.raises(JobFailedError, match=r"carries conversationTurns\[0\]\.output"):
        runner(store, knowledge_base).run("j", request())


def test_a_type_without_its_configuration_fails_the_job() -> None:
    config = {"retrieveAndGenerateConfig": {"type": "EXTERNAL_SOURCES", "knowledgeBaseConfiguration": {}}}
    store = DictObjectStore({"data": {"kb.jsonl": DATASET}})
    with pytest.raises(JobFailedError, match="externalSourcesConfiguration is required"):
        runner(store, None).run("j", request(config))


# --- external sources -------------------------------------------------------------------------------


def external(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "retrieveAndGenerateConfig": {
            "type": "EXTERNAL_SOURCES",
            "externalSourcesConfiguration": {"modelArn": MODEL, "sources": [source]},
        }
    }


FAQ = "# FAQ\n\nRefunds are issued within 5 business days.\n\nOur support line is open on weekdays."


def test_an_s3_external_source_is_read_and_answered_from() -> None:
    # Given an EXTERNAL_SOURCES job on an S3 document of the emulated S3
    source = {"sourceType": "S3", "s3Location": {"uri": "s3://data/sources/faq.md"}}
    data = one_turn_lines("How long does a refund take?")
    key, lines, _ = run(request(external(source)), None, data, **{"sources/faq.md": FAQ.encode()})
    # Then results go under models/<model>/, the answer comes from the document, cited by its S3 location
    assert "/inference_configs/0/datasets/kb-assistant-live/" in key  # the reported RAG layout
    output = lines[0]["conversationTurns"][0]["output"]
    assert "knowledgeBaseIdentifier" not in output
    assert output["text"] == "Refunds are issued within 5 business days."
    location = output["citations"][0]["retrievedReferences"][0]["location"]
    assert location == {"type": "S3", "s3Location": {"uri": "s3://data/sources/faq.md"}}


def test_a_byte_content_source_is_decoded_from_base64() -> None:
    content = {
        "identifier": "faq.md",
        "contentType": "text/markdown",
        "data": base64.b64encode(FAQ.encode()).decode(),
    }
    _, lines, _ = run(
        request(external({"sourceType": "BYTE_CONTENT", "byteContent": content})),
        None,
        one_turn_lines("When is the support line open?"),
    )
    assert lines[0]["conversationTurns"][0]["output"]["text"] == "Our support line is open on weekdays."


def test_a_missing_external_source_fails_the_job() -> None:
    source = {"sourceType": "S3", "s3Location": {"uri": "s3://data/sources/missing.md"}}
    store = DictObjectStore({"data": {"kb.jsonl": DATASET}})
    with pytest.raises(
        JobFailedError, match=r"Unable to read the external source s3://data/sources/missing.md: NoSuchKey"
    ):
        runner(store, None).run("j", request(external(source)))


# --- the knowledge base itself ------------------------------------------------------------------


def test_documents_split_at_blank_lines_with_headings_kept_and_metadata_added() -> None:
    doc = Document(
        "a.md", "# Title\n\n## Refunds\n\nRefunds take 5 days.\n\nInvoices arrive monthly.", {"topic": "x"}
    )
    passages = split_passages(doc)
    assert [p.text for p in passages] == [
        "# Title\n## Refunds\nRefunds take 5 days.",
        "Invoices arrive monthly.",
    ]
    assert passages[1].metadata == {
        "topic": "x",
        "x-amz-bedrock-kb-source-uri": "a.md",
        CHUNK_ID_KEY: "a.md#1",
    }


def test_long_blocks_are_cut_at_sentence_ends() -> None:
    sentence = "This sentence has exactly eight words in it. "
    passages = split_passages(Document("long.md", sentence * 40))
    assert len(passages) > 1
    assert all(len(p.text.split()) <= 120 and p.text.endswith(".") for p in passages)


def test_retrieval_ranks_by_bm25_and_returns_only_matching_passages() -> None:
    # Given three one-paragraph documents
    base = KnowledgeBase.from_documents(
        "KB1",
        [
            Document("a.md", "Refunds are issued within five days. Refunds need approval."),
            Document("b.md", "Invoices are emailed monthly and mention refunds."),
            Document("c.md", "Our office is in Lyon."),
        ],
    )
    # When asked about refunds / Then the refund-heavy passage comes first, the office never
    hits = base.retrieve("How do refunds work?")
    assert [h.passage.document.id for h in hits] == ["a.md", "b.md"]
    # And a score is the idf-weighted share of the query found: "work" is nowhere, "refunds" in both
    assert 0 < hits[0].score == hits[1].score < 1
    [best] = base.retrieve("refunds", number_of_results=1)
    assert (best.passage.document.id, best.score) == ("a.md", 1.0)
    assert base.retrieve("Where is the moon?") == []


def test_the_stemmer_matches_simple_inflections() -> None:
    assert {stem(w) for w in ("refund", "refunds", "refunded")} == {"refund"}
    assert stem("deleting") == stem("delete") == stem("deleted")
    assert stem("business") == "business"


@pytest.mark.parametrize(
    ("metadata_filter", "expected"),
    [
        ({"equals": {"key": "topic", "value": "billing"}}, True),
        ({"notEquals": {"key": "missing", "value": 1}}, True),
        ({"equals": {"key": "missing", "value": 1}}, False),
        ({"greaterThan": {"key": "year", "value": 2023}}, True),
        ({"lessThanOrEquals": {"key": "year", "value": 2023}}, False),
        ({"in": {"key": "topic", "value": ["data", "billing"]}}, True),
        ({"notIn": {"key": "topic", "value": ["billing"]}}, False),
        ({"startsWith": {"key": "topic", "value": "bill"}}, True),
        ({"listContains": {"key": "tags", "value": "vat"}}, True),
        ({"stringContains": {"key": "tags", "value": "inv"}}, True),
        (
            {
                "orAll": [
                    {"equals": {"key": "topic", "value": "x"}},
                    {"equals": {"key": "year", "value": 2024.0}},
                ]
            },
            True,
        ),
        (
            {
                "andAll": [
                    {"equals": {"key": "topic", "value": "billing"}},
                    {"lessThan": {"key": "year", "value": 2}},
                ]
            },
            False,
        ),
    ],
)
def test_metadata_filters(metadata_filter: dict[str, Any], expected: bool) -> None:
    metadata = {"topic": "billing", "year": 2024, "tags": ["vat", "invoices"]}
    assert matches_filter(metadata_filter, metadata) is expected


def test_the_extractive_answer_without_hits_is_the_fallback() -> None:
    assert extractive_answer("Anything?", []) == (NO_ANSWER, [])


def test_the_control_registers_lists_and_deletes_per_account_and_region() -> None:
    # Given registries per (account, region) and the example folder as the control's payload
    registries: dict[tuple[str, str], KnowledgeBaseRegistry] = {}

    def registry_for(account: str, region: str) -> KnowledgeBaseRegistry:
        return registries.setdefault((account, region), KnowledgeBaseRegistry())

    payload = folder_payload(KB_FOLDER.parent, "eu-west-1")
    # When registered / Then eu-west-1 of the default account has it, with its passages
    status, body = handle_control(payload, registry_for, "123456789012")
    assert status == 200
    assert body == {"knowledgeBases": [{"knowledgeBaseId": KB, "documents": 4, "passages": 11}]}
    assert registries["123456789012", "eu-west-1"].get(KB) is not None
    assert ("123456789012", "us-east-1") not in registries
    # And a delete removes it; a bad id is a 400
    assert handle_control({"region": "eu-west-1", "delete": [KB]}, registry_for, "123456789012")[1] == {
        "knowledgeBases": []
    }
    bad = {"region": "eu-west-1", "knowledgeBases": [{"knowledgeBaseId": "kb-1", "documents": []}]}
    status, body = handle_control(bad, registry_for, "123456789012")
    assert status == 400 and "kb-1" in body["message"]


def _job(body: dict[str, Any]) -> Any:
    from local.bedrock_emulator.backend import EvaluationJob

    return EvaluationJob(
        "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghijkl", "j", body, 0, 0, 1
    )
