"""Live knowledge-base (RAG) jobs: what the request needs beyond the suite's JSON.

A suite is JSON, so a blob member (``byteContent.data`` of an ``EXTERNAL_SOURCES`` source) is
written base64-encoded, as on the wire and in the AWS CLI's JSON input. boto3 takes a blob as
``bytes`` and base64-encodes it itself: :func:`request_inference_config` decodes the suite's
text, so the service receives the document, not its base64 text encoded a second time.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

# Documents of EXTERNAL_SOURCES jobs live under this prefix of the product's bucket; the Bedrock
# role reads there (besides datasets/ and results/) only when the deployment turns externalSources on.
SOURCES_PREFIX = "sources/"


def request_inference_config(inference_config: dict[str, Any]) -> dict[str, Any]:
    """``inferenceConfig`` for boto3: a copy whose ``byteContent.data`` values are bytes.

    Parameters
    ----------
    inference_config : dict
        The suite's ``inferenceConfig`` (validated: every ``data`` is base64 text).

    Returns
    -------
    dict
        A deep copy; the suite is not modified. Anything but a base64 string is left as is.

    Examples
    --------
    >>> config = {"ragConfigs": [{"knowledgeBaseConfig": {"retrieveAndGenerateConfig": {
    ...     "type": "EXTERNAL_SOURCES", "externalSourcesConfiguration": {"modelArn": "m", "sources": [
    ...     {"sourceType": "BYTE_CONTENT", "byteContent": {"identifier": "faq.txt",
    ...      "contentType": "text/plain", "data": "SGVsbG8="}}]}}}}]}
    >>> request = request_inference_config(config)
    >>> request["ragConfigs"][0]["knowledgeBaseConfig"]["retrieveAndGenerateConfig"][
    ...     "externalSourcesConfiguration"]["sources"][0]["byteContent"]["data"]
    b'Hello'
    """
    config = copy.deepcopy(inference_config)
    for rag in config.get("ragConfigs") or []:
        for source in _external_sources(rag):
            content = source.get("byteContent") if isinstance(source, dict) else None
            if isinstance(content, dict) and isinstance(content.get("data"), str):
                content["data"] = base64.b64decode(content["data"])
    return config


def _external_sources(rag: object) -> list:
    generate = rag.get("knowledgeBaseConfig") if isinstance(rag, dict) else None
    generate = generate.get("retrieveAndGenerateConfig") if isinstance(generate, dict) else None
    external = generate.get("externalSourcesConfiguration") if isinstance(generate, dict) else None
    sources = external.get("sources") if isinstance(external, dict) else None
    return sources if isinstance(sources, list) else []
