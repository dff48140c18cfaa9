"""Inputs for the validation tests, independent of examples/: a minimal valid suite and lines
(built with tests/builders.py)."""

from __future__ import annotations

from typing import Any

from tests.builders import JUDGE, SOURCE, custom_metric, judge_suite, line

OTHER_JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"
APP = SOURCE
SUITE_FILE = "suites/demo.json"
DATASET_FILE = "datasets/demo/nightly.jsonl"
AUTOMATED = ("evaluationConfig", "automated")
CONFIG = (*AUTOMATED, "datasetMetricConfigs", 0)
CUSTOM = (*AUTOMATED, "customMetricConfig", "customMetrics", 0, "customMetricDefinition")

INSTRUCTIONS = (
    "You are evaluating an assistant. It must ask for confirmation "
    "before acting.\n\n- Poor: acts without asking\n- Good: asks first\n\n"
    "Prompt: {{prompt}}\nResponse: {{prediction}}"
)
PIPELINE: dict[str, Any] = {
    "description": "Support assistant, nightly grading",
    "jobTags": {"team": "support"},
    "lowScore": {
        "builtin": {"below": 0.5},
        "custom": {"atOrBelow": 0},
        "metrics": {"Builtin.Correctness": {"below": 0.7}},
    },
    "notification": {"maxLowRecords": 10},
}


def make_suite(**changes: Any) -> dict[str, Any]:
    """A fresh minimal valid suite (precomputed responses, judge + custom metric); keyword
    arguments are `tests.builders.judge_suite`'s, e.g. ``metrics=[...], custom=()``."""
    suite: dict[str, Any] = {
        "schema": "../../schema/suite.schema.json",
        "judge": JUDGE,
        "dataset": "nightly",
        "metrics": ("Builtin.Correctness", "Builtin.Helpfulness", "confirmation_check"),
        "custom": (custom_metric(instructions=INSTRUCTIONS),),
        "source": APP,
        "pipeline": PIPELINE,
    }
    return judge_suite(**{**suite, **changes})


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
    record = line(
        "Where is my order?",
        "Ask for the order number.",
        "Could you give me your order number?",
        source=APP,
        category="orders",
    )
    record.update(fields)
    return record


def response(text: str = "Sure.", identifier: Any = APP) -> list[dict[str, Any]]:
    """A one-entry ``modelResponses`` value."""
    return [{"response": text, "modelIdentifier": identifier}]


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
