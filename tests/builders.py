"""The inputs every test layer builds by hand: a judge suite document and dataset lines.

One parameterised builder per shape, so a test names only what differs from the default::

    judge_suite(metrics=["Builtin.Correctness"], custom=(), pipeline={"jobTags": {"team": "a"}})
    jsonl([line("Where is my order?", "", "It ships tomorrow.", category="orders")])

Keys come out in the order a suite file or dataset line is written in (and the tests' earlier
literals were), so a document built here serialises byte for byte as the literal it replaced.
A test that needs a deliberately different shape (built-in datasets, a knowledge base, a human
job) keeps its own literal and says why.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from typing import Any

JUDGE = "amazon.nova-pro-v1:0"
SOURCE = "my-app-v1"
HELPFULNESS = "Builtin.Helpfulness"
CORRECTNESS = "Builtin.Correctness"
CONFIRMATION = "confirmation_check"

ASKS_FIRST = "Does the assistant ask before acting?\n\nPrompt: {{prompt}}\nResponse: {{prediction}}"
NA_POOR_GOOD: tuple[tuple[str, float], ...] = (("N/A", -1), ("Poor", 0), ("Good", 1))
POOR_GOOD: tuple[tuple[str, float], ...] = (("Poor", 0), ("Good", 1))


def custom_metric(
    name: str = CONFIRMATION,
    instructions: str = ASKS_FIRST,
    rating_scale: Sequence[tuple[str, float]] = NA_POOR_GOOD,
    *,
    name_key: str = "name",
) -> dict[str, Any]:
    """A ``customMetricDefinition``; ``name_key="metricName"`` spells it as the practitioner's guide."""
    return {
        name_key: name,
        "instructions": instructions,
        "ratingScale": [
            {"definition": label, "value": {"floatValue": value}} for label, value in rating_scale
        ],
    }


CONFIRMATION_METRIC = custom_metric()


def _evaluator(judge: str) -> dict[str, Any]:
    return {"bedrockEvaluatorModels": [{"modelIdentifier": judge}]}


def judge_suite(
    *,
    judge: str = JUDGE,
    metrics: Sequence[str] = (HELPFULNESS, CORRECTNESS, CONFIRMATION),
    custom: Sequence[dict[str, Any]] = (CONFIRMATION_METRIC,),
    source: str = SOURCE,
    dataset: str | None = "smoke",
    dataset_location: str | None = None,
    pipeline: dict[str, Any] | None = None,
    schema: str | None = None,
    application_type: str | None = "ModelEvaluation",
) -> dict[str, Any]:
    """A suite file grading precomputed responses of ``source`` with an LLM judge.

    Parameters
    ----------
    judge
        The evaluator model of the built-in and of the custom metrics.
    metrics
        ``metricNames`` of the one ``datasetMetricConfigs`` entry (taskType ``General``).
    custom
        The ``customMetricDefinition``s (see `custom_metric`); empty: no ``customMetricConfig``.
    source
        The ``inferenceSourceIdentifier`` the dataset's responses carry.
    dataset, dataset_location
        The entry's ``dataset.name`` (None: no ``dataset`` member) and ``datasetLocation.s3Uri``.
    pipeline
        The ``pipeline`` block (None: none).
    schema, application_type
        ``$schema`` and ``applicationType`` (None: left out).
    """
    entry: dict[str, Any] = {"taskType": "General"}
    if dataset is not None:
        entry["dataset"] = {"name": dataset}
        if dataset_location is not None:
            entry["dataset"]["datasetLocation"] = {"s3Uri": dataset_location}
    entry["metricNames"] = list(metrics)
    automated: dict[str, Any] = {"datasetMetricConfigs": [entry], "evaluatorModelConfig": _evaluator(judge)}
    if custom:
        automated["customMetricConfig"] = {
            "customMetrics": [{"customMetricDefinition": copy.deepcopy(definition)} for definition in custom],
            "evaluatorModelConfig": _evaluator(judge),
        }
    document: dict[str, Any] = {}
    if schema is not None:
        document["$schema"] = schema
    if application_type is not None:
        document["applicationType"] = application_type
    document["evaluationConfig"] = {"automated": automated}
    document["inferenceConfig"] = {
        "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": source}}]
    }
    if pipeline is not None:
        document["pipeline"] = copy.deepcopy(pipeline)
    return document


def line(
    prompt: str,
    reference: str | None = None,
    response: str | None = None,
    *,
    source: str = SOURCE,
    category: str | None = None,
) -> dict[str, Any]:
    """A dataset record: the prompt, then each member that is not None (``response`` of ``source``)."""
    record: dict[str, Any] = {"prompt": prompt}
    if reference is not None:
        record["referenceResponse"] = reference
    if category is not None:
        record["category"] = category
    if response is not None:
        record["modelResponses"] = [{"response": response, "modelIdentifier": source}]
    return record


def jsonl(records: Iterable[Any]) -> bytes:
    """Records as JSONL bytes: one ``json.dumps`` line each, with a trailing newline."""
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)
