"""Records: the line the suite grades, one per scenario or per turn, checked by the pipeline's
own dataset rules; the metadata beside it; what --resume reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalpipe.collect import CollectOptions, RecordCheck, Reply, collected_ids, meta_path_for, play
from evalpipe.collect.records import Exchange, build_lines
from tests.unit.collect.conftest import APP, ScriptedTarget, make_scenario

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples" / "suites" / "support-assistant.json").read_text(encoding="utf-8"))
OPTIONS = CollectOptions(APP, ("thinking",))


def _exchanges(*pairs: tuple[str, str]) -> list[Exchange]:
    return [
        Exchange(user, answer, Reply(answer, 10 * n, n, 100 * n, n - 1))
        for n, (user, answer) in enumerate(pairs, 1)
    ]


def test_a_scenario_is_one_record_prompt_the_history_response_the_last_answer() -> None:
    # Given a played two-turn scenario with a reference
    scenario = make_scenario(id="cancel", turns=["Cancel BK-1", "Yes"], referenceResponse="Cancelled.")
    exchanges = _exchanges(("Cancel BK-1", "Shall I cancel BK-1?"), ("Yes", "Done: cancelled."))

    # When its lines are built
    [line] = build_lines(scenario, exchanges, APP, each_turn=False)

    # Then the record is exactly what the suite grades, with the scenario's id
    assert json.loads(line.text) == {
        "id": "cancel",
        "prompt": "User: Cancel BK-1\nAssistant: Shall I cancel BK-1?\nUser: Yes",
        "referenceResponse": "Cancelled.",
        "category": "orders",
        "modelResponses": [{"response": "Done: cancelled.", "modelIdentifier": APP}],
    }
    # And the metadata adds up both turns
    assert line.meta == {
        "id": "cancel",
        "scenarioId": "cancel",
        "status": "collected",
        "turns": 2,
        "latencyMs": 300,
        "inputTokens": 30,
        "outputTokens": 3,
        "toolCalls": 1,
    }


def test_each_turn_gives_one_record_per_turn_with_turn_ids_and_the_reference_on_the_last() -> None:
    scenario = make_scenario(id="cancel", turns=["Cancel BK-1", "Yes"], referenceResponse="Cancelled.")
    exchanges = _exchanges(("Cancel BK-1", "Shall I?"), ("Yes", "Done."))

    lines = build_lines(scenario, exchanges, APP, each_turn=True)

    records = [json.loads(line.text) for line in lines]
    assert [r["id"] for r in records] == ["cancel#1", "cancel#2"]
    assert [r["prompt"] for r in records] == [
        "Cancel BK-1",
        "User: Cancel BK-1\nAssistant: Shall I?\nUser: Yes",
    ]
    assert [r["modelResponses"][0]["response"] for r in records] == ["Shall I?", "Done."]
    assert "referenceResponse" not in records[0] and records[1]["referenceResponse"] == "Cancelled."
    assert [(m["turns"], m["latencyMs"], m["inputTokens"]) for m in (line.meta for line in lines)] == [
        (1, 100, 10),
        (2, 200, 20),
    ]


def test_unknown_token_counts_stay_unknown() -> None:
    scenario = make_scenario()
    exchange = Exchange("q", "a", Reply("a", None, None, 5))
    [line] = build_lines(scenario, [exchange], APP, each_turn=False)
    assert (line.meta["inputTokens"], line.meta["outputTokens"]) == (None, None)
    assert "referenceResponse" not in json.loads(line.text)


def test_non_ascii_is_written_as_utf8_text() -> None:
    [line] = build_lines(
        make_scenario(turns=["¿Dónde está?"]),
        _exchanges(("¿Dónde está?", "Llega el 8 😀")),
        APP,
        each_turn=False,
    )
    assert "¿Dónde está?" in line.text and "😀" in line.text


# --- the pipeline's rules on each line ----------------------------------------------------


def test_the_suites_rules_pass_a_good_record() -> None:
    outcome = play(make_scenario(), ScriptedTarget(), OPTIONS, RecordCheck(SUITE, "out.jsonl"))
    assert outcome.ok, outcome.error


def test_a_record_the_suite_would_reject_fails_the_scenario_with_the_rules_message() -> None:
    # Given records labelled with another identifier than the suite's
    options = CollectOptions("my-app-v1", ("thinking",))

    # When the scenario is played
    outcome = play(make_scenario(id="s9"), ScriptedTarget(), options, RecordCheck(SUITE, "out.jsonl"))

    # Then it fails with the validation rule's own message, and nothing is to be written
    assert not outcome.ok and outcome.lines == ()
    assert outcome.error == (
        "the record breaks the dataset rules: s9: modelResponses[0].modelIdentifier: 'my-app-v1' "
        "differs from "
        "the suite's inferenceConfig.models[0].precomputedInferenceSource.inferenceSourceIdentifier "
        "'bookstore-assistant-v3'; they must match character for character"
    )


def test_a_lone_surrogate_in_an_answer_is_rejected_by_the_rules() -> None:
    outcome = play(
        make_scenario(), ScriptedTarget(lambda c: "bad \ud800 text"), OPTIONS, RecordCheck(None, "o.jsonl")
    )
    assert outcome.error is not None and "modelResponses[0].response" in outcome.error


def test_an_answer_that_is_only_reasoning_fails_the_scenario() -> None:
    target = ScriptedTarget(lambda c: "<thinking>nothing to say</thinking>  ")
    outcome = play(make_scenario(turns=["a", "b"]), target, OPTIONS, RecordCheck(None, "o.jsonl"))
    assert outcome.error == "ValueError: the answer to turn 1 is empty (after removing thinking tags)"


def test_the_target_is_asked_with_the_stripped_history() -> None:
    # Given a target that leaks <thinking> blocks
    target = ScriptedTarget(lambda c: f"<thinking>plan</thinking>answer {len(c.messages)}")

    # When a three-turn scenario is played
    outcome = play(
        make_scenario(turns=["one", "two", "three"]), target, OPTIONS, RecordCheck(None, "o.jsonl")
    )

    # Then each turn was sent with the conversation so far, answers stripped, and the record too
    assert [[m.text for m in c.messages] for c in target.asked] == [
        ["one"],
        ["one", "answer 1", "two"],
        ["one", "answer 1", "two", "answer 3", "three"],
    ]
    record = json.loads(outcome.lines[0].text)
    assert record["prompt"] == "User: one\nAssistant: answer 1\nUser: two\nAssistant: answer 3\nUser: three"
    assert record["modelResponses"][0]["response"] == "answer 5"


# --- resume -------------------------------------------------------------------------------


def test_resume_reads_the_ids_of_complete_lines_and_cuts_a_partial_last_line() -> None:
    # Given a dataset whose last line was cut off mid-write, with per-turn ids and a foreign line
    data = (
        b'{"id": "a", "prompt": "p"}\n'
        b'{"id": "b#1", "prompt": "p"}\n{"id": "b#2", "prompt": "p"}\n'
        b'{"prompt": "no id"}\n'
        b'{"id": "c", "prom'
    )

    # When read
    state = collected_ids(data)

    # Then the complete lines' scenarios count, and the cut is at the last newline
    assert state.scenario_ids == {"a", "b"}
    assert state.lines == 4
    assert data[: state.keep_bytes].endswith(b'{"prompt": "no id"}\n')
    assert collected_ids(b"") == collected_ids(b"") and collected_ids(b"").scenario_ids == frozenset()


@pytest.mark.parametrize(
    ("dataset", "meta"),
    [
        ("out.jsonl", "out.meta.jsonl"),
        ("d/run.1.jsonl", "d/run.1.meta.jsonl"),
        ("data.txt", "data.txt.meta.jsonl"),
    ],
)
def test_the_metadata_file_sits_beside_the_dataset(dataset: str, meta: str) -> None:
    assert meta_path_for(dataset) == meta
