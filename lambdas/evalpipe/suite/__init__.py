"""The suite file: what to grade (the CreateEvaluationJob members) and how to judge the run.

A suite lives at ``suites/<suite>.json``. Its ``applicationType``, ``evaluationConfig`` and
``inferenceConfig`` are the ``CreateEvaluationJob`` request members, kept as plain objects so
the practitioner's guide's ``eval-config.json`` can be pasted in; their rules are checked by
``evalpipe.validation``. ``pipeline`` holds this product's own settings and is fully typed.
See docs/suite-file.md.

The models live in focused modules and every public name is re-exported here, so
``from evalpipe.suite import Suite`` is the import to use: ``document`` (`SuiteDocument`, `Suite`,
`normalize_metric_names`), ``pipeline`` (the ``pipeline`` section: tags, notification, schedule,
polling), ``low_score`` (low-score rules), ``regression`` (regression limits), ``errors``
(`SuiteError`) and ``keys`` (the ``Builtin.`` prefix and the metric-name pattern they share).
"""

from evalpipe.suite.document import (
    API_METRIC_NAME_KEY,
    API_REFERENCE,
    GUIDE_METRIC_NAME_KEY,
    Suite,
    SuiteDocument,
    normalize_metric_names,
)
from evalpipe.suite.errors import SuiteError
from evalpipe.suite.keys import BUILTIN_PREFIX, METRIC_NAME_PATTERN
from evalpipe.suite.low_score import DETECTOR_DEFAULT_RULE, RULE_OPERATORS, LowScoreRule, LowScoreSettings
from evalpipe.suite.pipeline import (
    AWS_TAG_PREFIX,
    MAX_FLEXIBLE_WINDOW_MINUTES,
    MAX_POLL_INTERVAL_SECONDS,
    MAX_SUITE_TAGS,
    MAX_TIMEOUT_SECONDS,
    RESERVED_TAG_KEY_PATTERN,
    RUN_ID_TAG_KEY,
    SUITE_TAG_KEY,
    TAG_KEY_PATTERN,
    NotificationSettings,
    PipelineSettings,
    PollingSettings,
    ScheduleSettings,
)
from evalpipe.suite.regression import (
    DEFAULT_MAX_ABSOLUTE_DROP,
    DEFAULT_MAX_RELATIVE_DROP,
    DEFAULT_MIN_SCORED_RECORDS,
    RegressionLimits,
    RegressionSettings,
)

__all__ = [
    "API_METRIC_NAME_KEY",
    "API_REFERENCE",
    "AWS_TAG_PREFIX",
    "BUILTIN_PREFIX",
    "DEFAULT_MAX_ABSOLUTE_DROP",
    "DEFAULT_MAX_RELATIVE_DROP",
    "DEFAULT_MIN_SCORED_RECORDS",
    "DETECTOR_DEFAULT_RULE",
    "GUIDE_METRIC_NAME_KEY",
    "MAX_FLEXIBLE_WINDOW_MINUTES",
    "MAX_POLL_INTERVAL_SECONDS",
    "MAX_SUITE_TAGS",
    "MAX_TIMEOUT_SECONDS",
    "METRIC_NAME_PATTERN",
    "RESERVED_TAG_KEY_PATTERN",
    "RULE_OPERATORS",
    "RUN_ID_TAG_KEY",
    "SUITE_TAG_KEY",
    "TAG_KEY_PATTERN",
    "LowScoreRule",
    "LowScoreSettings",
    "NotificationSettings",
    "PipelineSettings",
    "PollingSettings",
    "RegressionLimits",
    "RegressionSettings",
    "ScheduleSettings",
    "Suite",
    "SuiteDocument",
    "SuiteError",
    "normalize_metric_names",
]
