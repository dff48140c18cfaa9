"""The suite file: what to grade (the CreateEvaluationJob members) and how to judge the run.

A suite lives at ``suites/<suite>.json``. Its ``applicationType``, ``evaluationConfig`` and
``inferenceConfig`` are the ``CreateEvaluationJob`` request members, kept as plain objects so
the practitioner's guide's ``eval-config.json`` can be pasted in; their rules are checked by
``evalpipe.validation``. ``pipeline`` holds this product's own settings and is fully typed.
See docs/suite-file.md.

The models live in focused modules and every public name is re-exported here, so
``from evalpipe.suite import Suite`` is the import to use (each name is imported from its module on
first use): ``document`` (`SuiteDocument`, `Suite`,
`normalize_metric_names`), ``pipeline`` (the ``pipeline`` section: tags, notification, schedule,
polling), ``low_score`` (low-score rules), ``regression`` (regression limits), ``errors``
(`SuiteError`) and ``keys`` (the ``Builtin.`` prefix and the metric-name pattern they share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe._lazy import lazy_exports

if TYPE_CHECKING:
    from evalpipe.suite.document import (
        API_METRIC_NAME_KEY,
        API_REFERENCE,
        GUIDE_METRIC_NAME_KEY,
        Suite,
        SuiteDocument,
        normalize_metric_names,
    )
    from evalpipe.suite.errors import SuiteError
    from evalpipe.suite.keys import BUILTIN_PREFIX
    from evalpipe.suite.low_score import LowScoreRule, LowScoreSettings
    from evalpipe.suite.pipeline import RUN_ID_TAG_KEY, SUITE_TAG_KEY
    from evalpipe.suite.regression import RegressionSettings

# Each name is imported from its module on first use (PEP 562): the run model needs one constant
# of ``regression``, and a step that never reads the suite document (poll, stop) must not pay for
# the whole suite model and the collect targets it names at its cold start.
_MODULES = {
    "API_METRIC_NAME_KEY": "document",
    "API_REFERENCE": "document",
    "GUIDE_METRIC_NAME_KEY": "document",
    "Suite": "document",
    "SuiteDocument": "document",
    "normalize_metric_names": "document",
    "SuiteError": "errors",
    "BUILTIN_PREFIX": "keys",
    "LowScoreRule": "low_score",
    "LowScoreSettings": "low_score",
    "RUN_ID_TAG_KEY": "pipeline",
    "SUITE_TAG_KEY": "pipeline",
    "RegressionSettings": "regression",
}


__getattr__ = lazy_exports(__name__, _MODULES)

__all__ = [
    "API_METRIC_NAME_KEY",
    "API_REFERENCE",
    "BUILTIN_PREFIX",
    "GUIDE_METRIC_NAME_KEY",
    "RUN_ID_TAG_KEY",
    "SUITE_TAG_KEY",
    "LowScoreRule",
    "LowScoreSettings",
    "RegressionSettings",
    "Suite",
    "SuiteDocument",
    "SuiteError",
    "normalize_metric_names",
]
