"""The example suite and dataset a newcomer uploads: they parse, validate and fit together."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema
import pytest
from botocore.stub import Stubber

from evalpipe.run.triggers import DatasetObject
from evalpipe.suite import Suite
from evalpipe.suite.job_request import build_create_job_request
from evalpipe.validation import validate_run
from evalpipe.validation.deployment import DeploymentLimits

ROOT = Path(__file__).resolve().parents[2]
SUITE_PATH = ROOT / "examples" / "suites" / "support-assistant.json"
DATASET_PATH = ROOT / "examples" / "datasets" / "support-assistant" / "sample.jsonl"
SCHEMA_PATH = ROOT / "schema" / "suite.schema.json"
JUDGE = "amazon.nova-pro-v1:0"
APP = "bookstore-assistant-v3"
CUSTOM_METRICS = ["confirmation_check", "response_brevity"]
BUILTIN_METRICS = [
    "Builtin.Helpfulness",
    "Builtin.Correctness",
    "Builtin.Completeness",
    "Builtin.Relevance",
    "Builtin.ProfessionalStyleAndTone",
    "Builtin.FollowingInstructions",
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(SUITE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def suite(document: dict[str, Any]) -> Suite:
    return Suite.from_document(SUITE_PATH.stem, document)


@pytest.fixture(scope="module")
def records() -> list[Any]:
    lines = DATASET_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _definitions(suite: Suite) -> dict[str, dict[str, Any]]:
    metrics = suite.evaluation_config["automated"]["customMetricConfig"]["customMetrics"]
    return {metric["customMetricDefinition"]["name"]: metric["customMetricDefinition"] for metric in metrics}


# --- the suite ----------------------------------------------------------------------------


def test_example_suite_parses_without_warnings(suite: Suite) -> None:
    # Given the example suite file; when parsed (in from_document's fixture)
    # Then it uses the API spelling throughout and reads as documented
    assert suite.name == "support-assistant"
    assert suite.warnings == []
    assert suite.application_type == "ModelEvaluation"
    assert suite.inference_source_identifier == APP
    assert suite.evaluator_model == JUDGE
    assert suite.dataset_name == "bookstore-support"


def test_example_suite_validates_against_the_committed_schema(document: dict[str, Any]) -> None:
    # Given the committed JSON Schema the example points its "$schema" at
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert (SUITE_PATH.parent / document["$schema"]).resolve() == SCHEMA_PATH

    # When the example is validated, then there are no errors
    errors = [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(document)]
    assert errors == []


def test_example_suite_grades_with_six_builtins_and_two_custom_metrics(suite: Suite) -> None:
    # Given the example suite; then its metrics are the brief's, each custom one in both places
    assert suite.metric_names == BUILTIN_METRICS + CUSTOM_METRICS
    assert suite.custom_metric_names == CUSTOM_METRICS
    assert [metric for metric in suite.metric_names if suite.is_builtin(metric)] == BUILTIN_METRICS
    entry = suite.evaluation_config["automated"]["datasetMetricConfigs"]
    assert len(entry) == 1
    assert entry[0]["taskType"] == "General"


def test_example_suite_uses_the_same_judge_at_both_levels(suite: Suite) -> None:
    # Given the two evaluatorModelConfig blocks (built-in and custom metrics)
    automated = suite.evaluation_config["automated"]
    judge = {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}

    # Then both name Nova Pro
    assert automated["evaluatorModelConfig"] == judge
    assert automated["customMetricConfig"]["evaluatorModelConfig"] == judge


@pytest.mark.parametrize("metric", CUSTOM_METRICS)
def test_custom_metric_instructions_end_with_the_input_variables(suite: Suite, metric: str) -> None:
    # Given a custom metric's instructions
    instructions = _definitions(suite)[metric]["instructions"]

    # Then {{prompt}} and {{prediction}} are there, last, and no other text follows
    assert len(instructions) <= 5000
    assert instructions.endswith("\n\nPrompt: {{prompt}}\nResponse: {{prediction}}")
    assert instructions.count("{{") == 2


@pytest.mark.parametrize("metric", CUSTOM_METRICS)
def test_rating_definitions_are_at_most_five_words(suite: Suite, metric: str) -> None:
    # Given a custom metric's rating scale; then every definition is short enough for the API
    scale = _definitions(suite)[metric]["ratingScale"]
    assert 2 <= len(scale) <= 10
    for item in scale:
        assert len(item["definition"].split()) <= 5
        assert len(item["definition"]) <= 100
        assert set(item["value"]) == {"floatValue"}


def test_confirmation_check_has_the_guides_not_applicable_level(suite: Suite) -> None:
    # Given the confirmation_check scale; then it is the guide's N/A (-1) / Poor (0) / Good (1)
    scale = _definitions(suite)["confirmation_check"]["ratingScale"]
    assert [(item["definition"], item["value"]["floatValue"]) for item in scale] == [
        ("N/A", -1),
        ("Poor", 0),
        ("Good", 1),
    ]


def test_example_pipeline_settings(suite: Suite) -> None:
    # Given the example's pipeline section; then it shows each setting with sensible values
    assert suite.low_rule("Builtin.Correctness").describe() == "< 0.7"
    assert suite.low_rule("Builtin.Helpfulness").describe() == "< 0.5"
    assert suite.low_rule("confirmation_check").describe() == "<= 0"
    assert suite.pipeline.job_tags == {"team": "support", "app": "bookstore-assistant"}
    assert suite.pipeline.notification.max_low_records == 10
    assert suite.job_description().startswith("Bookstore support assistant")


# --- the dataset --------------------------------------------------------------------------


def test_every_dataset_line_is_a_precomputed_response_for_the_suites_app(records: list[Any]) -> None:
    # Given the example dataset's lines; then each is an object with exactly one response
    # from the identifier the suite names
    for number, record in enumerate(records, start=1):
        assert isinstance(record, dict), f"line {number}"
        assert set(record) == {"prompt", "referenceResponse", "category", "modelResponses"}, f"line {number}"
        assert isinstance(record["prompt"], str) and record["prompt"].strip(), f"line {number}"
        assert isinstance(record["referenceResponse"], str), f"line {number}"
        assert len(record["modelResponses"]) == 1, f"line {number}"
        response = record["modelResponses"][0]
        assert response["modelIdentifier"] == APP, f"line {number}"
        assert isinstance(response["response"], str) and response["response"].strip(), f"line {number}"
        assert "<thinking>" not in response["response"], f"line {number}"


def test_dataset_size_and_categories(records: list[Any]) -> None:
    # Given the example dataset; then it is small, spread over the app's areas, mostly referenced
    categories = Counter(record["category"] for record in records)
    assert 15 <= len(records) <= 20
    assert len(categories) >= 4
    assert set(categories) == {"orders", "returns", "shipping", "account", "out-of-scope", "complaints"}
    with_reference = sum(1 for record in records if record["referenceResponse"])
    assert len(records) / 2 < with_reference < len(records)


def test_multi_turn_prompts_carry_the_history(records: list[Any]) -> None:
    # Given the multi-turn records (written as the guide's collection step writes them)
    multi_turn = [record["prompt"] for record in records if record["prompt"].startswith("User: ")]

    # Then there are some, alternating User/Assistant and ending with the user's turn
    assert len(multi_turn) >= 3
    for prompt in multi_turn:
        speakers = [line.split(": ", 1)[0] for line in prompt.split("\n")]
        assert speakers[::2] == ["User"] * len(speakers[::2])
        assert speakers[1::2] == ["Assistant"] * len(speakers[1::2])
        assert speakers[-1] == "User"


def test_dataset_file_is_utf8_jsonl_ending_with_a_newline() -> None:
    # Given the raw file; then it is one JSON object per line with no blank lines
    text = DATASET_PATH.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert all(line.strip() for line in text.split("\n")[:-1])


# --- suite + dataset -> request -----------------------------------------------------------

BUCKET = "evalpipe-data-123456789012"
ROLE_ARN = "arn:aws:iam::123456789012:role/evalpipe-bedrock"


def dropped(suite_name: str, path: Path) -> DatasetObject:
    """The example dataset ``path`` as the README uploads it: ``datasets/<suite>/<file name>``."""
    return DatasetObject(
        bucket=BUCKET,
        key=f"datasets/{suite_name}/{path.name}",
        version_id=None,
        etag="0f343b0931126a20f133d67c2b018a3b",
        size=path.stat().st_size,
        event_time=datetime(2025, 5, 3, 4, 5, 6, tzinfo=UTC),
    )


def request_for(suite: Suite, trigger: Any) -> dict[str, Any]:
    """The CreateEvaluationJob request the submit step would send for ``trigger``."""
    return build_create_job_request(
        suite,
        trigger,
        role_arn=ROLE_ARN,
        output_s3_uri=f"s3://{BUCKET}/results/{suite.name}/{trigger.run_id}/",
    )


def assert_botocore_accepts(request: dict[str, Any]) -> None:
    """botocore's own parameter validation (the service model) accepts ``request`` unchanged."""
    client = botocore.session.get_session().create_client(
        "bedrock", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    job_arn = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghijkl"
    with Stubber(client) as stubber:
        stubber.add_response("create_evaluation_job", {"jobArn": job_arn}, expected_params=request)
        assert client.create_evaluation_job(**request)["jobArn"] == job_arn


def test_example_builds_a_request_botocore_accepts(suite: Suite) -> None:
    # Given the example uploaded as the README says
    dataset = dropped("support-assistant", DATASET_PATH)

    # When its request is built
    request = request_for(suite, dataset)

    # Then the dataset points at the dropped object and botocore accepts the request unchanged
    config = request["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]
    assert config["dataset"] == {
        "name": "bookstore-support",
        "datasetLocation": {
            "s3Uri": "s3://evalpipe-data-123456789012/datasets/support-assistant/sample.jsonl"
        },
    }
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", request["jobName"])
    assert_botocore_accepts(request)


# --- the live-inference example -------------------------------------------------------------

LIVE_SUITE_PATH = ROOT / "examples" / "suites" / "support-assistant-live.json"
LIVE_DATASET_PATH = ROOT / "examples" / "datasets" / "support-assistant-live" / "sample.jsonl"
LIVE_MODEL = "amazon.nova-lite-v1:0"


def test_live_example_validates_with_its_dataset_when_the_model_is_allowed() -> None:
    # Given the live example suite and dataset, and a deployment allowing the judge and Nova Lite
    from evalpipe.validation import validate_run

    report = validate_run(
        LIVE_SUITE_PATH.read_bytes(),
        "suites/support-assistant-live.json",
        [LIVE_DATASET_PATH.read_bytes()],
        "datasets/support-assistant-live/sample.jsonl",
        limits=DeploymentLimits(allowed_evaluator_models=[JUDGE], allowed_inference_models=[LIVE_MODEL]),
    )
    # Then nothing is reported; and a deployment allowing no live model rejects it
    assert report.problems == []
    denied = validate_run(
        LIVE_SUITE_PATH.read_bytes(),
        "s.json",
        [LIVE_DATASET_PATH.read_bytes()],
        "d.jsonl",
        limits=DeploymentLimits(allowed_inference_models=[]),
    )
    assert [p.field for p in denied.problems] == ["inferenceConfig.models[0].bedrockModel.modelIdentifier"]


def test_live_example_suite_runs_nova_lite_with_json_inference_params() -> None:
    # Given the live example / When parsed / Then it runs Nova Lite with a JSON-object parameter string
    document = json.loads(LIVE_SUITE_PATH.read_text(encoding="utf-8"))
    suite = Suite.from_document(LIVE_SUITE_PATH.stem, document)
    assert suite.warnings == []
    assert suite.inference_source_identifier is None
    (model,) = suite.inference_config["models"]
    assert model["bedrockModel"]["modelIdentifier"] == LIVE_MODEL
    assert json.loads(model["bedrockModel"]["inferenceParams"]) == {"inferenceConfig": {"maxTokens": 512}}
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_live_example_dataset_has_prompts_references_and_categories_but_no_responses() -> None:
    lines = LIVE_DATASET_PATH.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert 10 <= len(records) <= 15
    for record in records:
        assert set(record) == {"prompt", "referenceResponse", "category"}
        assert record["prompt"].strip() and record["referenceResponse"].strip()
    assert len({record["category"] for record in records}) >= 4
    assert LIVE_DATASET_PATH.read_bytes().endswith(b"\n")


def test_live_example_builds_a_request_botocore_accepts() -> None:
    # Given the live example as dropped / When its request is built / Then botocore accepts it
    suite = Suite.from_document(LIVE_SUITE_PATH.stem, json.loads(LIVE_SUITE_PATH.read_text(encoding="utf-8")))
    dataset = dropped("support-assistant-live", LIVE_DATASET_PATH)
    request = request_for(suite, dataset)
    assert request["inferenceConfig"] == suite.inference_config
    assert_botocore_accepts(request)


# --- the precomputed RAG example ----------------------------------------------------------------

RAG_SUITE_PATH = ROOT / "examples" / "suites" / "kb-assistant-rag.json"
RAG_DATASET_PATH = ROOT / "examples" / "datasets" / "kb-assistant-rag" / "sample.jsonl"
RAG_SOURCE = "kb-assistant-v1"


def test_rag_example_suite_parses_and_matches_the_schema() -> None:
    document = json.loads(RAG_SUITE_PATH.read_text(encoding="utf-8"))
    suite = Suite.from_document(RAG_SUITE_PATH.stem, document)
    assert suite.warnings == []
    assert suite.application_type == "RagEvaluation"
    assert suite.evaluator_model == JUDGE
    source = suite.inference_config["ragConfigs"][0]["precomputedRagSourceConfig"]
    assert source["retrieveAndGenerateSourceConfig"]["ragSourceIdentifier"] == RAG_SOURCE
    metrics = document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"]
    assert 4 <= len(metrics) <= 5
    assert {"Builtin.Faithfulness", "Builtin.CitationPrecision"} <= set(metrics)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_rag_example_dataset_has_conversations_some_multi_turn_and_validates_clean() -> None:
    # Given the RAG example pair / When validated together as the pipeline does / Then nothing is reported
    data = RAG_DATASET_PATH.read_bytes()
    report = validate_run(RAG_SUITE_PATH.read_bytes(), "suite", [data], "dataset")
    assert [p.render() for p in report.problems] == []
    records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert 8 <= len(records) <= 10
    turns = [len(record["conversationTurns"]) for record in records]
    assert max(turns) <= 5 and sum(1 for n in turns if n > 1) >= 3
    for record in records:
        for turn in record["conversationTurns"]:
            assert turn["output"]["knowledgeBaseIdentifier"] == RAG_SOURCE
            assert turn["referenceResponses"][0]["content"][0]["text"].strip()
    assert data.endswith(b"\n")


def test_rag_example_builds_a_request_botocore_accepts() -> None:
    suite = Suite.from_document(RAG_SUITE_PATH.stem, json.loads(RAG_SUITE_PATH.read_text(encoding="utf-8")))
    dataset = dropped("kb-assistant-rag", RAG_DATASET_PATH)
    request = request_for(suite, dataset)
    assert request["applicationType"] == "RagEvaluation"
    assert request["inferenceConfig"] == suite.inference_config
    assert_botocore_accepts(request)


# --- the human evaluation example ------------------------------------------------------------

HUMAN_SUITE_PATH = ROOT / "examples" / "suites" / "support-assistant-human.json"
HUMAN_DATASET_PATH = ROOT / "examples" / "datasets" / "support-assistant-human" / "sample.jsonl"


def test_human_example_validates_with_its_dataset_and_the_schema() -> None:
    report = validate_run(
        HUMAN_SUITE_PATH.read_bytes(),
        "suites/support-assistant-human.json",
        [HUMAN_DATASET_PATH.read_bytes()],
        "datasets/support-assistant-human/sample.jsonl",
        limits=DeploymentLimits(allowed_evaluator_models=[JUDGE]),
    )
    assert report.problems == []
    document = json.loads(HUMAN_SUITE_PATH.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_human_example_rates_thumbs_and_likert_with_a_placeholder_flow() -> None:
    document = json.loads(HUMAN_SUITE_PATH.read_text(encoding="utf-8"))
    human = document["evaluationConfig"]["human"]
    assert human["humanWorkflowConfig"]["flowDefinitionArn"].endswith("flow-definition/replace-with-yours")
    assert {m["name"]: m["ratingMethod"] for m in human["customMetrics"]} == {
        "resolved": "ThumbsUpDown",
        "tone": "IndividualLikertScale",
    }
    suite = Suite.from_document(HUMAN_SUITE_PATH.stem, document)
    assert suite.is_human and suite.metric_names == suite.custom_metric_names == ["resolved", "tone"]


def test_human_example_builds_a_request_botocore_accepts() -> None:
    suite = Suite.from_document(
        HUMAN_SUITE_PATH.stem, json.loads(HUMAN_SUITE_PATH.read_text(encoding="utf-8"))
    )
    dataset = dropped("support-assistant-human", HUMAN_DATASET_PATH)
    request = request_for(suite, dataset)
    config = request["evaluationConfig"]["human"]["datasetMetricConfigs"][0]
    assert config["dataset"]["datasetLocation"]["s3Uri"].endswith(
        "datasets/support-assistant-human/sample.jsonl"
    )
    assert_botocore_accepts(request)


# --- the live knowledge-base example ------------------------------------------------------------

KB_SUITE_PATH = ROOT / "examples" / "suites" / "kb-assistant-live.json"
KB_DATASET_PATH = ROOT / "examples" / "datasets" / "kb-assistant-live" / "sample.jsonl"
KB_DOCUMENTS = ROOT / "examples" / "knowledge-bases"
KB_ID = "KBASSIST01"


def test_live_kb_example_validates_when_the_deployment_allows_its_knowledge_base_and_generator() -> None:
    # Given the live knowledge-base pair and a deployment allowing KBASSIST01, Nova Lite and the judge
    from evalpipe.validation import ExternalSourcesAccess

    allowed = {
        "allowed_evaluator_models": [JUDGE],
        "allowed_inference_models": [LIVE_MODEL],
        "external_sources": ExternalSourcesAccess(False, "evalpipe-data-123456789012"),
    }
    suite, data = KB_SUITE_PATH.read_bytes(), KB_DATASET_PATH.read_bytes()
    report = validate_run(
        suite, "suite", [data], "dataset", limits=DeploymentLimits(allowed_knowledge_bases=[KB_ID], **allowed)
    )
    # Then nothing is reported; and a deployment without knowledge bases rejects it on the id
    assert [p.render() for p in report.problems] == []
    denied = validate_run(
        suite, "suite", [data], "dataset", limits=DeploymentLimits(allowed_knowledge_bases=[], **allowed)
    )
    assert [p.field for p in denied.problems] == [
        "inferenceConfig.ragConfigs[0].knowledgeBaseConfig.retrieveAndGenerateConfig"
        ".knowledgeBaseConfiguration.knowledgeBaseId"
    ]


def test_live_kb_example_suite_queries_its_knowledge_base_and_matches_the_schema() -> None:
    document = json.loads(KB_SUITE_PATH.read_text(encoding="utf-8"))
    suite = Suite.from_document(KB_SUITE_PATH.stem, document)
    assert suite.warnings == [] and suite.application_type == "RagEvaluation"
    generate = suite.inference_config["ragConfigs"][0]["knowledgeBaseConfig"]["retrieveAndGenerateConfig"]
    assert generate["type"] == "KNOWLEDGE_BASE"
    assert generate["knowledgeBaseConfiguration"]["knowledgeBaseId"] == KB_ID
    assert generate["knowledgeBaseConfiguration"]["modelArn"] == LIVE_MODEL
    metrics = document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"]
    assert {"Builtin.CitationPrecision", "Builtin.CitationCoverage"} <= set(metrics)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_live_kb_example_dataset_has_conversations_without_outputs() -> None:
    records = [json.loads(line) for line in KB_DATASET_PATH.read_text(encoding="utf-8").splitlines()]
    assert 6 <= len(records) <= 10
    turns = [len(record["conversationTurns"]) for record in records]
    assert max(turns) <= 5 and sum(1 for n in turns if n > 1) >= 3
    for record in records:
        assert set(record) == {"category", "conversationTurns"}
        for turn in record["conversationTurns"]:
            assert set(turn) == {"prompt", "referenceResponses"}
            assert turn["referenceResponses"][0]["content"][0]["text"].strip()
    assert KB_DATASET_PATH.read_bytes().endswith(b"\n")


def test_live_kb_example_documents_are_one_folder_per_knowledge_base_the_local_mode_allows() -> None:
    # Given the example documents / Then KBASSIST01 is their one folder, every document has metadata
    from local.demo import LOCAL_KNOWLEDGE_BASES

    assert LOCAL_KNOWLEDGE_BASES == [KB_ID]
    documents = sorted((KB_DOCUMENTS / KB_ID).glob("*.md"))
    assert len(documents) >= 3
    for path in documents:
        metadata = json.loads(path.with_name(path.name + ".metadata.json").read_text(encoding="utf-8"))
        assert set(metadata) == {"metadataAttributes"} and metadata["metadataAttributes"]["topic"]


# --- the classic automated example (Accuracy / Robustness / Toxicity, no judge) -------------------

CLASSIC_SUITE_PATH = ROOT / "examples" / "suites" / "support-assistant-classic.json"
CLASSIC_DATASET_PATH = ROOT / "examples" / "datasets" / "support-assistant-classic" / "sample.jsonl"
CLASSIC_METRICS = ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"]


def _classic_suite() -> Suite:
    document = json.loads(CLASSIC_SUITE_PATH.read_text(encoding="utf-8"))
    return Suite.from_document(CLASSIC_SUITE_PATH.stem, document)


def test_classic_example_validates_with_its_dataset_and_the_schema() -> None:
    # Given the classic example pair and a deployment allowing Nova Lite for live inference
    report = validate_run(
        CLASSIC_SUITE_PATH.read_bytes(),
        "suites/support-assistant-classic.json",
        [CLASSIC_DATASET_PATH.read_bytes()],
        "datasets/support-assistant-classic/sample.jsonl",
        limits=DeploymentLimits(allowed_inference_models=[LIVE_MODEL]),
    )
    # Then nothing is reported, and the suite matches the committed schema
    assert [p.render() for p in report.problems] == []
    document = json.loads(CLASSIC_SUITE_PATH.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_classic_example_runs_nova_lite_without_a_judge() -> None:
    # Given the classic example / When parsed / Then a QnA job of the three classic metrics, no judge
    suite = _classic_suite()
    assert suite.metric_names == CLASSIC_METRICS
    assert suite.evaluator_model is None
    assert suite.inference_config["models"][0]["bedrockModel"]["modelIdentifier"] == LIVE_MODEL
    assert suite.evaluation_config["automated"]["datasetMetricConfigs"][0]["taskType"] == "QuestionAndAnswer"
    # And Robustness (a percentage) and Toxicity are flagged when high
    assert suite.low_rule("Robustness").describe() == "> 20"
    assert suite.low_rule("Builtin.Toxicity").describe() == "> 0.3"


def test_classic_example_dataset_has_questions_answers_and_categories_only() -> None:
    records = [json.loads(line) for line in CLASSIC_DATASET_PATH.read_text(encoding="utf-8").splitlines()]
    assert 10 <= len(records) <= 20
    for record in records:
        assert set(record) == {"prompt", "referenceResponse", "category"}
        assert record["referenceResponse"].strip()
    assert CLASSIC_DATASET_PATH.read_bytes().endswith(b"\n")


def test_classic_example_builds_a_request_botocore_accepts() -> None:
    # Given the classic example as dropped / When its request is built / Then botocore accepts it
    suite = _classic_suite()
    dataset = dropped("support-assistant-classic", CLASSIC_DATASET_PATH)
    request = request_for(suite, dataset)
    assert "evaluatorModelConfig" not in request["evaluationConfig"]["automated"]
    assert_botocore_accepts(request)


# --- the scheduled built-in example (Builtin.BoolQ and Builtin.TriviaQA, weekly) --------------------

BUILTIN_SUITE_PATH = ROOT / "examples" / "suites" / "qa-builtin-weekly.json"


def _builtin_suite() -> Suite:
    document = json.loads(BUILTIN_SUITE_PATH.read_text(encoding="utf-8"))
    return Suite.from_document(BUILTIN_SUITE_PATH.stem, document)


def test_builtin_example_validates_alone_and_matches_the_schema() -> None:
    # Given the scheduled example and a deployment allowing Nova Lite for live inference
    from evalpipe.validation import validate_suite

    document = json.loads(BUILTIN_SUITE_PATH.read_text(encoding="utf-8"))
    report = validate_suite(
        document,
        "suites/qa-builtin-weekly.json",
        suite_name="qa-builtin-weekly",
        limits=DeploymentLimits(allowed_inference_models=[LIVE_MODEL]),
    )
    # Then nothing is reported (it has no dataset file), and it matches the committed schema
    assert [p.render() for p in report.problems] == []
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)] == []


def test_builtin_example_runs_weekly_on_two_builtin_datasets_without_a_judge() -> None:
    # Given the scheduled example / When parsed
    suite = _builtin_suite()
    # Then it names only built-in datasets (BoolQ, TriviaQA), classic metrics and no judge
    assert suite.names_only_builtin_datasets
    assert suite.builtin_dataset_names == ["Builtin.BoolQ", "Builtin.TriviaQA"]
    assert suite.custom_dataset_index is None
    assert suite.evaluator_model is None
    for entry in suite.evaluation_config["automated"]["datasetMetricConfigs"]:
        assert entry["taskType"] == "QuestionAndAnswer"
        assert entry["metricNames"] == CLASSIC_METRICS
        assert "datasetLocation" not in entry["dataset"]
    assert suite.inference_config["models"][0]["bedrockModel"]["modelIdentifier"] == LIVE_MODEL
    # And it runs every Monday at 06:00 UTC
    schedule = suite.pipeline.schedule
    assert schedule is not None
    assert (schedule.expression, schedule.timezone, schedule.enabled) == ("cron(0 6 ? * MON *)", "UTC", True)


def test_builtin_example_builds_a_request_botocore_accepts_for_a_scheduled_run() -> None:
    # Given the scheduled example fired by its schedule
    from evalpipe.run.triggers import RunRequest, TriggerKind, run_request_event

    suite = _builtin_suite()
    request_event = run_request_event(
        "qa-builtin-weekly", TriggerKind.SCHEDULE, request_id="d32c5kddcf5bb8c3", time="2026-03-02T06:00:00Z"
    )
    run = RunRequest.from_event(request_event)
    # When its request is built
    request = request_for(suite, run)
    # Then both built-in entries are sent as written, and botocore accepts the request
    assert request["evaluationConfig"] == suite.evaluation_config
    assert_botocore_accepts(request)
