"""The scenarios file: its model, its errors, the committed JSON Schema and the example."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from evalpipe.collect import InputError, load_scenarios
from evalpipe.collect.scenarios import build_schema, render_schema

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "schema" / "scenarios.schema.json"
EXAMPLE = ROOT / "examples" / "scenarios" / "support-assistant.json"


def _load(document: object) -> list:
    return load_scenarios(json.dumps(document).encode(), "scenarios.json")


def _problems(document: object | bytes) -> list[str]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(InputError) as caught:
        load_scenarios(data, "scenarios.json")
    assert str(caught.value).startswith("scenarios.json: ")
    return caught.value.problems


def test_the_object_form_and_the_guides_bare_array_read_the_same() -> None:
    # Given the same scenario in both forms
    scenario = {"id": "greet", "category": "greeting", "context": {"userId": "u-1"}, "turns": ["hello"]}

    # When read / Then both give one scenario with its fields
    as_object, as_array = _load({"scenarios": [scenario]}), _load([scenario])
    assert as_object == as_array
    assert as_object[0].id == "greet"
    assert as_object[0].context == {"userId": "u-1"}
    assert as_object[0].reference_response is None
    assert as_object[0].tool_results == {}


def test_tool_results_and_reference_are_read_by_their_file_keys() -> None:
    # Given a tool-using scenario
    scenarios = _load(
        [
            {
                "id": "t",
                "category": "orders",
                "turns": ["Where is BK-1?", "Thanks"],
                "referenceResponse": "It shipped.",
                "toolResults": {"lookup_order": {"status": "shipped"}, "get_policy": "30 days"},
            }
        ]
    )

    # Then the canned results keep their types (an object, a text)
    assert scenarios[0].tool_results == {"lookup_order": {"status": "shipped"}, "get_policy": "30 days"}
    assert scenarios[0].reference_response == "It shipped."
    assert scenarios[0].turns == ["Where is BK-1?", "Thanks"]


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ({"category": "c", "turns": ["hi"]}, "scenarios[0].id: Field required"),
        ({"id": "a#1", "category": "c", "turns": ["hi"]}, "scenarios[0].id: String should match pattern"),
        ({"id": "a", "category": "c", "turns": []}, "scenarios[0].turns: List should have at least 1 item"),
        ({"id": "a", "category": "c", "turns": ["  "]}, "scenarios[0].turns[0]: String should match pattern"),
        ({"id": "a", "turns": ["hi"]}, "scenarios[0].category: Field required"),
        (
            {"id": "a", "category": "c", "turns": ["hi"], "toolResults": {"bad name": {}}},
            "scenarios[0].toolResults.bad name (the key): String should match pattern",
        ),
        (
            {"id": "a", "category": "c", "turns": ["hi"], "reference": "x"},
            "scenarios[0].reference: unknown key",
        ),
    ],
)
def test_a_bad_scenario_names_the_path_of_the_problem(scenario: dict, expected: str) -> None:
    problems = _problems({"scenarios": [scenario]})
    assert any(problem.startswith(expected) for problem in problems), problems


def test_ids_must_be_unique() -> None:
    problems = _problems([{"id": x, "category": "c", "turns": ["hi"]} for x in ("a", "b", "a")])
    assert problems == ["scenarios: scenario ids must be unique; repeated: a"]


def test_unreadable_json_duplicate_keys_and_encoding_are_reported() -> None:
    assert _problems(b"[{")[0].startswith("not valid JSON")
    assert _problems(b'[{"id": "a", "id": "b", "category": "c", "turns": ["x"]}]') == [
        "key(s) 'id' appear twice in one object"
    ]
    assert _problems(b"\xff\xfe[]")[0].startswith("bytes that are not UTF-8")
    assert _problems({"scenarios": []}) == [
        "scenarios: List should have at least 1 item after validation, not 0"
    ]


# --- the JSON Schema and the example ------------------------------------------------------


def test_committed_schema_matches_the_model() -> None:
    # Given the checked-in schema; when the model is rendered; then they are identical
    # (EVALPIPE_RECORD_GOLDEN=1 rewrites the file)
    if os.environ.get("EVALPIPE_RECORD_GOLDEN") == "1":
        SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "schema/scenarios.schema.json is stale: run EVALPIPE_RECORD_GOLDEN=1 pytest "
        "tests/unit/collect/test_collect_scenarios.py"
    )


def test_schema_is_valid_and_accepts_the_example_and_rejects_a_bad_file() -> None:
    # Given the generated schema
    schema = build_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    # Then the example validates, and a scenario without turns does not
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(example)) == []
    assert list(validator.iter_errors({"scenarios": [{"id": "a", "category": "c"}]}))
    assert set(schema["$defs"]["Scenario"]["properties"]) == {
        "id",
        "category",
        "turns",
        "referenceResponse",
        "toolResults",
        "context",
        "description",
    }


def test_the_example_has_a_multi_turn_and_a_tool_using_scenario() -> None:
    # Given the documented example for the support-assistant suite
    scenarios = load_scenarios(EXAMPLE.read_bytes(), str(EXAMPLE))

    # Then it loads, covers several categories, and has both kinds the issue asks for
    assert len({s.category for s in scenarios}) >= 4
    assert any(len(s.turns) > 1 for s in scenarios)
    assert any(s.tool_results and len(s.turns) > 1 for s in scenarios)
