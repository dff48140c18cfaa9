"""Suite + dropped dataset object -> the keyword arguments of ``bedrock.create_evaluation_job``.

The suite carries the API members unchanged; this module fills in what depends on the object
(dataset location and name, job name, idempotency token, output prefix, tags) and on the
deployment (role, KMS key). It never mutates the suite.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any

from evalpipe.runs import DatasetObject
from evalpipe.suite import RUN_ID_TAG_KEY, SUITE_TAG_KEY, Suite, SuiteError

MAX_TAG_VALUE_LENGTH = 256
MAX_DATASET_NAME_LENGTH = 63
# Characters outside the service model's TagValue / EvaluationDatasetName alphabets.
_NOT_TAG_VALUE = re.compile(r"[^a-zA-Z0-9 \t\n\x0b\f\r._:/=+@-]")
_NOT_DATASET_NAME = re.compile(r"[^0-9a-zA-Z._-]+")


def build_create_job_request(
    suite: Suite,
    dataset: DatasetObject,
    *,
    role_arn: str,
    output_s3_uri: str,
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """The ``CreateEvaluationJob`` request for one run of ``suite`` on ``dataset``.

    Parameters
    ----------
    suite
        The suite the dataset belongs to; not modified.
    dataset
        The dropped object: gives the job name (``run_id``), the idempotency token, the
        dataset location and, when the suite names no dataset, the dataset name.
    role_arn
        The service role Bedrock assumes.
    output_s3_uri
        ``s3://<bucket>/results/<suite>/<run_id>/``.
    kms_key_id
        Customer managed KMS key for the job; sent only when given.

    Returns
    -------
    dict
        Keyword arguments for ``bedrock_client.create_evaluation_job(**request)``.

    Raises
    ------
    SuiteError
        When the suite does not hold exactly one ``automated.datasetMetricConfigs`` entry
        (the validator rejects such suites before a job is built).

    Examples
    --------
    >>> request = build_create_job_request(  # doctest: +SKIP
    ...     suite, dataset, role_arn=role_arn, output_s3_uri=results_uri
    ... )
    >>> bedrock.create_evaluation_job(**request)  # doctest: +SKIP
    """
    evaluation_config = copy.deepcopy(suite.evaluation_config)
    root = "human" if suite.is_human else "automated"  # a human job: evaluationConfig.human
    automated = evaluation_config.get(root)
    entries = automated.get("datasetMetricConfigs") if isinstance(automated, dict) else None
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise SuiteError(
            f"suite {suite.name!r}: evaluationConfig.{root}.datasetMetricConfigs must hold "
            "exactly one entry (the pipeline fills in its dataset)"
        )
    # The pipeline owns the dataset object: its name and the location of the dropped file.
    entries[0]["dataset"] = {
        "name": dataset_name(suite, dataset),
        "datasetLocation": {"s3Uri": dataset.s3_uri},
    }

    request: dict[str, Any] = {
        "jobName": dataset.run_id,
        "jobDescription": suite.job_description(),
        "clientRequestToken": dataset.client_request_token,
        "roleArn": role_arn,
        "jobTags": job_tags(suite, dataset),
        "applicationType": suite.application_type,
        "evaluationConfig": evaluation_config,
        "inferenceConfig": copy.deepcopy(suite.inference_config),
        "outputDataConfig": {"s3Uri": output_s3_uri},
    }
    if kms_key_id:
        request["customerEncryptionKeyId"] = kms_key_id
    return request


def dataset_name(suite: Suite, dataset: DatasetObject) -> str:
    """``dataset.name`` of the request: the suite's when given, else the file name made valid.

    The file name is reduced to the API's ``[0-9a-zA-Z-_.]+`` (runs of other characters
    become ``-``) and cut to 63 characters; ``"dataset"`` when nothing is left.

    Examples
    --------
    >>> _NOT_DATASET_NAME.sub("-", "week 12 (final)").strip("-.")
    'week-12-final'
    """
    if suite.dataset_name:
        return suite.dataset_name
    cleaned = _NOT_DATASET_NAME.sub("-", dataset.name).strip("-.")
    return cleaned[:MAX_DATASET_NAME_LENGTH].rstrip("-.") or "dataset"


def job_tags(suite: Suite, dataset: DatasetObject) -> list[dict[str, str]]:
    """``jobTags``: the pipeline's two tags first, then the suite's sorted by key."""
    tags = [
        {"key": SUITE_TAG_KEY, "value": sanitize_tag_value(suite.name)},
        {"key": RUN_ID_TAG_KEY, "value": dataset.run_id},
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
