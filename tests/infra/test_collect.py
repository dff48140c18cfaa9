"""Collection in the pipeline: the ``collect*`` context grants the collect function exactly the models,
secrets and functions it lists (nothing by default), reaches validate as allow-lists, and the
trigger rule starts runs for scenarios too."""

from __future__ import annotations

import pytest

from infra import constants
from infra.settings import PipelineSettings
from tests.infra.conftest import Synth, _synth, render, role_of_function, statements

SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:bookstore-app-AbCdEf"
FUNCTION = "arn:aws:lambda:us-east-1:111122223333:function:bookstore-assistant"
COLLECT_CONTEXT = {
    # A string, the way `cdk synth -c collectModels=a,b` passes it.
    "collectModels": "amazon.nova-lite-v1:0,us.anthropic.claude-3-haiku-20240307-v1:0",
    "collectSecrets": [SECRET],
    "collectFunctions": [FUNCTION],
    "collectConcurrency": 7,
    "stackName": "EvalPipeCollect",
}
MODEL_ARNS = {
    "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-lite-v1:0",
    "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/"
    "us.anthropic.claude-3-haiku-20240307-v1:0",
    "arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
}
COLLECT_SIDS = ("ConverseCollectModels", "ReadCollectSecrets", "InvokeCollectFunctions")


@pytest.fixture(scope="module")
def collecting(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """cdk.json's defaults plus two models, a secret and a function to collect from."""
    return _synth(tmp_path_factory, "collect", COLLECT_CONTEXT)


def _collect_statements(s: Synth, function: str = constants.FUNCTION_COLLECT) -> dict[str, dict]:
    role = role_of_function(s, {**constants.FUNCTION_LOGICAL_IDS}[function])
    found: dict[str, dict] = {}
    for policy in s.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found.update({st["Sid"]: st for st in statements(policy) if st.get("Sid") in COLLECT_SIDS})
    return found


def _env(s: Synth, function: str) -> dict:
    return s.resource(constants.FUNCTION_LOGICAL_IDS[function])["Properties"]["Environment"]["Variables"]


def _listed(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_by_default_the_collect_function_may_call_nothing(synth: Synth) -> None:
    # Given cdk.json's defaults / Then no model, secret or function statement, and no allow-list
    assert _collect_statements(synth) == {}
    for function in (constants.FUNCTION_COLLECT, constants.FUNCTION_VALIDATE):
        assert not {name for name in _env(synth, function) if name.startswith("ALLOWED_COLLECT_")}


def test_the_collect_function_gets_exactly_the_listed_models_secrets_and_functions(collecting: Synth) -> None:
    # Given two models, a secret and a function / When synthesized
    found = _collect_statements(collecting)
    # Then InvokeModel on exactly the models' ARNs (a profile adds its base model)
    models = found["ConverseCollectModels"]
    assert _listed(models["Action"]) == ["bedrock:InvokeModel"]
    assert {render(r) for r in _listed(models["Resource"])} == MODEL_ARNS
    # And GetSecretValue on exactly the secret, InvokeFunction on exactly the function
    secrets = found["ReadCollectSecrets"]
    assert (_listed(secrets["Action"]), _listed(secrets["Resource"])) == (
        ["secretsmanager:GetSecretValue"],
        [SECRET],
    )
    # (the function itself, and its versions and aliases: a target's qualifier names one)
    functions = found["InvokeCollectFunctions"]
    assert (_listed(functions["Action"]), _listed(functions["Resource"])) == (
        ["lambda:InvokeFunction"],
        [FUNCTION, f"{FUNCTION}:*"],
    )
    # And no other function of the pipeline gets any of them
    for other in constants.FUNCTION_LOGICAL_IDS:
        if other != constants.FUNCTION_COLLECT:
            assert _collect_statements(collecting, other) == {}, other


def test_validate_and_collect_know_the_lists_and_the_map_its_concurrency(collecting: Synth) -> None:
    for function in (constants.FUNCTION_COLLECT, constants.FUNCTION_VALIDATE):
        env = _env(collecting, function)
        assert (
            env["ALLOWED_COLLECT_MODELS"] == "amazon.nova-lite-v1:0,us.anthropic.claude-3-haiku-20240307-v1:0"
        )
        assert env["ALLOWED_COLLECT_SECRETS"] == SECRET
        assert env["ALLOWED_COLLECT_FUNCTIONS"] == FUNCTION
    definition = collecting.resource(constants.STATE_MACHINE_LOGICAL_ID)["Properties"]["DefinitionString"]
    assert '"MaxConcurrency":7' in render(definition).replace(" ", "")


@pytest.mark.parametrize(
    ("key", "value"),
    [("collectSecrets", ["bookstore-app"]), ("collectFunctions", ["bookstore-assistant"])],
)
def test_secrets_and_functions_are_named_by_arn(key: str, value: list[str]) -> None:
    with pytest.raises(ValueError, match=f"{key} are"):
        PipelineSettings.model_validate({key: value})
