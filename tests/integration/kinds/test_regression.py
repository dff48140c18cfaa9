"""Run history wired through the pipeline: the parse step's review, the report, the notification."""

from __future__ import annotations

from evalpipe.steps.notify import notify
from tests.integration.steps.flow import BASELINE_SCORES, baseline_and_regressed, parsed_run


def test_a_second_run_that_dropped_is_regressed_with_report_and_notification(
    ports, bedrock, bucket, put, dropped, clock, s3_client, sns_messages
):
    # Given a baseline run and a run of the same suite whose scores dropped
    baseline, current = baseline_and_regressed(ports, bedrock, bucket, put, dropped, clock)

    # Then the second run is REGRESSED against the first, with the comparison on its item
    run = ports.runs.get(current)
    assert run.verdict == "REGRESSED"
    comparison = run.comparison
    assert comparison.baseline_run_id == baseline
    assert [m.metric for m in comparison.metrics if m.regressed] == [
        "Builtin.Helpfulness",
        "confirmation_check",
    ]
    assert comparison.worsened_count == 4 and comparison.na_transition_count == 1
    # and its report is in the bucket where the item says
    assert run.report_key == f"reports/smoke/{current}.html"
    page = s3_client.get_object(Bucket=bucket, Key=run.report_key)["Body"].read().decode()
    assert "REGRESSED" in page and baseline in page
    # and the baseline itself had none to compare with
    assert ports.runs.get(baseline).comparison.baseline_run_id is None

    # When the run is notified
    notify(current, ports)

    # Then the one message leads with the regression and carries the filterable attributes
    [message] = sns_messages()
    assert message["subject"] == (
        f"[evalpipe] smoke: REGRESSED - 2 metrics regressed vs {baseline.removeprefix('smoke-')}"
    )
    assert message["attributes"] == {
        "suite": "smoke",
        "verdict": "REGRESSED",
        "status": "COMPLETED",
        "severity": "warning",
        "run_id": current,
    }
    body = message["message"]
    assert body.startswith("Verdict: REGRESSED — 2 metrics regressed against the baseline run")
    assert "[Builtin.Helpfulness] 1.00 -> 0.25 (-0.75) |" in body
    assert f"  Report:      s3://{bucket}/reports/smoke/{current}.html" in body


def test_a_first_run_says_it_has_no_baseline(ports, bedrock, bucket, put, dropped, sns_messages):
    # Given the suite's first run
    run_id = parsed_run(ports, bedrock, bucket, put, dropped, BASELINE_SCORES)

    # When notified / Then it passes and says why nothing was compared
    notify(run_id, ports)
    [message] = sns_messages()
    assert message["attributes"]["verdict"] == "PASSED"
    assert "No baseline: no earlier COMPLETED run of this suite to compare with." in message["message"]
