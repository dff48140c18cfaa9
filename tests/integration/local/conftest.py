"""Fixtures for the Bedrock evaluation-job emulator against moto (in-process and server).

- `emulator`: the emulator installed into moto, controls and jobs reset around the test,
  every delay set to 0 (a job completes on its first read).
- `fake_clock`: a controllable clock for the emulator's lazy progress (starts at T0).
- `bedrock`: a boto3 `bedrock` client inside `mock_aws()`; `raw_bedrock` the same with
  botocore's client-side validation off (so the emulator's own validation is what answers);
  `no_retry_bedrock` with botocore's retries off (every injected error surfaces).
- `dataset`: uploads JSONL records to the shared `bucket` and returns the `s3://` URI.
- `job_request`: builds CreateEvaluationJob kwargs (precomputed responses, judge metrics).
- `s3_results`: lists and reads what jobs wrote to the shared `bucket`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from bedrock_emulator_support import JUDGE_MODEL, RECORDS, REGION, ROLE_ARN, SOURCE_ID, FakeClock, S3Results
from botocore.config import Config

from local import bedrock_emulator

DEFAULT_METRICS = ["Builtin.Correctness", "Builtin.Helpfulness", "Builtin.Refusal"]
DATASET_KEY = "datasets/demo/golden.jsonl"


@pytest.fixture
def emulator() -> Iterator[Any]:
    bedrock_emulator.install()
    bedrock_emulator.reset()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0, delete_seconds=0)
    yield bedrock_emulator
    bedrock_emulator.reset()


@pytest.fixture
def fake_clock(emulator: Any) -> FakeClock:
    clock = FakeClock()
    emulator.controls.clock = clock
    return clock


@pytest.fixture
def bedrock(mocked_aws: None, emulator: Any) -> Any:
    return boto3.client("bedrock", region_name=REGION)


@pytest.fixture
def raw_bedrock(mocked_aws: None, emulator: Any) -> Any:
    return boto3.client("bedrock", region_name=REGION, config=Config(parameter_validation=False))


@pytest.fixture
def no_retry_bedrock(mocked_aws: None, emulator: Any) -> Any:
    return boto3.client("bedrock", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def dataset(s3_client: Any, bucket: str) -> Callable[..., str]:
    def upload(records: list[Any] = RECORDS, key: str = DATASET_KEY, raw: str | None = None) -> str:
        body = raw if raw is not None else "\n".join(json.dumps(r) for r in records) + "\n"
        s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode())
        return f"s3://{bucket}/{key}"

    return upload


@pytest.fixture
def job_request(bucket: str) -> Callable[..., dict[str, Any]]:
    def build(
        name: str = "demo-20250101-000000-abcdef12",
        dataset_uri: str | None = None,
        metrics: list[str] | None = None,
        custom: list[dict[str, Any]] | None = None,
        output_uri: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        evaluator = {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE_MODEL}]}
        location = {"s3Uri": dataset_uri or f"s3://{bucket}/{DATASET_KEY}"}
        automated: dict[str, Any] = {
            "datasetMetricConfigs": [
                {
                    "taskType": "General",
                    "dataset": {"name": "golden", "datasetLocation": location},
                    "metricNames": metrics or DEFAULT_METRICS,
                }
            ],
            "evaluatorModelConfig": evaluator,
        }
        if custom:
            automated["customMetricConfig"] = {
                "customMetrics": [{"customMetricDefinition": definition} for definition in custom],
                "evaluatorModelConfig": evaluator,
            }
        source = {"precomputedInferenceSource": {"inferenceSourceIdentifier": SOURCE_ID}}
        request = {
            "jobName": name,
            "roleArn": ROLE_ARN,
            "applicationType": "ModelEvaluation",
            "evaluationConfig": {"automated": automated},
            "inferenceConfig": {"models": [source]},
            "outputDataConfig": {"s3Uri": output_uri or f"s3://{bucket}/results/demo/{name}/"},
        }
        request.update(extra)
        return request

    return build


@pytest.fixture
def s3_results(s3_client: Any, bucket: str) -> S3Results:
    return S3Results(s3_client, bucket)
