"""Rules for suites that query a knowledge base live (``inferenceConfig.ragConfigs[*].knowledgeBaseConfig``).

The shape walk (:mod:`evalpipe.validation.service_model`) already checks every member against
the service model: vector search settings, metadata filters, generation and orchestration
settings pass through exactly as the API defines them. What the model cannot say, and what
the deployment decides, is checked here:

- the knowledge base is one the deployment's Bedrock role may query (the ``knowledgeBases``
  context, ``ALLOWED_KNOWLEDGE_BASES``): the role gets ``bedrock:Retrieve`` and
  ``bedrock:RetrieveAndGenerate`` on exactly those;
- every model the knowledge base invokes for the job (the generator ``modelArn``, the implicit
  filter's and the reranker's) is one the role may invoke (``inferenceModels``);
- ``retrieveAndGenerateConfig.type`` names the configuration that is given;
- ``EXTERNAL_SOURCES`` needs the deployment's ``externalSources`` switch, an S3 source inside
  the product's bucket under :data:`SOURCES_PREFIX` (the only prefix the role may read for it),
  or ``byteContent`` whose ``data`` is base64, as on the wire and in the AWS CLI.

Which metrics fit (retrieve-only or retrieve-and-generate) is the generic metric rule's job
(:mod:`evalpipe.validation.suite_rules`), shared with precomputed RAG suites.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.suite.facts import dig
from evalpipe.suite.job_request import SOURCES_PREFIX
from evalpipe.validation.problems import Problem, Severity, path_of, show

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from evalpipe.validation.deployment import DeploymentLimits, ExternalSourcesAccess

KNOWLEDGE_BASE = "KNOWLEDGE_BASE"
EXTERNAL_SOURCES = "EXTERNAL_SOURCES"
# ByteContentBlob's bounds in the service model (bytes, after base64 decoding).
MAX_BYTE_CONTENT = 10_485_760
_S3_URI = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.*)")
# Foundation-model and inference-profile ARNs name the model id the context may give instead.
_MODEL_ARN = re.compile(
    r"arn:aws(?:-[^:]+)?:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)/(?P<id>.+)"
)


def check_knowledge_bases(suite: dict, file: str, limits: DeploymentLimits) -> Iterator[Problem]:
    """Yield the problems of every ``knowledgeBaseConfig`` of a raw parsed suite.

    Parameters
    ----------
    suite : dict
        The parsed suite (any content; wrong shapes are the shape walk's to report).
    file : str
        Named in every problem.
    limits : DeploymentLimits
        The knowledge bases and models the deployment's role may use, and its external-sources
        setting (the ``sources/`` prefix is checked in any case).

    Examples
    --------
    >>> suite = {"inferenceConfig": {"ragConfigs": [{"knowledgeBaseConfig": {"retrieveConfig": {
    ...     "knowledgeBaseId": "KBOTHER123"}}}]}}
    >>> from evalpipe.validation.deployment import DeploymentLimits
    >>> limits = DeploymentLimits(allowed_knowledge_bases=["KBASSIST01"])
    >>> [p.field for p in check_knowledge_bases(suite, "s.json", limits)]
    ['inferenceConfig.ragConfigs[0].knowledgeBaseConfig.retrieveConfig.knowledgeBaseId']
    """
    configs = dig(suite, "inferenceConfig", "ragConfigs")
    for index, entry in enumerate(configs if isinstance(configs, list) else []):
        config = dig(entry, "knowledgeBaseConfig")
        if not isinstance(config, dict):
            continue
        root = ("inferenceConfig", "ragConfigs", index, "knowledgeBaseConfig")
        rules = _Rules(
            file, limits.allowed_knowledge_bases, limits.allowed_inference_models, limits.external_sources
        )
        retrieve = config.get("retrieveConfig")
        if isinstance(retrieve, dict):
            where = (*root, "retrieveConfig")
            yield from rules.knowledge_base_id(retrieve, where)
            yield from rules.retrieval_models(retrieve, (*where, "knowledgeBaseRetrievalConfiguration"))
        generate = config.get("retrieveAndGenerateConfig")
        if isinstance(generate, dict):
            yield from rules.retrieve_and_generate(generate, (*root, "retrieveAndGenerateConfig"))


@dataclass(frozen=True)
class _Rules:
    file: str
    allowed_knowledge_bases: Sequence[str] | None
    allowed_models: Sequence[str] | None
    external_sources: ExternalSourcesAccess | None

    def knowledge_base_id(self, holder: dict, where: tuple[str | int, ...]) -> Iterator[Problem]:
        identifier = holder.get("knowledgeBaseId")
        allowed = self.allowed_knowledge_bases
        if allowed is None or not isinstance(identifier, str) or identifier in allowed:
            return
        granted = (
            f"may query only these knowledge bases: {', '.join(allowed)}. Use one of them, or"
            if allowed
            else "may query no knowledge base:"
        )
        yield self._error(
            path_of(*where, "knowledgeBaseId"),
            f"{identifier!r} would be denied: the pipeline's Bedrock role {granted} have the deployment "
            "add it to its knowledgeBases context (ALLOWED_KNOWLEDGE_BASES)",
        )

    def retrieval_models(self, holder: dict, where: tuple[str | int, ...]) -> Iterator[Problem]:
        """The models a knowledge base's retrieval invokes: implicit filters and the reranker.

        ``where`` ends with the retrieval member's name (``knowledgeBaseRetrievalConfiguration`` in
        retrieveConfig, ``retrievalConfiguration`` in knowledgeBaseConfiguration).
        """
        search = (*where, "vectorSearchConfiguration")
        vector = dig(holder, str(where[-1]), "vectorSearchConfiguration")
        yield from self.model(
            dig(vector, "implicitFilterConfiguration", "modelArn"),
            path_of(*search, "implicitFilterConfiguration", "modelArn"),
            "generates the implicit metadata filters",
        )
        reranker = (
            "rerankingConfiguration",
            "bedrockRerankingConfiguration",
            "modelConfiguration",
            "modelArn",
        )
        yield from self.model(dig(vector, *reranker), path_of(*search, *reranker), "reranks the results")

    def retrieve_and_generate(self, config: dict, where: tuple[str | int, ...]) -> Iterator[Problem]:
        given_type = config.get("type")
        # A type of the wrong JSON type is the shape walk's to report; it names no member here.
        kind = given_type if isinstance(given_type, str) else None
        given = {
            KNOWLEDGE_BASE: "knowledgeBaseConfiguration",
            EXTERNAL_SOURCES: "externalSourcesConfiguration",
        }
        if kind in given:
            member = given[kind]
            other = next(name for name in given.values() if name != member)
            if not isinstance(config.get(member), dict):
                yield self._error(
                    path_of(*where, member),
                    f"is required when type is {kind!r}: it says which "
                    + ("knowledge base to query and which model answers" if kind == KNOWLEDGE_BASE
                       else "document the answers come from and which model writes them"),
                )  # fmt: skip
            if other in config:
                yield self._error(
                    path_of(*where, other),
                    f"is not used when type is {kind!r} (the service reads {member} only): remove it, or "
                    f"set type to {next(k for k, v in given.items() if v == other)!r}",
                )
        knowledge_base = config.get("knowledgeBaseConfiguration")
        if kind == KNOWLEDGE_BASE and isinstance(knowledge_base, dict):
            inner = (*where, "knowledgeBaseConfiguration")
            yield from self.knowledge_base_id(knowledge_base, inner)
            yield from self.model(
                knowledge_base.get("modelArn"), path_of(*inner, "modelArn"), "writes the answers"
            )
            yield from self.retrieval_models(knowledge_base, (*inner, "retrievalConfiguration"))
        external = config.get("externalSourcesConfiguration")
        if kind == EXTERNAL_SOURCES and isinstance(external, dict):
            yield from self.external(external, (*where, "externalSourcesConfiguration"))

    def external(self, external: dict, where: tuple[str | int, ...]) -> Iterator[Problem]:
        access = self.external_sources
        if access is not None and not access.enabled:
            yield self._error(
                path_of(*where),
                "external sources are off in this deployment: the Bedrock role may not call "
                "RetrieveAndGenerate without a knowledge base nor read sources/. Have the deployment "
                "set its externalSources context to true (ALLOW_EXTERNAL_SOURCES), or query a "
                "knowledge base (type KNOWLEDGE_BASE)",
            )
        yield from self.model(external.get("modelArn"), path_of(*where, "modelArn"), "writes the answers")
        sources = external.get("sources")
        for index, source in enumerate(sources if isinstance(sources, list) else []):
            if isinstance(source, dict):
                yield from self.source(source, (*where, "sources", index))

    def source(self, source: dict, where: tuple[str | int, ...]) -> Iterator[Problem]:
        given_type = source.get("sourceType")
        kind = given_type if isinstance(given_type, str) else None
        members = {"S3": "s3Location", "BYTE_CONTENT": "byteContent"}
        if kind in members:
            member = members[kind]
            if member not in source:
                yield self._error(path_of(*where, member), f"is required when sourceType is {kind!r}")
            for other_kind, other in members.items():
                if other != member and other in source:
                    yield self._error(
                        path_of(*where, other),
                        f"is not used when sourceType is {kind!r}: remove it, or set sourceType to "
                        f"{other_kind!r}",
                    )
        uri = dig(source, "s3Location", "uri")
        if isinstance(uri, str):
            yield from self.source_uri(uri, path_of(*where, "s3Location", "uri"))
        data = dig(source, "byteContent", "data")
        if isinstance(data, str):
            yield from self.byte_content(data, path_of(*where, "byteContent", "data"))

    def source_uri(self, uri: str, path: str) -> Iterator[Problem]:
        match = _S3_URI.fullmatch(uri)
        if match is None:
            return  # the shape walk reports what is not an S3 URI
        bucket = self.external_sources.bucket if self.external_sources else None
        where = (
            f"s3://{bucket}/{SOURCES_PREFIX}" if bucket else f"s3://<the pipeline's bucket>/{SOURCES_PREFIX}"
        )
        wrong_bucket = bucket is not None and match.group("bucket") != bucket
        key = match.group("key")
        if wrong_bucket or not key.startswith(SOURCES_PREFIX) or key == SOURCES_PREFIX:
            yield self._error(
                path,
                f"{show(uri)} is outside {where}: the Bedrock role may read external-source documents "
                f"only there. Upload the document under {SOURCES_PREFIX} of the pipeline's bucket and "
                "point the suite at it, or give its content as byteContent",
            )

    def byte_content(self, data: str, path: str) -> Iterator[Problem]:
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            yield self._error(
                path,
                "is not base64: give the document's bytes base64-encoded, as the API and the AWS CLI "
                "take a blob (e.g. the output of `base64 -w0 doc.txt`)",
            )
            return
        if not decoded:
            yield self._error(path, "decodes to no bytes; give the document's content")
        elif len(decoded) > MAX_BYTE_CONTENT:
            yield self._error(
                path, f"decodes to {len(decoded):,} bytes; byteContent allows at most {MAX_BYTE_CONTENT:,}"
            )

    def model(self, model: object, path: str, role: str) -> Iterator[Problem]:
        allowed = self.allowed_models
        if allowed is None or not isinstance(model, str) or model_allowed(model, allowed):
            return
        granted = (
            f"may invoke only these models: {', '.join(allowed)}. Use one of them, or"
            if allowed
            else "may invoke no model for inference:"
        )
        yield self._error(
            path,
            f"{model!r} {role} during the job and would be denied: the pipeline's Bedrock role {granted} "
            "have the deployment add it to its inferenceModels context (ALLOWED_INFERENCE_MODELS)",
        )

    def _error(self, path: str, message: str) -> Problem:
        return Problem(Severity.ERROR, self.file, message, field=path or None)


def model_allowed(model: str, allowed: Sequence[str]) -> bool:
    """Whether ``model`` (an id or an ARN) is one of ``allowed`` (ids or ARNs).

    A foundation-model or inference-profile ARN matches the model id it names, in either list,
    since the context may give the id where a suite gives the ARN (``modelArn`` accepts both).

    Examples
    --------
    >>> model_allowed("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
    ...               ["amazon.nova-lite-v1:0"])
    True
    >>> model_allowed("amazon.nova-pro-v1:0", ["amazon.nova-lite-v1:0"])
    False
    """
    return _model_key(model) in {_model_key(entry) for entry in allowed}


def _model_key(model: str) -> str:
    match = _MODEL_ARN.fullmatch(model)
    return match.group("id") if match else model
