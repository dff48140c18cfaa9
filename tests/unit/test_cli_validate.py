"""`evalpipe validate`: exit codes, the compiler-style listing, --json, the capped listing, bad paths."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalpipe.cli import _common, main
from tests.builders import jsonl
from tests.unit.validation.builders import APP, make_line, make_suite

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SUITE = REPO / "examples" / "suites" / "support-assistant.json"
EXAMPLE_DATASET = REPO / "examples" / "datasets" / "support-assistant" / "sample.jsonl"
# FILE:LINE: FIELD: severity: message (FIELD optional) or FILE: json.path: severity: message
DATASET_LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): (?:(?P<field>[^:]+): )?(?P<severity>error|warning): .+$"
)
SUITE_LINE = re.compile(r"^(?P<file>[^:]+): (?:(?P<field>[^:]+): )?(?P<severity>error|warning): .+$")


@pytest.fixture
def files(tmp_path):
    """Write a suite and a dataset; returns their paths as strings."""

    def _files(records: list[Any] | bytes, suite: dict | bytes | None = None) -> tuple[str, str]:
        suite_path, dataset_path = tmp_path / "suite.json", tmp_path / "data.jsonl"
        suite = make_suite() if suite is None else suite
        suite_path.write_bytes(suite if isinstance(suite, bytes) else json.dumps(suite).encode())
        dataset_path.write_bytes(records if isinstance(records, bytes) else jsonl(records))
        return str(suite_path), str(dataset_path)

    return _files


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bad_records() -> list[dict]:
    """Line 2 lacks its response; line 3 names another identifier."""
    second = make_line()
    del second["modelResponses"][0]["response"]
    third = make_line(modelResponses=[{"response": "ok", "modelIdentifier": "my-app-v2"}])
    return [make_line(), second, third]


# --- exit codes -----------------------------------------------------------------------------


def test_a_valid_suite_and_dataset_exit_0(capsys, files):
    suite, dataset = files([make_line(), make_line()])
    code, out, err = run(capsys, "validate", "--suite", suite, dataset)
    assert code == 0
    assert out.splitlines() == [f"{dataset}: valid: 0 errors, 0 warnings"]
    assert err == ""


def test_the_example_is_valid_with_its_warning(capsys):
    code, out, _ = run(capsys, "validate", "--suite", str(EXAMPLE_SUITE), str(EXAMPLE_DATASET))
    lines = out.splitlines()
    assert code == 0
    assert lines[-1] == f"{EXAMPLE_DATASET}: valid: 0 errors, 1 warning"
    assert lines[0].startswith(f"{EXAMPLE_DATASET}: referenceResponse: warning: 3 of 18 records")


def test_warnings_alone_keep_exit_0_and_are_marked(capsys, files):
    suite, dataset = files([make_line(referenceResponse="")])  # Correctness grades against it
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    assert code == 0
    assert ": warning: " in out.splitlines()[0]
    assert out.splitlines()[-1].endswith("valid: 0 errors, 1 warning")


def test_an_invalid_dataset_exits_1_listing_file_line_field_for_each_problem(capsys, files):
    suite, dataset = files(bad_records())
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == (
        f"{dataset}:2: modelResponses[0].response: error: missing; give the model's answer as text"
    )
    assert lines[1].startswith(f"{dataset}:3: modelResponses[0].modelIdentifier: error: 'my-app-v2' differs")
    assert all(DATASET_LINE.match(line) for line in lines[:2])
    assert lines[-1] == f"{dataset}: invalid: 2 errors, 0 warnings"


def test_suite_problems_name_the_file_and_json_path(capsys, files):
    document = make_suite()
    del document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"]
    suite, dataset = files([make_line()], document)
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    first = out.splitlines()[0]
    assert code == 1
    assert first.startswith(f"{suite}: evaluationConfig.automated.datasetMetricConfigs[0].taskType: error: ")
    assert SUITE_LINE.match(first)


def test_a_suite_that_is_not_json_is_invalid_not_a_usage_error(capsys, files):
    suite, dataset = files([make_line()], b"{not json")
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    assert code == 1
    assert out.splitlines()[0].startswith(f"{suite}: error: not valid JSON")


# --- --json ---------------------------------------------------------------------------------


def test_json_prints_the_verdict_exact_counts_and_the_problem_list(capsys, files):
    suite, dataset = files([*bad_records(), make_line(referenceResponse="")])
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset, "--json")
    document = json.loads(out)  # the whole of stdout is one JSON document
    assert code == 1
    assert document["valid"] is False
    assert (document["error_count"], document["warning_count"]) == (2, 1)
    assert (document["listed"], document["listed_all"]) == (3, True)
    assert (document["suite"], document["dataset"]) == (suite, dataset)
    assert all(set(p) == {"severity", "file", "line", "field", "message"} for p in document["problems"])
    assert [(p["severity"], p["line"], p["field"]) for p in document["problems"]] == [
        ("warning", None, "referenceResponse"),
        ("error", 2, "modelResponses[0].response"),
        ("error", 3, "modelResponses[0].modelIdentifier"),
    ]


def test_json_of_a_valid_run(capsys, files):
    suite, dataset = files([make_line()])
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset, "--json")
    assert code == 0
    assert json.loads(out)["valid"] is True
    assert json.loads(out)["problems"] == []
    assert "\x1b[" not in out  # never coloured


# --- the capped listing ---------------------------------------------------------------------


def test_the_listing_is_capped_and_the_count_stays_exact(capsys, files):
    # Given 120 lines that are not JSON
    suite, dataset = files(b"".join(b"{oops\n" for _ in range(120)))
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    lines = out.splitlines()
    # Then 50 are listed, all 120 counted, and the summary says how to see more
    assert code == 1
    assert len(lines) == 51
    assert lines[49].startswith(f"{dataset}:50: error: not valid JSON")
    assert (
        lines[-1]
        == f"{dataset}: invalid: 120 errors, 0 warnings (first 50 listed); use --max-problems N to list more"
    )


def test_max_problems_changes_the_cap_not_the_count(capsys, files):
    suite, dataset = files(b"".join(b"{oops\n" for _ in range(120)))
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset, "--json", "--max-problems", "5")
    document = json.loads(out)
    assert code == 1
    assert (document["listed"], document["error_count"], document["listed_all"]) == (5, 120, False)
    assert [p["line"] for p in document["problems"]] == [1, 2, 3, 4, 5]


def test_the_dataset_is_streamed_in_chunks(capsys, files, monkeypatch):
    # Given chunks far smaller than a line, lines span many reads and are still whole records
    monkeypatch.setattr(_common, "CHUNK_BYTES", 7)
    suite, dataset = files([make_line(prompt="x" * 200) for _ in range(5)])
    code, out, _ = run(capsys, "validate", "--suite", suite, dataset)
    assert code == 0, out


def test_allow_evaluator_refuses_other_judges(capsys, files):
    suite, dataset = files([make_line()])
    code, out, _ = run(
        capsys, "validate", "--suite", suite, dataset, "--allow-evaluator", "amazon.nova-lite-v1:0"
    )
    assert code == 1
    assert "amazon.nova-pro-v1:0" in out


# --- usage errors and unreadable paths ------------------------------------------------------


def test_a_missing_dataset_exits_2(capsys, files, tmp_path):
    suite, _ = files([make_line()])
    code, out, err = run(capsys, "validate", "--suite", suite, str(tmp_path / "absent.jsonl"))
    assert code == 2
    assert out == ""
    assert err.startswith("evalpipe: error: cannot read ")
    assert "absent.jsonl" in err


def test_a_missing_suite_exits_2(capsys, files, tmp_path):
    _, dataset = files([make_line()])
    code, _, err = run(capsys, "validate", "--suite", str(tmp_path / "absent.json"), dataset)
    assert code == 2
    assert "cannot read" in err


def test_a_directory_for_a_dataset_exits_2(capsys, files, tmp_path):
    suite, _ = files([make_line()])
    code, _, err = run(capsys, "validate", "--suite", suite, str(tmp_path))
    assert code == 2
    assert "cannot read" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_dataset_exits_2(capsys, files):
    suite, dataset = files([make_line()])
    Path(dataset).chmod(0)
    code, _, err = run(capsys, "validate", "--suite", suite, dataset)
    assert code == 2
    assert "cannot read" in err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["validate", "data.jsonl"], id="no-suite"),
        pytest.param(["validate", "--suite", "s.json"], id="no-dataset"),
        pytest.param(["validate", "--suite", "s.json", "d.jsonl", "--max-problems", "0"], id="cap-0"),
        pytest.param(["validate", "--suite", "s.json", "d.jsonl", "--nope"], id="unknown-option"),
        pytest.param(["frobnicate"], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage: evalpipe" in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "validate", "--help")
    assert code == 0
    assert "--suite SUITE.json" in out


# --- the real process -----------------------------------------------------------------------


def test_the_module_runs_as_a_process_with_the_exit_codes(files):
    suite, dataset = files(bad_records())
    env = {**os.environ, "PYTHONPATH": str(REPO / "lambdas")}

    def status(*argv: str) -> int:
        return subprocess.run(
            [sys.executable, "-m", "evalpipe.cli", *argv], env=env, capture_output=True, check=False
        ).returncode

    assert status("validate", "--suite", str(EXAMPLE_SUITE), str(EXAMPLE_DATASET)) == 0
    assert status("validate", "--suite", suite, dataset) == 1
    assert status("validate", "--suite", suite, dataset + ".missing") == 2


def test_the_installed_entry_point_when_make_install_ran():
    script = Path(sys.executable).parent / "evalpipe"
    if not script.exists():
        pytest.skip("evalpipe is not installed in this environment (make install)")
    result = subprocess.run(
        [str(script), "validate", "--suite", str(EXAMPLE_SUITE), str(EXAMPLE_DATASET), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path("/"),  # not the repository: the package is found through the install
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_identifier_used_by_the_builders_is_the_suites():
    # Guards the fixtures above: the builders' records match the builders' suite
    source = make_suite()["inferenceConfig"]["models"][0]["precomputedInferenceSource"]
    assert source["inferenceSourceIdentifier"] == APP
