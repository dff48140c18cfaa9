"""Live knowledge-base jobs through boto3 against moto: registered knowledge bases, S3 sources, controls."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from bedrock_emulator_support import ACCOUNT, JUDGE_MODEL, REGION, ROLE_ARN, S3Results
from moto.server import ThreadedMotoServer

from local.bedrock_emulator.knowledge_bases import Document, KnowledgeBase, folder_payload, read_folder

ROOT = Path(__file__).resolve().parents[3]
KB_ROOT = ROOT / "examples" / "knowledge-bases"
KB = "KBASSIST01"
MODEL = "amazon.nova-lite-v1:0"


def _turns(*prompts: str) -> dict[str, Any]:
    return {"conversationTurns": [{"prompt": {"content": [{"text": prompt}]}} for prompt in prompts]}


def _request(
    bucket: str, name: str, knowledge_base_config: dict[str, Any], metrics: list[str]
) -> dict[str, Any]:
    return {
        "jobName": name,
        "roleArn": ROLE_ARN,
        "applicationType": "RagEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {
                            "name": "live",
                            "datasetLocation": {"s3Uri": f"s3://{bucket}/datasets/live.jsonl"},
                        },
                        "metricNames": metrics,
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE_MODEL}]},
            }
        },
        "inferenceConfig": {"ragConfigs": [{"knowledgeBaseConfig": knowledge_base_config}]},
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/results/{name}/"},
    }


def _retrieve_only(knowledge_base_id: str = KB) -> dict[str, Any]:
    retrieval = {"vectorSearchConfiguration": {"numberOfResults": 2}}
    return {
        "retrieveConfig": {
            "knowledgeBaseId": knowledge_base_id,
            "knowledgeBaseRetrievalConfiguration": retrieval,
        }
    }


@pytest.fixture
def live_dataset(s3_client: Any, bucket: str) -> Any:
    def upload(*records: dict[str, Any]) -> None:
        body = "".join(json.dumps(record) + "\n" for record in records)
        s3_client.put_object(Bucket=bucket, Key="datasets/live.jsonl", Body=body.encode())

    return upload


@pytest.fixture
def registered(mocked_aws: None, emulator: Any) -> KnowledgeBase:
    """The example knowledge base, registered in the test account's REGION."""
    knowledge_base = KnowledgeBase.from_documents(KB, read_folder(KB_ROOT / KB))
    emulator.knowledge_bases_for(ACCOUNT, REGION).register(knowledge_base)
    return knowledge_base


def test_a_retrieve_only_job_on_a_registered_knowledge_base_completes(
    bedrock: Any, registered: KnowledgeBase, live_dataset: Any, bucket: str, s3_results: S3Results
) -> None:
    # Given the example knowledge base registered and a one-turn dataset
    live_dataset(_turns("How are refunds issued?"))
    metrics = ["Builtin.ContextRelevance", "Builtin.ContextCoverage"]

    # When a retrieve-only job is created and read back
    arn = bedrock.create_evaluation_job(**_request(bucket, "kb-retrieve", _retrieve_only(), metrics))[
        "jobArn"
    ]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it completed, listed with its knowledge base, its output under models/<id>/
    assert job["status"] == "Completed"
    [summary] = bedrock.list_evaluation_jobs(nameContains="kb-retrieve")["jobSummaries"]
    assert summary["applicationType"] == "RagEvaluation"
    [key] = s3_results.outputs("results/kb-retrieve/")
    assert "/inference_configs/0/datasets/live/" in key
    [line] = s3_results.lines(key)
    [turn] = line["conversationTurns"]
    results = turn["output"]["retrievedPassages"]["retrievalResults"]
    assert 1 <= len(results) <= 2 and "Refunds are issued" in results[0]["content"]["text"]
    assert [r["metricName"] for r in turn["results"]] == metrics


def test_a_knowledge_base_of_another_region_is_not_found(
    bedrock: Any, emulator: Any, live_dataset: Any, bucket: str
) -> None:
    # Given the knowledge base registered in another Region only
    emulator.knowledge_bases_for(ACCOUNT, "eu-west-1").register(
        KnowledgeBase.from_documents(KB, [Document("a.md", "Refunds are issued within 5 days.")])
    )
    live_dataset(_turns("How are refunds issued?"))

    # When a job in REGION names it
    request = _request(bucket, "kb-elsewhere", _retrieve_only(), ["Builtin.ContextRelevance"])
    arn = bedrock.create_evaluation_job(**request)["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it is Failed with the emulator's not-found message
    assert job["status"] == "Failed"
    assert job["failureMessages"][0].startswith(f"The knowledge base {KB} was not found in {REGION}")


def test_the_emulators_reset_keeps_knowledge_bases(emulator: Any, registered: KnowledgeBase) -> None:
    # Given a registered knowledge base / When the emulator's controls and jobs are reset
    emulator.reset()
    # Then the knowledge base is still there (a resource, like S3 objects)
    assert emulator.knowledge_bases_for(ACCOUNT, REGION).get(KB) is registered


def test_external_sources_from_s3_and_byte_content_run_through_boto3(
    bedrock: Any, emulator: Any, s3_client: Any, live_dataset: Any, bucket: str, s3_results: S3Results
) -> None:
    # Given a document under sources/ in S3 and the same content as a byteContent blob
    document = "Refunds are issued within 5 business days.\n\nOur support line is open on weekdays."
    s3_client.put_object(Bucket=bucket, Key="sources/faq.md", Body=document.encode())
    live_dataset(_turns("How long does a refund take?", "When is the support line open?"))
    sources = {
        "s3": {"sourceType": "S3", "s3Location": {"uri": f"s3://{bucket}/sources/faq.md"}},
        # boto3 takes the blob as bytes and base64-encodes it on the wire.
        "bytes": {
            "sourceType": "BYTE_CONTENT",
            "byteContent": {
                "identifier": "faq.md",
                "contentType": "text/markdown",
                "data": document.encode(),
            },
        },
    }
    for name, source in sources.items():
        config = {
            "retrieveAndGenerateConfig": {
                "type": "EXTERNAL_SOURCES",
                "externalSourcesConfiguration": {"modelArn": MODEL, "sources": [source]},
            }
        }
        # When the job runs
        request = _request(
            bucket, f"kb-external-{name}", config, ["Builtin.Correctness", "Builtin.CitationPrecision"]
        )
        arn = bedrock.create_evaluation_job(**request)["jobArn"]
        # Then it completed and answered both turns from the document
        assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
        [key] = s3_results.outputs(f"results/kb-external-{name}/")
        assert "/inference_configs/0/datasets/live/" in key  # the reported RAG layout
        [line] = s3_results.lines(key)
        texts = [turn["output"]["text"] for turn in line["conversationTurns"]]
        assert texts == [
            "Refunds are issued within 5 business days.",
            "Our support line is open on weekdays.",
        ]


# --- the HTTP control (server mode) ----------------------------------------------------------------


@pytest.fixture
def server(aws_env: None, emulator: Any) -> Iterator[str]:
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5)
        moto_server.stop()


def _control(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/moto-api/evalpipe/bedrock-emulator/knowledge-bases",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_knowledge_bases_register_over_http_and_serve_jobs(server: str) -> None:
    # Given a moto server with the emulator, a bucket and a live dataset in eu-west-1
    region, bucket = "eu-west-1", "evalpipe-live-rag"
    s3 = boto3.client("s3", region_name=region, endpoint_url=server)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(
        Bucket=bucket, Key="datasets/live.jsonl", Body=json.dumps(_turns("How are refunds issued?")).encode()
    )

    # When the example folder is registered over HTTP, as the local mode does
    status, body = _control(server, folder_payload(KB_ROOT, region))

    # Then the control answers the Region's knowledge bases and a job there completes
    assert status == 200
    assert body == {"knowledgeBases": [{"knowledgeBaseId": KB, "documents": 4, "passages": 11}]}
    bedrock = boto3.client("bedrock", region_name=region, endpoint_url=server)
    request = _request(bucket, "kb-over-http", _retrieve_only(), ["Builtin.ContextRelevance"])
    arn = bedrock.create_evaluation_job(**request)["jobArn"]
    assert _control(server, {"region": region}) == (200, body)  # a read leaves the registry as it is
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"

    # And a bad payload is a 400 naming the problem
    status, body = _control(
        server, {"region": region, "knowledgeBases": [{"knowledgeBaseId": "bad-id", "documents": []}]}
    )
    assert status == 400 and "bad-id" in body["message"]
