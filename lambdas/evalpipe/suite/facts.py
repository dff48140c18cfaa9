"""What the rules need to know about a suite, read defensively from the raw parsed JSON.

The suite may be any value; every reader here returns "unknown" (``None`` / empty) where the
shape is wrong, and leaves reporting that to the shape walk. Suite rules and dataset rules
read the suite only through :class:`SuiteFacts`, so both agree on what a suite means.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from evalpipe.suite.metrics import (
    BUILTIN_PREFIX,
    JUDGE_BUILTINS,
    REFERENCE_BUILTINS,
    REFERENCE_VARIABLE,
    MetricFamily,
)

MODEL_EVALUATION = "ModelEvaluation"
RAG_EVALUATION = "RagEvaluation"
AUTOMATED = ("evaluationConfig", "automated")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
HUMAN = ("evaluationConfig", "human")


class DatasetKind(StrEnum):
    """What a dataset line must carry, as the suite's inferenceConfig decides."""

    PRECOMPUTED_MODEL = "precomputed model responses"
    LIVE_MODEL = "prompts for a live model"
    RAG = "RAG conversation turns"


class JobKind(StrEnum):
    """Who scores the records."""

    JUDGE = "judge"  # automated, an evaluator model grades (built-in judge or custom metrics)
    CLASSIC = "classic"  # automated, computed metrics without a judge
    HUMAN = "human"


class SuiteKind(StrEnum):
    """What kind of job a suite runs: the one answer every step, rule and message asks for.

    docs/layout.md, "A new job kind", lists what a new member touches.
    """

    JUDGE = "judge"  # a judge model grades model responses (precomputed, or a live model's)
    CLASSIC = "classic"  # computed metrics (Accuracy, Robustness, Toxicity) on a dropped dataset
    BUILTIN_ONLY = "built-in only"  # classic metrics on Bedrock's built-in datasets: no drop
    HUMAN = "human"  # a work team rates the records
    RAG_PRECOMPUTED = "RAG precomputed"  # a judge grades a knowledge base's recorded answers
    RAG_LIVE = "RAG live"  # a judge grades a knowledge base queried during the job

    @property
    def is_human(self) -> bool:
        return self is SuiteKind.HUMAN

    @property
    def is_rag(self) -> bool:
        return self in (SuiteKind.RAG_PRECOMPUTED, SuiteKind.RAG_LIVE)

    @property
    def scorer(self) -> JobKind:
        """Who scores the records."""
        if self is SuiteKind.HUMAN:
            return JobKind.HUMAN
        if self in (SuiteKind.CLASSIC, SuiteKind.BUILTIN_ONLY):
            return JobKind.CLASSIC
        return JobKind.JUDGE


@dataclass(frozen=True)
class Named:
    """A string found in the suite and the JSON path it was found at."""

    value: str
    path: str


@dataclass(frozen=True)
class DatasetEntryFacts:
    """One ``datasetMetricConfigs`` entry: its dataset, task type and metrics.

    Attributes
    ----------
    index : int
        Position in ``datasetMetricConfigs``.
    dataset : str or None
        ``dataset.name`` when a string.
    task_type : str or None
        ``taskType`` when a string.
    metrics : tuple of str
        The string ``metricNames``, in order.
    has_location : bool
        ``dataset.datasetLocation`` is given.
    """

    index: int
    dataset: str | None
    task_type: str | None
    metrics: tuple[str, ...]
    has_location: bool

    @property
    def builtin(self) -> bool:
        """The entry names a built-in prompt dataset (``Builtin.*``)."""
        return isinstance(self.dataset, str) and self.dataset.startswith(BUILTIN_PREFIX)


@dataclass(frozen=True)
class CustomMetric:
    """A custom metric definition (``name`` or the guide's ``metricName``)."""

    name: str | None
    name_path: str  # where the name is (or belongs), under the key the suite used
    instructions: str | None
    path: str  # of the definition object
    rating_definitions: tuple[Named, ...] = ()
    # (definition, floatValue or stringValue) of every rating whose definition and value are readable.
    rating_scale: tuple[tuple[str, float | str], ...] = ()


def _rating_value(item: object) -> float | str | None:
    """A rating's ``value``: its ``floatValue`` (a number) or ``stringValue`` (a string), else None."""
    number, text = dig(item, "value", "floatValue"), dig(item, "value", "stringValue")
    if isinstance(number, int | float) and not isinstance(number, bool):
        return float(number)
    return text if isinstance(text, str) else None


def dig(value: object, *keys: str | int) -> object:
    """``value[k1][k2]...`` where every step exists with the right container type, else None."""
    for key in keys:
        if isinstance(key, int) and isinstance(value, list) and 0 <= key < len(value):
            value = value[key]
        elif isinstance(key, str) and isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def key_path(parent: str, key: str) -> str:
    """JSON path of ``key`` under ``parent``: ``a.b``, or ``a["x.y"]`` when the key is no identifier."""
    if _IDENTIFIER.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key)}]"


def index_path(parent: str, index: int) -> str:
    """JSON path of item ``index`` of the list at ``parent``: ``a[0]``."""
    return f"{parent}[{index}]"


def path_of(*keys: str | int) -> str:
    """JSON path from keys and indexes: ``path_of("a", 0, "b")`` is ``a[0].b``."""
    path = ""
    for key in keys:
        path = index_path(path, key) if isinstance(key, int) else key_path(path, key)
    return path


def _items(value: object) -> list:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class SuiteFacts:
    """The facts of one suite that rules depend on.

    Build with :meth:`from_suite`; every attribute tolerates a malformed suite.
    """

    application_type: str  # as given if a string, else ModelEvaluation (the default)
    application_type_given: bool
    has_automated: bool
    has_human: bool
    has_top_evaluator: bool  # evaluationConfig.automated.evaluatorModelConfig is present
    has_custom_config: bool  # evaluationConfig.automated.customMetricConfig is present
    metric_names: tuple[Named, ...]  # every string in every datasetMetricConfigs[*].metricNames
    custom_metrics: tuple[CustomMetric, ...]
    builtin_evaluators: tuple[Named, ...]  # top-level evaluatorModelConfig model ids
    custom_evaluators: tuple[Named, ...]  # customMetricConfig.evaluatorModelConfig model ids
    dataset_kind: DatasetKind
    precomputed_identifier: str | None
    # Every inferenceConfig.models[*].precomputedInferenceSource identifier (human jobs compare two).
    precomputed_identifiers: tuple[str, ...]
    rag_family: MetricFamily | None  # RAG_RETRIEVE or RAG_RETRIEVE_AND_GENERATE when known
    rag_live: bool  # ragConfigs[0].knowledgeBaseConfig: Bedrock queries the knowledge base itself
    rag_source_identifier: str | None = None  # precomputedRagSourceConfig.*.ragSourceIdentifier
    entries: tuple[DatasetEntryFacts, ...] = ()  # every datasetMetricConfigs entry that is an object

    @classmethod
    def from_suite(cls, suite: object) -> SuiteFacts:
        """Read the facts from a raw parsed suite of any type (never raises)."""
        app = dig(suite, "applicationType")
        automated = dig(suite, *AUTOMATED)
        return cls(
            application_type=app if isinstance(app, str) else MODEL_EVALUATION,
            application_type_given=isinstance(suite, dict) and "applicationType" in suite,
            has_automated=isinstance(automated, dict),
            has_human=isinstance(dig(suite, *HUMAN), dict),
            has_top_evaluator=isinstance(automated, dict) and "evaluatorModelConfig" in automated,
            has_custom_config=isinstance(automated, dict) and "customMetricConfig" in automated,
            metric_names=_metric_names(suite),
            custom_metrics=_custom_metrics(suite),
            builtin_evaluators=_evaluators(suite, (*AUTOMATED, "evaluatorModelConfig")),
            custom_evaluators=_evaluators(suite, (*AUTOMATED, "customMetricConfig", "evaluatorModelConfig")),
            dataset_kind=_dataset_kind(suite),
            precomputed_identifier=_precomputed_identifier(suite),
            precomputed_identifiers=tuple(
                value
                for model in _items(dig(suite, "inferenceConfig", "models"))
                if isinstance(
                    value := dig(model, "precomputedInferenceSource", "inferenceSourceIdentifier"), str
                )
            ),
            rag_family=_rag_family(suite),
            rag_live=isinstance(dig(suite, "inferenceConfig", "ragConfigs", 0, "knowledgeBaseConfig"), dict),
            rag_source_identifier=_rag_source_identifier(suite),
            entries=_entries(suite),
        )

    @property
    def kind(self) -> SuiteKind:
        """The suite's kind; a judge job is assumed when the evaluation config is unreadable."""
        if self.has_human and not self.has_automated:
            return SuiteKind.HUMAN
        if self.application_type == RAG_EVALUATION:
            return SuiteKind.RAG_LIVE if self.rag_live else SuiteKind.RAG_PRECOMPUTED
        judged = (
            self.has_top_evaluator
            or self.has_custom_config
            or self.application_type == RAG_EVALUATION
            or any(name.value in JUDGE_BUILTINS for name in self.metric_names)
        )
        if judged or not self.has_automated:
            return SuiteKind.JUDGE
        only_builtin = bool(self.entries) and all(entry.builtin for entry in self.entries)
        return SuiteKind.BUILTIN_ONLY if only_builtin else SuiteKind.CLASSIC

    @property
    def job_kind(self) -> JobKind:
        """Judge, classic or human (`SuiteKind.scorer`)."""
        return self.kind.scorer

    @property
    def allowed_families(self) -> tuple[MetricFamily, ...]:
        """The built-in families this job may list metrics from."""
        if self.job_kind is JobKind.HUMAN:
            return ()
        if self.application_type == RAG_EVALUATION:
            if self.rag_family is not None:
                return (self.rag_family,)
            return (MetricFamily.RAG_RETRIEVE, MetricFamily.RAG_RETRIEVE_AND_GENERATE)
        if self.job_kind is JobKind.CLASSIC:
            return (MetricFamily.MODEL_CLASSIC,)
        return (MetricFamily.MODEL_JUDGE,)

    @property
    def custom_entry(self) -> DatasetEntryFacts | None:
        """The entry the dropped dataset fills: the first that names no built-in dataset."""
        return next((entry for entry in self.entries if not entry.builtin), None)

    @property
    def custom_names(self) -> frozenset[str]:
        """Names of the defined custom metrics."""
        return frozenset(m.name for m in self.custom_metrics if m.name is not None)

    @property
    def reference_metrics(self) -> list[str]:
        """Listed metrics that grade against the record's referenceResponse."""
        listed = {name.value for name in self.metric_names}
        custom = {
            m.name
            for m in self.custom_metrics
            if m.name in listed and m.instructions and "{{" + REFERENCE_VARIABLE + "}}" in m.instructions
        }
        return sorted((listed & REFERENCE_BUILTINS) | custom)


def _metric_names(suite: object) -> tuple[Named, ...]:
    root = AUTOMATED if dig(suite, *AUTOMATED) is not None else HUMAN
    configs = (*root, "datasetMetricConfigs")
    return tuple(
        Named(name, path_of(*configs, i, "metricNames", j))
        for i, config in enumerate(_items(dig(suite, *configs)))
        for j, name in enumerate(_items(dig(config, "metricNames")))
        if isinstance(name, str)
    )


def _entries(suite: object) -> tuple[DatasetEntryFacts, ...]:
    root = AUTOMATED if dig(suite, *AUTOMATED) is not None else HUMAN
    found = []
    for i, config in enumerate(_items(dig(suite, *root, "datasetMetricConfigs"))):
        if not isinstance(config, dict):
            continue
        name, task = dig(config, "dataset", "name"), config.get("taskType")
        found.append(
            DatasetEntryFacts(
                index=i,
                dataset=name if isinstance(name, str) else None,
                task_type=task if isinstance(task, str) else None,
                metrics=tuple(m for m in _items(config.get("metricNames")) if isinstance(m, str)),
                has_location=dig(config, "dataset", "datasetLocation") is not None,
            )
        )
    return tuple(found)


def _custom_metrics(suite: object) -> tuple[CustomMetric, ...]:
    found: list[CustomMetric] = []
    automated_list = (*AUTOMATED, "customMetricConfig", "customMetrics")
    for i, source in enumerate(_items(dig(suite, *automated_list))):
        definition = dig(source, "customMetricDefinition")
        path = path_of(*automated_list, i, "customMetricDefinition")
        # "metricName" is the practitioner's guide's spelling of "name".
        key = "metricName" if isinstance(definition, dict) and "name" not in definition else "name"
        name = dig(definition, key)
        instructions = dig(definition, "instructions")
        ratings = (
            Named(text, path_of(*automated_list, i, "customMetricDefinition", "ratingScale", k, "definition"))
            for k, item in enumerate(_items(dig(definition, "ratingScale")))
            if isinstance(text := dig(item, "definition"), str)
        )
        scale = tuple(
            (text, value)
            for item in _items(dig(definition, "ratingScale"))
            if isinstance(text := dig(item, "definition"), str) and (value := _rating_value(item)) is not None
        )
        found.append(
            CustomMetric(
                name=name if isinstance(name, str) else None,
                name_path=path_of(*automated_list, i, "customMetricDefinition", key),
                instructions=instructions if isinstance(instructions, str) else None,
                path=path,
                rating_definitions=tuple(ratings),
                rating_scale=scale,
            )
        )
    human_list = (*HUMAN, "customMetrics")
    for i, metric in enumerate(_items(dig(suite, *human_list))):
        name = dig(metric, "name")
        found.append(
            CustomMetric(
                name=name if isinstance(name, str) else None,
                name_path=path_of(*human_list, i, "name"),
                instructions=None,
                path=path_of(*human_list, i),
            )
        )
    return tuple(found)


def _evaluators(suite: object, config: tuple[str, ...]) -> tuple[Named, ...]:
    models = dig(suite, *config, "bedrockEvaluatorModels")
    return tuple(
        Named(model_id, path_of(*config, "bedrockEvaluatorModels", i, "modelIdentifier"))
        for i, model in enumerate(_items(models))
        if isinstance(model_id := dig(model, "modelIdentifier"), str)
    )


def _dataset_kind(suite: object) -> DatasetKind:
    inference = dig(suite, "inferenceConfig")
    if isinstance(inference, dict) and "ragConfigs" in inference:
        return DatasetKind.RAG
    if isinstance(dig(inference, "models", 0, "bedrockModel"), dict):
        return DatasetKind.LIVE_MODEL
    return DatasetKind.PRECOMPUTED_MODEL  # the pipeline's main path, and the default


def _precomputed_identifier(suite: object) -> str | None:
    source = dig(suite, "inferenceConfig", "models", 0, "precomputedInferenceSource")
    value = dig(source, "inferenceSourceIdentifier")
    return value if isinstance(value, str) else None


def _rag_source_identifier(suite: object) -> str | None:
    source = dig(suite, "inferenceConfig", "ragConfigs", 0, "precomputedRagSourceConfig")
    for branch in ("retrieveSourceConfig", "retrieveAndGenerateSourceConfig"):
        value = dig(source, branch, "ragSourceIdentifier")
        if isinstance(value, str):
            return value
    return None


def _rag_family(suite: object) -> MetricFamily | None:
    config = dig(suite, "inferenceConfig", "ragConfigs", 0)
    for parent in ("knowledgeBaseConfig", "precomputedRagSourceConfig"):
        branch = dig(config, parent)
        if not isinstance(branch, dict):
            continue
        if "retrieveConfig" in branch or "retrieveSourceConfig" in branch:
            return MetricFamily.RAG_RETRIEVE
        if "retrieveAndGenerateConfig" in branch or "retrieveAndGenerateSourceConfig" in branch:
            return MetricFamily.RAG_RETRIEVE_AND_GENERATE
    return None
