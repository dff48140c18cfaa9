"""What the deployment lets a suite use: the one value the suite rules check the suite against.

The Bedrock role of a deployment may invoke only the judge models, live-inference models and
knowledge bases its ``cdk.json`` context lists (docs/infrastructure.md); a suite that names another
would be denied by IAM once the job runs, so validation rejects it first. The pipeline builds these
limits from the function's settings; the offline CLI knows only what its flags say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from evalpipe.settings import Settings

# The largest dataset a run takes by default (the deployment's ``maxRunRecords``).
DEFAULT_MAX_RUN_RECORDS = 50_000


@dataclass(frozen=True)
class ExternalSourcesAccess:
    """What the deployment allows for ``EXTERNAL_SOURCES`` retrieve-and-generate jobs.

    Attributes
    ----------
    enabled : bool
        The deployment's ``externalSources`` switch (``ALLOW_EXTERNAL_SOURCES``): the role may
        call ``RetrieveAndGenerate`` without a knowledge base and read ``sources/``.
    bucket : str or None
        The product's bucket; S3 sources must be ``s3://<bucket>/sources/...``. None checks
        only the prefix (the offline CLI does not know the deployment's bucket).
    """

    enabled: bool
    bucket: str | None = None


@dataclass(frozen=True)
class CollectAccess:
    """What the collect function may call for a suite's ``pipeline.collect`` (docs/infrastructure.md).

    Attributes
    ----------
    models : Sequence[str]
        Model ids Converse may call (``collectModels``).
    secrets : Sequence[str]
        Secrets Manager secret ARNs header values may come from (``collectSecrets``).
    functions : Sequence[str]
        Lambda function ARNs that may be invoked (``collectFunctions``).
    """

    models: Sequence[str] = ()
    secrets: Sequence[str] = ()
    functions: Sequence[str] = ()


@dataclass(frozen=True)
class DeploymentLimits:
    """The models, knowledge bases and sources a deployment's Bedrock role may use.

    Attributes
    ----------
    allowed_evaluator_models
        Judge models; when non-empty, any other judge is an error (empty: not checked).
    allowed_inference_models
        Models for live inference (``inferenceConfig.models[].bedrockModel``) and a live
        knowledge base's generator (``modelArn``). None skips the check; an empty sequence allows
        none (the deployment's default).
    allowed_knowledge_bases
        Knowledge-base ids the role may query; None skips the check, empty allows none.
    external_sources
        ``EXTERNAL_SOURCES`` jobs and the product bucket; None skips those checks (S3 sources must
        still be under ``sources/``).
    max_run_records
        The largest dataset a run takes (it is split into jobs of at most 1,000 records).
    collect
        The models, secrets and functions ``pipeline.collect`` may name; None skips the check
        (the offline CLI).

    Examples
    --------
    >>> DeploymentLimits().allowed_inference_models is None  # the offline CLI: nothing to check
    True
    """

    allowed_evaluator_models: Sequence[str] = ()
    allowed_inference_models: Sequence[str] | None = None
    allowed_knowledge_bases: Sequence[str] | None = None
    external_sources: ExternalSourcesAccess | None = None
    max_run_records: int = DEFAULT_MAX_RUN_RECORDS
    collect: CollectAccess | None = None

    @classmethod
    def of(cls, settings: Settings) -> DeploymentLimits:
        """The limits of the deployment whose function runs with ``settings``."""
        return cls(
            allowed_evaluator_models=settings.allowed_evaluator_models,
            allowed_inference_models=settings.allowed_inference_models,
            allowed_knowledge_bases=settings.allowed_knowledge_bases,
            external_sources=ExternalSourcesAccess(settings.allow_external_sources, settings.bucket_name),
            max_run_records=settings.max_run_records,
            collect=CollectAccess(
                settings.allowed_collect_models,
                settings.allowed_collect_secrets,
                settings.allowed_collect_functions,
            ),
        )


# The offline CLI's limits: nothing about a deployment is known, so nothing is checked against one.
NO_LIMITS = DeploymentLimits()
