"""Live inference: the ``inferenceModels`` context grants InvokeModel on exactly those models."""

from __future__ import annotations

import pytest

from infra import constants
from tests.infra.conftest import Synth, _synth, policy_of_role, render, statements

PROVISIONED = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdef123456"
IMPORTED = "arn:aws:bedrock:us-east-1:111122223333:imported-model/0123456789ab"
LIVE_CONTEXT = {
    # A string, the way `cdk synth -c inferenceModels=a,b` passes it.
    "inferenceModels": "amazon.nova-lite-v1:0,us.anthropic.claude-3-haiku-20240307-v1:0,"
    f"{PROVISIONED},{IMPORTED}",
    "stackName": "EvalPipeLive",
}
LIVE_ARNS = {
    "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-lite-v1:0",
    "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/"
    "us.anthropic.claude-3-haiku-20240307-v1:0",
    "arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    PROVISIONED,
    IMPORTED,
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """cdk.json's defaults plus four live-inference models."""
    return _synth(tmp_path_factory, "live", LIVE_CONTEXT)


def _inference_statements(s: Synth) -> list[dict]:
    policy = policy_of_role(s, constants.BEDROCK_ROLE_LOGICAL_ID)
    return [statement for statement in statements(policy) if statement.get("Sid") == "InvokeInferenceModels"]


def _validate_env(s: Synth) -> dict:
    functions = s.resources("AWS::Lambda::Function")
    (validate,) = [f for f in functions.values() if f["Properties"]["Handler"].endswith(".validate.handler")]
    return validate["Properties"]["Environment"]["Variables"]


def test_by_default_the_role_may_invoke_no_live_model(synth: Synth) -> None:
    # Given cdk.json's defaults / Then no inference statement and no allow-list on validate
    assert _inference_statements(synth) == []
    assert "ALLOWED_INFERENCE_MODELS" not in _validate_env(synth)


def test_inference_models_get_invoke_model_on_exactly_their_arns(live: Synth) -> None:
    # Given four live models (foundation, profile, provisioned, imported) / When synthesized
    (statement,) = _inference_statements(live)
    # Then InvokeModel alone is granted, on exactly their ARNs (a profile adds its base model)
    assert statement["Effect"] == "Allow"
    actions = statement["Action"]
    assert (actions if isinstance(actions, list) else [actions]) == ["bedrock:InvokeModel"]
    assert {render(resource) for resource in statement["Resource"]} == LIVE_ARNS


def test_the_validate_function_knows_the_allowed_live_models(live: Synth) -> None:
    # Given live models in the context / Then the validate step gets them as its allow-list
    env = _validate_env(live)
    assert env["ALLOWED_INFERENCE_MODELS"].split(",") == [
        "amazon.nova-lite-v1:0",
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        PROVISIONED,
        IMPORTED,
    ]
