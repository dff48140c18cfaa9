"""End to end: two successive runs of a suite where the second regresses, and the alert says so."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import DATASET_FILE, SUITE_FILE, drop_dataset

pytestmark = pytest.mark.slow

# A suite of its own, so runs of the other e2e tests are never this one's baseline.
SUITE = "support-assistant-history"
DEGRADED = "Sorry, I am not able to help with that request."


def degraded(dataset: bytes) -> bytes:
    """The same prompts answered by an app that stopped answering (what a bad deploy looks like)."""
    lines = []
    for line in dataset.splitlines():
        record = json.loads(line)
        record["modelResponses"][0]["response"] = DEGRADED
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def run_id_of(run: dict) -> str:
    return json.loads(run["description"]["output"])["run"]["run_id"]


def test_a_second_run_that_scores_worse_is_notified_as_regressed(stack, tmp_path):
    # Given the example suite under its own name, and a first run of the example dataset
    suite_path = tmp_path / f"{SUITE}.json"
    suite_path.write_bytes(SUITE_FILE.read_bytes())
    stack.upload(suite_path, f"suites/{SUITE}.json")
    dataset = DATASET_FILE.read_bytes()
    first = drop_dataset(stack, f"datasets/{SUITE}/monday.jsonl", dataset, tmp_path)
    baseline_id = run_id_of(first)
    assert stack.run(baseline_id).verdict in ("PASSED", "LOW_SCORES")

    # When the next dataset carries worse answers to the same prompts
    second = drop_dataset(stack, f"datasets/{SUITE}/tuesday.jsonl", degraded(dataset), tmp_path)

    # Then the second run is REGRESSED against the first
    run_id = run_id_of(second)
    run = stack.run(run_id)
    assert second["description"]["status"] == "SUCCEEDED"
    assert run.verdict == "REGRESSED"
    comparison = run.comparison
    assert comparison is not None and comparison.baseline_run_id == baseline_id
    assert comparison.regressed is True
    # And the alert leads with the verdict, names the baseline, and links the report
    messages = [m for m in stack.messages(wait=10, count=2) if m["attributes"].get("run_id") == run_id]
    [message] = messages
    assert message["attributes"]["verdict"] == "REGRESSED"
    assert message["subject"].startswith(f"[evalpipe] {SUITE}: REGRESSED")
    assert message["body"].startswith("Verdict: REGRESSED")
    assert baseline_id in message["body"]
    assert run.report_key in message["body"]
    # And the report is in the bucket as a self-contained page
    report = stack.client("s3").get_object(Bucket=stack.bucket, Key=run.report_key)
    assert report["ContentType"].startswith("text/html")
    assert b"REGRESSED" in report["Body"].read()
