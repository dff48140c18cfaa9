"""Server mode: moto's ThreadedMotoServer on 127.0.0.1, boto3 with endpoint_url, HTTP controls.

Also the guard against moto upgrades: the routes the emulator relies on must still resolve.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bedrock_emulator_support import JUDGE_MODEL, RECORDS, ROLE_ARN, SOURCE_ID
from botocore.config import Config
from moto.server import ThreadedMotoServer

from local import bedrock_emulator

REGION = "eu-west-1"  # not the in-process tests' region: the server must read it from SigV4
BUCKET = "evalpipe-server-bucket"


@pytest.fixture
def server(aws_env: None, emulator: Any) -> Iterator[str]:
    """A moto server with the emulator, on a free loopback port; its URL."""
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5)
        moto_server.stop()


def control(url: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/moto-api/evalpipe/bedrock-emulator/{action}",
        data=json.dumps(payload or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _request(name: str) -> dict[str, Any]:
    return {
        "jobName": name,
        "roleArn": ROLE_ARN,
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {
                            "name": "golden",
                            "datasetLocation": {"s3Uri": f"s3://{BUCKET}/datasets/golden.jsonl"},
                        },
                        "metricNames": ["Builtin.Correctness", "Builtin.Helpfulness"],
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE_MODEL}]},
            }
        },
        "inferenceConfig": {
            "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": SOURCE_ID}}]
        },
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/results/{name}/"},
    }


def test_server_mode_create_wait_get_completed_and_list_outputs(server):
    # Given a moto server with the emulator, a half-second job delay, and a dataset in its S3
    control(server, "config", {"jobSeconds": 0.5})
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=server)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="datasets/golden.jsonl", Body="\n".join(json.dumps(r) for r in RECORDS))
    bedrock = boto3.client("bedrock", region_name=REGION, endpoint_url=server)

    # When a job is created and polled until it leaves InProgress (bounded)
    arn = bedrock.create_evaluation_job(**_request("server-job"))["jobArn"]
    first = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]
    deadline, status = time.monotonic() + 10, first
    while status == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = bedrock.get_evaluation_job(jobIdentifier=arn)["status"]

    # Then it was InProgress, is Completed, is listed, and its output has one line per record
    assert arn.startswith(f"arn:aws:bedrock:{REGION}:")
    assert (first, status) == ("InProgress", "Completed")
    assert [s["jobArn"] for s in bedrock.list_evaluation_jobs(statusEquals="Completed")["jobSummaries"]] == [
        arn
    ]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/server-job/")["Contents"]]
    outputs = [k for k in keys if k.endswith("_output.jsonl")]
    assert len(outputs) == 1
    assert "/models/my-app-v1/taskTypes/General/datasets/golden/" in outputs[0]
    body = s3.get_object(Bucket=BUCKET, Key=outputs[0])["Body"].read().decode()
    assert len(body.splitlines()) == len(RECORDS)


def test_server_mode_errors_are_the_modeled_exceptions(server):
    # Given a client without retries and an injected throttle over HTTP
    bedrock = boto3.client(
        "bedrock", region_name=REGION, endpoint_url=server, config=Config(retries={"total_max_attempts": 1})
    )
    state = control(server, "throttle", {"count": 1})
    assert state["injectedErrors"][0]["code"] == "ThrottlingException"

    # When creating twice (throttled, then a bad name), and stopping an unknown job
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        bedrock.create_evaluation_job(**_request("any-job"))
    with pytest.raises(bedrock.exceptions.ValidationException, match="jobName"):
        bedrock.create_evaluation_job(**_request("Not_Valid"))
    unknown = f"arn:aws:bedrock:{REGION}:123456789012:evaluation-job/zzzzzzzzzzzz"

    # Then each error is the modeled exception (the ARN's ':' and '/' survive the URL)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException, match="zzzzzzzzzzzz"):
        bedrock.stop_evaluation_job(jobIdentifier=unknown)


def test_server_mode_fail_injection_and_reset_over_http(server):
    # Given the next job is made to fail over HTTP
    control(server, "config", {"jobSeconds": 0})
    control(server, "fail-jobs", {"messages": ["Injected over HTTP"]})
    bedrock = boto3.client("bedrock", region_name=REGION, endpoint_url=server)

    # When a job runs
    arn = bedrock.create_evaluation_job(**_request("failing-job"))["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it Failed with that message; and a reset over HTTP forgets it
    assert (job["status"], job["failureMessages"]) == ("Failed", ["Injected over HTTP"])
    control(server, "reset")
    assert bedrock.list_evaluation_jobs()["jobSummaries"] == []


def test_unknown_control_action_is_a_404(server):
    with pytest.raises(urllib.error.HTTPError) as error:
        control(server, "explode")
    assert error.value.code == 404


def test_moto_still_routes_every_operation_to_the_emulator():
    # Given the emulator installed into this moto version
    bedrock_emulator.install()

    # When its routes are verified (in-process URL patterns, operation naming, handlers,
    # the server's service detection and werkzeug rules, the control endpoint)
    problems = bedrock_emulator.verify_routes()

    # Then nothing is broken; a moto upgrade that breaks the patch fails here, loudly
    assert problems == [], "moto's routing changed; see local/bedrock_emulator/moto_routes.py:\n" + "\n".join(
        problems
    )


def test_moto_does_not_implement_evaluation_jobs_itself():
    # Given the emulator installed; Then it replaced no native moto implementation (if moto
    # ships its own one day, decide whether the emulator should still take over)
    from local.bedrock_emulator import moto_routes

    bedrock_emulator.install()
    assert moto_routes.native_operations_overridden == []


def test_install_is_idempotent():
    # When install() runs again; Then routes are unchanged and still verified
    bedrock_emulator.install()
    bedrock_emulator.install()
    assert bedrock_emulator.is_installed()
    assert bedrock_emulator.verify_routes() == []
