"""The synthesized state machine executed in moto's Step Functions engine.

Functions run in-process with the environment the template gives them; Bedrock is the local
emulator (offline judge). Each test gets a fresh moto account with the pipeline deployed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from handlers import _runtime
from infra.application import synthesize
from local import bedrock_emulator, moto_patches
from local.inprocess_lambda import inprocess_lambdas
from local.pipeline import MotoPipeline
from local.sfn_harness import SFN_MOTO_CONFIG

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

# Poll every second; jobs finish after two seconds unless a test says otherwise.
FAST = {"POLL_INTERVAL_SECONDS": "1"}


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return synthesize({"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path_factory.mktemp("cdk")))


@pytest.fixture
def deploy(aws_env, template) -> Iterator:
    """Deploy the pipeline into a fresh moto account; call it with environment overrides."""
    moto_patches.install()
    bedrock_emulator.install()
    bedrock_emulator.reset()
    bedrock_emulator.controls.set_delays(job_seconds=2, stop_seconds=1)
    _runtime.reset()
    deployed: list[MotoPipeline] = []
    with mock_aws(config=SFN_MOTO_CONFIG), inprocess_lambdas():

        def _deploy(**overrides: str) -> MotoPipeline:
            deployed.append(MotoPipeline.deploy(template, env_overrides={**FAST, **overrides}))
            return deployed[-1]

        yield _deploy
        for pipeline in deployed:
            pipeline.stop_executions()
    bedrock_emulator.reset()
    moto_patches.uninstall()
    _runtime.reset()
