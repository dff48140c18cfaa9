"""Live knowledge bases: ``knowledgeBases`` and ``externalSources`` grant exactly what such jobs need."""

from __future__ import annotations

import pytest

from infra import constants
from infra.settings import PipelineSettings
from tests.infra.conftest import Synth, _synth, policy_of_role, render, statements

KB_CONTEXT = {
    # Strings, the way `cdk synth -c knowledgeBases=A,B -c externalSources=true` passes them.
    "knowledgeBases": "KBASSIST01,KB2OTHER99,KBASSIST01",
    "externalSources": "true",
    "inferenceModels": "amazon.nova-lite-v1:0",
    "stackName": "EvalPipeKnowledgeBases",
}
KB_ARNS = {
    "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:knowledge-base/KB2OTHER99",
    "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:knowledge-base/KBASSIST01",
}
BUCKET = f"<{constants.BUCKET_LOGICAL_ID}.Arn>"


@pytest.fixture(scope="module")
def knowledge_bases(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """cdk.json's defaults plus two knowledge bases (one listed twice) and external sources."""
    return _synth(tmp_path_factory, "knowledge-bases", KB_CONTEXT)


def _role_statements(s: Synth) -> list[dict]:
    return statements(policy_of_role(s, constants.BEDROCK_ROLE_LOGICAL_ID))


def _by_sid(s: Synth, sid: str) -> list[dict]:
    return [statement for statement in _role_statements(s) if statement.get("Sid") == sid]


def _resources_with(s: Synth, action: str) -> set[str]:
    return {
        render(resource)
        for statement in _role_statements(s)
        if action in statement["Action"]
        for resource in statement["Resource"]
    }


def _validate_env(s: Synth) -> dict:
    functions = s.resources("AWS::Lambda::Function")
    (validate,) = [f for f in functions.values() if f["Properties"]["Handler"].endswith(".validate.handler")]
    return validate["Properties"]["Environment"]["Variables"]


def test_by_default_the_role_may_query_no_knowledge_base(synth: Synth) -> None:
    # Given cdk.json's defaults (knowledgeBases [], externalSources false) / When synthesized
    # Then no knowledge-base action appears anywhere, sources/ is not readable, validate allows none
    assert _resources_with(synth, "bedrock:Retrieve") == set()
    assert _resources_with(synth, "bedrock:RetrieveAndGenerate") == set()
    assert f"{BUCKET}/{constants.SOURCES_PREFIX}*" not in _resources_with(synth, "s3:GetObject*")
    env = _validate_env(synth)
    assert "ALLOWED_KNOWLEDGE_BASES" not in env
    assert "ALLOW_EXTERNAL_SOURCES" not in env


def test_knowledge_bases_get_retrieve_and_generate_on_exactly_their_arns(knowledge_bases: Synth) -> None:
    # Given two knowledge bases in the context / When synthesized
    (statement,) = _by_sid(knowledge_bases, "QueryKnowledgeBases")
    # Then Retrieve and RetrieveAndGenerate are granted on exactly their ARNs, once each
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["bedrock:Retrieve", "bedrock:RetrieveAndGenerate"]
    assert sorted(render(resource) for resource in statement["Resource"]) == sorted(KB_ARNS)
    # And Retrieve is granted nowhere else
    assert _resources_with(knowledge_bases, "bedrock:Retrieve") == KB_ARNS


def test_external_sources_get_retrieve_and_generate_and_read_on_sources_only(knowledge_bases: Synth) -> None:
    # Given externalSources=true / When synthesized
    (statement,) = _by_sid(knowledge_bases, "RetrieveAndGenerateExternalSources")
    # Then RetrieveAndGenerate alone is granted on "*" (no knowledge base to name) ...
    assert statement["Action"] == ["bedrock:RetrieveAndGenerate"]
    assert statement["Resource"] == ["*"]
    # ... and the role reads sources/ but may not write there
    readable = _resources_with(knowledge_bases, "s3:GetObject*")
    assert f"{BUCKET}/{constants.SOURCES_PREFIX}*" in readable
    assert f"{BUCKET}/{constants.SOURCES_PREFIX}*" not in _resources_with(knowledge_bases, "s3:PutObject")
    # And nothing but bedrock:RetrieveAndGenerate is granted on "*"
    star = {a for s in _role_statements(knowledge_bases) if "*" in s["Resource"] for a in s["Action"]}
    assert star == {"bedrock:RetrieveAndGenerate"}


def test_the_validate_function_knows_the_allowed_knowledge_bases(knowledge_bases: Synth) -> None:
    # Given the knowledge-base context / Then the validate step gets the deduplicated ids and the switch
    env = _validate_env(knowledge_bases)
    assert env["ALLOWED_KNOWLEDGE_BASES"].split(",") == ["KBASSIST01", "KB2OTHER99"]
    assert env["ALLOW_EXTERNAL_SOURCES"] == "true"
    assert env["ALLOWED_INFERENCE_MODELS"] == "amazon.nova-lite-v1:0"


def test_external_sources_acknowledge_exactly_their_two_findings(knowledge_bases: Synth) -> None:
    # Given the IAM5 acknowledgment on the role's policy / Then it names the sources/ read and "*"
    policy = policy_of_role(knowledge_bases, constants.BEDROCK_ROLE_LOGICAL_ID)
    rules = {rule["id"]: rule["reason"] for rule in policy["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    for finding in (f"Resource::{BUCKET}/sources/*", "Resource::*"):
        assert "RetrieveAndGenerate" in rules[f"AwsSolutions-IAM5[{finding}]"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("KBASSIST01", ["KBASSIST01"]),
        ('["A1", " B2 ", "A1"]', ["A1", "B2"]),
        ([], []),
    ],
)
def test_knowledge_base_setting_accepts_ids(value: object, expected: list[str]) -> None:
    # Given a knowledgeBases value as cdk.json or -c gives it / When read / Then the ids, deduplicated
    assert PipelineSettings.model_validate({"knowledgeBases": value}).knowledge_bases == expected


@pytest.mark.parametrize("bad", ["kb-assist", "KBASSIST0123", "arn:aws:bedrock:us-east-1:1:knowledge-base/X"])
def test_knowledge_base_setting_rejects_what_is_not_an_id(bad: str) -> None:
    # Given a value the service model's KnowledgeBaseId pattern refuses / Then the settings refuse it
    with pytest.raises(ValueError, match="knowledge-base ids"):
        PipelineSettings.model_validate({"knowledgeBases": [bad]})
