"""The synthesized stack, deployed once per session into the local emulator, driven over HTTP.

`local_stack` runs ``python -m local serve`` (what ``make local`` runs) in a subprocess: it
synthesizes the app with ``-c localMode=true``, starts moto's server on 127.0.0.1 with every
local-mode patch, deploys the template through the emulator's CloudFormation and writes a ready
file. Tests then act as a user would (S3 uploads, EventBridge PutEvents, the SQS subscriber of the
alerts topic) through plain boto3 clients on that endpoint.

The subprocess keeps moto's process-wide state away from the in-process `mock_aws()` tests that
pytest-xdist may run on the same worker (`mock_aws()` resets every backend when it starts).

Tests are isolated by their dataset key (the run id derives from it); `stack` resets the
Bedrock emulator's controls before and after each test. The steps the tests share (a suite
uploaded, a dataset dropped, what its run left behind) are in `tests.e2e.scenario`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.demo import LocalDeployment
from local.server import LOCAL_JOB_QUOTA, emulator_control
from tests.e2e.scenario import SUPPORT_ASSISTANT, given_suite

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 240  # a first run synthesizes and fills .cache/lambda-deps from the venv
JOB_SECONDS = 1


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """``python -m local serve`` in a subprocess; the deployment as a user sees it."""
    work = tmp_path_factory.mktemp("local-stack")
    ready, log = work / "ready.json", work / "serve.log"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "MOTO_")) and name != "EVALPIPE_EMULATOR_JOB_SECONDS"
    }
    env.update(
        JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1",
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable, "-m", "local", "serve", "--no-watch",
        "--ready-file", str(ready), "--outdir", str(work / "cdk.out"),
        "--log-file", str(work / "functions.log"),
        "--poll-interval", "1", "--job-seconds", str(JOB_SECONDS),
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"python -m local serve did not come up:\n{log.read_text()[-5000:]}")
            time.sleep(0.2)
        time.sleep(0.1)  # the ready file is written in one call; let it land
        yield LocalDeployment.from_ready_file(ready)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stack(local_stack: LocalDeployment) -> Iterator[LocalDeployment]:
    """The shared stack, the emulator's controls at their defaults (jobs take 1 s), the example suite in."""
    _reset(local_stack)
    local_stack.messages()  # drop what an earlier test left in the subscriber queue
    given_suite(local_stack, SUPPORT_ASSISTANT.example)
    yield local_stack
    _reset(local_stack)


def _reset(deployment: LocalDeployment) -> None:
    emulator_control(deployment.endpoint, "reset")
    emulator_control(
        deployment.endpoint,
        "config",
        {"jobSeconds": JOB_SECONDS, "stopSeconds": 1, "maxConcurrentJobs": LOCAL_JOB_QUOTA},
    )


@pytest.fixture
def dataset() -> bytes:
    return SUPPORT_ASSISTANT.dataset()
