"""The suite file: what to grade (the CreateEvaluationJob members) and how to judge the run.

A suite lives at ``suites/<suite>.json``. Its ``applicationType``, ``evaluationConfig`` and
``inferenceConfig`` are the ``CreateEvaluationJob`` request members, kept as plain objects so
the practitioner's guide's ``eval-config.json`` can be pasted in; their rules are checked by
``evalpipe.validation``. ``pipeline`` holds this product's own settings and is fully typed.
See docs/suite-file.md.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from evalpipe.dataset_configs import (
    SCHEDULE_NEEDS_BUILTIN_DATASETS,
    builtin_dataset_names,
    custom_entries,
    names_only_builtin_datasets,
)
from evalpipe.runs import JOB_NAME_PATTERN, SUITE_NAME_PATTERN
from evalpipe.schedule_expression import EXAMPLES as SCHEDULE_EXAMPLES
from evalpipe.schedule_expression import check_expression, check_timezone
from evalpipe.timing import STATE_MACHINE_TIMEOUT_SECONDS, STOP_MARGIN_SECONDS
from evalpipe.validation.metrics import DEFAULT_LOW_RULES, DETECTORS, default_low_rule

BUILTIN_PREFIX = "Builtin."
GUIDE_METRIC_NAME_KEY = "metricName"
API_METRIC_NAME_KEY = "name"
# The pipeline puts these two tags on every job; the API allows 200 tags in all.
SUITE_TAG_KEY = "evalpipe:suite"
RUN_ID_TAG_KEY = "evalpipe:run-id"
MAX_SUITE_TAGS = 198
AWS_TAG_PREFIX = "aws:"  # reserved by AWS in any letter case
# The reserved keys again, for the JSON Schema (ECMA regex has no case-insensitive flag).
RESERVED_TAG_KEY_PATTERN = "^(evalpipe:suite|evalpipe:run-id)$|^[Aa][Ww][Ss]:"
TAG_KEY_PATTERN = r"^[a-zA-Z0-9\s._:/=+@-]{1,128}$"  # the service model's TagKey
METRIC_NAME_PATTERN = r"^[0-9a-zA-Z._-]{1,63}$"
API_REFERENCE = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateEvaluationJob.html"

# Request members the pipeline fills in: a suite that carries them gets a pointed message.
_PIPELINE_OWNED = {
    "jobName": "is derived from the dataset object by the pipeline; remove it",
    "clientRequestToken": "is derived from the dataset object by the pipeline; remove it",
    "roleArn": "comes from the deployment (the Bedrock service role); remove it",
    "customerEncryptionKeyId": "comes from the deployment (KMS_KEY_ARN); remove it",
    "outputDataConfig": "is set by the pipeline to results/<suite>/<run_id>/; remove it",
    "jobDescription": "use pipeline.description instead",
    "jobTags": "use pipeline.jobTags (a map of key to value) instead",
}


# The keys of a low-score rule: file spelling -> (field name, operator). Exactly one is given.
RULE_OPERATORS = {
    "below": ("below", "<"),
    "atOrBelow": ("at_or_below", "<="),
    "above": ("above", ">"),
    "atOrAbove": ("at_or_above", ">="),
}
# The default rule of the built-in detectors (DETECTORS): a "yes" (1) is flagged. The other
# lower-is-better built-ins (Toxicity, Robustness) have theirs in DEFAULT_LOW_RULES.
DETECTOR_DEFAULT_RULE = {"above": 0.5}
_DETECTORS_TEXT = ", ".join(sorted(DETECTORS))
_OWN_DEFAULTS_TEXT = ", ".join(
    f'{name} {{"{key}": {bound:g}}}'
    for name, rule in sorted(DEFAULT_LOW_RULES.items())
    if name not in DETECTORS
    for key, bound in rule.items()
)


def _low_rule_schema(schema: dict[str, Any]) -> None:
    # Four optional numbers of which exactly one is present; null is not meaningful in a file.
    schema["properties"] = {
        "below": {"type": "number", "description": "A score lower than this is flagged."},
        "atOrBelow": {"type": "number", "description": "A score lower than or equal to this is flagged."},
        "above": {"type": "number", "description": "A score higher than this is flagged."},
        "atOrAbove": {"type": "number", "description": "A score higher than or equal to this is flagged."},
    }
    schema["oneOf"] = [{"required": [key]} for key in RULE_OPERATORS]


def _document_schema(schema: dict[str, Any]) -> None:
    schema["properties"] = {
        "$schema": {
            "type": "string",
            "description": "Path or URL of this schema, for editors; ignored by the pipeline.",
        },
        **schema["properties"],
    }


class SuiteError(ValueError):
    """A suite document that does not have the suite file's shape.

    Parameters
    ----------
    message
        One readable sentence naming the suite and every problem.
    problems
        One entry per problem, each ``"<path>: <what is wrong>"``.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [message])


class LowScoreRule(BaseModel):
    """When a score is flagged ("low"): exactly one of ``below`` (``<``), ``atOrBelow`` (``<=``),
    ``above`` (``>``) or ``atOrAbove`` (``>=``).

    ``below`` / ``atOrBelow`` suit metrics where higher is better; ``above`` / ``atOrAbove``
    suit the detectors where 1 is the bad outcome (``Builtin.Harmfulness`` and the like).

    Examples
    --------
    >>> rule = LowScoreRule(below=0.5)
    >>> rule.is_low(0.4), rule.is_low(0.5), rule.is_low(None), rule.describe()
    (True, False, False, '< 0.5')
    >>> LowScoreRule.model_validate({"atOrBelow": 0}).describe()
    '<= 0'
    >>> detector = LowScoreRule.model_validate({"above": 0.5})
    >>> detector.is_low(1), detector.is_low(0), detector.describe(), detector.badness(1.0)
    (True, False, '> 0.5', 1.0)
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=_low_rule_schema,
    )

    below: float | None = Field(default=None, allow_inf_nan=False)
    at_or_below: float | None = Field(default=None, alias="atOrBelow", allow_inf_nan=False)
    above: float | None = Field(default=None, allow_inf_nan=False)
    at_or_above: float | None = Field(default=None, alias="atOrAbove", allow_inf_nan=False)

    @model_validator(mode="after")
    def _exactly_one(self) -> LowScoreRule:
        given = [key for key, (name, _) in RULE_OPERATORS.items() if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'below', 'atOrBelow', 'above' or 'atOrAbove'")
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_bound(self, handler: Any) -> dict[str, Any]:
        # Dumps (and the schema's defaults) show only the bound in use: {"below": 0.5}.
        return {key: value for key, value in handler(self).items() if value is not None}

    @property
    def _bound(self) -> tuple[str, float]:
        """``(operator, value)`` of the one bound given."""
        for name, operator in RULE_OPERATORS.values():
            value = getattr(self, name)
            if value is not None:
                return operator, float(value)
        raise AssertionError("unreachable: the validator requires one bound")  # pragma: no cover

    @property
    def flags_high_scores(self) -> bool:
        """True for ``above`` / ``atOrAbove`` rules (a high score is the bad one)."""
        return self._bound[0] in (">", ">=")

    def is_low(self, score: float | None) -> bool:
        """Whether the rule flags ``score`` (the name predates ``above`` rules: "low" = flagged).

        Parameters
        ----------
        score
            A metric score (float, int or Decimal); ``None`` is N/A.

        Returns
        -------
        bool
            ``False`` for N/A: a metric the judge found not applicable is never flagged.
        """
        if score is None:
            return False
        operator, bound = self._bound
        value = float(score)
        match operator:
            case "<":
                return value < bound
            case "<=":
                return value <= bound
            case ">":
                return value > bound
            case _:
                return value >= bound

    def badness(self, score: float) -> float:
        """How bad a flagged ``score`` is, to list flagged scores worst first (larger = worse).

        ``-score`` for ``below`` / ``atOrBelow`` rules (the lower, the worse) and ``+score`` for
        ``above`` / ``atOrAbove`` rules (the higher, the worse). Scores of different metrics
        compare on this scale too, so a detector's 1 ranks before a 0 of a higher-is-better
        metric.

        Parameters
        ----------
        score
            A metric score (float, int or Decimal); never N/A (N/A is never flagged).
        """
        value = float(score)
        return value if self.flags_high_scores else -value

    def describe(self) -> str:
        """The rule as notifications print it: ``"< 0.5"``, ``"<= 0"``, ``"> 0.5"``, ``">= 1"``."""
        operator, bound = self._bound
        return f"{operator} {_number(bound)}"


class LowScoreSettings(BaseModel):
    """Low-score rules: one for built-in metrics, one for custom metrics, per-metric overrides.

    The lower-is-better built-ins (``evalpipe.validation.metrics.LOWER_IS_BETTER``: the detectors
    Harmfulness, Stereotyping, Refusal, where 1 = the bad outcome, and the classic Toxicity and
    Robustness) do not take the ``builtin`` rule, which is written for metrics where higher is
    better: they default to their own rule (``DEFAULT_LOW_RULES``: ``{"above": 0.5}``, Robustness,
    a percentage, ``{"above": 20}``) and only a ``metrics`` entry changes that. See
    :meth:`rule_for` for the full precedence.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    builtin: LowScoreRule = Field(
        default_factory=lambda: LowScoreRule(below=0.5),
        description=(
            f"Rule for every built-in (Builtin.*) metric except the detectors {_DETECTORS_TEXT} "
            '(1 = the bad outcome), which default to {"above": 0.5}, and the lower-is-better classic '
            f"metrics ({_OWN_DEFAULTS_TEXT}); change theirs under metrics."
        ),
        json_schema_extra={"default": {"below": 0.5}},
    )
    custom: LowScoreRule = Field(
        default_factory=lambda: LowScoreRule(at_or_below=0),
        description="Rule for every custom metric.",
        json_schema_extra={"default": {"atOrBelow": 0}},
    )
    metrics: dict[str, LowScoreRule] = Field(
        default_factory=dict,
        description=(
            "Per-metric rules keyed by metric name; they override builtin/custom and the detectors' default."
        ),
        json_schema_extra={"propertyNames": {"pattern": METRIC_NAME_PATTERN}},
    )

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, LowScoreRule]) -> dict[str, LowScoreRule]:
        _check_keys(value, METRIC_NAME_PATTERN, "metric name")
        return value

    def rule_for(self, metric: str, *, builtin: bool) -> LowScoreRule:
        """The rule of ``metric``, most specific first.

        1. ``metrics[metric]``;
        2. a custom metric: ``custom``;
        3. a built-in: ``metrics`` under its other spelling (with or without ``Builtin.``, as
           classic outputs drop the prefix);
        4. a lower-is-better built-in (:data:`~evalpipe.validation.metrics.LOWER_IS_BETTER`):
           its default (``{"above": 0.5}``; Robustness, a percentage: ``{"above": 20}``);
        5. any other built-in: ``builtin``.

        Parameters
        ----------
        metric
            A metric name as the suite or an output file spells it.
        builtin
            Whether ``metric`` is built in (see :meth:`Suite.is_builtin`).

        Examples
        --------
        >>> settings = LowScoreSettings()
        >>> settings.rule_for("Builtin.Harmfulness", builtin=True).describe()
        '> 0.5'
        >>> settings.rule_for("Refusal", builtin=True).describe()
        '> 0.5'
        >>> settings.rule_for("Builtin.Helpfulness", builtin=True).describe()
        '< 0.5'
        >>> settings.rule_for("Robustness", builtin=True).describe()
        '> 20'
        """
        if metric in self.metrics:
            return self.metrics[metric]
        if not builtin:
            return self.custom
        if metric.startswith(BUILTIN_PREFIX):
            twin = metric.removeprefix(BUILTIN_PREFIX)
        else:
            twin = BUILTIN_PREFIX + metric
        if twin in self.metrics:
            return self.metrics[twin]
        default = default_low_rule(metric)
        if default is not None:
            return LowScoreRule.model_validate(default)
        return self.builtin


class NotificationSettings(BaseModel):
    """What a notification lists."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    max_low_records: int = Field(
        default=10,
        ge=0,
        le=50,
        alias="maxLowRecords",
        description="How many flagged (low) scores a notification lists, worst first.",
    )


# Regression defaults (docs/suite-file.md, "Regressions"): with fewer than 10 scored records one
# record flipping between 0 and 1 moves the average by more than 0.1, so the absolute limit would
# fire on a single record; at 10 records and an average >= 0.5 one flip stays within both limits.
DEFAULT_MAX_ABSOLUTE_DROP = 0.1
DEFAULT_MAX_RELATIVE_DROP = 0.2
DEFAULT_MIN_SCORED_RECORDS = 10


def _limits_schema(schema: dict[str, Any]) -> None:
    # The model's None means "not given here" (inherit); an explicit null turns the check off.
    what = {
        "maxAbsoluteDrop": "Largest allowed drop of the average (baseline average - this run's)",
        "maxRelativeDrop": "Largest allowed drop of the average relative to the baseline's (0.2 = 20%)",
    }
    for key, text in what.items():
        prop = schema["properties"][key]
        prop.pop("default", None)
        prop["description"] = (
            f"{text}; a larger drop is a regression (for lower-is-better metrics a drop is an "
            "increase). null turns this check off; left out, it is inherited (metrics entry <- "
            "default <- the built-in default)."
        )


class RegressionLimits(BaseModel):
    """How far a metric's average may drop from the baseline's before the run is REGRESSED.

    A key left out is inherited (``metrics`` entry <- ``default`` <- the built-in default);
    ``null`` turns that check off. For lower-is-better metrics a "drop" is an increase.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", json_schema_extra=_limits_schema)

    max_absolute_drop: float | None = Field(default=None, ge=0, allow_inf_nan=False, alias="maxAbsoluteDrop")
    max_relative_drop: float | None = Field(default=None, ge=0, allow_inf_nan=False, alias="maxRelativeDrop")

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> dict[str, Any]:
        # Dump only what the file gave, so a null (check off) and an absent key (inherit) survive.
        given = {
            name
            for field_name, info in type(self).model_fields.items()
            if field_name in self.model_fields_set
            for name in (field_name, info.alias)
        }
        return {key: value for key, value in handler(self).items() if key in given}


class RegressionSettings(BaseModel):
    """When a run counts as REGRESSED against its baseline run (docs/suite-file.md, "Regressions")."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    baseline_run_id: str | None = Field(
        default=None,
        alias="baselineRunId",
        pattern=JOB_NAME_PATTERN.pattern,
        description=(
            "Compare every run with this run (a COMPLETED run of this suite) instead of the newest "
            "earlier COMPLETED run."
        ),
        json_schema_extra={"default": None},
    )
    min_scored_records: int = Field(
        default=DEFAULT_MIN_SCORED_RECORDS,
        ge=1,
        alias="minScoredRecords",
        description=("A metric with fewer scored (non-N/A) records than this in either run is not compared."),
    )
    default_limits: RegressionLimits = Field(
        default_factory=RegressionLimits,
        alias="default",
        description="Limits for every metric without an entry of its own.",
        json_schema_extra={
            "default": {
                "maxAbsoluteDrop": DEFAULT_MAX_ABSOLUTE_DROP,
                "maxRelativeDrop": DEFAULT_MAX_RELATIVE_DROP,
            }
        },
    )
    metrics: dict[str, RegressionLimits] = Field(
        default_factory=dict,
        description="Per-metric limits keyed by metric name; keys left out come from default.",
        json_schema_extra={"propertyNames": {"pattern": METRIC_NAME_PATTERN}},
    )

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, RegressionLimits]) -> dict[str, RegressionLimits]:
        _check_keys(value, METRIC_NAME_PATTERN, "metric name")
        return value

    def limits_for(self, metric: str) -> tuple[float | None, float | None]:
        """``(max_absolute_drop, max_relative_drop)`` of ``metric``; ``None`` = that check is off.

        Each key comes from the most specific place that gives it: ``metrics[metric]`` (a
        built-in also matches its name with or without ``Builtin.``), then ``default``, then
        the built-in defaults (0.1 and 0.2).

        Examples
        --------
        >>> settings = RegressionSettings.model_validate(
        ...     {"default": {"maxRelativeDrop": None}, "metrics": {"Correctness": {"maxAbsoluteDrop": 0.05}}})
        >>> settings.limits_for("Builtin.Correctness"), settings.limits_for("Builtin.Helpfulness")
        ((0.05, None), (0.1, None))
        """
        layers = [self.default_limits]
        if metric.startswith(BUILTIN_PREFIX):
            twin = metric.removeprefix(BUILTIN_PREFIX)
        else:
            twin = BUILTIN_PREFIX + metric
        specific = self.metrics.get(metric) or self.metrics.get(twin)
        if specific is not None:
            layers.append(specific)
        absolute: float | None = DEFAULT_MAX_ABSOLUTE_DROP
        relative: float | None = DEFAULT_MAX_RELATIVE_DROP
        for layer in layers:
            if "max_absolute_drop" in layer.model_fields_set:
                absolute = layer.max_absolute_drop
            if "max_relative_drop" in layer.model_fields_set:
                relative = layer.max_relative_drop
        return absolute, relative


# EventBridge Scheduler's flexible time window: at most 1440 minutes (FlexibleTimeWindow).
MAX_FLEXIBLE_WINDOW_MINUTES = 1440


class ScheduleSettings(BaseModel):
    """When the suite runs on its own: an EventBridge Scheduler schedule of the deployment.

    Only for suites that name nothing but built-in datasets (there is nothing to drop). The
    SyncSchedules function creates, updates or deletes the schedule ``<suite>`` in the stack's
    schedule group whenever ``suites/<suite>.json`` is uploaded or deleted (docs/suite-file.md).

    Examples
    --------
    >>> ScheduleSettings.model_validate({"expression": "rate(7 days)"}).timezone
    'UTC'
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    expression: str = Field(
        description=(
            "EventBridge Scheduler schedule expression: rate(value unit) with minute(s), hour(s) or "
            "day(s); cron(minutes hours day-of-month month day-of-week year) with '?' in one of the "
            f"two day fields; or at(yyyy-mm-ddThh:mm:ss) for one run. E.g. {SCHEDULE_EXAMPLES}."
        ),
        examples=["rate(7 days)", "cron(0 6 ? * MON *)"],
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone the cron and at expressions are read in (e.g. 'Europe/Paris').",
    )
    enabled: bool = Field(
        default=True,
        strict=True,  # "yes" or 1 is a typo here, not a switch
        description="false keeps the schedule but pauses it (the schedule's State is DISABLED).",
    )
    flexible_window_minutes: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_FLEXIBLE_WINDOW_MINUTES,
        alias="flexibleWindowMinutes",
        description=(
            "Let the scheduler start the run up to this many minutes after the scheduled time "
            "(spreads load); left out, runs start at the scheduled time."
        ),
    )

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        problem = check_expression(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        problem = check_timezone(value)
        if problem:
            raise ValueError(problem)
        return value


# pipeline.polling bounds: a poll interval as the deployment's (pollIntervalSeconds), timeouts that
# fit the state machine's (evalpipe.timing checks them with the deployment's values at validation).
MAX_POLL_INTERVAL_SECONDS = 3_600
MAX_TIMEOUT_SECONDS = STATE_MACHINE_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS


class PollingSettings(BaseModel):
    """This suite's polling schedule and deadlines, overriding the deployment's for its runs.

    Each key left out keeps the deployment's value (``pollIntervalSeconds``, ``jobTimeoutSeconds``,
    ``humanPollMinSeconds``, ``humanPollMaxSeconds``, ``humanJobTimeoutSeconds``). The validate
    step checks the combination against the state machine's 35-day timeout (`evalpipe.timing`).

    Examples
    --------
    >>> PollingSettings.model_validate({"intervalSeconds": 300}).model_dump(by_alias=True, exclude_none=True)
    {'intervalSeconds': 300}
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    interval_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_POLL_INTERVAL_SECONDS,
        alias="intervalSeconds",
        description="Seconds between polls of an automated job (the deployment's pollIntervalSeconds).",
    )
    job_timeout_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=60,
        le=MAX_TIMEOUT_SECONDS,
        alias="jobTimeoutSeconds",
        description="An automated job still running this long after submission is stopped (TIMED_OUT).",
    )
    human_poll_min_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        alias="humanPollMinSeconds",
        description="Shortest wait between polls of a human job.",
    )
    human_poll_max_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        alias="humanPollMaxSeconds",
        description="Longest wait between polls of a human job.",
    )
    human_job_timeout_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=60,
        le=MAX_TIMEOUT_SECONDS,
        alias="humanJobTimeoutSeconds",
        description="A human job still running this long after submission is stopped (TIMED_OUT).",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> PollingSettings:
        low, high = self.human_poll_min_seconds, self.human_poll_max_seconds
        if low is not None and high is not None and low > high:
            raise ValueError(f"humanPollMinSeconds ({low}) must not be above humanPollMaxSeconds ({high})")
        return self

    def overrides(self) -> dict[str, int]:
        """The keys given, in the file's spelling (`evalpipe.timing.Timing.with_overrides`)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class PipelineSettings(BaseModel):
    """The ``pipeline`` section: this product's settings beside the API members."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Sent as jobDescription; default 'evalpipe run of suite <suite>'.",
    )
    job_tags: dict[str, str] = Field(
        default_factory=dict,
        alias="jobTags",
        max_length=MAX_SUITE_TAGS,
        description=(
            "Extra job tags (key -> value). The pipeline adds evalpipe:suite and evalpipe:run-id "
            "itself; keys starting with 'aws:' are reserved by AWS. Values are sanitized to the "
            "API's tag alphabet."
        ),
        json_schema_extra={
            "propertyNames": {"pattern": TAG_KEY_PATTERN, "not": {"pattern": RESERVED_TAG_KEY_PATTERN}}
        },
    )
    low_score: LowScoreSettings = Field(
        default_factory=LowScoreSettings,
        alias="lowScore",
        description=(
            "When a score is flagged (a 'low score'); any flagged score makes the run's verdict LOW_SCORES."
        ),
    )
    notification: NotificationSettings = Field(
        default_factory=NotificationSettings, description="What the run's notification contains."
    )
    regression: RegressionSettings = Field(
        default_factory=RegressionSettings,
        description=(
            "When a run is REGRESSED: how far each metric's average may drop from the baseline run's."
        ),
    )
    polling: PollingSettings = Field(
        default_factory=PollingSettings,
        description=(
            "This suite's polling interval and job timeouts, overriding the deployment's for its runs; "
            "checked against the state machine's 35-day timeout."
        ),
    )
    schedule: ScheduleSettings | None = Field(
        default=None,
        description=(
            "Run the suite on a schedule (EventBridge Scheduler). Only for suites whose "
            "datasetMetricConfigs all name built-in datasets (Builtin.*); such a suite also runs on "
            "`evalpipe run --suite S`."
        ),
    )

    @field_validator("job_tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        _check_keys(value, TAG_KEY_PATTERN, "tag key")
        reserved = sorted(
            key
            for key in value
            if key in (SUITE_TAG_KEY, RUN_ID_TAG_KEY) or key.lower().startswith(AWS_TAG_PREFIX)
        )
        if reserved:
            raise ValueError(
                f"tag keys {reserved} are reserved ({SUITE_TAG_KEY} and {RUN_ID_TAG_KEY} are set by "
                "the pipeline, 'aws:' keys by AWS)"
            )
        return value


class SuiteDocument(BaseModel):
    """The suite file as stored: the JSON Schema in ``schema/`` is generated from this model."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        title="evalpipe suite file",
        json_schema_extra=_document_schema,
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
        if self.pipeline.schedule is not None and not names_only_builtin_datasets(
            {"evaluationConfig": self.evaluation_config}
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

    @property
    def is_human(self) -> bool:
        """A human evaluation job (``evaluationConfig.human``): rated by a work team, for days."""
        config = self.evaluation_config
        return isinstance(config.get("human"), dict) and "automated" not in config

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

    # -- built-in and custom datasets (evalpipe.dataset_configs) ----------------------------

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


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _check_keys(mapping: dict[str, Any], pattern: str, what: str) -> None:
    bad = [key for key in mapping if not re.fullmatch(pattern, key)]
    if bad:
        raise ValueError(f"{what}s {bad} must match {pattern}")


def _describe_error(detail: Any) -> str:
    location = detail["loc"]
    message = str(detail["msg"]).removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        key = str(location[-1])
        hint = _PIPELINE_OWNED.get(key) if len(location) == 1 else None
        message = hint or "unknown key (check the spelling against docs/suite-file.md)"
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (key)"
        else:
            path += f".{part}" if path else str(part)
    return f"{path or '(document)'}: {message}"
