"""Inputs for the validation tests, independent of examples/: a minimal valid suite and lines."""

from __future__ import annotations

import copy
import json
from typing import Any

JUDGE = "amazon.nova-pro-v1:0"
OTHER_JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"
APP = "my-app-v1"
SUITE_FILE = "suites/demo.json"
DATASET_FILE = "datasets/demo/nightly.jsonl"
AUTOMATED = ("evaluationConfig", "automated")
CONFIG = (*AUTOMATED, "datasetMetricConfigs", 0)
CUSTOM = (*AUTOMATED, "customMetricConfig", "customMetrics", 0, "customMetricDefinition")

_SUITE: dict[str, Any] = {
    "$schema": "../../schema/suite.schema.json",
    "applicationType": "ModelEvaluation",
    "evaluationConfig": {
        "automated": {
            "datasetMetricConfigs": [
                {
                    "taskType": "General",
                    "dataset": {"name": "nightly"},
                    "metricNames": ["Builtin.Correctness", "Builtin.Helpfulness", "confirmation_check"],
                }
            ],
            "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            "customMetricConfig": {
                "customMetrics": [
                    {
                        "customMetricDefinition": {
                            "name": "confirmation_check",
                            "instructions": (
                                "You are evaluating an assistant. It must ask for confirmation "
                                "before acting.\n\n- Poor: acts without asking\n- Good: asks first\n\n"
                                "Prompt: {{prompt}}\nResponse: {{prediction}}"
                            ),
                            "ratingScale": [
                                {"definition": "N/A", "value": {"floatValue": -1}},
                                {"definition": "Poor", "value": {"floatValue": 0}},
                                {"definition": "Good", "value": {"floatValue": 1}},
                            ],
                        }
                    }
                ],
                "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
            },
        }
    },
    "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": APP}}]},
    "pipeline": {
        "description": "Support assistant, nightly grading",
        "jobTags": {"team": "support"},
        "lowScore": {
            "builtin": {"below": 0.5},
            "custom": {"atOrBelow": 0},
            "metrics": {"Builtin.Correctness": {"below": 0.7}},
        },
        "notification": {"maxLowRecords": 10},
    },
}


def make_suite() -> dict[str, Any]:
    """A fresh copy of a minimal valid suite (precomputed responses, judge + custom metric)."""
    return copy.deepcopy(_SUITE)


def at(document: Any, *keys: str | int) -> Any:
    """``document[k1][k2]...``."""
    for key in keys:
        document = document[key]
    return document


def put(document: Any, keys: tuple[str | int, ...], value: Any) -> None:
    """Set ``document[k1]...[kn] = value``."""
    at(document, *keys[:-1])[keys[-1]] = value


def make_line(**fields: Any) -> dict[str, Any]:
    """A valid precomputed-response record; keyword arguments replace top-level fields."""
    record: dict[str, Any] = {
        "prompt": "Where is my order?",
        "referenceResponse": "Ask for the order number.",
        "category": "orders",
        "modelResponses": [{"response": "Could you give me your order number?", "modelIdentifier": APP}],
    }
    record.update(fields)
    return record


def response(text: str = "Sure.", identifier: Any = APP) -> list[dict[str, Any]]:
    """A one-entry ``modelResponses`` value."""
    return [{"response": text, "modelIdentifier": identifier}]


def jsonl(*records: Any) -> bytes:
    """Records as JSONL bytes (one compact line each, trailing newline)."""
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def fields(report: Any) -> list[str | None]:
    """The field of every listed problem."""
    return [problem.field for problem in report.problems]


def only(report: Any, field: str | None = None, *, line: int | None = None) -> Any:
    """The one listed problem (at ``field`` / ``line`` when given); fails if there are others."""
    assert len(report.problems) == 1, [p.render() for p in report.problems]
    problem = report.problems[0]
    if field is not None:
        assert problem.field == field, problem.render()
    if line is not None:
        assert problem.line == line, problem.render()
    return problem
