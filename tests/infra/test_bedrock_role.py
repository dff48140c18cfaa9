"""The Bedrock service role: confused-deputy-safe trust, data and model access only."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack

from infra import constants
from infra.bedrock_role import evaluator_model_arns
from tests.infra.conftest import Synth, policy_of_role, render, statements

JOBS = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:evaluation-job/*"


def test_trust_policy_pins_source_account_and_evaluation_jobs(synth: Synth) -> None:
    role = synth.resource(constants.BEDROCK_ROLE_LOGICAL_ID)
    (trust,) = statements(role)
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole"]
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render(trust["Condition"]["ArnLike"]["aws:SourceArn"]) == JOBS
    assert "ManagedPolicyArns" not in role["Properties"]


def _by_resource(synth: Synth) -> dict[str, set[str]]:
    actions: dict[str, set[str]] = {}
    for statement in statements(policy_of_role(synth, constants.BEDROCK_ROLE_LOGICAL_ID)):
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            actions.setdefault(render(resource), set()).update(statement["Action"])
    return actions


def test_role_reads_inputs_and_datasets_writes_results_and_invokes_only_the_evaluator(synth: Synth) -> None:
    actions = _by_resource(synth)
    bucket = f"<{constants.BUCKET_LOGICAL_ID}.Arn>"
    model = "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-pro-v1:0"
    # inputs/: the run's copy the job reads; datasets/: what runs submitted before copies name
    assert set(actions) == {
        bucket,
        f"{bucket}/inputs/*",
        f"{bucket}/datasets/*",
        f"{bucket}/results/*",
        model,
    }
    for prefix in ("inputs/*", "datasets/*"):
        assert "s3:GetObject*" in actions[f"{bucket}/{prefix}"]
        assert not any(action.startswith("s3:Put") for action in actions[f"{bucket}/{prefix}"])
    assert {"s3:GetObject*", "s3:PutObject"} <= actions[f"{bucket}/results/*"]
    assert actions[model] == {
        "bedrock:InvokeModel",
        "bedrock:CreateModelInvocationJob",
        "bedrock:StopModelInvocationJob",
    }
    assert all(action != "*" and not action.endswith(":*") for acts in actions.values() for action in acts)


def test_inference_profiles_add_their_base_model_in_any_region(variant: Synth) -> None:
    actions = _by_resource(variant)
    bedrock = {resource for resource, acts in actions.items() if "bedrock:InvokeModel" in acts}
    assert bedrock == {
        "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/us.amazon.nova-pro-v1:0",
        "arn:<AWS::Partition>:bedrock:*::foundation-model/amazon.nova-pro-v1:0",
        "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123",
    }


def test_role_may_use_the_given_key(variant: Synth) -> None:
    policy = policy_of_role(variant, constants.BEDROCK_ROLE_LOGICAL_ID)
    kms = [statement for statement in statements(policy) if "kms:Decrypt" in statement["Action"]]
    assert kms and {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"} <= set(kms[0]["Action"])


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("amazon.nova-pro-v1:0", ["arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0"]),
        (
            "eu.anthropic.claude-3-haiku-20240307-v1:0",
            [
                "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
                "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            ],
        ),
        (
            "global.amazon.nova-2-lite-v1:0",
            [
                "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.amazon.nova-2-lite-v1:0",
                "arn:aws:bedrock:*::foundation-model/amazon.nova-2-lite-v1:0",
            ],
        ),
        (
            "arn:aws:bedrock:eu-west-1::foundation-model/meta.llama3-70b-instruct-v1:0",
            ["arn:aws:bedrock:eu-west-1::foundation-model/meta.llama3-70b-instruct-v1:0"],
        ),
    ],
)
def test_evaluator_model_arns(model: str, expected: list[str]) -> None:
    stack = Stack(App(), "S", env=Environment(account="111122223333", region="eu-west-1"))
    arns = [render(stack.resolve(arn)) for arn in evaluator_model_arns(stack, model)]
    assert [arn.replace("<AWS::Partition>", "aws") for arn in arns] == expected
