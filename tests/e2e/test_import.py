"""End to end: a job run outside the pipeline (created directly against the emulator, as a user of
the console or the AWS CLI would) is imported as a run of its suite, then a dataset dropped into
that suite is compared against it (issue 12)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from evalpipe.cli import main
from tests.e2e.scenario import given_cli_for, given_suite, then_run_completed, when_dataset_dropped

if TYPE_CHECKING:
    from local.demo import LocalDeployment

pytestmark = pytest.mark.slow
SUITE = "support-assistant-imported"


@pytest.fixture
def cli_env(stack: LocalDeployment, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI pointed at the local stack; returns the stack's name."""
    return given_cli_for(stack, monkeypatch)


def given_a_job_run_by_hand(stack: LocalDeployment, suite_file: Path, dataset: bytes, job_name: str) -> str:
    """CreateEvaluationJob with the suite's configuration, outside the pipeline; waits for it."""
    s3, bedrock = stack.client("s3"), stack.client("bedrock")
    s3.put_object(Bucket=stack.bucket, Key=f"manual/{job_name}/data.jsonl", Body=dataset)
    document: dict[str, Any] = json.loads(suite_file.read_text(encoding="utf-8"))
    [entry] = document["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    entry["dataset"]["datasetLocation"] = {"s3Uri": f"s3://{stack.bucket}/manual/{job_name}/data.jsonl"}
    arn = bedrock.create_evaluation_job(
        jobName=job_name,
        roleArn=stack.outputs["BedrockRoleArn"],
        applicationType=document["applicationType"],
        evaluationConfig=document["evaluationConfig"],
        inferenceConfig=document["inferenceConfig"],
        outputDataConfig={"s3Uri": f"s3://{stack.bucket}/manual-results/"},
    )["jobArn"]
    deadline = time.monotonic() + 60
    while bedrock.get_evaluation_job(jobIdentifier=arn)["status"] != "Completed":
        assert time.monotonic() < deadline, "the hand-made job did not complete"
        time.sleep(0.5)
    return arn


def test_a_job_run_by_hand_is_imported_and_becomes_the_baseline(
    stack: LocalDeployment, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the suite in the bucket, and a job of the same configuration a user ran by hand
    suite = given_suite(stack, "support-assistant", as_name=SUITE)
    arn = given_a_job_run_by_hand(stack, suite.file, suite.dataset(), "hand-made-eval-1")

    # When it is imported as a run of the suite
    code = main(["import", arn, "--suite", SUITE, "--stack", cli_env])
    out, err = capsys.readouterr()

    # Then it is recorded as a completed run of the suite, with its records, summary and report
    assert code == 0, err
    assert out.startswith(f"imported hand-made-eval-1 as run hand-made-eval-1 of suite {SUITE}")
    imported = stack.run("hand-made-eval-1")
    assert imported is not None
    records = len(suite.dataset().splitlines())
    assert (imported.status, imported.suite, imported.job_arn, imported.record_count) == (
        "COMPLETED", SUITE, arn, records
    )  # fmt: skip
    assert set(imported.metrics) >= {"Builtin.Helpfulness", "confirmation_check"}
    assert imported.verdict in ("PASSED", "LOW_SCORES")
    assert len(stack.records("hand-made-eval-1")) == records
    report = stack.client("s3").get_object(Bucket=stack.bucket, Key=imported.report_key)["Body"].read()
    assert b"hand-made-eval-1" in report

    # And importing it a second time is refused, the run left as it was
    assert main(["import", "hand-made-eval-1", "--suite", SUITE, "--stack", cli_env]) == 1
    assert "already recorded" in capsys.readouterr().err

    # When a dataset of the same suite is dropped
    dropped = when_dataset_dropped(stack, suite, "after-import.jsonl")

    # Then its run is compared against the imported one
    run = then_run_completed(dropped, records=records)
    assert run.comparison is not None
    assert run.comparison.baseline_run_id == "hand-made-eval-1"


def test_a_job_that_does_not_match_the_suite_is_refused(
    stack: LocalDeployment, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a completed job of the judge suite, and the human suite in the bucket
    judge = given_suite(stack, "support-assistant", as_name=f"{SUITE}-judge")
    given_suite(stack, "support-assistant-human", as_name=f"{SUITE}-human")
    arn = given_a_job_run_by_hand(stack, judge.file, judge.dataset(), "hand-made-eval-2")
    # When it is imported as a run of the human suite
    code = main(["import", arn, "--suite", f"{SUITE}-human", "--stack", cli_env])
    # Then it is refused, saying why, and nothing is recorded
    assert code == 1
    assert "does not match suite" in capsys.readouterr().err
    assert stack.run("hand-made-eval-2") is None
