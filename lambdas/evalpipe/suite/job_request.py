"""Suite + run trigger -> the keyword arguments of ``bedrock.create_evaluation_job``.

The suite carries the API members unchanged; this module fills in what depends on the run's
trigger (the dropped object's dataset location and name, job name, idempotency token, output
prefix, tags) and on the deployment (role, KMS key). It never mutates the suite.

``datasetMetricConfigs`` entries that name a built-in dataset (``Builtin.BoolQ``, ...) are sent
exactly as the suite gives them; the one custom entry, if any, gets the dropped object. A suite of
built-in datasets only is sent unchanged (its runs come from a schedule or ``evalpipe run``).

A suite is JSON, so a blob member (``byteContent.data`` of a live knowledge base's
``EXTERNAL_SOURCES`` source) is written base64-encoded, as on the wire and in the AWS CLI's JSON
input; boto3 takes ``bytes`` and encodes them itself, so :func:`request_inference_config` decodes it.
"""

from __future__ import annotations

import base64
import copy
import re
import unicodedata
from typing import Any

from evalpipe.run.triggers import DatasetObject, RunTrigger
from evalpipe.suite import RUN_ID_TAG_KEY, SUITE_TAG_KEY, Suite, SuiteError
from evalpipe.suite.datasets import custom_entries

MAX_TAG_VALUE_LENGTH = 256
MAX_DATASET_NAME_LENGTH = 63
# Characters outside the service model's TagValue / EvaluationDatasetName alphabets.
_NOT_TAG_VALUE = re.compile(r"[^a-zA-Z0-9 \t\n\x0b\f\r._:/=+@-]")
_NOT_DATASET_NAME = re.compile(r"[^0-9a-zA-Z._-]+")


def build_create_job_request(
    suite: Suite,
    trigger: RunTrigger,
    *,
    role_arn: str,
    output_s3_uri: str,
    kms_key_id: str | None = None,
    dataset_uri: str | None = None,
) -> dict[str, Any]:
    """The ``CreateEvaluationJob`` request for one run of ``suite``.

    Parameters
    ----------
    suite
        The suite of the run; not modified.
    trigger
        What started the run: gives the job name (``run_id``) and the idempotency token. A
        dropped dataset object (`DatasetObject`) also gives the custom entry's dataset location
        and, when the suite names no dataset, its name; a run request (`RunRequest`) runs a suite
        of built-in datasets as it is, or fills the custom entry with the dataset it collected
        (``dataset_uri``).
    role_arn
        The service role Bedrock assumes.
    output_s3_uri
        ``s3://<bucket>/results/<suite>/<run_id>/``.
    kms_key_id
        Customer managed KMS key for the job; sent only when given.
    dataset_uri
        Where the job reads the dropped dataset: the run's copy of the dropped version (validate
        writes it), else the dropped object itself (runs validated before copies existed); for a
        run request, the dataset it collected (``pipeline.collect.scenarios``).

    Returns
    -------
    dict
        Keyword arguments for ``bedrock_client.create_evaluation_job(**request)``.

    Raises
    ------
    SuiteError
        When the suite holds no ``datasetMetricConfigs`` entry, more than one custom entry, or
        a kind of entry the trigger cannot fill (a custom entry without a dropped object, a dropped
        object for a suite of built-in datasets only); the validator rejects such runs first.

    Examples
    --------
    >>> request = build_create_job_request(  # doctest: +SKIP
    ...     suite, dataset, role_arn=role_arn, output_s3_uri=results_uri
    ... )
    >>> bedrock.create_evaluation_job(**request)  # doctest: +SKIP
    """
    evaluation_config = copy.deepcopy(suite.evaluation_config)
    root = "human" if suite.is_human else "automated"  # a human job: evaluationConfig.human
    member = evaluation_config.get(root)
    entries = member.get("datasetMetricConfigs") if isinstance(member, dict) else None
    where = f"suite {suite.name!r}: evaluationConfig.{root}.datasetMetricConfigs"
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise SuiteError(f"{where} must hold at least one entry object")
    custom = [entry.index for entry in custom_entries({"evaluationConfig": {root: member}})]
    if len(custom) > 1:
        raise SuiteError(f"{where} holds {len(custom)} custom datasets; the dropped object fills only one")
    dropped = isinstance(trigger, DatasetObject)
    if custom and not dropped and dataset_uri is None:
        raise SuiteError(
            f"{where}[{custom[0]}] names a custom dataset: only a dropped dataset object runs it (or a "
            "run request that collects it)"
        )
    if not custom and (dropped or dataset_uri is not None):
        raise SuiteError(
            f"{where} names only built-in datasets: a dropped dataset object has nothing to fill"
        )
    if custom:
        # The pipeline owns the custom dataset: its name and the location of the dropped file (or of
        # the dataset a run request collected from pipeline.collect.scenarios).
        if isinstance(trigger, DatasetObject):
            file_name, location = trigger.name, dataset_uri or trigger.s3_uri
        else:
            collect = suite.pipeline.collect
            scenarios = collect.scenarios if collect is not None else None
            file_name, location = (scenarios or "").removesuffix(".json"), dataset_uri or ""
        entries[custom[0]]["dataset"] = {
            "name": dataset_name(suite, file_name),
            "datasetLocation": {"s3Uri": location},
        }

    request: dict[str, Any] = {
        "jobName": trigger.run_id,
        "jobDescription": suite.job_description(),
        "clientRequestToken": trigger.client_request_token,
        "roleArn": role_arn,
        "jobTags": job_tags(suite, trigger),
        "applicationType": suite.application_type,
        "evaluationConfig": evaluation_config,
        # A copy, with byteContent blobs (base64 in the suite) decoded to the bytes boto3 takes.
        "inferenceConfig": request_inference_config(suite.inference_config),
        "outputDataConfig": {"s3Uri": output_s3_uri},
    }
    if kms_key_id:
        request["customerEncryptionKeyId"] = kms_key_id
    return request


def dataset_name(suite: Suite, file_name: str) -> str:
    """``dataset.name`` of the custom entry: the suite's when given, else ``file_name`` (the dropped
    file's or the collected scenarios file's, without its suffix) made valid.

    The file name is reduced to the API's ``[0-9a-zA-Z-_.]+`` (runs of other characters
    become ``-``) and cut to 63 characters; ``"dataset"`` when nothing is left.

    Examples
    --------
    >>> _NOT_DATASET_NAME.sub("-", "week 12 (final)").strip("-.")
    'week-12-final'
    """
    index = suite.custom_dataset_index
    member = suite.evaluation_config.get("human" if suite.is_human else "automated") or {}
    entries = member.get("datasetMetricConfigs") or []
    given = (entries[index].get("dataset") or {}).get("name") if index is not None else suite.dataset_name
    if isinstance(given, str) and given:
        return given
    cleaned = _NOT_DATASET_NAME.sub("-", file_name).strip("-.")
    return cleaned[:MAX_DATASET_NAME_LENGTH].rstrip("-.") or "dataset"


def job_tags(suite: Suite, trigger: RunTrigger) -> list[dict[str, str]]:
    """``jobTags``: the pipeline's two tags first, then the suite's sorted by key."""
    tags = [
        {"key": SUITE_TAG_KEY, "value": sanitize_tag_value(suite.name)},
        {"key": RUN_ID_TAG_KEY, "value": trigger.run_id},
    ]
    tags += [
        {"key": key, "value": sanitize_tag_value(value)}
        for key, value in sorted(suite.pipeline.job_tags.items())
    ]
    return tags


def sanitize_tag_value(value: str) -> str:
    """``value`` in the TagValue alphabet ``[a-zA-Z0-9\\s._:/=+@-]``, at most 256 characters.

    Accents are dropped (``"Équipe"`` -> ``"Equipe"``); any other character becomes ``_``.

    Examples
    --------
    >>> sanitize_tag_value("Équipe support #1")
    'Equipe support _1'
    """
    decomposed = unicodedata.normalize("NFKD", value)
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_TAG_VALUE.sub("_", without_marks)[:MAX_TAG_VALUE_LENGTH]


# -- live knowledge-base jobs ----------------------------------------------------------------
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
