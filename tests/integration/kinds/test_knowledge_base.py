"""Validate and submit of live knowledge-base suites against moto, with the deployment's allow-lists."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest

from evalpipe.run.triggers import DatasetObject
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from tests.builders import JUDGE
from tests.integration.steps.flow import JOB_ARN, ROLE_ARN

KB = "KBASSIST01"
GENERATOR = "amazon.nova-lite-v1:0"
DOCUMENT = b"Refunds are issued within 5 business days.\n"
EXTERNAL = (
    "inferenceConfig.ragConfigs[0].knowledgeBaseConfig.retrieveAndGenerateConfig.externalSourcesConfiguration"
)
LINES = [
    {
        "category": "billing",
        "conversationTurns": [{"prompt": {"content": [{"text": "How long do refunds take?"}]}}],
    },
]


def suite(knowledge_base_config: dict[str, Any]) -> dict[str, Any]:
    # Not tests/builders.py's judge suite: a RagEvaluation on a knowledge base, no custom metric.
    return {
        "applicationType": "RagEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {"name": "smoke"},
                        "metricNames": ["Builtin.Correctness"],
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            }
        },
        "inferenceConfig": {"ragConfigs": [{"knowledgeBaseConfig": knowledge_base_config}]},
    }


def knowledge_base(knowledge_base_id: str = KB) -> dict[str, Any]:
    return {
        "retrieveAndGenerateConfig": {
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {"knowledgeBaseId": knowledge_base_id, "modelArn": GENERATOR},
        }
    }


def external(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "retrieveAndGenerateConfig": {
            "type": "EXTERNAL_SOURCES",
            "externalSourcesConfiguration": {"modelArn": GENERATOR, "sources": [source]},
        }
    }


@pytest.fixture
def deployed(ports):
    """The ports of a deployment with KBASSIST01, Nova Lite and external sources allowed."""
    settings = ports.settings.model_copy(
        update={
            "allowed_inference_models": (GENERATOR,),
            "allowed_knowledge_bases": (KB,),
            "allow_external_sources": True,
        }
    )
    return dataclasses.replace(ports, settings=settings)


def test_a_knowledge_base_the_deployment_allows_is_valid(deployed, dropped):
    # Given a live suite on KBASSIST01 and a prompt-only dataset / When validated
    result = validate(dropped(LINES, suite(knowledge_base())), deployed)
    # Then the run is valid
    assert result["outcome"] == "VALID", deployed.runs.get(result["run_id"])


def test_the_default_deployment_rejects_every_knowledge_base(ports, dropped):
    # Given the functions' default environment (no ALLOWED_KNOWLEDGE_BASES, no inference model)
    result = validate(dropped(LINES, suite(knowledge_base())), ports)
    # Then both the knowledge base and its generator are named
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    assert sorted(p.field.rsplit(".", 1)[-1] for p in run.problems) == ["knowledgeBaseId", "modelArn"]


def test_an_s3_source_in_another_bucket_is_rejected_naming_the_pipelines(deployed, dropped, bucket):
    # Given an external source outside s3://<the pipeline's bucket>/sources/
    source = {"sourceType": "S3", "s3Location": {"uri": "s3://somewhere-else/sources/faq.md"}}
    result = validate(dropped(LINES, suite(external(source))), deployed)
    # Then the rejection names the field and the prefix the role may read
    run = deployed.runs.get(result["run_id"])
    assert result["outcome"] == "REJECTED"
    [problem] = run.problems
    assert problem.field == f"{EXTERNAL}.sources[0].s3Location.uri"
    assert f"s3://{bucket}/sources/" in problem.message


def test_external_sources_off_rejects_the_suite(ports, dropped, bucket):
    settings = ports.settings.model_copy(update={"allowed_inference_models": (GENERATOR,)})
    source = {"sourceType": "S3", "s3Location": {"uri": f"s3://{bucket}/sources/faq.md"}}
    result = validate(dropped(LINES, suite(external(source))), dataclasses.replace(ports, settings=settings))
    [problem] = ports.runs.get(result["run_id"]).problems
    assert problem.field == EXTERNAL and "externalSources" in problem.message


def test_submit_sends_byte_content_as_the_documents_bytes(deployed, dropped, bedrock, bucket):
    # Given a valid external-sources run whose suite holds the document base64-encoded
    content = {
        "identifier": "faq.txt",
        "contentType": "text/plain",
        "data": base64.b64encode(DOCUMENT).decode(),
    }
    document = suite(external({"sourceType": "BYTE_CONTENT", "byteContent": content}))
    event = dropped(LINES, document)
    run_id = validate(event, deployed)["run_id"]

    # When submitted / Then Bedrock receives the bytes, once encoded by botocore on the wire
    dataset = DatasetObject.from_event(event)
    expected_config = json.loads(json.dumps(document["inferenceConfig"]))
    source = expected_config["ragConfigs"][0]["knowledgeBaseConfig"]["retrieveAndGenerateConfig"]
    source["externalSourcesConfiguration"]["sources"][0]["byteContent"]["data"] = DOCUMENT
    bedrock.add_response(
        "create_evaluation_job",
        {"jobArn": JOB_ARN},
        {
            "jobName": run_id,
            "jobDescription": "evalpipe run of suite smoke",
            "clientRequestToken": dataset.client_request_token,
            "roleArn": ROLE_ARN,
            "applicationType": "RagEvaluation",
            "evaluationConfig": {
                "automated": {
                    **document["evaluationConfig"]["automated"],
                    "datasetMetricConfigs": [
                        {
                            "taskType": "General",
                            "dataset": {
                                "name": "smoke",
                                "datasetLocation": {
                                    "s3Uri": f"s3://{dataset.bucket}/inputs/{dataset.suite}/{dataset.run_id}/"
                                    f"{dataset.name}.jsonl"
                                },
                            },
                            "metricNames": ["Builtin.Correctness"],
                        }
                    ],
                }
            },
            "inferenceConfig": expected_config,
            "outputDataConfig": {"s3Uri": f"s3://{bucket}/results/smoke/{run_id}/"},
            "jobTags": [
                {"key": "evalpipe:suite", "value": "smoke"},
                {"key": "evalpipe:run-id", "value": run_id},
            ],
        },
    )
    assert submit(run_id, 1, deployed)["job_arn"] == JOB_ARN
