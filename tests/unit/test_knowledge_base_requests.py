"""Live knowledge-base suites become requests botocore accepts; the functions read their allow-lists."""

from __future__ import annotations

import base64
import copy
import doctest
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

import evalpipe.suite.job_request
import evalpipe.validation.knowledge_base_rules
import local.bedrock_emulator.knowledge_bases
import local.bedrock_emulator.live_rag
from evalpipe.run.triggers import DatasetObject
from evalpipe.settings import Settings
from evalpipe.suite import Suite
from evalpipe.suite.job_request import build_create_job_request, request_inference_config

ROOT = Path(__file__).resolve().parents[2]
SUITE_PATH = ROOT / "examples" / "suites" / "kb-assistant-live.json"
DOCUMENT = "Refunds are issued within 5 business days.\n"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghijkl"


def _external_suite() -> dict[str, Any]:
    document = json.loads(SUITE_PATH.read_text(encoding="utf-8"))
    document["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"] = {
        "retrieveAndGenerateConfig": {
            "type": "EXTERNAL_SOURCES",
            "externalSourcesConfiguration": {
                "modelArn": "amazon.nova-lite-v1:0",
                "sources": [
                    {
                        "sourceType": "BYTE_CONTENT",
                        "byteContent": {
                            "identifier": "refunds.txt",
                            "contentType": "text/plain",
                            "data": base64.b64encode(DOCUMENT.encode()).decode(),
                        },
                    }
                ],
            },
        }
    }
    return document


def _dataset() -> DatasetObject:
    return DatasetObject(
        bucket="evalpipe-data-123456789012",
        key="datasets/kb-assistant-live/sample.jsonl",
        version_id=None,
        etag="0f343b0931126a20f133d67c2b018a3b",
        size=100,
        event_time=datetime(2025, 5, 3, 4, 5, 6, tzinfo=UTC),
    )


def _client() -> Any:
    return botocore.session.get_session().create_client(
        "bedrock", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_byte_content_is_decoded_once_for_boto3_and_the_suite_is_untouched() -> None:
    # Given an external-sources suite whose byteContent data is base64 (as the API and CLI write it)
    document = _external_suite()
    before = copy.deepcopy(document)
    suite = Suite.from_document("kb-external", document)

    # When its request is built
    request = build_create_job_request(
        suite, _dataset(), role_arn="arn:aws:iam::123456789012:role/r", output_s3_uri="s3://b/results/x/"
    )

    # Then boto3 gets the document's bytes, and the suite still holds the base64 text
    external = request["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"][
        "retrieveAndGenerateConfig"
    ]["externalSourcesConfiguration"]
    assert external["sources"][0]["byteContent"]["data"] == DOCUMENT.encode()
    assert document == before
    assert suite.inference_config == before["inferenceConfig"]


def test_botocore_sends_the_document_base64_encoded_exactly_once() -> None:
    # Given the built request / When botocore serialises it for the wire
    suite = Suite.from_document("kb-external", _external_suite())
    request = build_create_job_request(
        suite, _dataset(), role_arn="arn:aws:iam::123456789012:role/r", output_s3_uri="s3://b/results/x/"
    )
    client = _client()
    sent: dict[str, Any] = {}
    client.meta.events.register("before-send.bedrock.CreateEvaluationJob", lambda request, **_: sent.update(
        body=json.loads(request.body)) or _fake_response())  # fmt: skip
    client.create_evaluation_job(**request)

    # Then the body's data decodes (once) to the document
    rag = sent["body"]["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"]["retrieveAndGenerateConfig"]
    data = rag["externalSourcesConfiguration"]["sources"][0]["byteContent"]["data"]
    assert base64.b64decode(data).decode() == DOCUMENT


def test_the_live_example_builds_a_request_botocore_accepts_unchanged() -> None:
    # Given the knowledge-base example / When its request is built / Then it passes through as the suite says
    suite = Suite.from_document(SUITE_PATH.stem, json.loads(SUITE_PATH.read_text(encoding="utf-8")))
    request = build_create_job_request(
        suite, _dataset(), role_arn="arn:aws:iam::123456789012:role/r", output_s3_uri="s3://b/results/x/"
    )
    assert request["applicationType"] == "RagEvaluation"
    assert request["inferenceConfig"] == suite.inference_config
    with Stubber(client := _client()) as stub:
        stub.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, request)
        assert client.create_evaluation_job(**request)["jobArn"] == JOB_ARN


def test_request_inference_config_leaves_anything_else_alone() -> None:
    config = {"models": [{"bedrockModel": {"modelIdentifier": "m"}}], "ragConfigs": [None, {"x": 1}]}
    assert request_inference_config(config) == config


@pytest.mark.parametrize(
    ("environment", "bases", "external"),
    [
        ({}, (), False),
        (
            {"ALLOWED_KNOWLEDGE_BASES": "KBASSIST01, KB2", "ALLOW_EXTERNAL_SOURCES": "true"},
            ("KBASSIST01", "KB2"),
            True,
        ),
    ],
    ids=["absent", "set"],
)
def test_the_functions_read_their_knowledge_base_allow_list(
    environment: dict, bases: tuple, external: bool
) -> None:
    # Given the validate function's environment as infra.functions writes it / When read
    settings = Settings.model_validate({"RUNS_TABLE_NAME": "t", "BUCKET_NAME": "b", **environment})
    # Then the knowledge bases and the switch come through (absent = none, off)
    assert settings.allowed_knowledge_bases == bases
    assert settings.allow_external_sources is external


@pytest.mark.parametrize(
    "module",
    [
        evalpipe.suite.job_request,
        evalpipe.validation.knowledge_base_rules,
        local.bedrock_emulator.knowledge_bases,
        local.bedrock_emulator.live_rag,
    ],
)
def test_the_docstring_examples_hold(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def _fake_response() -> Any:
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield json.dumps({"jobArn": JOB_ARN}).encode()

    return AWSResponse("https://bedrock.us-east-1.amazonaws.com", 202, {}, _Raw())
