"""The pipeline's steps in-process on a classic suite, against moto and the emulated Bedrock
(no stubs): validate -> submit -> poll -> parse -> notify, as the state machine chains them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from evalpipe.aws.bedrock_jobs import BedrockJobs
from evalpipe.aws.objects import Objects
from evalpipe.aws.runs_table import RunsTable
from evalpipe.ports import Ports
from evalpipe.settings import Settings
from evalpipe.steps.notify import notify
from evalpipe.steps.parse import parse
from evalpipe.steps.poll import poll
from evalpipe.steps.submit import submit
from evalpipe.steps.validate import validate
from local import bedrock_emulator
from tests.builders import JUDGE
from tests.integration.steps.flow import ROLE_ARN, s3_event

ROOT = Path(__file__).resolve().parents[3]
SUITE_FILE = ROOT / "examples" / "suites" / "support-assistant-classic.json"
DATASET_FILE = ROOT / "examples" / "datasets" / "support-assistant-classic" / "sample.jsonl"
LIVE_MODEL = "amazon.nova-lite-v1:0"


@pytest.fixture
def emulated_ports(aws_env, s3_client, bucket, dynamodb_table, sns_topic, clock) -> Iterator[Ports]:
    """Ports whose Bedrock client talks to the emulator (jobs complete on their first read)."""
    bedrock_emulator.install()
    bedrock_emulator.reset()
    bedrock_emulator.controls.set_delays(job_seconds=0)
    settings = Settings.model_validate(
        {
            "RUNS_TABLE_NAME": dynamodb_table.name,
            "BUCKET_NAME": bucket,
            "TOPIC_ARN": sns_topic,
            "BEDROCK_ROLE_ARN": ROLE_ARN,
            "ALLOWED_EVALUATOR_MODELS": JUDGE,
            "ALLOWED_INFERENCE_MODELS": LIVE_MODEL,
        }
    )
    yield Ports(
        objects=Objects(s3_client, bucket),
        runs=RunsTable(dynamodb_table),
        jobs=BedrockJobs(boto3.client("bedrock", region_name="us-east-1")),
        sns_client=boto3.client("sns", region_name="us-east-1"),
        settings=settings,
        clock=clock,
    )
    bedrock_emulator.reset()


def test_a_classic_run_completes_with_normalised_names_and_its_direction(
    emulated_ports, s3_client, bucket, sns_messages
) -> None:
    # Given the classic example suite and its dataset, dropped as a user would
    s3_client.put_object(Bucket=bucket, Key="suites/faq.json", Body=SUITE_FILE.read_bytes())
    body = DATASET_FILE.read_bytes()
    version = s3_client.put_object(Bucket=bucket, Key="datasets/faq/nightly.jsonl", Body=body)["VersionId"]
    event = s3_event(bucket, "datasets/faq/nightly.jsonl", version, size=len(body))

    # When the steps run in the state machine's order
    run_id = validate(event, emulated_ports)["run_id"]
    job = submit(run_id, 1, emulated_ports)
    polled = poll(run_id, 1, job["job_arn"], job["deadline"], emulated_ports)
    parsed = parse(run_id, emulated_ports)
    notify(run_id, emulated_ports)

    # Then the job completed, and the run holds the suite's metric names with their directions
    assert polled["status"] == "Completed"
    assert (parsed.record_count, parsed.verdict) == (len(body.splitlines()), "LOW_SCORES")
    run = emulated_ports.runs.get(run_id)
    assert set(run.metrics) == {"Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"}
    assert {low.metric for low in run.low_records} == {"Builtin.Robustness"}
    assert run.metrics["Builtin.Toxicity"].low_count == 0
    # And the estimate priced Nova Lite's inference six times over (Robustness) with no judge
    [collection] = run.estimate["items"]
    assert "1 + 5 perturbed prompts" in collection["details"]
    # And the records know their dataset, and one notification went out
    records = list(emulated_ports.runs.iter_records(run_id))
    assert {r.dataset for r in records} == {"bookstore-faq"}
    [message] = sns_messages()
    assert message["attributes"]["verdict"] == "LOW_SCORES"
    assert "Lower is better for Builtin.Robustness, Builtin.Toxicity." in message["message"]
    assert run.metrics["Builtin.Robustness"].rule == "> 20"
