"""`evalpipe preview` against the local emulator's Converse stand-in under mock_aws: the example
suite's custom metrics score as the offline judge scores them in an emulated evaluation job, and the
CLI's client rides out throttling with its retries."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from evalpipe.cli import main
from local import bedrock_emulator

ROOT = Path(__file__).resolve().parents[3]
SUITE_FILE = ROOT / "examples/suites/support-assistant.json"
DATASET_FILE = ROOT / "examples/datasets/support-assistant/sample.jsonl"
CUSTOM = ("confirmation_check", "response_brevity")
ROLE_ARN = "arn:aws:iam::123456789012:role/evalpipe-bedrock"


@pytest.fixture
def emulator(mocked_aws: None) -> Iterator[Any]:
    bedrock_emulator.install()
    bedrock_emulator.reset()
    bedrock_emulator.controls.set_delays(job_seconds=0)
    yield bedrock_emulator
    bedrock_emulator.reset()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry backoff, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", slept.append)
    return slept


def preview_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["preview", "--suite", str(SUITE_FILE), str(DATASET_FILE), "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def job_results(s3_client: Any, bucket: str, records: int) -> dict[tuple[int, str], tuple[float | None, str]]:
    """Run the example suite as an emulated evaluation job on the first records: (line, metric) -> result."""
    lines = DATASET_FILE.read_text().splitlines()[:records]
    s3_client.put_object(Bucket=bucket, Key="datasets/preview.jsonl", Body="\n".join(lines).encode())
    suite = json.loads(SUITE_FILE.read_text())
    evaluation = copy.deepcopy(suite["evaluationConfig"])
    evaluation["automated"]["datasetMetricConfigs"][0]["dataset"]["datasetLocation"] = {
        "s3Uri": f"s3://{bucket}/datasets/preview.jsonl"
    }
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    arn = bedrock.create_evaluation_job(
        jobName="preview-agreement",
        roleArn=ROLE_ARN,
        applicationType="ModelEvaluation",
        evaluationConfig=evaluation,
        inferenceConfig=suite["inferenceConfig"],
        outputDataConfig={"s3Uri": f"s3://{bucket}/results/"},
    )["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="results/")["Contents"]
    (key,) = [o["Key"] for o in listed if o["Key"].endswith("_output.jsonl")]
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    results = {}
    for line, output in enumerate((json.loads(text) for text in body.splitlines()), start=1):
        for score in output["automatedEvaluationResult"]["scores"]:
            if score["metricName"] in CUSTOM:
                results[line, score["metricName"]] = (
                    score["result"],
                    score["evaluatorDetails"][0]["explanation"],
                )
    return results


def test_preview_of_the_example_suite_agrees_with_the_offline_judge_of_an_evaluation_job(
    emulator, s3_client, bucket, capsys
):
    # Given the example suite and its dataset, the emulator answering Converse under mock_aws
    # When its custom metrics are previewed on the first five records (the default)
    code, preview = preview_json(capsys)

    # And the same records run as an emulated evaluation job
    job = job_results(s3_client, bucket, records=5)

    # Then every (record, custom metric) has the job's score: N/A where the job wrote null
    assert code == 0
    scored = {(r["line"], r["metric"]): r["score"] for r in preview["results"]}
    assert scored == {key: result for key, (result, _) in job.items()}
    assert {r["metric"] for r in preview["results"]} == set(CUSTOM)
    not_applicable = [(r["line"], r["metric"]) for r in preview["results"] if r["not_applicable"]]
    assert not_applicable == [(1, "confirmation_check"), (5, "confirmation_check")]
    assert all(r["unmappable"] is None and r["error"] is None for r in preview["results"])
    # And each answer says it came from the offline judge; the calls were counted and priced
    assert all("[offline emulator: the offline judge" in r["reasoning"] for r in preview["results"])
    assert emulator.controls.converse_calls == 10
    assert preview["cost"]["calls"] == 10
    assert preview["cost"]["input_tokens"] > 0
    assert preview["cost"]["usd"] is not None


def test_on_every_record_the_preview_and_the_job_agree(emulator, s3_client, bucket, capsys):
    # Given all 18 records previewed and run as a job
    code, preview = preview_json(capsys, "-n", "18")
    job = job_results(s3_client, bucket, records=18)

    # Then every score agrees: both judges see only what the rubric gives them (these rubrics have no
    # {{ground_truth}}, so neither reads the referenceResponse), as Bedrock's judge would
    assert code == 0
    assert len(preview["results"]) == 36
    differing = {
        (r["line"], r["metric"]) for r in preview["results"] if r["score"] != job[r["line"], r["metric"]][0]
    }
    assert differing == set()
    assert not any("the reference's content words" in why for _, why in job.values())


def test_the_preview_client_retries_a_throttled_and_an_unavailable_judge(emulator, capsys, no_sleep):
    # Given the next two Converse calls throttled, then one failing with a 503
    emulator.controls.throttle_next_converse(2)
    emulator.controls.fail_next_converse(1)

    # When one record is previewed on one metric
    code, preview = preview_json(capsys, "-n", "1", "--metric", "confirmation_check")

    # Then the CLI's client retried (standard mode, backing off) until the judge answered
    assert code == 0
    (result,) = preview["results"]
    assert (result["error"], result["not_applicable"]) == (None, True)
    assert emulator.controls.converse_calls == 4
    assert len(no_sleep) == 3


def test_a_judge_that_stays_throttled_fails_the_call_and_the_command(emulator, capsys, no_sleep):
    emulator.controls.throttle_next_converse(10)
    code, preview = preview_json(capsys, "-n", "1", "--metric", "response_brevity")
    (result,) = preview["results"]
    assert code == 1
    assert result["error"].startswith("ThrottlingException: ")
    assert emulator.controls.converse_calls == 6  # the first attempt and the CLI's 5 retries
