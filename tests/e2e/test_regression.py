"""End to end: two successive runs of a suite where the second regresses, and the alert says so."""

from __future__ import annotations

import json

import pytest

from tests.e2e.scenario import SUPPORT_ASSISTANT, given_suite, when_dataset_dropped

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


def test_a_second_run_that_scores_worse_is_notified_as_regressed(stack):
    # Given the example suite under its own name, and a first run of the example dataset
    suite = given_suite(stack, SUPPORT_ASSISTANT.example, as_name=SUITE)
    first = when_dataset_dropped(stack, suite, "monday.jsonl")
    baseline_id = first.run_id
    assert first.run.verdict in ("PASSED", "LOW_SCORES")

    # When the next dataset carries worse answers to the same prompts
    second = when_dataset_dropped(stack, suite, "tuesday.jsonl", degraded(suite.dataset()))

    # Then the second run is REGRESSED against the first
    run = second.run
    assert second.status == "SUCCEEDED"
    assert run.verdict == "REGRESSED"
    comparison = run.comparison
    assert comparison is not None and comparison.baseline_run_id == baseline_id
    assert comparison.regressed is True
    # And the alert leads with the verdict, names the baseline, and links the report
    message = second.message(count=2)
    assert message["attributes"]["verdict"] == "REGRESSED"
    assert message["subject"].startswith(f"[evalpipe] {SUITE}: REGRESSED")
    assert message["body"].startswith("Verdict: REGRESSED")
    assert baseline_id in message["body"]
    assert run.report_key in message["body"]
    # And the report is in the bucket as a self-contained page
    report = stack.client("s3").get_object(Bucket=stack.bucket, Key=run.report_key)
    assert report["ContentType"].startswith("text/html")
    assert b"REGRESSED" in report["Body"].read()
