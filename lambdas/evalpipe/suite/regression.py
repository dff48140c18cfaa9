"""Regression limits (``pipeline.regression``; docs/suite-file.md, "Regressions"): how far a metric's
average may drop from the baseline run's before the run is REGRESSED, the built-in defaults, and
how a limit is inherited (a metric's entry <- ``default`` <- the built-in default).
`evalpipe.history.compare` applies them; they are a module of their own because the comparison
needs them and nothing else of the ``pipeline`` section.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from evalpipe.run.triggers import JOB_NAME_PATTERN
from evalpipe.suite.keys import BUILTIN_PREFIX, METRIC_NAME_PATTERN, _check_keys

# Regression defaults (docs/suite-file.md, "Regressions"): with fewer than 10 scored records one
# record flipping between 0 and 1 moves the average by more than 0.1, so the absolute limit would
# fire on a single record; at 10 records and an average >= 0.5 one flip stays within both limits.
DEFAULT_MAX_ABSOLUTE_DROP = 0.1
DEFAULT_MAX_RELATIVE_DROP = 0.2
DEFAULT_MIN_SCORED_RECORDS = 10
# Bootstrap method (docs/suite-file.md, "Regressions"): a drop must exceed this much, on a 0..1
# scale, with the whole 95% interval, before it counts. 0.05 is a fifth of one step of Bedrock's
# 5-point judge scales (0, 0.25, ... 1): one record in five losing a step. Smaller changes are within
# what re-running the same judge on the same answers moves an average of a few dozen records.
DEFAULT_TOLERANCE = 0.05
# Fewer records scored in both runs than this: the interval comes from the two runs' scores unpaired
# (a percentile bootstrap of fewer pairs is too narrow to trust).
DEFAULT_MIN_PAIRS = 10


class RegressionMethod(StrEnum):
    """How a metric's drop is judged (``pipeline.regression.method``)."""

    BOOTSTRAP = "bootstrap"  # the interval of the paired change must clear the tolerance
    THRESHOLD = "threshold"  # the averages' drop against maxAbsoluteDrop / maxRelativeDrop


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

    model_config = ConfigDict(
        populate_by_name=True, extra="forbid", json_schema_extra=_limits_schema, defer_build=True
    )

    max_absolute_drop: float | None = Field(default=None, ge=0, allow_inf_nan=False, alias="maxAbsoluteDrop")
    max_relative_drop: float | None = Field(default=None, ge=0, allow_inf_nan=False, alias="maxRelativeDrop")
    tolerance: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description=(
            f"method bootstrap: the smallest drop that matters (default {DEFAULT_TOLERANCE}, on a 0..1 "
            "scale; a percentage built-in inherits it times 100). The metric regresses when the whole 95% "
            "interval of its change lies below -tolerance."
        ),
    )

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

    model_config = ConfigDict(populate_by_name=True, extra="forbid", defer_build=True)

    method: RegressionMethod = Field(
        default=RegressionMethod.BOOTSTRAP,
        description=(
            "bootstrap (default): a metric regresses when the whole 95% bootstrap interval of its "
            "change, paired by record, lies below -tolerance; a drop whose interval reaches past the "
            "tolerance but not wholly is a warning (possible regression). threshold: the change of "
            "the averages against maxAbsoluteDrop / maxRelativeDrop, which calls judge noise a "
            "regression on small datasets."
        ),
    )
    min_pairs: int = Field(
        default=DEFAULT_MIN_PAIRS,
        ge=2,
        alias="minPairs",
        description=(
            "method bootstrap: with fewer records scored in both runs, the interval compares the two "
            "runs' scores unpaired (and says so)."
        ),
    )
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
                "tolerance": DEFAULT_TOLERANCE,
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

    def tolerance_for(self, metric: str) -> tuple[float, bool]:
        """``(tolerance, own)`` of ``metric``: from ``metrics[metric]`` (either spelling of a
        built-in; ``own`` is True: it is in the metric's units), else ``default``, else 0.05."""
        specific = self._specific(metric)
        if specific is not None and specific.tolerance is not None:
            return specific.tolerance, True
        if self.default_limits.tolerance is not None:
            return self.default_limits.tolerance, False
        return DEFAULT_TOLERANCE, False

    def _specific(self, metric: str) -> RegressionLimits | None:
        twin = (
            metric.removeprefix(BUILTIN_PREFIX)
            if metric.startswith(BUILTIN_PREFIX)
            else BUILTIN_PREFIX + metric
        )
        return self.metrics.get(metric) or self.metrics.get(twin)

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
        specific = self._specific(metric)
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
