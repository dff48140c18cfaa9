"""Running an emulated job: read the datasets from S3, score every record, write the results.

Emulated: automated model evaluation with a judge on precomputed responses
(``inferenceConfig.models[0].precomputedInferenceSource``), built-in judge metrics and custom
metrics. Everything else the API accepts (human jobs, classic automated metrics, live
inference on a ``bedrockModel``, RAG) ends ``Failed`` with a message that says it is not
emulated, rather than producing invented results.

The layout written under ``outputDataConfig.s3Uri`` (``<prefix>``) on success::

    <prefix>/<job>/<job>/amazon-bedrock-evaluations-permission-check          (empty)
    <prefix>/<job>/<job>/<run-id>/custom_metrics/<metric>.json                 (definitions)
    <prefix>/<job>/<job>/<run-id>/models/<source>/taskTypes/<task>/datasets/<dataset>/<uuid>_output.jsonl

``<run-id>`` is 12 random lowercase letters and digits, new for every job; ``<source>`` is the
``inferenceSourceIdentifier``. One output line per input record, in input order::

    {"automatedEvaluationResult": {"scores": [{"metricName": ..., "result": <number|null>,
      "evaluatorDetails": [{"modelIdentifier": ..., "explanation": ...}]}, ...]},
     "inputRecord": <the input line, unchanged>}

A dataset the service could not use fails the job (nothing but the permission check is
written): object or bucket missing, a line that is not a JSON object, more than 1000 records,
a record without ``prompt``, or ``modelResponses`` that is not exactly one entry whose
``modelIdentifier`` equals the ``inferenceSourceIdentifier``; so does a name in
``metricNames`` that is neither built-in nor defined in ``customMetricConfig``.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from local.bedrock_emulator.backend import (
    COMPLETED,
    FAILED,
    MAX_FAILURE_MESSAGES,
    EvaluationJob,
    RunResult,
    controls,
)
from local.bedrock_emulator.judges import judge_from_env
from local.bedrock_emulator.judges.base import (
    BUILTIN_SCALES,
    JUDGE_BUILTIN_METRICS,
    MetricSpec,
    rating_scale,
)

if TYPE_CHECKING:
    from local.bedrock_emulator.judges.base import Judge

MAX_RECORDS = 1000
PERMISSION_CHECK = "amazon-bedrock-evaluations-permission-check"
_S3_URI = re.compile(r"s3://([^/]+)/?(.*)")


class ObjectMissingError(Exception):
    """A bucket or an object does not exist (``what`` says which)."""

    def __init__(self, what: str, bucket: str, key: str = "") -> None:
        super().__init__(f"{what}: s3://{bucket}/{key}")
        self.what = what


class ObjectStore(Protocol):
    """The S3 the job reads and writes (moto's backend in local mode, a dict in unit tests)."""

    def read(self, bucket: str, key: str) -> bytes:
        """The object's bytes; :class:`ObjectMissingError` when bucket or key is missing."""
        ...

    def write(self, bucket: str, key: str, data: bytes) -> None:
        """Create or replace an object (the bucket exists)."""
        ...

    def has_bucket(self, bucket: str) -> bool:
        """Whether the bucket exists."""
        ...


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> ``("bucket", "a/b")``."""
    match = _S3_URI.fullmatch(uri)
    if not match:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return match.group(1), match.group(2).strip("/")


class JobFailedError(Exception):
    """The job cannot run; ``messages`` become its ``failureMessages``."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages[:MAX_FAILURE_MESSAGES]


@dataclass(frozen=True)
class DatasetPlan:
    """One ``datasetMetricConfigs`` entry, resolved."""

    name: str
    task_type: str
    bucket: str
    key: str
    metrics: tuple[MetricSpec, ...]


@dataclass(frozen=True)
class JobPlan:
    """What a runnable job does."""

    source_id: str
    datasets: tuple[DatasetPlan, ...]
    custom_definitions: dict[str, dict[str, Any]]


class ModelEvaluationRunner:
    """Runs jobs for :class:`~local.bedrock_emulator.backend.EvaluationJobBackend`.

    Parameters
    ----------
    store : ObjectStore
        Where datasets are read and results written.
    region : str
        The jobs' region (given to the judge factory).
    judge_factory : callable, optional
        ``judge_factory(region) -> Judge``; defaults to ``controls.judge`` when set, else
        :func:`~local.bedrock_emulator.judges.judge_from_env`.
    """

    def __init__(
        self,
        store: ObjectStore,
        region: str,
        judge_factory: Callable[[str], Judge] | None = None,
    ) -> None:
        self._store = store
        self._region = region
        self._judge_factory = judge_factory

    def __call__(self, job: EvaluationJob) -> RunResult:
        try:
            return self.run(job.name, job.request)
        except JobFailedError as failure:
            return RunResult(FAILED, failure.messages)

    def run(self, job_name: str, request: dict[str, Any]) -> RunResult:
        """Run one job; raises :class:`JobFailedError` for a job that ends Failed."""
        out_bucket, out_prefix = split_s3_uri(request["outputDataConfig"]["s3Uri"])
        if not self._store.has_bucket(out_bucket):
            raise JobFailedError(
                [
                    f"The output location {request['outputDataConfig']['s3Uri']} is not accessible: "
                    f"bucket {out_bucket} does not exist or the service role cannot write to it."
                ]
            )
        base = "/".join(part for part in (out_prefix, job_name, job_name) if part)
        permission_key = f"{base}/{PERMISSION_CHECK}"
        self._store.write(out_bucket, permission_key, b"")
        plan = plan_job(request)
        records = {dataset.name: self._read_dataset(dataset, plan.source_id) for dataset in plan.datasets}
        judge = self._judge()
        outputs: list[tuple[str, bytes]] = []
        run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
        for name, definition in plan.custom_definitions.items():
            body = json.dumps({"customMetricDefinition": definition}, indent=2).encode()
            outputs.append((f"{base}/{run_id}/custom_metrics/{name}.json", body))
        for dataset in plan.datasets:
            lines = [score_record(judge, dataset.metrics, record) for record in records[dataset.name]]
            key = (
                f"{base}/{run_id}/models/{plan.source_id}/taskTypes/{dataset.task_type}/datasets/"
                f"{dataset.name}/{uuid.uuid4()}_output.jsonl"
            )
            outputs.append(
                (key, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode())
            )
        # Written only once everything is scored: a failed job leaves no partial results.
        for key, body in outputs:
            self._store.write(out_bucket, key, body)
        return RunResult(COMPLETED, [], [permission_key, *(key for key, _ in outputs)])

    def _judge(self) -> Judge:
        try:
            if self._judge_factory is not None:
                return self._judge_factory(self._region)
            return controls.judge or judge_from_env(self._region)
        except ValueError as error:
            raise JobFailedError([f"The evaluator could not be set up: {error}"]) from error

    def _read_dataset(self, dataset: DatasetPlan, source_id: str) -> list[dict[str, Any]]:
        uri = f"s3://{dataset.bucket}/{dataset.key}"
        try:
            raw = self._store.read(dataset.bucket, dataset.key)
        except ObjectMissingError as missing:
            raise JobFailedError(
                [
                    f"Unable to read the dataset {dataset.name} at {uri}: {missing.what}. Check that the "
                    "object exists and that the service role has s3:GetObject on it."
                ]
            ) from missing
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise JobFailedError([f"The dataset {dataset.name} at {uri} is not UTF-8 text."]) from error
        problems: list[str] = []
        records: list[dict[str, Any]] = []
        for number, line in _numbered_lines(text):
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"The dataset {dataset.name} has a malformed JSON line at line {number}.")
                continue
            if not isinstance(record, dict):
                problems.append(f"The dataset {dataset.name} line {number} is not a JSON object.")
                continue
            problems += _record_problems(record, dataset.name, number, source_id)
            records.append(record)
        if not records and not problems:
            problems.append(f"The dataset {dataset.name} at {uri} contains no records.")
        if len(records) > MAX_RECORDS:
            problems.append(
                f"The dataset {dataset.name} has {len(records)} prompts; the maximum is {MAX_RECORDS}."
            )
        if problems:
            raise JobFailedError(problems)
        return records


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _record_problems(record: dict[str, Any], dataset: str, number: int, source_id: str) -> list[str]:
    where = f"dataset {dataset} line {number}"
    if not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
        return [f"The 'prompt' key is missing or empty in {where}."]
    responses = record.get("modelResponses")
    if not isinstance(responses, list) or len(responses) != 1 or not isinstance(responses[0], dict):
        return [f"Each record needs exactly one modelResponses entry for precomputed inference ({where})."]
    identifier = responses[0].get("modelIdentifier")
    if identifier != source_id:
        return [
            f"Model mapping error in {where}: modelResponses[0].modelIdentifier {identifier!r} does not "
            f"match the inferenceSourceIdentifier {source_id!r}."
        ]
    if not isinstance(responses[0].get("response"), str):
        return [f"The modelResponses[0].response is missing in {where}."]
    return []


def plan_job(request: dict[str, Any]) -> JobPlan:
    """Resolve what the job does, or raise :class:`JobFailedError` for what is not emulated."""
    evaluation = request["evaluationConfig"]
    if "human" in evaluation:
        raise JobFailedError(["Human-based evaluation jobs are not emulated by the evalpipe local emulator."])
    automated = evaluation["automated"]
    models = request["inferenceConfig"].get("models") or []
    if not models:
        raise JobFailedError(["RAG evaluation jobs are not emulated by the evalpipe local emulator."])
    if "precomputedInferenceSource" not in models[0]:
        raise JobFailedError(
            [
                "Live inference on a bedrockModel is not emulated by the evalpipe local emulator: "
                "provide precomputed responses (precomputedInferenceSource)."
            ]
        )
    source_id = models[0]["precomputedInferenceSource"]["inferenceSourceIdentifier"]
    evaluators = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [{}]
    builtin_model = evaluators[0].get("modelIdentifier", "")
    custom_config = automated.get("customMetricConfig") or {}
    custom_evaluators = (custom_config.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [
        {}
    ]
    custom_model = custom_evaluators[0].get("modelIdentifier", builtin_model)
    definitions = {
        source["customMetricDefinition"]["name"]: source["customMetricDefinition"]
        for source in custom_config.get("customMetrics", [])
        if "customMetricDefinition" in source
    }
    problems: list[str] = []
    datasets: list[DatasetPlan] = []
    for config in automated["datasetMetricConfigs"]:
        dataset = config["dataset"]
        location = (dataset.get("datasetLocation") or {}).get("s3Uri")
        if not location:
            problems.append(
                f"Built-in prompt datasets ({dataset['name']}) are not emulated: give datasetLocation.s3Uri."
            )
            continue
        specs: list[MetricSpec] = []
        for metric in config["metricNames"]:
            if metric in JUDGE_BUILTIN_METRICS:
                specs.append(MetricSpec(metric, builtin_model, None, BUILTIN_SCALES[metric]))
            elif metric.startswith("Builtin."):
                problems.append(
                    f"The metric {metric} needs a job type the evalpipe local emulator does not emulate."
                )
            elif metric in definitions:
                definition = definitions[metric]
                specs.append(
                    MetricSpec(
                        metric,
                        custom_model,
                        definition["instructions"],
                        rating_scale(definition.get("ratingScale")),
                    )
                )
            else:
                problems.append(
                    f"The metric {metric} in metricNames of dataset {dataset['name']} is not a built-in "
                    "metric and has no definition in customMetricConfig.customMetrics."
                )
        bucket, key = split_s3_uri(location)
        datasets.append(DatasetPlan(dataset["name"], config["taskType"], bucket, key, tuple(specs)))
    if problems:
        raise JobFailedError(problems)
    return JobPlan(source_id, tuple(datasets), definitions)


def score_record(judge: Judge, metrics: tuple[MetricSpec, ...], record: dict[str, Any]) -> dict[str, Any]:
    """One output line: every metric's score for ``record``, then the record itself."""
    scores = []
    for metric in metrics:
        try:
            value, explanation = judge.score(metric, record)
        except Exception as error:
            raise JobFailedError(
                [
                    f"The evaluator model could not score the metric {metric.name}: "
                    f"{type(error).__name__}: {error}"
                ]
            ) from error
        scores.append(
            {
                "metricName": metric.name,
                "result": None if value is None else round(float(value), 4),
                "evaluatorDetails": [
                    {"modelIdentifier": judge.evaluator_identifier(metric), "explanation": explanation}
                ],
            }
        )
    return {"automatedEvaluationResult": {"scores": scores}, "inputRecord": record}


class DictObjectStore:
    """An in-memory :class:`ObjectStore` (unit tests, and a model of the interface)."""

    def __init__(self, buckets: dict[str, dict[str, bytes]] | None = None) -> None:
        self.buckets: dict[str, dict[str, bytes]] = buckets if buckets is not None else {}

    def read(self, bucket: str, key: str) -> bytes:
        if bucket not in self.buckets:
            raise ObjectMissingError("NoSuchBucket", bucket, key)
        if key not in self.buckets[bucket]:
            raise ObjectMissingError("NoSuchKey", bucket, key)
        return self.buckets[bucket][key]

    def write(self, bucket: str, key: str, data: bytes) -> None:
        self.buckets[bucket][key] = data

    def has_bucket(self, bucket: str) -> bool:
        return bucket in self.buckets
