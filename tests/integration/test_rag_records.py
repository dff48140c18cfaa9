"""RAG output lines: one record per conversation turn, stored and read back in order."""

from __future__ import annotations

import json

import pytest

from evalpipe.aws.runs_table import RunsTable
from evalpipe.results import Aggregator, iter_output_records, resolve_category
from tests.integration.test_runs_table import NOW, BelowHalf, a_run

KB = "my-rag-v1"


def turn_line(prompt: str, answer: str, score: float | dict | None) -> dict:
    return {
        "inputRecord": {
            "prompt": {"content": [{"text": prompt}]},
            "referenceResponses": [{"content": [{"text": f"ref {prompt}"}]}],
            "output": {"text": answer, "knowledgeBaseIdentifier": KB, "citations": []},
        },
        "results": [
            {
                "metricName": "Builtin.Faithfulness",
                "result": score,
                "evaluatorDetails": [{"modelIdentifier": "judge", "explanation": f"why {prompt}"}],
            }
        ],
    }


def output_lines() -> list[bytes]:
    conversation = {
        "conversationTurns": [
            turn_line("first?", "one", 1.0),
            turn_line("second?", "two", {"floatValue": 0.25}),
            turn_line("third?", "three", None),
        ],
        "inputRecord": {"category": "accounts", "id": "c-1", "conversationTurns": []},
        "futureField": {"kept": True},
    }
    single = {"conversationTurns": [turn_line("alone?", "four", 0.75)], "category": "billing"}
    return [json.dumps(conversation).encode(), json.dumps(single).encode()]


@pytest.fixture
def runs(dynamodb_table) -> RunsTable:
    return RunsTable(dynamodb_table, clock=lambda: NOW)


def test_a_three_turn_conversation_reads_back_in_order(runs: RunsTable) -> None:
    # Given a RAG output file: a three-turn conversation, then a one-turn conversation
    records = list(iter_output_records(output_lines(), start_index=0))
    for record in records:
        resolve_category(record)

    # When the records are stored and read back
    runs.claim(a_run("rag-1", suite="kb"))
    assert runs.put_records("rag-1", records) == 4
    items = list(runs.iter_records("rag-1"))

    # Then there is one item per turn, in conversation order, with its conversation and turn
    assert [(i.index, i.conversation, i.turn) for i in items] == [
        (0, 1, 1),
        (1, 1, 2),
        (2, 1, 3),
        (3, 2, 1),
    ]
    assert [i.prompt_excerpt for i in items] == ["first?", "second?", "third?", "alone?"]
    assert [i.response_excerpt for i in items] == ["one", "two", "three", "four"]
    assert [i.category for i in items] == ["accounts"] * 3 + ["billing"]
    assert [i.scores["Builtin.Faithfulness"].score for i in items] == [1.0, 0.25, None, 0.75]
    # and unknown fields are kept on the parsed records
    assert records[0].extra["futureField"] == {"kept": True}
    assert records[0].extra["knowledgeBaseIdentifier"] == KB


def test_rag_turns_aggregate_per_metric_over_turns() -> None:
    # Given the same output / When aggregated
    aggregator = Aggregator(lambda metric: BelowHalf())
    for record in iter_output_records(output_lines()):
        resolve_category(record)
        aggregator.add(record)
    summary = aggregator.summary()

    # Then every turn counts once, N/A apart
    metric = summary.metrics["Builtin.Faithfulness"]
    assert (summary.record_count, metric.scored, metric.na) == (4, 3, 1)
    assert metric.average == pytest.approx((1.0 + 0.25 + 0.75) / 3)
    assert set(summary.categories) == {"accounts", "billing"}


def test_a_rag_line_with_only_top_level_scores_stays_one_record() -> None:
    # Given a RAG line whose scores are top-level (no per-turn results)
    line = {
        "automatedEvaluationResult": {"scores": [{"metricName": "Builtin.Helpfulness", "result": 0.5}]},
        "inputRecord": {"conversationTurns": [{"prompt": {"content": [{"text": "a"}]}}] * 2},
    }
    # When parsed / Then it is one record for the whole conversation, as before
    (record,) = iter_output_records([json.dumps(line).encode()])
    assert (record.prompt, record.turn, record.conversation) == ("a\na", None, None)
