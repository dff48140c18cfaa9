"""End to end: a human evaluation suite through the local stack, with the emulator's FAKE ratings."""

from __future__ import annotations

import pytest

from tests.e2e.scenario import given_suite, then_run_completed, when_dataset_dropped

pytestmark = pytest.mark.slow


def test_a_human_job_is_polled_parsed_and_notified_as_human_ratings(stack):
    # Given the human example suite (the local mode polls human jobs every second too)
    suite = given_suite(stack, "support-assistant-human")
    # When its dataset is dropped
    dropped = when_dataset_dropped(stack, suite, "sample.jsonl")
    # Then the run completes with the human metrics, and the job was a 30-day human job
    run = then_run_completed(dropped)
    assert run.job_type == "Human"
    assert set(run.metrics) == {"resolved", "tone"}
    assert run.verdict in ("PASSED", "LOW_SCORES", "REGRESSED")
    # And the notification says the human ratings are in and where
    message = dropped.message()
    assert "the work team finished: human ratings of" in message["body"]
    assert "Human evaluation: your work team has finished rating this job." in message["body"]
    assert f"results/{suite.name}/{dropped.run_id}/" in message["body"]
