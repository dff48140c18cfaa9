"""End to end: a human evaluation suite through the local stack, with the emulator's FAKE ratings."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROOT, drop_dataset

pytestmark = pytest.mark.slow

SUITE = "support-assistant-human"
SUITE_FILE = ROOT / "examples" / "suites" / f"{SUITE}.json"
DATASET_FILE = ROOT / "examples" / "datasets" / SUITE / "sample.jsonl"


def test_a_human_job_is_polled_parsed_and_notified_as_human_ratings(stack, tmp_path):
    # Given the human example suite (the local mode polls human jobs every second too)
    stack.upload(SUITE_FILE, f"suites/{SUITE}.json")
    # When its dataset is dropped
    result = drop_dataset(stack, f"datasets/{SUITE}/sample.jsonl", DATASET_FILE.read_bytes(), tmp_path)
    # Then the run completes with the human metrics, and the job was a 30-day human job
    assert result["description"]["status"] == "SUCCEEDED"
    run_id = json.loads(result["description"]["output"])["run"]["run_id"]
    run = stack.run(run_id)
    assert run.status == "COMPLETED" and run.job_type == "Human"
    assert set(run.metrics) == {"resolved", "tone"}
    assert run.verdict in ("PASSED", "LOW_SCORES", "REGRESSED")
    # And the notification says the human ratings are in and where
    [message] = [m for m in stack.messages(wait=10, count=1) if m["attributes"].get("run_id") == run_id]
    assert "the work team finished: human ratings of" in message["body"]
    assert "Human evaluation: your work team has finished rating this job." in message["body"]
    assert f"results/{SUITE}/{run_id}/" in message["body"]
