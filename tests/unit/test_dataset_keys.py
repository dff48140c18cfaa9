"""Which objects under datasets/ the pipeline evaluates, and what it says about the others."""

from __future__ import annotations

import pytest

from evalpipe.run.triggers import dataset_file_problem, is_folder_marker, suite_of_key


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("records.json", "write one object per line instead (e.g. jq -c '.[]' FILE.json > FILE.jsonl)"),
        ("records.csv", "convert each row to one JSON object per line"),
        ("records.XLSX", "export it as CSV, then write each row as one JSON object per line"),
        ("records", "save the records as JSON Lines"),
    ],
)
def test_a_file_that_is_not_jsonl_names_the_files_evaluated_and_the_fix(name: str, hint: str) -> None:
    key = f"datasets/support/{name}"
    problem = dataset_file_problem(key)
    assert problem is not None
    assert problem.startswith("only .jsonl files (JSON Lines: one JSON object per line)")
    assert hint in problem
    assert problem.endswith("upload it as datasets/support/<name>.jsonl")
    # the folder still names the suite, so the suite's team is the one told
    assert suite_of_key(key) == "support"


def test_jsonl_files_are_evaluated_and_folder_markers_are_not_files() -> None:
    assert dataset_file_problem("datasets/support/nightly.jsonl") is None
    assert is_folder_marker("datasets/support/")
    assert not is_folder_marker("datasets/support/nightly.jsonl")
