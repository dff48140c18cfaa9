"""Running an emulated job: read the datasets from S3, score every record, write the results.

Emulated: automated model evaluation with a judge, built-in judge metrics and custom metrics,
on precomputed responses (``inferenceConfig.models[0].precomputedInferenceSource``) or with
live inference (``inferenceConfig.models[0].bedrockModel``), and precomputed RAG evaluation
(``inferenceConfig.ragConfigs[0].precomputedRagSourceConfig``, scored per conversation turn by
:mod:`local.bedrock_emulator.rag`). Human jobs complete with FAKE offline worker ratings
(:mod:`local.bedrock_emulator.human`). Classic automated jobs (``Builtin.Accuracy`` /
``Robustness`` / ``Toxicity``, no evaluator model, live inference) are computed offline by
:mod:`local.bedrock_emulator.classic`, on custom datasets or on the synthetic samples of the
built-in datasets (:mod:`local.bedrock_emulator.builtin_datasets`). RAG on a live knowledge base
(``knowledgeBaseConfig``) queries a knowledge base registered with the emulator (or the
external source) offline and scores each turn (:mod:`local.bedrock_emulator.live_rag`).

Live inference is answered by an offline, deterministic stand-in for the model (no model is
called; see :func:`offline_model_response`): a record with a ``referenceResponse`` gets a
templated answer built from that reference, one without gets a fixed polite answer naming the
prompt's topic. The judge then scores these responses as it scores precomputed ones, and every
explanation says the response came from the offline stand-in.

The layout written under ``outputDataConfig.s3Uri`` (``<prefix>``) on success::

    <prefix>/<job>/<job>/amazon-bedrock-evaluations-permission-check          (empty)
    <prefix>/<job>/<job>/<run-id>/custom_metrics/<metric>.json                 (definitions)
    <prefix>/<job>/<job>/<run-id>/models/<source>/taskTypes/<task>/datasets/<dataset>/<uuid>_output.jsonl
    <prefix>/<job>/<job-id>/inference_configs/0/datasets/<dataset>/<uuid>_output.jsonl   (RAG jobs)
    <prefix>/<job>/<job-id>/datasets/<dataset>/<uuid>_output.jsonl                        (human jobs)

``<job-id>`` is the last segment of the job's ARN; ``<run-id>`` is 12 random lowercase letters and
digits, new for every job; ``<source>`` is the
``inferenceSourceIdentifier``, or for live inference the ``modelIdentifier`` as a path segment
(:func:`model_path_segment`: characters other than letters, digits, ``.``, ``_``, ``:`` and ``-``,
such as an ARN's ``/``, become ``_``). One output line per input record, in input order::

    {"automatedEvaluationResult": {"scores": [{"metricName": ..., "result": <number|null>,
      "evaluatorDetails": [{"modelIdentifier": ..., "explanation": ...}]}, ...]},
     "inputRecord": <the input line, unchanged>}

Live inference adds the generated response top-level, beside ``inputRecord`` (the input line
carried none), as the service does::

     "modelResponses": [{"response": ..., "modelIdentifier": <the bedrockModel's modelIdentifier>}]

A dataset the service could not use fails the job (nothing but the permission check is
written): object or bucket missing, a line that is not a JSON object, more than 1000 records,
a record without ``prompt``, or ``modelResponses`` that is not exactly one entry whose
``modelIdentifier`` equals the ``inferenceSourceIdentifier`` (for live inference: any
``modelResponses`` at all); so does a name in ``metricNames`` that is neither built-in nor
defined in ``customMetricConfig``, or live ``inferenceParams`` that are not a JSON object.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from local.bedrock_emulator.backend import (
    COMPLETED,
    FAILED,
    MAX_FAILURE_MESSAGES,
    EvaluationJob,
    OutputFault,
    RunResult,
    controls,
)
from local.bedrock_emulator.builtin_datasets import (
    UnknownBuiltinDataset,
    builtin_records,
    canonical_name,
    is_builtin_dataset,
    task_type_of,
)
from local.bedrock_emulator.classic import CLASSIC_METRICS, CLASSIC_TASK_TYPES, classic_line
from local.bedrock_emulator.human import HumanDatasetError, human_outputs
from local.bedrock_emulator.judges import judge_from_env
from local.bedrock_emulator.judges.base import (
    BUILTIN_SCALES,
    JUDGE_BUILTIN_METRICS,
    MetricSpec,
    rating_scale,
)
from local.bedrock_emulator.live_rag import LiveRag, LiveRagError, live_source, live_turn_problems
from local.bedrock_emulator.rag import RAG_SCALES, RETRIEVE_ONLY_METRICS, score_rag_record, turn_problems

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from local.bedrock_emulator.judges.base import Judge
    from local.bedrock_emulator.knowledge_bases import KnowledgeBase

MAX_RECORDS = 1000
PERMISSION_CHECK = "amazon-bedrock-evaluations-permission-check"
_S3_URI = re.compile(r"s3://([^/]+)/?(.*)")
_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._:-]")
_TOPIC_WORDS = 8
OFFLINE_LABEL = (
    "[offline emulator: the response was generated by a deterministic stand-in for {model}, not by the model]"
)


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
    builtin: bool = False  # a Builtin.* dataset: the records come from the emulator's synthetic sample


@dataclass(frozen=True)
class JobPlan:
    """What a runnable job does."""

    source_id: str  # the inferenceSourceIdentifier, or the live bedrockModel's modelIdentifier
    datasets: tuple[DatasetPlan, ...]
    custom_definitions: dict[str, dict[str, Any]]
    live: bool = False  # inferenceConfig.models[0].bedrockModel: responses generated during the job
    rag: str | None = None  # precomputed RAG: "retrieveSourceConfig" or "retrieveAndGenerateSourceConfig"
    # Live RAG: the request's knowledgeBaseConfig (rag then says retrieve-only or retrieve-and-generate).
    knowledge_base: dict[str, Any] | None = None
    max_words: int | None = None  # inferenceParams' inferenceConfig.maxTokens, read as words
    classic: bool = False  # classic automated metrics (no judge): local.bedrock_emulator.classic


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
    knowledge_bases : callable, optional
        ``knowledge_bases(id) -> KnowledgeBase | None`` for live RAG jobs; default: none registered.
    """

    def __init__(
        self,
        store: ObjectStore,
        region: str,
        judge_factory: Callable[[str], Judge] | None = None,
        knowledge_bases: Callable[[str], KnowledgeBase | None] | None = None,
    ) -> None:
        self._store = store
        self._region = region
        self._judge_factory = judge_factory
        # Knowledge-base id -> the registered knowledge base of the jobs' account and Region.
        self._knowledge_bases = knowledge_bases or (lambda knowledge_base_id: None)

    def __call__(self, job: EvaluationJob) -> RunResult:
        try:
            return self.run(job.name, job.request, job_id=job.arn.rsplit("/", 1)[-1])
        except JobFailedError as failure:
            return RunResult(FAILED, failure.messages)

    def run(self, job_name: str, request: dict[str, Any], job_id: str | None = None) -> RunResult:
        """Run one job; raises :class:`JobFailedError` for a job that ends Failed.

        ``job_id`` (the ARN's last segment) names the ``<job>/<job-id>/`` level of the human and
        RAG layouts; a random one when not given (unit tests run jobs without an ARN).
        """
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
        job_base = "/".join(part for part in (out_prefix, job_name, job_id or _random_id()) if part)
        if "human" in request["evaluationConfig"] and "automated" not in request["evaluationConfig"]:
            try:
                human = human_outputs(self._read_text, job_name, request, job_base)
            except HumanDatasetError as error:
                raise JobFailedError([str(error)]) from error
            for key, body in human:
                self._store.write(out_bucket, key, body)
            return RunResult(COMPLETED, [], [permission_key, *(key for key, _ in human)])
        plan = plan_job(request)
        records = {dataset.name: self._read_dataset(dataset, plan) for dataset in plan.datasets}
        judge = None if plan.classic else self._judge()  # a classic job has no evaluator
        live_rag = self._live_rag(plan)
        outputs: list[tuple[str, bytes]] = []
        run_id = _random_id()
        for name, definition in plan.custom_definitions.items():
            body = json.dumps({"customMetricDefinition": definition}, indent=2).encode()
            outputs.append((f"{base}/{run_id}/custom_metrics/{name}.json", body))
        for dataset in plan.datasets:
            lines = [
                classic_line(
                    [metric.name for metric in dataset.metrics],
                    dataset.task_type,
                    record,
                    lambda r: offline_model_response(r, plan.max_words),
                    plan.source_id,
                )
                if plan.classic
                else live_rag.output_line(judge, dataset.metrics, record, score_record)
                if live_rag is not None
                else score_rag_record(judge, dataset.metrics, record, plan.source_id, score_record)
                if plan.rag
                else live_record(judge, dataset.metrics, record, plan)
                if plan.live
                else score_record(judge, dataset.metrics, record)
                for record in records[dataset.name]
            ]
            key = (
                # RAG: the reported layout (docs/local-bedrock-emulator.md names the sources).
                f"{job_base}/inference_configs/0/datasets/{dataset.name}/{uuid.uuid4()}_output.jsonl"
                if plan.rag
                else f"{base}/{run_id}/models/{model_path_segment(plan.source_id)}/taskTypes/"
                f"{dataset.task_type}/datasets/{dataset.name}/{uuid.uuid4()}_output.jsonl"
            )
            outputs.append(
                (key, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode())
            )
        outputs = _with_fault(outputs, controls.take_output_fault())
        # Written only once everything is scored: a failed job leaves no partial results.
        for key, body in outputs:
            self._store.write(out_bucket, key, body)
        return RunResult(COMPLETED, [], [permission_key, *(key for key, _ in outputs)])

    def _read_text(self, name: str, uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        try:
            return self._store.read(bucket, key).decode("utf-8-sig")
        except (ObjectMissingError, UnicodeDecodeError) as error:
            raise JobFailedError([f"Unable to read the dataset {name} at {uri}."]) from error

    def _live_rag(self, plan: JobPlan) -> LiveRag | None:
        """The knowledge base (or external source) a live RAG job queries; None for other jobs."""
        if plan.knowledge_base is None:
            return None
        try:
            return LiveRag.prepare(plan.knowledge_base, self._knowledge_bases, self._store.read, self._region)
        except LiveRagError as error:
            raise JobFailedError(error.messages) from error

    def _judge(self) -> Judge:
        try:
            if self._judge_factory is not None:
                return self._judge_factory(self._region)
            return controls.judge or judge_from_env(self._region)
        except ValueError as error:
            raise JobFailedError([f"The evaluator could not be set up: {error}"]) from error

    def _read_dataset(self, dataset: DatasetPlan, plan: JobPlan) -> list[dict[str, Any]]:
        if dataset.builtin:
            return builtin_records(dataset.name)
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
            problems += _record_problems(record, dataset.name, number, plan)
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


def _random_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _record_problems(record: dict[str, Any], dataset: str, number: int, plan: JobPlan) -> list[str]:
    where = f"dataset {dataset} line {number}"
    source_id = plan.source_id
    if plan.knowledge_base is not None:
        return live_turn_problems(record, where, plan.rag == "retrieveSourceConfig")
    if plan.rag:
        return turn_problems(record, where, source_id, plan.rag == "retrieveSourceConfig")
    if not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
        return [f"The 'prompt' key is missing or empty in {where}."]
    if plan.live:
        if "modelResponses" in record:
            return [
                f"The record in {where} carries modelResponses, but the job runs the model {source_id!r} "
                "live: remove modelResponses or use precomputedInferenceSource."
            ]
        return []
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
    """Resolve what the job does, or raise :class:`JobFailedError` for what is not emulated.

    Human jobs are refused at once. Then the steps: where the responses come from
    (:func:`_inference_source`), which evaluators score the built-in and the custom metrics
    (:func:`_evaluators`), whether the job computes classic metrics, and each
    ``datasetMetricConfigs`` entry with its metrics (:func:`_dataset_plan`). The problems of all
    the steps are collected, so a job that cannot run fails with every reason at once.
    """
    evaluation = request["evaluationConfig"]
    if "human" in evaluation:
        raise JobFailedError(["Human-based evaluation jobs are not emulated by the evalpipe local emulator."])
    automated = evaluation["automated"]
    source = _inference_source(request["inferenceConfig"])
    evaluators = _evaluators(automated)
    problems: list[str] = []
    configs = automated["datasetMetricConfigs"]
    classic = source.rag is None and any(m in CLASSIC_METRICS for c in configs for m in c["metricNames"])
    if classic:
        problems += _classic_job_problems(configs, source.live)
    datasets: list[DatasetPlan] = []
    for config in configs:
        dataset, dataset_problems = _dataset_plan(config, source.rag, classic, evaluators)
        problems += dataset_problems
        if dataset is not None:
            datasets.append(dataset)
    if problems:
        raise JobFailedError(problems)
    return JobPlan(
        source.source_id,
        tuple(datasets),
        evaluators.definitions,
        live=source.live,
        max_words=source.max_words,
        rag=source.rag,
        classic=classic,
        knowledge_base=source.knowledge_base,
    )


@dataclass(frozen=True)
class _InferenceSource:
    """Where a job's responses come from (the `JobPlan` fields of the same names)."""

    source_id: str
    live: bool
    rag: str | None = None
    knowledge_base: dict[str, Any] | None = None
    max_words: int | None = None


def _inference_source(inference: dict[str, Any]) -> _InferenceSource:
    """A live knowledge base, precomputed RAG, a live model or precomputed responses, in that order."""
    models = inference.get("models") or []
    rag_config = (inference.get("ragConfigs") or [{}])[0]
    rag_source = rag_config.get("precomputedRagSourceConfig")
    rag = next(iter(rag_source), None) if isinstance(rag_source, dict) else None
    knowledge_base = rag_config.get("knowledgeBaseConfig")
    live = bool(models) and "bedrockModel" in models[0]
    if knowledge_base is not None:  # a live knowledge base: local.bedrock_emulator.live_rag
        try:
            rag, source_id = live_source(knowledge_base)
        except LiveRagError as error:
            raise JobFailedError(error.messages) from error
        return _InferenceSource(source_id, live, rag, knowledge_base)
    if rag is not None:
        return _InferenceSource(rag_source[rag]["ragSourceIdentifier"], live, rag)
    if live:
        model = models[0]["bedrockModel"]
        return _InferenceSource(
            model["modelIdentifier"], live, max_words=_max_tokens(model.get("inferenceParams"))
        )
    return _InferenceSource(models[0]["precomputedInferenceSource"]["inferenceSourceIdentifier"], live)


@dataclass(frozen=True)
class _Evaluators:
    """Who scores what: the built-in metrics' evaluator model, the custom metrics' and their definitions."""

    builtin_model: str
    custom_model: str
    definitions: dict[str, dict[str, Any]]  # customMetricDefinition by name


def _evaluators(automated: dict[str, Any]) -> _Evaluators:
    """The job's evaluator models; the custom metrics default to the built-in metrics' evaluator."""
    evaluators = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [{}]
    builtin_model = evaluators[0].get("modelIdentifier", "")
    custom_config = automated.get("customMetricConfig") or {}
    custom_evaluators = (custom_config.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [
        {}
    ]
    definitions = {
        source["customMetricDefinition"]["name"]: source["customMetricDefinition"]
        for source in custom_config.get("customMetrics", [])
        if "customMetricDefinition" in source
    }
    return _Evaluators(builtin_model, custom_evaluators[0].get("modelIdentifier", builtin_model), definitions)


def _dataset_plan(
    config: dict[str, Any], rag: str | None, classic: bool, evaluators: _Evaluators
) -> tuple[DatasetPlan | None, list[str]]:
    """One ``datasetMetricConfigs`` entry resolved, and its problems (None: nothing to run)."""
    dataset = config["dataset"]
    location = (dataset.get("datasetLocation") or {}).get("s3Uri")
    if not location:
        return _builtin_dataset_plan(config, classic)
    specs, problems = _metric_specs(config["metricNames"], dataset["name"], rag, evaluators)
    bucket, key = split_s3_uri(location)
    return DatasetPlan(dataset["name"], config["taskType"], bucket, key, tuple(specs)), problems


def _builtin_dataset_plan(config: dict[str, Any], classic: bool) -> tuple[DatasetPlan | None, list[str]]:
    """An entry without ``datasetLocation``: the synthetic sample of a built-in dataset, classic jobs only."""
    name, task_type = config["dataset"]["name"], config["taskType"]
    problems = _builtin_dataset_problems(name, task_type, classic)
    if not classic:
        return None, problems
    computed = tuple(MetricSpec(m, "") for m in config["metricNames"] if m in CLASSIC_METRICS)
    return DatasetPlan(name, task_type, "", "", computed, builtin=True), problems


def _metric_specs(
    metric_names: list[str], dataset: str, rag: str | None, evaluators: _Evaluators
) -> tuple[list[MetricSpec], list[str]]:
    """How each metric of a dataset is scored, and why the metrics that cannot be are not."""
    specs: list[MetricSpec] = []
    problems: list[str] = []
    for metric in metric_names:
        if rag is not None and metric.startswith("Builtin."):
            allowed = RETRIEVE_ONLY_METRICS if rag == "retrieveSourceConfig" else RAG_SCALES
            if metric in allowed:
                specs.append(MetricSpec(metric, evaluators.builtin_model, None, RAG_SCALES[metric]))
            else:
                problems.append(f"The metric {metric} is not available for this RAG evaluation ({rag}).")
        elif metric in JUDGE_BUILTIN_METRICS:
            specs.append(MetricSpec(metric, evaluators.builtin_model, None, BUILTIN_SCALES[metric]))
        elif metric in CLASSIC_METRICS:
            specs.append(MetricSpec(metric, ""))  # computed, no evaluator model
        elif metric.startswith("Builtin."):
            problems.append(
                f"The metric {metric} needs a job type the evalpipe local emulator does not emulate."
            )
        elif metric in evaluators.definitions:
            definition = evaluators.definitions[metric]
            specs.append(
                MetricSpec(
                    metric,
                    evaluators.custom_model,
                    definition["instructions"],
                    rating_scale(definition.get("ratingScale")),
                )
            )
        else:
            problems.append(
                f"The metric {metric} in metricNames of dataset {dataset} is not a built-in "
                "metric and has no definition in customMetricConfig.customMetrics."
            )
    return specs, problems


def _classic_job_problems(configs: list[dict[str, Any]], live: bool) -> list[str]:
    """Why a job listing classic metrics cannot run as one (the emulator's wording)."""
    problems = []
    others = sorted({m for c in configs for m in c["metricNames"] if m not in CLASSIC_METRICS})
    if others:
        problems.append(
            f"Classic automated metrics ({', '.join(CLASSIC_METRICS)}) are computed without an evaluator "
            f"model and cannot be combined with judge or custom metrics ({', '.join(others)}) in one job."
        )
    if not live:
        problems.append(
            "Classic automated metrics are computed on responses the job generates: "
            "inferenceConfig.models[0] must be a bedrockModel, not a precomputedInferenceSource."
        )
    for config in configs:
        if config["taskType"] not in CLASSIC_TASK_TYPES:
            problems.append(
                f"The taskType {config['taskType']} of dataset {config['dataset']['name']} has no classic "
                f"automated metrics; use one of {', '.join(CLASSIC_TASK_TYPES)}."
            )
    return problems


def _builtin_dataset_problems(name: str, task_type: str, classic: bool) -> list[str]:
    """Why a dataset without ``datasetLocation`` cannot be resolved to a built-in dataset."""
    if not classic:
        return [
            f"Built-in prompt datasets ({name}) serve only classic automated metrics "
            f"({', '.join(CLASSIC_METRICS)}): give datasetLocation.s3Uri."
        ]
    if not is_builtin_dataset(name):
        return [f"The dataset {name} has no datasetLocation and is not a built-in prompt dataset."]
    try:
        builtin_task = task_type_of(canonical_name(name))
    except UnknownBuiltinDataset as error:
        return [str(error)]
    if builtin_task != task_type:
        return [f"The built-in dataset {name} is a {builtin_task} dataset, but its taskType is {task_type}."]
    return []


def _max_tokens(params: object) -> int | None:
    """``inferenceConfig.maxTokens`` of a live model's ``inferenceParams`` (a JSON object string)."""
    if params is None:
        return None
    try:
        parsed = json.loads(params) if isinstance(params, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise JobFailedError(["The inferenceParams of the bedrockModel must be a JSON object in a string."])
    config = parsed.get("inferenceConfig")
    limit = config.get("maxTokens") if isinstance(config, dict) else None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def model_path_segment(identifier: str) -> str:
    """``identifier`` as one S3 key segment: an ARN's ``/`` (and anything unusual) becomes ``_``.

    >>> model_path_segment("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc")
    'arn:aws:bedrock:us-east-1:111122223333:provisioned-model_abc'
    """
    return _UNSAFE_SEGMENT.sub("_", identifier) or "_"


def offline_model_response(record: dict[str, Any], max_words: int | None = None) -> str:
    r"""The offline stand-in model's answer to ``record`` (deterministic, no model is called).

    With a non-blank ``referenceResponse``: ``"Thanks for reaching out. <reference>"``. Without:
    a fixed polite answer naming the topic (the first words of the prompt's last user turn).
    ``max_words`` (``maxTokens`` of the inferenceParams, counted as words) shortens the answer.

    >>> offline_model_response({"prompt": "Do you ship to Canada?", "referenceResponse": "Yes."})
    'Thanks for reaching out. Yes.'
    >>> answer = offline_model_response({"prompt": "User: hi\nAssistant: Hi!\nUser: Do you ship to Canada?"})
    >>> answer.startswith("Thanks for your question about 'Do you ship to Canada'. I'm happy to help")
    True
    """
    reference = record.get("referenceResponse")
    if isinstance(reference, str) and reference.strip():
        text = f"Thanks for reaching out. {reference.strip()}"
    else:
        text = (
            f"Thanks for your question about '{_topic(record['prompt'])}'. I'm happy to help with that: "
            "could you share a few more details so I can give you an exact answer?"
        )
    words = text.split()
    return " ".join(words[:max_words]) if max_words is not None and len(words) > max_words else text


def _topic(prompt: str) -> str:
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    user = [line.removeprefix("User:").strip() for line in lines if line.startswith("User:")]
    last = (user or lines or [""])[-1]
    words = last.split()
    topic = " ".join(words[:_TOPIC_WORDS]).rstrip("?.!,;: ")
    return topic + ("..." if len(words) > _TOPIC_WORDS else "")


def live_record(
    judge: Judge, metrics: tuple[MetricSpec, ...], record: dict[str, Any], plan: JobPlan
) -> dict[str, Any]:
    """One output line of a live-inference job: generate the response, score it, lay it out.

    ``inputRecord`` is the input line unchanged; the generated ``modelResponses`` sit top-level
    beside it, and every explanation is labelled as coming from the offline stand-in.
    """
    responses = [
        {"response": offline_model_response(record, plan.max_words), "modelIdentifier": plan.source_id}
    ]
    line = score_record(judge, metrics, {**record, "modelResponses": responses})
    label = OFFLINE_LABEL.format(model=plan.source_id)
    for score in line["automatedEvaluationResult"]["scores"]:
        for detail in score["evaluatorDetails"]:
            detail["explanation"] = f"{detail['explanation']} {label}".strip()
    return {**line, "inputRecord": record, "modelResponses": responses}


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


def _with_fault(outputs: list[tuple[str, bytes]], fault: OutputFault | None) -> list[tuple[str, bytes]]:
    """The outputs with an injected fault applied to the first ``*_output.jsonl`` (tests only)."""
    if fault is None:
        return outputs
    changed = list(outputs)
    for position, (key, body) in enumerate(changed):
        if not key.endswith("_output.jsonl"):
            continue
        lines = body.splitlines(keepends=True)
        kept = lines[: max(len(lines) - fault.drop, 0)]
        kept += kept[-1:] * fault.repeat
        changed[position] = (key, b"".join(kept))
        break
    return changed
