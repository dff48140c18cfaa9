"""validate_dataset on precomputed RAG records (conversationTurns), one test per rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from evalpipe.validation import Report, Severity, validate_dataset
from tests.builders import jsonl
from tests.unit.validation.builders import DATASET_FILE, JUDGE, only

RAG = "my-rag-v1"


def rag_suite(source: str = "retrieveAndGenerateSourceConfig", metrics: list[str] | None = None) -> dict:
    """A precomputed RAG suite: retrieve-and-generate by default, retrieve-only on request."""
    default = ["Builtin.Faithfulness", "Builtin.Helpfulness"]
    if source == "retrieveSourceConfig":
        default = ["Builtin.ContextRelevance"]
    return {
        "applicationType": "RagEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {"taskType": "General", "dataset": {"name": "kb"}, "metricNames": metrics or default}
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            }
        },
        "inferenceConfig": {
            "ragConfigs": [{"precomputedRagSourceConfig": {source: {"ragSourceIdentifier": RAG}}}]
        },
    }


def turn(prompt: str = "How do I reset my password?", **output: Any) -> dict[str, Any]:
    """A valid retrieve-and-generate turn; keyword arguments replace output fields."""
    body: dict[str, Any] = {
        "text": "Use the reset link on the sign-in page.",
        "knowledgeBaseIdentifier": RAG,
        "retrievedPassages": {"retrievalResults": [{"content": {"text": "Reset link on the sign-in page."}}]},
        "citations": [],
    }
    body.update(output)
    return {
        "prompt": {"content": [{"text": prompt}]},
        "referenceResponses": [{"content": [{"text": "Click the reset link on the sign-in page."}]}],
        "output": body,
    }


def retrieval_turn() -> dict[str, Any]:
    return {
        "prompt": {"content": [{"text": "What is the refund window?"}]},
        "output": {
            "knowledgeBaseIdentifier": RAG,
            "retrievedResults": {"retrievalResults": [{"content": {"text": "Refunds within 30 days."}}]},
        },
    }


def check(*records: Any, suite: dict | None = None) -> Report:
    return validate_dataset([jsonl(records)], DATASET_FILE, suite=suite or rag_suite())


def test_valid_conversations_pass() -> None:
    # Given one- and three-turn conversations / When validated / Then nothing is reported
    assert (
        check({"conversationTurns": [turn()]}, {"conversationTurns": [turn(), turn(), turn()]}).problems == []
    )


def test_a_valid_retrieve_only_record_passes_with_either_spelling() -> None:
    # Given retrieve-only records using retrievedResults and retrievedPassages
    other = retrieval_turn()
    other["output"]["retrievedPassages"] = other["output"].pop("retrievedResults")
    # When validated / Then both pass
    assert check({"conversationTurns": [retrieval_turn()]}, {"conversationTurns": [other]},
                 suite=rag_suite("retrieveSourceConfig")).problems == []  # fmt: skip


def test_conversation_turns_is_required() -> None:
    problem = only(check({"turns": []}), "conversationTurns", line=1)
    assert "missing" in problem.message


def test_conversation_turns_must_be_an_array() -> None:
    assert "must be an array" in only(check({"conversationTurns": {}}), "conversationTurns").message


def test_retrieve_and_generate_takes_one_to_five_turns() -> None:
    assert "has 6 turns" in only(check({"conversationTurns": [turn()] * 6}), "conversationTurns").message
    assert "has 0 turns" in only(check({"conversationTurns": []}), "conversationTurns").message


def test_retrieve_only_takes_exactly_one_turn() -> None:
    report = check({"conversationTurns": [retrieval_turn()] * 2}, suite=rag_suite("retrieveSourceConfig"))
    assert "exactly 1 turn" in only(report, "conversationTurns").message


@pytest.mark.parametrize("prompt", [None, "", {"content": []}, {"content": [{"text": 3}]}])
def test_each_turn_needs_a_prompt_text(prompt: Any) -> None:
    second = turn()
    if prompt is None:
        del second["prompt"]
    elif prompt == "":
        second["prompt"]["content"][0]["text"] = " "
    else:
        second["prompt"] = prompt
    only(
        check({"conversationTurns": [turn(), second]}), "conversationTurns[1].prompt.content[0].text", line=1
    )


def test_reference_responses_are_optional_but_shaped() -> None:
    bare = turn()
    del bare["referenceResponses"]
    suite = rag_suite(metrics=["Builtin.Helpfulness"])  # no metric grades against a reference
    assert check({"conversationTurns": [bare]}, suite=suite).problems == []
    bad = turn()
    bad["referenceResponses"] = [{"content": "text"}]
    only(check({"conversationTurns": [bad]}), "conversationTurns[0].referenceResponses[0].content[0].text")
    bad["referenceResponses"] = "text"
    only(check({"conversationTurns": [bad]}), "conversationTurns[0].referenceResponses")


def test_turns_without_a_reference_warn_when_a_metric_grades_against_it() -> None:
    bare = turn()
    del bare["referenceResponses"]
    problem = only(check({"conversationTurns": [bare]}, suite=rag_suite(metrics=["Builtin.Correctness"])))
    assert problem.severity is Severity.WARNING
    assert "Builtin.Correctness" in problem.message


def test_output_is_required_and_an_object() -> None:
    missing = turn()
    del missing["output"]
    assert "missing" in only(check({"conversationTurns": [missing]}), "conversationTurns[0].output").message
    missing["output"] = "text"
    assert "must be an object" in only(check({"conversationTurns": [missing]})).message


def test_retrieve_and_generate_output_needs_text() -> None:
    second = turn()
    del second["output"]["text"]
    only(check({"conversationTurns": [turn(), second]}), "conversationTurns[1].output.text")
    only(check({"conversationTurns": [turn(text=5)]}), "conversationTurns[0].output.text")


def test_knowledge_base_identifier_must_match_the_suite() -> None:
    # Given a second turn whose identifier differs in case / When validated
    records = {"conversationTurns": [turn(), turn(knowledgeBaseIdentifier="My-rag-v1")]}
    problem = only(check(records), "conversationTurns[1].output.knowledgeBaseIdentifier", line=1)
    # Then the error names both values and the rule
    assert "'My-rag-v1' differs from the suite's" in problem.message
    assert "character for character" in problem.message
    second = turn()
    del second["output"]["knowledgeBaseIdentifier"]
    assert "missing" in only(check({"conversationTurns": [second]})).message


def test_retrieve_only_output_needs_passages() -> None:
    bare = retrieval_turn()
    del bare["output"]["retrievedResults"]
    report = check({"conversationTurns": [bare]}, suite=rag_suite("retrieveSourceConfig"))
    assert "retrievedResults" in only(report, "conversationTurns[0].output.retrievedPassages").message


def test_passages_are_a_list_of_content_texts() -> None:
    bad = turn(retrievedPassages={"retrievalResults": [{"content": {"text": "ok"}}, {"content": {}}]})
    only(
        check({"conversationTurns": [bad]}),
        "conversationTurns[0].output.retrievedPassages.retrievalResults[1].content.text",
    )
    bad = turn(retrievedResults={"retrievalResults": "x"})
    del bad["output"]["retrievedPassages"]
    only(check({"conversationTurns": [bad]}), "conversationTurns[0].output.retrievedResults.retrievalResults")


def test_citations_are_optional_but_a_list() -> None:
    bare = copy.deepcopy(turn())
    del bare["output"]["citations"]
    assert check({"conversationTurns": [bare]}).problems == []
    only(check({"conversationTurns": [turn(citations={})]}), "conversationTurns[0].output.citations")


def test_errors_name_the_line() -> None:
    # Given a good line then a bad one / When validated / Then the error is on line 2
    report = check({"conversationTurns": [turn()]}, {"conversationTurns": [turn(text=None)]})
    problem = only(report, "conversationTurns[0].output.text", line=2)
    assert problem.render().startswith(f"{DATASET_FILE}:2: conversationTurns[0].output.text: error:")


def test_a_live_knowledge_base_suite_takes_no_output() -> None:
    suite = rag_suite()
    suite["inferenceConfig"] = {"ragConfigs": [{"knowledgeBaseConfig": {"retrieveAndGenerateConfig": {}}}]}
    bare = turn()
    del bare["output"]
    assert check({"conversationTurns": [bare]}, suite=suite).problems == []
    assert "remove output" in only(check({"conversationTurns": [turn()]}, suite=suite)).message
