"""Live knowledge-base suites (``knowledgeBaseConfig``): the deployment's rules on top of the shape walk."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from evalpipe.validation import ExternalSourcesAccess, Report, validate_dataset, validate_run, validate_suite
from evalpipe.validation.deployment import DeploymentLimits
from evalpipe.validation.knowledge_base_rules import model_allowed
from tests.builders import jsonl
from tests.unit.validation.builders import (
    CONFIG,
    DATASET_FILE,
    JUDGE,
    SUITE_FILE,
    fields,
    make_suite,
    only,
    put,
)

KB = "KBASSIST01"
GENERATOR = "amazon.nova-lite-v1:0"
BUCKET = "evalpipe-data-123456789012"
RAG = "inferenceConfig.ragConfigs[0].knowledgeBaseConfig"
GENERATE = f"{RAG}.retrieveAndGenerateConfig"
KB_CONFIG = f"{GENERATE}.knowledgeBaseConfiguration"
EXTERNAL = f"{GENERATE}.externalSourcesConfiguration"
SOURCE = f"{EXTERNAL}.sources[0]"
DEPLOYMENT: dict[str, Any] = {
    "allowed_evaluator_models": [JUDGE],
    "allowed_inference_models": [GENERATOR],
    "allowed_knowledge_bases": [KB],
    "external_sources": ExternalSourcesAccess(True, BUCKET),
}


def rag_suite(knowledge_base_config: dict[str, Any], metrics: list[str] | None = None) -> dict[str, Any]:
    suite = make_suite()
    suite["applicationType"] = "RagEvaluation"
    del suite["evaluationConfig"]["automated"]["customMetricConfig"]
    del suite["pipeline"]["lowScore"]["custom"], suite["pipeline"]["lowScore"]["metrics"]
    put(suite, (*CONFIG, "metricNames"), metrics or ["Builtin.Correctness", "Builtin.CitationPrecision"])
    suite["inferenceConfig"] = {"ragConfigs": [{"knowledgeBaseConfig": knowledge_base_config}]}
    return suite


def knowledge_base(**inner: Any) -> dict[str, Any]:
    configuration = {"knowledgeBaseId": KB, "modelArn": GENERATOR, **inner}
    return {
        "retrieveAndGenerateConfig": {"type": "KNOWLEDGE_BASE", "knowledgeBaseConfiguration": configuration}
    }


def retrieve_only(knowledge_base_id: str = KB, **search: Any) -> dict[str, Any]:
    retrieval = {"vectorSearchConfiguration": {"numberOfResults": 5, **search}}
    return {
        "retrieveConfig": {
            "knowledgeBaseId": knowledge_base_id,
            "knowledgeBaseRetrievalConfiguration": retrieval,
        }
    }


def external(*sources: dict[str, Any], model: str = GENERATOR) -> dict[str, Any]:
    configuration = {"modelArn": model, "sources": list(sources)}
    return {
        "retrieveAndGenerateConfig": {
            "type": "EXTERNAL_SOURCES",
            "externalSourcesConfiguration": configuration,
        }
    }


def s3_source(uri: str) -> dict[str, Any]:
    return {"sourceType": "S3", "s3Location": {"uri": uri}}


def byte_source(data: str) -> dict[str, Any]:
    return {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {"identifier": "faq.txt", "contentType": "text/plain", "data": data},
    }


def check(suite: Any, **kwargs: Any) -> Report:
    return validate_suite(suite, SUITE_FILE, limits=DeploymentLimits(**{**DEPLOYMENT, **kwargs}))


# --- the knowledge base and the models it invokes ---------------------------------------------


def test_a_knowledge_base_the_deployment_allows_validates_clean() -> None:
    # Given a retrieve-and-generate suite on an allowed knowledge base with filters and generation
    suite = rag_suite(
        knowledge_base(
            retrievalConfiguration={
                "vectorSearchConfiguration": {
                    "numberOfResults": 3,
                    "overrideSearchType": "HYBRID",
                    "filter": {
                        "andAll": [
                            {"equals": {"key": "topic", "value": "billing"}},
                            {"greaterThanOrEquals": {"key": "updated", "value": 2024}},
                        ]
                    },
                }
            },
            generationConfiguration={
                "promptTemplate": {"textPromptTemplate": "Answer from $search_results$: $query$"},
                "kbInferenceConfig": {"textInferenceConfig": {"temperature": 0, "maxTokens": 300}},
                "additionalModelRequestFields": {"top_k": 50},
            },
            orchestrationConfiguration={"queryTransformationConfiguration": {"type": "QUERY_DECOMPOSITION"}},
        )
    )
    # When validated against the deployment / Then nothing is reported
    assert check(suite).problems == []


def test_a_knowledge_base_outside_knowledge_bases_is_denied_with_the_setting_named() -> None:
    # Given a suite on a knowledge base the deployment does not list
    suite = rag_suite(knowledge_base(knowledgeBaseId="KBOTHER123"))
    # When validated / Then the one error sits on knowledgeBaseId and says how to allow it
    problem = only(check(suite), f"{KB_CONFIG}.knowledgeBaseId")
    assert "'KBOTHER123' would be denied" in problem.message
    assert KB in problem.message and "knowledgeBases" in problem.message


def test_no_knowledge_base_is_allowed_by_default() -> None:
    # Given a deployment with the default knowledgeBases [] / When a retrieve-only suite is validated
    problem = only(
        check(rag_suite(retrieve_only(), ["Builtin.ContextRelevance"]), allowed_knowledge_bases=[])
    )
    # Then it is denied on the retrieveConfig's id
    assert problem.field == f"{RAG}.retrieveConfig.knowledgeBaseId"
    assert "may query no knowledge base" in problem.message


def test_the_offline_cli_without_a_deployment_skips_the_allow_lists() -> None:
    # Given no deployment facts (None) / When an unknown knowledge base and model are validated
    suite = rag_suite(knowledge_base(knowledgeBaseId="KBOTHER123", modelArn="amazon.nova-pro-v1:0"))
    report = validate_suite(suite, SUITE_FILE)
    # Then neither is reported
    assert report.problems == []


@pytest.mark.parametrize(
    "model",
    [GENERATOR, f"arn:aws:bedrock:us-east-1::foundation-model/{GENERATOR}"],
    ids=["id", "foundation-model-arn"],
)
def test_the_generator_may_be_named_by_id_or_arn(model: str) -> None:
    # Given the allowed generator as an id or as its foundation-model ARN / Then it validates
    assert check(rag_suite(knowledge_base(modelArn=model))).problems == []


def test_a_generator_the_role_may_not_invoke_is_denied() -> None:
    # Given a generator outside inferenceModels
    problem = only(check(rag_suite(knowledge_base(modelArn="amazon.nova-pro-v1:0"))), f"{KB_CONFIG}.modelArn")
    # Then the error says the role must invoke it and names the setting
    assert "writes the answers" in problem.message and "inferenceModels" in problem.message


@pytest.mark.parametrize("kind", ["retrieve-and-generate", "retrieve-only"])
def test_models_the_retrieval_invokes_must_be_allowed_too(kind: str) -> None:
    # Given implicit filters and a reranker on models outside inferenceModels
    other = "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0"
    search = {
        "numberOfResults": 5,
        "implicitFilterConfiguration": {
            "metadataAttributes": [{"key": "topic", "type": "STRING", "description": "the topic"}],
            "modelArn": "anthropic.claude-3-haiku-20240307-v1:0",
        },
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {"modelConfiguration": {"modelArn": other}},
        },
    }
    if kind == "retrieve-only":
        suite = rag_suite(retrieve_only(**search), ["Builtin.ContextRelevance"])
        search_path = f"{RAG}.retrieveConfig.knowledgeBaseRetrievalConfiguration.vectorSearchConfiguration"
    else:
        suite = rag_suite(knowledge_base(retrievalConfiguration={"vectorSearchConfiguration": search}))
        search_path = f"{KB_CONFIG}.retrievalConfiguration.vectorSearchConfiguration"
    # When validated / Then both model fields are reported
    assert fields(check(suite)) == [
        f"{search_path}.implicitFilterConfiguration.modelArn",
        f"{search_path}.rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration.modelArn",
    ]


def test_model_allowed_compares_arns_by_model_id() -> None:
    # Given ids and ARNs on either side / Then foundation-model and profile ARNs match their ids only
    profile = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-lite-v1:0"
    assert model_allowed(profile, ["us.amazon.nova-lite-v1:0"])
    assert model_allowed(
        "amazon.nova-lite-v1:0", [f"arn:aws:bedrock:eu-west-1::foundation-model/{GENERATOR}"]
    )
    assert not model_allowed(profile, [GENERATOR])
    assert not model_allowed("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc", [GENERATOR])


# --- the shape walk and the type ------------------------------------------------------------


def test_the_service_model_still_checks_ids_filters_and_numbers() -> None:
    # Given a bad id pattern, a one-item andAll and numberOfResults 0
    suite = rag_suite(
        retrieve_only(
            "kb-assist", numberOfResults=0, filter={"andAll": [{"equals": {"key": "a", "value": 1}}]}
        ),
        ["Builtin.ContextRelevance"],
    )
    # When validated without a deployment / Then the walk reports each at its path
    search = f"{RAG}.retrieveConfig.knowledgeBaseRetrievalConfiguration.vectorSearchConfiguration"
    assert set(fields(validate_suite(suite, SUITE_FILE))) == {
        f"{RAG}.retrieveConfig.knowledgeBaseId",
        f"{search}.numberOfResults",
        f"{search}.filter.andAll",
    }


def test_type_must_name_the_configuration_given() -> None:
    # Given type KNOWLEDGE_BASE with only an external-sources configuration
    config = external(byte_source(base64.b64encode(b"doc").decode()))
    config["retrieveAndGenerateConfig"]["type"] = "KNOWLEDGE_BASE"
    # Then the missing one and the unused one are both reported
    assert fields(check(rag_suite(config))) == [f"{GENERATE}.knowledgeBaseConfiguration", EXTERNAL]


# --- metrics fit retrieve-only or retrieve-and-generate --------------------------------------


def test_retrieve_only_takes_only_the_context_metrics() -> None:
    # Given a live retrieve-only suite listing a generation metric
    suite = rag_suite(retrieve_only(), ["Builtin.ContextRelevance", "Builtin.Correctness"])
    # Then the generation metric is the one error, explained
    problem = only(check(suite), "evaluationConfig.automated.datasetMetricConfigs[0].metricNames[1]")
    assert "retrieve only" in problem.message and "Builtin.ContextCoverage" in problem.message


def test_retrieve_and_generate_takes_no_context_metric() -> None:
    suite = rag_suite(knowledge_base(), ["Builtin.Correctness", "Builtin.ContextRelevance"])
    problem = only(check(suite), "evaluationConfig.automated.datasetMetricConfigs[0].metricNames[1]")
    assert "retrieve and generate" in problem.message


# --- external sources --------------------------------------------------------------------------


def test_external_sources_in_the_sources_prefix_validate_clean() -> None:
    # Given an S3 source under sources/ of the pipeline's bucket, and a base64 byteContent source
    for source in (
        s3_source(f"s3://{BUCKET}/sources/faq.md"),
        byte_source(base64.b64encode(b"FAQ").decode()),
    ):
        # Then each validates clean
        assert check(rag_suite(external(source))).problems == []


@pytest.mark.parametrize(
    ("uri", "bucket"),
    [
        ("s3://other-bucket/sources/faq.md", BUCKET),
        (f"s3://{BUCKET}/datasets/demo/faq.md", BUCKET),
        (f"s3://{BUCKET}/sources/", BUCKET),
        ("s3://any-bucket/docs/faq.md", None),
    ],
    ids=["other-bucket", "other-prefix", "the-prefix-itself", "no-bucket-known"],
)
def test_an_s3_source_outside_sources_is_refused(uri: str, bucket: str | None) -> None:
    # Given an S3 source the role cannot read / When validated
    report = check(rag_suite(external(s3_source(uri))), external_sources=ExternalSourcesAccess(True, bucket))
    # Then the uri is the one error, and it says where documents go
    problem = only(report, f"{SOURCE}.s3Location.uri")
    assert "sources/" in problem.message


def test_the_offline_cli_checks_the_prefix_but_not_the_bucket() -> None:
    suite = rag_suite(external(s3_source("s3://any-bucket/sources/faq.md")))
    assert (
        validate_suite(
            suite, SUITE_FILE, limits=DeploymentLimits(allowed_inference_models=[GENERATOR])
        ).problems
        == []
    )


def test_external_sources_need_the_deployments_switch() -> None:
    # Given a deployment with externalSources off / When an external-sources suite is validated
    suite = rag_suite(external(s3_source(f"s3://{BUCKET}/sources/faq.md")))
    problem = only(check(suite, external_sources=ExternalSourcesAccess(False, BUCKET)), EXTERNAL)
    # Then the error names the setting
    assert "externalSources" in problem.message


def test_the_external_generator_must_be_allowed() -> None:
    suite = rag_suite(external(s3_source(f"s3://{BUCKET}/sources/faq.md"), model="amazon.nova-pro-v1:0"))
    only(check(suite), f"{EXTERNAL}.modelArn")


@pytest.mark.parametrize(
    ("data", "why"),
    [("not base64!", "not base64"), ("", "decodes to no bytes")],
    ids=["not-base64", "empty"],
)
def test_byte_content_must_be_base64_of_something(data: str, why: str) -> None:
    report = check(rag_suite(external(byte_source(data))))
    assert any(p.field == f"{SOURCE}.byteContent.data" and why in p.message for p in report.problems)


def test_the_source_type_must_match_its_member() -> None:
    # Given sourceType S3 carrying byteContent only
    source = byte_source(base64.b64encode(b"x").decode())
    source["sourceType"] = "S3"
    # Then the missing s3Location and the unused byteContent are reported
    assert fields(check(rag_suite(external(source)))) == [f"{SOURCE}.s3Location", f"{SOURCE}.byteContent"]


# --- live datasets ------------------------------------------------------------------------------


def turn(prompt: str = "How do I reset my password?", **extra: Any) -> dict[str, Any]:
    return {
        "prompt": {"content": [{"text": prompt}]},
        "referenceResponses": [{"content": [{"text": "Choose Forgot password."}]}],
        **extra,
    }


def check_lines(suite: dict[str, Any], *records: Any) -> Report:
    return validate_dataset([jsonl(records)], DATASET_FILE, suite=suite)


def test_a_live_dataset_line_carries_prompts_and_references_only() -> None:
    # Given conversations of 1 and 5 turns without output / Then a live suite accepts them
    suite = rag_suite(knowledge_base())
    assert (
        check_lines(suite, {"conversationTurns": [turn()]}, {"conversationTurns": [turn()] * 5}).problems
        == []
    )


def test_an_output_in_a_live_dataset_names_line_and_field() -> None:
    # Given a second line whose second turn carries an output
    suite = rag_suite(knowledge_base())
    answered = turn(output={"text": "Choose Forgot password.", "knowledgeBaseIdentifier": KB})
    report = check_lines(suite, {"conversationTurns": [turn()]}, {"conversationTurns": [turn(), answered]})
    # Then the error is on line 2, conversationTurns[1].output
    problem = only(report, "conversationTurns[1].output", line=2)
    assert "remove output" in problem.message


@pytest.mark.parametrize(
    ("config", "turns", "allowed"),
    [(retrieve_only(), 2, "exactly 1 turn"), (knowledge_base(), 6, "1 to 5 turns")],
    ids=["retrieve-only", "retrieve-and-generate"],
)
def test_turn_limits_of_live_suites(config: dict[str, Any], turns: int, allowed: str) -> None:
    metrics = ["Builtin.ContextRelevance"] if "retrieveConfig" in config else None
    problem = only(check_lines(rag_suite(config, metrics), {"conversationTurns": [turn()] * turns}))
    assert problem.field == "conversationTurns" and allowed in problem.message


def test_validate_run_reports_the_suite_then_the_dataset() -> None:
    # Given a suite on a denied knowledge base and a dataset line with an output
    suite = rag_suite(knowledge_base(knowledgeBaseId="KBOTHER123"))
    data = jsonl([{"conversationTurns": [turn(output={"text": "x"})]}])
    # When validated together as the pipeline does
    report = validate_run(
        json.dumps(suite).encode(), SUITE_FILE, [data], DATASET_FILE, limits=DeploymentLimits(**DEPLOYMENT)
    )
    # Then the suite's problem comes first, then the line's
    assert fields(report) == [f"{KB_CONFIG}.knowledgeBaseId", "conversationTurns[0].output"]
    assert [p.line for p in report.problems] == [None, 1]


def test_rules_never_raise_on_malformed_knowledge_base_configs() -> None:
    # Given knowledgeBaseConfig values of every wrong type / Then validation reports, never raises
    for value in (None, 1, "x", [], {"retrieveAndGenerateConfig": {"type": "EXTERNAL_SOURCES",
                  "externalSourcesConfiguration": {"sources": [None, 1, {"s3Location": "x"}]}}}):  # fmt: skip
        suite = rag_suite({})
        suite["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"] = copy.deepcopy(value)
        assert not check(suite).ok
