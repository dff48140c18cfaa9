"""Every field of every example suite, turned into every JSON type: validation never raises.

The pipeline's validate step and ``evalpipe validate`` read a suite file from bytes; a value of an
unexpected type anywhere must come back as a problem naming its field, never as an exception
(which the step would turn into ERROR instead of REJECTED, and the CLI into a traceback with the
"invalid" exit code). Each example suite is walked exhaustively with one value of each JSON type,
then hypothesis draws arbitrary values (long strings, escaped lone surrogates, deep nesting) and
runs the real CLI on them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalpipe.cli import main
from evalpipe.validation import Report, validate_run, validate_suite
from evalpipe.validation.deployment import DeploymentLimits, ExternalSourcesAccess

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples" / "suites").glob("*.json"))
LIMITS = DeploymentLimits(
    allowed_evaluator_models=["amazon.nova-pro-v1:0"],
    allowed_inference_models=["amazon.nova-lite-v1:0"],
    allowed_knowledge_bases=["KBASSIST01"],
    external_sources=ExternalSourcesAccess(True, "evalpipe-data-123456789012"),
)
# One value of every JSON type, and the shapes that broke the rules before (a 300-character
# name, an escaped lone surrogate, a list where a name is expected).
EVERY_TYPE: list[Any] = [None, True, 0, -1.5, 10**30, "", "x" * 300, "\ud800", [], ["x"], {}, {"type": ["x"]}]


def example(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def dataset_of(path: Path) -> bytes:
    """The suite's example dataset, or one generic line for a suite of built-in datasets only."""
    sample = ROOT / "examples" / "datasets" / path.stem / "sample.jsonl"
    if sample.exists():
        return sample.read_bytes()
    return b'{"prompt": "hi", "modelResponses": [{"response": "hello", "modelIdentifier": "app"}]}\n'


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple, value: Any) -> Any:
    document = copy.deepcopy(document)
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def as_bytes(document: Any) -> bytes:
    # ensure_ascii: a lone surrogate is written as its escape, as a user's editor would.
    return json.dumps(document, indent=2).encode("utf-8")


def assert_sound(report: Report) -> None:
    assert report.error_count + report.warning_count >= len(report.problems)
    for problem in report.problems:
        assert isinstance(problem.render(), str)
        json.dumps(problem.as_dict())


CASES = [
    pytest.param(suite, path, id=f"{suite.stem}:{'.'.join(map(str, path)) or '<root>'}")
    for suite in EXAMPLES
    for path in paths(example(suite))
]


@pytest.mark.parametrize(("suite", "path"), CASES)
def test_every_field_of_every_example_as_every_json_type(suite: Path, path: tuple) -> None:
    document, data = example(suite), dataset_of(suite)
    for value in EVERY_TYPE:
        # Given the example with this field replaced / When validated from bytes as the step does,
        # and as an object / Then sound reports come back, never an exception
        changed = replaced(document, path, value)
        assert_sound(validate_run(as_bytes(changed), "suite.json", [data], "d.jsonl", limits=LIMITS))
        assert_sound(validate_suite(changed, "suite.json", limits=LIMITS))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=400),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from([(suite, path) for suite in EXAMPLES for path in paths(example(suite))]), JSON)
def test_the_cli_exits_0_or_1_whatever_a_field_holds(tmp_path_factory, case: tuple, value: Any) -> None:
    # Given an example suite with one field replaced by any JSON value, written to a file
    suite, path = case
    folder = tmp_path_factory.mktemp("cli")
    suite_file, dataset_file = folder / "suite.json", folder / "d.jsonl"
    suite_file.write_bytes(as_bytes(replaced(example(suite), path, value)))
    dataset_file.write_bytes(dataset_of(suite))
    # When `evalpipe validate` runs on it / Then it answers valid (0) or invalid (1), never crashes (2)
    assert main(["validate", "--suite", str(suite_file), str(dataset_file), "--json"]) in (0, 1)


def test_a_retrieve_and_generate_type_of_the_wrong_json_type_is_a_problem_not_a_crash() -> None:
    # Given the live knowledge-base example whose type is a list
    document = example(ROOT / "examples" / "suites" / "kb-assistant-live.json")
    config = document["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"]["retrieveAndGenerateConfig"]
    config["type"] = ["KNOWLEDGE_BASE"]
    # When validated / Then the field is named
    report = validate_suite(document, "suite.json", limits=LIMITS)
    assert not report.ok
    assert any((p.field or "").endswith("retrieveAndGenerateConfig.type") for p in report.errors())


def test_a_time_zone_too_long_for_a_file_name_is_a_problem_not_a_crash() -> None:
    document = example(ROOT / "examples" / "suites" / "qa-builtin-weekly.json")
    document["pipeline"]["schedule"]["timezone"] = "A" * 300
    report = validate_suite(document, "suite.json", limits=LIMITS)
    assert [p.field for p in report.errors()] == ["pipeline.schedule.timezone"]


def test_a_lone_surrogate_in_the_suite_file_is_rejected_naming_the_field() -> None:
    document = example(ROOT / "examples" / "suites" / "support-assistant.json")
    document.setdefault("pipeline", {})["description"] = "fast \ud800 answers"
    report = validate_run(
        as_bytes(document),
        "suite.json",
        [dataset_of(ROOT / "examples/suites/support-assistant.json")],
        "d.jsonl",
        limits=LIMITS,
    )
    [problem] = report.errors()
    assert (problem.file, problem.field) == ("suite.json", "pipeline.description")
    assert "lone surrogate" in problem.message


def test_lone_surrogates_in_a_dataset_are_rejected_with_line_and_field_but_pairs_are_text() -> None:
    # Given a dataset whose second line escapes half of a surrogate pair in its response,
    # and whose first escapes a whole pair (an emoji)
    lines = [
        json.loads(line) for line in dataset_of(ROOT / "examples/suites/support-assistant.json").splitlines()
    ]
    lines[0]["prompt"] += " \U0001f600"
    lines[1]["modelResponses"][0]["response"] = "sure \udc00"
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    suite = (ROOT / "examples/suites/support-assistant.json").read_bytes()
    # When validated / Then only line 2 is an error, naming the field
    report = validate_run(suite, "suite.json", [data], "d.jsonl", limits=LIMITS)
    assert [(p.line, p.field) for p in report.errors()] == [(2, "modelResponses[0].response")]
