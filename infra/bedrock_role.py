"""The service role Amazon Bedrock assumes to run our evaluation jobs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.nag import acknowledge, default_policy, nag_resource
from infra.naming import pin_logical_id

if TYPE_CHECKING:
    from collections.abc import Sequence

# Cross-region inference profile ids put a geography before "<provider>.<model>".
_PROFILE_GEOGRAPHIES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
_GEOGRAPHY = "|".join(re.escape(geography) for geography in _PROFILE_GEOGRAPHIES)
_PROFILE_ID = re.compile(rf"^(?:{_GEOGRAPHY})\.(?P<base>[^.]+\..+)$")


class BedrockServiceRole(Construct):
    """The role passed as ``roleArn`` to CreateEvaluationJob.

    Permissions follow the Bedrock user guide page "Required service role permissions for
    creating a model evaluation job that uses a judge model"
    (https://docs.aws.amazon.com/bedrock/latest/userguide/judge-service-roles.html): invoke the
    evaluator (judge) models, read the datasets, write the results; and "Service role requirements
    for knowledge base evaluation jobs" (rag-eval-service-roles.html) for live knowledge bases.
    The trust policy carries ``aws:SourceAccount`` and ``aws:SourceArn`` so only our account's
    evaluation jobs can use it.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    bucket
        The evaluation bucket (``inputs/`` and ``datasets/`` read, ``results/`` written).
    evaluator_models
        Model ids, inference-profile ids or full ARNs the judge may be.
    inference_models
        Models the jobs may run live (``inferenceConfig.models[].bedrockModel``, and the
        generator ``modelArn`` of a live knowledge-base job): foundation model ids,
        inference-profile ids or ARNs (provisioned, imported, application inference profile).
        They get ``bedrock:InvokeModel`` only; none by default.
    knowledge_bases
        Knowledge-base ids the jobs may query live (``knowledgeBaseConfig``). They get
        ``bedrock:Retrieve`` and ``bedrock:RetrieveAndGenerate`` on exactly their ARNs, as the
        user guide's "Service role requirements for knowledge base evaluation jobs"
        (rag-eval-service-roles) lists; none by default.
    external_sources
        Allow ``RetrieveAndGenerate`` on ``EXTERNAL_SOURCES`` (no knowledge base): the action on
        ``*`` (it takes no resource ARN in the Service Authorization Reference, and there is no
        knowledge base to name) and read access to ``sources/`` of the bucket. Off by default.
    encryption_key
        The customer managed key of the bucket, if any. Its key policy must also allow this
        role (an imported key's policy cannot be changed from here).

    Attributes
    ----------
    role : iam.Role
        The service role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        evaluator_models: Sequence[str],
        inference_models: Sequence[str] = (),
        knowledge_bases: Sequence[str] = (),
        external_sources: bool = False,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = self._build_role()
        self._grant_data(bucket)
        self._grant_models(evaluator_models)
        self._grant_inference_models(inference_models)
        self._grant_knowledge_bases(knowledge_bases)
        if external_sources:
            self._grant_external_sources(bucket)
        if encryption_key is not None:
            encryption_key.grant_encrypt_decrypt(self.role)
        self._suppress_findings(
            bucket,
            [*evaluator_models, *inference_models],
            has_key=encryption_key is not None,
            external_sources=external_sources,
        )

    def _build_role(self) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Bedrock to run the pipeline's evaluation jobs",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": evaluation_jobs_arn(stack)},
                },
            ),
        )
        pin_logical_id(role, constants.BEDROCK_ROLE_LOGICAL_ID)
        return role

    def _grant_data(self, bucket: s3.IBucket) -> None:
        # A job reads its run's copy under inputs/; runs submitted before copies existed name the
        # dropped object under datasets/.
        bucket.grant_read(self.role, f"{constants.INPUTS_PREFIX}*")
        bucket.grant_read(self.role, f"{constants.DATASETS_PREFIX}*")
        bucket.grant_read(self.role, f"{constants.RESULTS_PREFIX}*")
        bucket.grant_put(self.role, f"{constants.RESULTS_PREFIX}*")

    def _grant_models(self, evaluator_models: Sequence[str]) -> None:
        stack = Stack.of(self)
        resources = sorted({arn for model in evaluator_models for arn in model_arns(stack, model)})
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvokeEvaluatorModels",
                actions=[
                    "bedrock:InvokeModel",
                    "bedrock:CreateModelInvocationJob",
                    "bedrock:StopModelInvocationJob",
                ],
                resources=resources,
            )
        )

    def _grant_inference_models(self, inference_models: Sequence[str]) -> None:
        # The judge-service-roles page lists the batch-inference actions for the judge only; a
        # model answering the prompts is invoked, so it gets InvokeModel and nothing more.
        if not inference_models:
            return
        stack = Stack.of(self)
        resources = sorted({arn for model in inference_models for arn in model_arns(stack, model)})
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvokeInferenceModels", actions=["bedrock:InvokeModel"], resources=resources
            )
        )

    def _grant_knowledge_bases(self, knowledge_bases: Sequence[str]) -> None:
        # Both actions, as the console's own role for knowledge-base evaluation jobs gets them
        # (retrieve-only jobs call Retrieve, retrieve-and-generate jobs RetrieveAndGenerate),
        # each on exactly the configured knowledge bases.
        if not knowledge_bases:
            return
        stack = Stack.of(self)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueryKnowledgeBases",
                actions=["bedrock:Retrieve", "bedrock:RetrieveAndGenerate"],
                resources=[knowledge_base_arn(stack, kb) for kb in sorted(set(knowledge_bases))],
            )
        )

    def _grant_external_sources(self, bucket: s3.IBucket) -> None:
        # EXTERNAL_SOURCES jobs name no knowledge base, so there is no ARN to scope to; the
        # generator model still needs InvokeModel (inference_models).
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RetrieveAndGenerateExternalSources",
                actions=["bedrock:RetrieveAndGenerate"],
                resources=["*"],
            )
        )
        bucket.grant_read(self.role, f"{constants.SOURCES_PREFIX}*")

    def _suppress_findings(
        self, bucket: s3.IBucket, models: Sequence[str], *, has_key: bool, external_sources: bool
    ) -> None:
        bucket_arn = nag_resource(Stack.of(self), bucket.bucket_arn)
        applies_to = [
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:Abort*",
            f"Resource::{bucket_arn}/{constants.INPUTS_PREFIX}*",
            f"Resource::{bucket_arn}/{constants.DATASETS_PREFIX}*",
            f"Resource::{bucket_arn}/{constants.RESULTS_PREFIX}*",
        ]
        applies_to += [
            f"Resource::{nag_resource(Stack.of(self), arn)}"
            for model in models
            for arn in model_arns(Stack.of(self), model)
            if "*" in arn
        ]
        if has_key:
            applies_to += ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]
        reason = (
            "Bedrock reads the run's dataset copy under inputs/ (or, for runs submitted before "
            "copies existed, the dataset under datasets/) and writes job output under results/ "
            "(object names are chosen per run); the s3/kms action wildcards come from CDK's "
            "grant_read/grant_put. An inference profile routes to its base model in any region, "
            "so that foundation-model ARN has a region wildcard."
        )
        if external_sources:
            applies_to += [f"Resource::{bucket_arn}/{constants.SOURCES_PREFIX}*", "Resource::*"]
            reason += (
                " externalSources is on: Bedrock reads the documents suites name under sources/, and "
                "bedrock:RetrieveAndGenerate on EXTERNAL_SOURCES names no knowledge base, so the "
                "action has no resource to scope to (the Service Authorization Reference lists none)."
            )
        acknowledge(default_policy(self.role), "AwsSolutions-IAM5", reason, findings=applies_to)


def evaluation_jobs_arn(stack: Stack) -> str:
    """``arn:<partition>:bedrock:<region>:<account>:evaluation-job/*``."""
    return stack.format_arn(
        service="bedrock",
        resource="evaluation-job",
        resource_name="*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def knowledge_base_arn(stack: Stack, knowledge_base_id: str) -> str:
    """``arn:<partition>:bedrock:<region>:<account>:knowledge-base/<id>``."""
    return stack.format_arn(
        service="bedrock",
        resource="knowledge-base",
        resource_name=knowledge_base_id,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def model_arns(stack: Stack, model: str) -> list[str]:
    """The resources invoking ``model`` (foundation model id, inference-profile id or ARN) needs.

    The same for an evaluator (judge) model and a model run live for inference.

    Examples
    --------
    ``amazon.nova-pro-v1:0`` -> the foundation model in this region;
    ``us.amazon.nova-pro-v1:0`` -> the profile in this account plus ``amazon.nova-pro-v1:0``
    in any region (the profile routes requests across regions).
    """
    if model.startswith("arn:"):
        return [model]
    profile = _PROFILE_ID.match(model)
    if profile is None:
        return [_foundation_model_arn(stack, model, region=stack.region)]
    profile_arn = stack.format_arn(
        service="bedrock", resource="inference-profile", resource_name=model,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )  # fmt: skip
    return [profile_arn, _foundation_model_arn(stack, profile.group("base"), region="*")]


# The name the judge's grant was written for; tests and callers may use either.
evaluator_model_arns = model_arns


def _foundation_model_arn(stack: Stack, model: str, *, region: str) -> str:
    return stack.format_arn(
        service="bedrock", region=region, account="", resource="foundation-model", resource_name=model,
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )  # fmt: skip
