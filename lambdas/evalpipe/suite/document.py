"""The suite document models: `SuiteDocument`, the file as stored (the JSON Schema in ``schema/`` is
generated from it), and `Suite`, a validated file plus its name, with the accessors the steps read
(metric names, evaluator, inference source, datasets, a metric's low-score rule); also
`normalize_metric_names`, the rename of the guide's ``metricName`` to the API's ``name`` that every
construction path applies.
"""

from __future__ import annotations

import copy
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalpipe.run.triggers import SUITE_NAME_PATTERN
from evalpipe.suite.datasets import (
    SCHEDULE_NEEDS_BUILTIN_DATASETS,
    builtin_dataset_names,
    custom_entries,
    names_only_builtin_datasets,
)
from evalpipe.suite.errors import SuiteError, _describe_error
from evalpipe.suite.facts import SuiteFacts, SuiteKind
from evalpipe.suite.pipeline import PipelineSettings

if TYPE_CHECKING:
    from evalpipe.suite.low_score import LowScoreRule

GUIDE_METRIC_NAME_KEY = "metricName"
# The CreateEvaluationJob members of the suite file (what its kind is read from).
_REQUEST_MEMBERS = {"application_type", "evaluation_config", "inference_config"}
API_METRIC_NAME_KEY = "name"

API_REFERENCE = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateEvaluationJob.html"


def _document_schema(schema: dict[str, Any]) -> None:
    schema["properties"] = {
        "$schema": {
            "type": "string",
            "description": "Path or URL of this schema, for editors; ignored by the pipeline.",
        },
        **schema["properties"],
    }


class SuiteDocument(BaseModel):
    """The suite file as stored: the JSON Schema in ``schema/`` is generated from this model."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        title="evalpipe suite file",
        json_schema_extra=_document_schema,
        defer_build=True,
    )

    application_type: Literal["ModelEvaluation", "RagEvaluation"] = Field(
        default="ModelEvaluation",
        alias="applicationType",
        description="CreateEvaluationJob applicationType.",
    )
    evaluation_config: dict[str, Any] = Field(
        alias="evaluationConfig",
        description=(
            "CreateEvaluationJob evaluationConfig, as the API defines it "
            f"({API_REFERENCE}). Name exactly one automated.datasetMetricConfigs entry; the "
            "pipeline fills in its dataset.datasetLocation (and dataset.name when left out). "
            "Custom metrics may use the guide's 'metricName'; it is sent as 'name'."
        ),
    )
    inference_config: dict[str, Any] = Field(
        alias="inferenceConfig",
        description=(
            f"CreateEvaluationJob inferenceConfig, as the API defines it ({API_REFERENCE}); "
            "for precomputed responses: models[0].precomputedInferenceSource."
            "inferenceSourceIdentifier = the datasets' modelIdentifier."
        ),
    )
    pipeline: PipelineSettings = Field(
        default_factory=PipelineSettings, description="Settings of this pipeline (all optional)."
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_schema_reference(cls, data: Any) -> Any:
        # "$schema" only points editors at schema/suite.schema.json.
        if isinstance(data, dict) and "$schema" in data:
            data = {key: value for key, value in data.items() if key != "$schema"}
        return data

    @field_validator("evaluation_config", mode="after")
    @classmethod
    def _api_spelling(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Runs on every construction path, so no Suite can carry `metricName` into a request.
        normalized, _ = normalize_metric_names(value)
        return normalized

    @model_validator(mode="after")
    def _schedule_needs_builtin_datasets(self) -> SuiteDocument:
        # A scheduled run fills no custom dataset, unless it collects one (pipeline.collect.scenarios).
        collect = self.pipeline.collect
        collects = collect is not None and collect.scenarios is not None
        if (
            self.pipeline.schedule is not None
            and not collects
            and not names_only_builtin_datasets({"evaluationConfig": self.evaluation_config})
        ):
            raise ValueError(f"pipeline.schedule: {SCHEDULE_NEEDS_BUILTIN_DATASETS}")
        return self


class Suite(SuiteDocument):
    """A validated suite: the file's content plus its name (from the key ``suites/<name>.json``).

    Build it with :meth:`from_document`. The accessors read the (single) dataset metric
    config defensively and return empty values where the config is incomplete; the rules
    that make a config valid live in ``evalpipe.validation``.

    Examples
    --------
    >>> suite = Suite.from_document("demo", {
    ...     "evaluationConfig": {"automated": {"datasetMetricConfigs": [
    ...         {"taskType": "General", "metricNames": ["Builtin.Helpfulness", "brevity"]}]}},
    ...     "inferenceConfig": {"models": [
    ...         {"precomputedInferenceSource": {"inferenceSourceIdentifier": "app-v1"}}]}})
    >>> suite.metric_names, suite.inference_source_identifier
    (['Builtin.Helpfulness', 'brevity'], 'app-v1')
    >>> suite.low_rule("Builtin.Helpfulness").describe(), suite.job_description()
    ('< 0.5', 'evalpipe run of suite demo')
    """

    name: str = Field(pattern=SUITE_NAME_PATTERN.pattern, description="Suite name from its S3 key.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Accepted deviations from the API spelling (e.g. metricName), for the validator.",
    )

    @classmethod
    def from_document(cls, name: str, document: dict) -> Suite:
        """Parse a suite file's JSON content.

        Parameters
        ----------
        name
            The suite name (``<suite>`` of ``suites/<suite>.json``).
        document
            The parsed JSON; it is not modified.

        Returns
        -------
        Suite
            With ``"$schema"`` dropped and every custom metric's ``metricName`` (the guide's
            spelling) renamed to ``name``; each rename is recorded in ``warnings``.

        Raises
        ------
        SuiteError
            When the document is not an object or has a shape the model rejects; ``problems``
            lists each one as ``"<path>: <message>"``.
        """
        if not isinstance(document, dict):
            raise SuiteError(
                f"suite {name!r}: the suite file must hold a JSON object, not {type(document).__name__}"
            )
        problems = [
            f"{key}: unknown key (the suite's name comes from its file name)"
            for key in ("name", "warnings")
            if key in document
        ]
        warnings: list[str] = []
        content = dict(document)
        content.pop("$schema", None)
        if isinstance(content.get("evaluationConfig"), dict):
            try:
                content["evaluationConfig"], renamed = normalize_metric_names(content["evaluationConfig"])
            except ValueError as error:
                raise SuiteError(f"suite {name!r} is not valid: {error}", [str(error)]) from None
            warnings = [
                f"{path}: 'metricName' is the practitioner's guide spelling; the API field is "
                "'name' (sent as 'name')"
                for path in renamed
            ]
        try:
            suite = cls.model_validate({**copy.deepcopy(content), "name": name, "warnings": warnings})
        except ValidationError as error:
            problems += [_describe_error(detail) for detail in error.errors()]
        if problems:
            raise SuiteError(f"suite {name!r} is not valid: " + "; ".join(problems), problems)
        return suite

    # -- the single dataset metric config -------------------------------------------------

    @property
    def _dataset_metric_config(self) -> dict[str, Any]:
        root = "human" if self.is_human else "automated"
        entry = _dig(self.evaluation_config, root, "datasetMetricConfigs", 0)
        return entry if isinstance(entry, dict) else {}

    @cached_property
    def kind(self) -> SuiteKind:
        """What kind of job this suite runs (judge, classic, built-in only, human, RAG)."""
        return SuiteFacts.from_suite(self.model_dump(by_alias=True, include=_REQUEST_MEMBERS)).kind

    @property
    def is_human(self) -> bool:
        """A human evaluation job (``evaluationConfig.human``): rated by a work team, for days."""
        return self.kind.is_human

    @property
    def _custom_metrics_config(self) -> dict[str, Any]:
        config = _dig(self.evaluation_config, "automated", "customMetricConfig")
        return config if isinstance(config, dict) else {}

    @property
    def metric_names(self) -> list[str]:
        """``metricNames`` of the dataset metric config, in the suite's order."""
        names = self._dataset_metric_config.get("metricNames")
        return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []

    @property
    def listed_metric_names(self) -> list[str]:
        """``metricNames`` of every ``datasetMetricConfigs`` entry, each name once, in order.

        What the parse step normalises output metric names to (classic outputs write
        ``"Accuracy"`` for the suite's ``"Builtin.Accuracy"``).
        """
        root = _dig(self.evaluation_config, "human" if self.is_human else "automated", "datasetMetricConfigs")
        entries = root if isinstance(root, list) else []
        names = (_dig(entry, "metricNames") for entry in entries)
        listed = (name for group in names if isinstance(group, list) for name in group)
        return list(dict.fromkeys(name for name in listed if isinstance(name, str)))

    @property
    def custom_metric_names(self) -> list[str]:
        """Names of the custom metrics defined in ``customMetricConfig.customMetrics`` (a human job:
        ``human.customMetrics``), in order."""
        if self.is_human:
            human = _dig(self.evaluation_config, "human", "customMetrics")
            names = (_dig(metric, "name") for metric in (human if isinstance(human, list) else []))
            return [name for name in names if isinstance(name, str)]
        metrics = self._custom_metrics_config.get("customMetrics")
        if not isinstance(metrics, list):
            return []
        names = (_dig(metric, "customMetricDefinition", API_METRIC_NAME_KEY) for metric in metrics)
        return [name for name in names if isinstance(name, str)]

    def is_builtin(self, metric: str) -> bool:
        """Whether ``metric`` is built in, i.e. not one of the suite's custom metrics.

        Output files of classic automated jobs name built-ins without the ``Builtin.`` prefix
        (``"Accuracy"``), so "not custom" is the test rather than the prefix.
        """
        return metric not in self.custom_metric_names

    def low_rule(self, metric: str) -> LowScoreRule:
        """The low-score rule of ``metric``.

        Parameters
        ----------
        metric
            A metric name as the suite or an output file spells it.

        Returns
        -------
        LowScoreRule
            ``pipeline.lowScore.metrics[metric]`` when given (a built-in also matches its
            name with or without ``Builtin.``), else ``{"above": 0.5}`` for the built-in
            detectors (Harmfulness, Stereotyping, Refusal), else the ``builtin`` or ``custom``
            default (:meth:`LowScoreSettings.rule_for`).
        """
        return self.pipeline.low_score.rule_for(metric, builtin=self.is_builtin(metric))

    @property
    def evaluator_model(self) -> str | None:
        """The judge: the top-level ``evaluatorModelConfig`` model, else the custom metrics' one."""
        automated = self.evaluation_config.get("automated")
        for path in (
            ("evaluatorModelConfig", "bedrockEvaluatorModels", 0, "modelIdentifier"),
            ("customMetricConfig", "evaluatorModelConfig", "bedrockEvaluatorModels", 0, "modelIdentifier"),
        ):
            model = _dig(automated, *path)
            if isinstance(model, str) and model:
                return model
        return None

    @property
    def inference_source_identifier(self) -> str | None:
        """The identifier every dataset line must carry, for precomputed responses.

        ``models[0].precomputedInferenceSource.inferenceSourceIdentifier`` (model evaluation)
        or ``ragConfigs[0].precomputedRagSourceConfig.*.ragSourceIdentifier`` (RAG); ``None``
        when the suite uses live inference.
        """
        config = self.inference_config
        rag_source = _dig(config, "ragConfigs", 0, "precomputedRagSourceConfig")
        candidates = [
            _dig(config, "models", 0, "precomputedInferenceSource", "inferenceSourceIdentifier"),
            _dig(rag_source, "retrieveSourceConfig", "ragSourceIdentifier"),
            _dig(rag_source, "retrieveAndGenerateSourceConfig", "ragSourceIdentifier"),
        ]
        return next((value for value in candidates if isinstance(value, str) and value), None)

    @property
    def dataset_name(self) -> str | None:
        """``datasetMetricConfigs[0].dataset.name`` when the suite gives one."""
        name = _dig(self._dataset_metric_config, "dataset", "name")
        return name if isinstance(name, str) and name else None

    # -- built-in and custom datasets (evalpipe.suite.datasets) ----------------------------

    @property
    def names_only_builtin_datasets(self) -> bool:
        """Every ``datasetMetricConfigs`` entry names a built-in dataset (``Builtin.*``): the suite
        has nothing to drop and runs on its schedule or ``evalpipe run --suite S``."""
        return names_only_builtin_datasets({"evaluationConfig": self.evaluation_config})

    @property
    def builtin_dataset_names(self) -> list[str]:
        """``dataset.name`` of the built-in entries, in order (``["Builtin.BoolQ", ...]``)."""
        return builtin_dataset_names({"evaluationConfig": self.evaluation_config})

    @property
    def custom_dataset_index(self) -> int | None:
        """Position of the one entry the dropped dataset fills, or None (built-in datasets only)."""
        custom = custom_entries({"evaluationConfig": self.evaluation_config})
        return custom[0].index if custom else None

    def job_description(self) -> str:
        """``jobDescription``: ``pipeline.description`` on one line, else a default naming the suite."""
        # The API pattern is `.+`: a line break would be rejected at submit time.
        description = " ".join((self.pipeline.description or "").split())
        return description or f"evalpipe run of suite {self.name}"


def normalize_metric_names(evaluation_config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rename the guide's ``metricName`` to the API's ``name`` in every custom metric definition.

    Parameters
    ----------
    evaluation_config
        An ``evaluationConfig`` object; it is not modified.

    Returns
    -------
    tuple[dict, list[str]]
        A copy with ``name`` in place of ``metricName`` (same key position), and the path of
        each definition that was renamed.

    Raises
    ------
    ValueError
        When a definition carries both keys with different values.
    """
    metrics = _dig(evaluation_config, "automated", "customMetricConfig", "customMetrics")
    if not isinstance(metrics, list) or not any(
        isinstance(_dig(metric, "customMetricDefinition"), dict)
        and GUIDE_METRIC_NAME_KEY in metric["customMetricDefinition"]
        for metric in metrics
    ):
        return evaluation_config, []
    config = copy.deepcopy(evaluation_config)
    renamed = []
    for index, metric in enumerate(config["automated"]["customMetricConfig"]["customMetrics"]):
        definition = _dig(metric, "customMetricDefinition")
        if not isinstance(definition, dict) or GUIDE_METRIC_NAME_KEY not in definition:
            continue
        path = f"evaluationConfig.automated.customMetricConfig.customMetrics[{index}].customMetricDefinition"
        guide_name = definition[GUIDE_METRIC_NAME_KEY]
        if API_METRIC_NAME_KEY in definition and definition[API_METRIC_NAME_KEY] != guide_name:
            raise ValueError(
                f"{path}: both 'name' ({definition[API_METRIC_NAME_KEY]!r}) and 'metricName' "
                f"({guide_name!r}) are given; keep 'name'"
            )
        if API_METRIC_NAME_KEY in definition:  # the same name twice: keep the API's key
            del definition[GUIDE_METRIC_NAME_KEY]
        else:
            metric["customMetricDefinition"] = {
                (API_METRIC_NAME_KEY if key == GUIDE_METRIC_NAME_KEY else key): value
                for key, value in definition.items()
            }
        renamed.append(path)
    return config, renamed


def _dig(value: Any, *path: str | int) -> Any:
    """``value[p0][p1]...`` or ``None`` when a step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
    return value
