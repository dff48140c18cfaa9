"""validate_dataset and validate_run: precomputed-response records, streamed."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from evalpipe.validation import Report, Severity, validate_dataset, validate_run
from evalpipe.validation.deployment import DeploymentLimits
from tests.builders import jsonl
from tests.unit.validation.builders import (
    APP,
    CONFIG,
    CUSTOM,
    DATASET_FILE,
    SUITE_FILE,
    at,
    fields,
    make_line,
    make_suite,
    only,
    put,
    response,
)

IDENTIFIER = "modelResponses[0].modelIdentifier"


def check(data: bytes, suite: Any = None, **kwargs: Any) -> Report:
    # Three-byte chunks: every rule must work on lines split across chunks.
    chunks = [data[i : i + 3] for i in range(0, len(data), 3)]
    return validate_dataset(chunks, DATASET_FILE, suite=suite, **kwargs)


# -- files that pass ---------------------------------------------------------------------------


def test_a_valid_dataset_passes_with_and_without_the_suite() -> None:
    # Given valid records / When validated with or without the suite / Then nothing is reported
    data = jsonl([make_line(), make_line(category="billing")])
    assert check(data, make_suite()).problems == []
    assert check(data).problems == []


def test_crlf_endings_and_a_missing_final_newline_are_fine() -> None:
    # Given Windows line endings and no newline after the last record
    data = jsonl([make_line(), make_line()]).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    # When validated / Then nothing is reported
    assert check(data, make_suite()).problems == []


def test_optional_fields_may_be_left_out() -> None:
    # Given records without referenceResponse and category, and no reference-based metric
    suite = make_suite()
    put(suite, (*CONFIG, "metricNames"), ["Builtin.Helpfulness", "confirmation_check"])
    del suite["pipeline"]["lowScore"]["metrics"]
    record = make_line()
    del record["referenceResponse"], record["category"]
    # When validated / Then nothing is reported
    assert check(jsonl([record]), suite).problems == []


# -- reading the file ---------------------------------------------------------------------------


def test_bytes_that_are_not_utf8_name_the_line_and_offset() -> None:
    # Given a Latin-1 "é" on line 2
    data = jsonl([make_line()]) + b'{"prompt": "caf\xe9"}\n'
    # When validated
    problem = only(check(data))
    # Then the line and the byte offset are named
    assert problem.line == 2
    assert "not UTF-8 at byte offset 15 of the line (0xe9)" in problem.message


def test_a_utf16_file_is_named_as_such() -> None:
    # Given a UTF-16 file / When validated / Then the encoding is suggested
    data = json.dumps(make_line()).encode("utf-16")
    assert "looks UTF-16 encoded" in only(check(data), line=1).message


def test_unreadable_json_names_the_error_and_column() -> None:
    # Given a record with a trailing comma
    data = jsonl([make_line()]) + b'{"prompt": "x",}\n'
    # When validated
    problem = only(check(data), line=2)
    # Then the JSON error and column are named
    assert problem.message.startswith(
        "not valid JSON: Expecting property name enclosed in double quotes at column 16"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"prompt": NaN}', "NaN is not a JSON value"),
        (b'{"a": 1} {"b": 2}', "two JSON values on one line?"),
        (b"[", "a JSON array or pretty-printed JSON?"),
        (b'\xef\xbb\xbf{"prompt": "x"}', "byte-order mark"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_json_a_strict_reader_rejects(line: bytes, expected: str) -> None:
    # Given JSON Python would accept (or crash on) but a strict reader rejects
    # When validated / Then the reason is named
    assert expected in only(check(line + b"\n"), line=1).message


def test_a_key_given_twice_is_an_error() -> None:
    # Given a record with prompt twice (readers keep one, silently)
    data = b'{"prompt": "a", "prompt": "b", "modelResponses": [{"response": "r", "modelIdentifier": "x"}]}\n'
    # When validated / Then the key is named
    assert "key 'prompt' appears twice" in only(check(data), line=1).message


@pytest.mark.parametrize("value", [[make_line()], "text", 3, None])
def test_a_line_that_is_not_an_object(value: Any) -> None:
    # Given a JSON value that is not an object / When validated / Then it is an error
    problem = only(check(jsonl([value])), line=1)
    assert "not an object" in problem.message


def test_a_blank_line_is_an_error() -> None:
    # Given a blank line between records (Bedrock reads JSONL strictly)
    data = jsonl([make_line()]) + b"  \n" + jsonl([make_line()])
    # When validated / Then the line is named, and it is not counted as a record
    problem = only(check(data), line=2)
    assert problem.severity is Severity.ERROR
    assert "blank line" in problem.message


def test_an_empty_dataset() -> None:
    # Given no bytes, or only blank lines
    # When validated / Then the file has no records
    assert "no records" in only(check(b"")).message
    report = check(b"\n\n")
    assert report.problems[0].message.startswith("the dataset has no records")
    assert report.problems[0].line is None


def test_a_dataset_larger_than_one_job_is_valid_up_to_the_runs_limit() -> None:
    # Given 2,500 records (more than one job's 1,000: the run is sharded) / Then they are valid
    line = json.dumps(make_line()).encode() + b"\n"
    assert validate_dataset((line for _ in range(2500)), DATASET_FILE, suite=make_suite()).problems == []
    # Given a deployment whose runs take at most 2,000 / Then the exact count is named once, file-level
    report = validate_dataset((line for _ in range(2500)), DATASET_FILE, suite=make_suite(), max_records=2000)
    problem = only(report)
    assert problem.line is None
    assert (
        "has 2500 records; this deployment's runs take at most 2000 (context maxRunRecords)"
        in problem.message
    )
    # Given exactly the limit / Then it passes
    assert validate_dataset((line for _ in range(2000)), DATASET_FILE, max_records=2000).problems == []


# -- record fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "expected"),
    [
        ({"modelResponses": response()}, "prompt", "missing; every record needs the user input"),
        ({"Prompt": "x", "modelResponses": response()}, "prompt", "found 'Prompt'"),
        (make_line(prompt=""), "prompt", "is empty"),
        (make_line(prompt="  \n"), "prompt", "is empty"),
        (make_line(prompt=["x"]), "prompt", "must be a string, not array"),
        (make_line(referenceResponse=None), "referenceResponse", "must be a string, not null"),
        (make_line(category=3), "category", "must be a string, not integer"),
    ],
)
def test_prompt_reference_and_category(record: dict, field: str, expected: str) -> None:
    # Given a record with a bad field / When validated / Then the field and the fix are named
    assert expected in only(check(jsonl([record])), field, line=1).message


@pytest.mark.parametrize(
    ("responses", "field", "expected"),
    [
        (None, "modelResponses", "must be an array, not null"),
        ({"response": "r"}, "modelResponses", "must be an array, not object"),
        ([], "modelResponses", "has 0 entries"),
        (["r"], "modelResponses[0]", "must be an object, not string"),
        ([{"modelIdentifier": APP}], "modelResponses[0].response", "missing"),
        ([{"response": 5, "modelIdentifier": APP}], "modelResponses[0].response", "must be a string"),
        ([{"response": "r"}], IDENTIFIER, "missing"),
        ([{"response": "r", "modelIdentifier": 1}], IDENTIFIER, "must be a string, not integer"),
        ([{"response": "r", "modelIdentifier": ""}], IDENTIFIER, "is empty"),
    ],
)
def test_model_responses(responses: Any, field: str, expected: str) -> None:
    # Given malformed modelResponses / When validated / Then the JSON path is named
    assert expected in only(check(jsonl([make_line(modelResponses=responses)])), field, line=1).message


def test_model_responses_missing() -> None:
    # Given a record without modelResponses / When validated / Then the expected shape is shown
    record = make_line()
    del record["modelResponses"]
    assert (
        '[{"response": "...", "modelIdentifier": "..."}]'
        in only(check(jsonl([record])), "modelResponses").message
    )


def test_more_than_one_model_response() -> None:
    # Given two responses for one prompt / When validated / Then exactly one is asked for
    responses = response() + response()
    problem = only(check(jsonl([make_line(modelResponses=responses)])), "modelResponses")
    assert "has 2 entries; a precomputed job takes exactly one response per prompt" in problem.message


def test_the_identifier_must_equal_the_suites_character_for_character() -> None:
    # Given a record whose identifier differs from the suite's only in case
    data = jsonl([make_line(), make_line(modelResponses=response(identifier="My-app-v1"))])
    # When validated
    problem = only(check(data, make_suite()), IDENTIFIER, line=2)
    # Then both are shown with repr, and the near miss is pointed out
    assert "'My-app-v1' differs from the suite's" in problem.message
    assert f"{APP!r}" in problem.message
    assert "differ only in case or surrounding whitespace" in problem.message


def test_without_a_suite_the_identifier_must_equal_the_first_lines() -> None:
    # Given no suite and a second identifier on line 3
    data = jsonl([make_line(), make_line(), make_line(modelResponses=response(identifier="my-app-v2"))])
    # When validated / Then line 1's identifier is the reference
    problem = only(check(data), IDENTIFIER, line=3)
    assert f"'my-app-v2' differs from line 1's {APP!r}" in problem.message


# -- aggregated warnings ------------------------------------------------------------------------


def test_missing_references_are_one_aggregated_warning() -> None:
    # Given 7 records without a reference while Builtin.Correctness is asked for
    records = [make_line(referenceResponse="") for _ in range(6)] + [make_line(), make_line()]
    del records[7]["referenceResponse"]
    # When validated
    report = check(jsonl(records), make_suite())
    # Then one warning gives the count and the first line numbers
    problem = only(report, "referenceResponse")
    assert problem.severity is Severity.WARNING
    assert problem.message.startswith("7 of 8 records have no referenceResponse (lines 1, 2, 3, 4, 5, ...)")
    assert "Builtin.Correctness grades against it" in problem.message
    assert report.ok


def test_a_custom_metric_using_ground_truth_also_needs_references() -> None:
    # Given only a custom metric that reads {{ground_truth}}
    suite = make_suite()
    put(suite, (*CONFIG, "metricNames"), ["Builtin.Helpfulness", "confirmation_check"])
    del suite["pipeline"]["lowScore"]["metrics"]
    at(suite, *CUSTOM)["instructions"] = "Rate.\n\n{{prompt}}\n{{ground_truth}}\n{{prediction}}"
    # When validated with an empty reference / Then the warning names the custom metric
    problem = only(check(jsonl([make_line(referenceResponse="")]), suite))
    assert "confirmation_check grades against it" in problem.message


def test_no_reference_warning_when_no_metric_needs_one() -> None:
    # Given no suite (nothing known to need references) / When validated / Then no warning
    assert check(jsonl([make_line(referenceResponse="")])).problems == []


def test_thinking_blocks_are_one_aggregated_warning() -> None:
    # Given two responses leaking reasoning
    leaked = response("<thinking>the user wants...</thinking>Sure.")
    data = jsonl([make_line(modelResponses=leaked), make_line(), make_line(modelResponses=leaked)])
    # When validated
    problem = only(check(data, make_suite()), "modelResponses[0].response")
    # Then one warning names both lines
    assert problem.severity is Severity.WARNING
    assert "the responses of 2 records contain <thinking> blocks (lines 1, 3)" in problem.message


def test_a_misspelled_optional_field_is_one_aggregated_warning() -> None:
    # Given reference_response (ignored by Bedrock) on two records
    records = [make_line(), make_line()]
    for record in records:
        record["reference_response"] = record.pop("referenceResponse")
    # When validated without a suite / Then one warning suggests the right key
    problem = only(check(jsonl(records)), "reference_response")
    assert "(2 records: lines 1, 2)" in problem.message
    assert "did you mean 'referenceResponse'?" in problem.message


# -- the report ---------------------------------------------------------------------------------


def test_file_level_problems_come_first_and_counts_stay_exact() -> None:
    # Given 1200 records without a prompt (more problems than are listed)
    record = make_line()
    del record["prompt"]
    # When validated with 10 listed, in a deployment whose runs take at most 1,000 records
    report = validate_dataset(
        [jsonl([record] * 1200)], DATASET_FILE, suite=make_suite(), max_listed=10, max_records=1000
    )
    # Then the record count leads, 10 are listed and all 1201 are counted
    assert report.problems[0].line is None
    assert "1200 records" in report.problems[0].message
    assert len(report.problems) == 10
    assert report.error_count == 1201


def test_memory_stays_flat_while_streaming() -> None:
    # Given a 5000-record file (about 1 MB) produced lazily, every line invalid
    line = json.dumps(make_line(prompt="")).encode() + b"\n"

    def chunks() -> Iterator[bytes]:
        for _ in range(5000):
            yield line

    # When validated under tracemalloc
    tracemalloc.start()
    try:
        report = validate_dataset(chunks(), DATASET_FILE, suite=make_suite())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then every problem is counted, and the peak stays far below the file size
    assert report.error_count == 5000
    assert peak < 200_000, peak


# -- other dataset kinds ------------------------------------------------------------------------


def live_suite() -> dict[str, Any]:
    suite = make_suite()
    suite["inferenceConfig"] = {"models": [{"bedrockModel": {"modelIdentifier": "amazon.nova-lite-v1:0"}}]}
    return suite


def test_a_live_model_suite_takes_prompts_only() -> None:
    # Given a suite that runs a Bedrock model, and records without responses
    record = make_line()
    del record["modelResponses"]
    # When validated / Then they pass
    assert check(jsonl([record]), live_suite()).problems == []
    # Given records that carry responses / When validated / Then that is an error
    problem = only(check(jsonl([make_line()]), live_suite()), "modelResponses")
    assert "runs a Bedrock model live" in problem.message


# -- validate_run -------------------------------------------------------------------------------


def run(suite_bytes: bytes, data: bytes, **kwargs: Any) -> Report:
    return validate_run(suite_bytes, SUITE_FILE, [data], DATASET_FILE, limits=DeploymentLimits(**kwargs))


def test_a_valid_run() -> None:
    # Given a valid suite file and dataset / When validated together / Then nothing is reported
    assert run(json.dumps(make_suite()).encode(), jsonl([make_line()])).problems == []


@pytest.mark.parametrize(
    ("suite_bytes", "expected"),
    [
        (b'{"applicationType": "ModelEvaluation",}', "not valid JSON: Expecting property name"),
        (b'{"a": 1,\n "b": }', "at line 2 column"),
        (b'{"x": "\xe9"}', "not UTF-8 at byte offset 7"),
        (b'{"pipeline": {}, "pipeline": {}}', "'pipeline' appear twice"),
    ],
)
def test_an_unreadable_suite_is_one_problem_and_the_dataset_is_still_checked(
    suite_bytes: bytes, expected: str
) -> None:
    # Given an unreadable suite file and a dataset with an identifier mismatch
    data = jsonl([make_line(), make_line(modelResponses=response(identifier="other"))])
    # When validated together
    report = run(suite_bytes, data)
    # Then the suite problem leads, file-level, and the dataset is checked against its first line
    suite_problem, dataset_problem = report.problems
    assert (suite_problem.file, suite_problem.field) == (SUITE_FILE, None)
    assert expected in suite_problem.message
    assert (dataset_problem.file, dataset_problem.line, dataset_problem.field) == (
        DATASET_FILE,
        2,
        IDENTIFIER,
    )


def test_suite_problems_come_before_dataset_problems_and_the_suite_drives_dataset_rules() -> None:
    # Given a suite with a bad task type and a dataset carrying another identifier
    suite = make_suite()
    put(suite, (*CONFIG, "taskType"), "Generation")
    data = jsonl([make_line(modelResponses=response(identifier="other"))])
    # When validated together, with an allow-list that excludes the judge
    report = run(json.dumps(suite).encode(), data, allowed_evaluator_models=["amazon.nova-lite-v1:0"])
    # Then suite problems come first, and the dataset is held to the suite's identifier
    assert [p.file for p in report.problems] == [SUITE_FILE] * 3 + [DATASET_FILE]
    assert "differs from the suite's" in report.problems[-1].message
    assert fields(report)[0] == "evaluationConfig.automated.datasetMetricConfigs[0].taskType"


def test_a_suite_that_is_not_an_object_does_not_drive_dataset_rules() -> None:
    # Given a suite file holding a list / When validated with a valid dataset
    report = run(b"[]", jsonl([make_line()]))
    # Then only the suite is wrong
    assert "must be a JSON object" in only(report).message


def test_a_live_model_record_needs_a_prompt_and_no_responses() -> None:
    # Given live records: one without a prompt, one with responses, one with prompt only
    missing = {"referenceResponse": "Yes.", "category": "shipping"}
    carrying = make_line()
    minimal = {"prompt": "Do you ship to Canada?"}
    # When validated against a live suite
    report = check(jsonl([missing, carrying, minimal]), live_suite())
    # Then the missing prompt and the responses are errors; reference and category are optional
    errors = [p for p in report.problems if p.severity is Severity.ERROR]
    assert [(p.line, p.field) for p in errors] == [(1, "prompt"), (2, "modelResponses")]
    assert "remove modelResponses or use precomputedInferenceSource" in errors[1].message


def test_validate_run_checks_the_live_model_against_the_allowed_list() -> None:
    # Given a live suite and a prompt-only dataset
    suite = live_suite()
    record = make_line()
    del record["modelResponses"]
    data, suite_bytes = jsonl([record]), json.dumps(suite).encode()
    path = "inferenceConfig.models[0].bedrockModel.modelIdentifier"
    # When the deployment allows that model / Then the run passes
    allowed = validate_run(
        suite_bytes,
        SUITE_FILE,
        [data],
        DATASET_FILE,
        limits=DeploymentLimits(allowed_inference_models=["amazon.nova-lite-v1:0"]),
    )
    assert allowed.problems == []
    # When it allows no live model / Then the model is an error
    denied = validate_run(
        suite_bytes, SUITE_FILE, [data], DATASET_FILE, limits=DeploymentLimits(allowed_inference_models=[])
    )
    assert fields(denied) == [path]
    assert "may invoke no model for live inference" in denied.problems[0].message
