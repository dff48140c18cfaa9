"""Human evaluation jobs in the emulator: FAKE, deterministic "worker" ratings, no people involved.

A real human job waits for a SageMaker Ground Truth work team for days. The emulator completes
it after the configured job delay (``controls.set_delays(job_seconds=...)``, like every job) and
writes ratings computed offline from a hash of the job name, the record and the metric, so a run
is reproducible. Every score entry says it is fake (``"workerId": "offline-emulator-worker"``
and a ``note``). The output layout is the human one: no ``models/`` or ``taskTypes/`` level::

    <prefix>/<job>/<job>/amazon-bedrock-evaluations-permission-check          (empty)
    <prefix>/<job>/<job>/<run-id>/datasets/<dataset>/<uuid>_output.jsonl

One line per input record (the shape evalpipe.results.human reads; the service's own format
is not documented publicly)::

    {"humanEvaluationResult": {"scores": [{"metricName": ..., "ratingMethod": ..., "result": ...,
      "workerRatings": [{"workerId": "offline-emulator-worker", "rating": ...}], "note": ...}]},
     "inputRecord": <the input line, unchanged>}

Ratings: ThumbsUpDown -> "ThumbsUp" / "ThumbsDown"; IndividualLikertScale -> 1..5;
ComparisonChoice -> one of the two model identifiers; ComparisonLikertScale -> 1..5 (1 = first
model much better); ComparisonRank -> the identifiers in a ranked order.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

FAKE_WORKER = "offline-emulator-worker"
FAKE_NOTE = "fake rating written by the evalpipe local emulator; no human rated this record"


def fake_rating(job_name: str, index: int, metric: str, method: str, sources: list[str]) -> Any:
    """The deterministic fake rating of one record and metric."""
    digest = hashlib.sha256(f"{job_name}|{index}|{metric}".encode()).digest()
    pick = digest[0]
    if method == "ThumbsUpDown":
        return "ThumbsUp" if pick % 4 else "ThumbsDown"  # three thumbs up in four
    if method in ("IndividualLikertScale", "ComparisonLikertScale"):
        return 2 + pick % 4  # 2..5
    if method == "ComparisonChoice":
        return sources[pick % len(sources)] if sources else None
    if method == "ComparisonRank":
        return sources if pick % 2 or len(sources) < 2 else list(reversed(sources))
    return None


def human_output_line(
    job_name: str, index: int, record: dict, metrics: list[dict], sources: list[str]
) -> dict:
    scores = []
    for metric in metrics:
        name, method = metric.get("name", ""), metric.get("ratingMethod", "")
        rating = fake_rating(job_name, index, name, method, sources)
        scores.append(
            {
                "metricName": name,
                "ratingMethod": method,
                "result": rating,
                "workerRatings": [{"workerId": FAKE_WORKER, "rating": rating}],
                "note": FAKE_NOTE,
            }
        )
    return {"humanEvaluationResult": {"scores": scores}, "inputRecord": record}


class HumanDatasetError(Exception):
    """A dataset line the (fake) work team could not read; the job ends Failed."""


def human_outputs(
    read_text: Callable[[str, str], str], job_name: str, request: dict[str, Any], base: str, run_id: str
) -> list[tuple[str, bytes]]:
    """The output objects of a human job; ``read_text(name, s3_uri)`` reads a dataset."""
    human = request["evaluationConfig"]["human"]
    metrics = [m for m in human.get("customMetrics") or [] if isinstance(m, dict)]
    sources = [
        model.get("precomputedInferenceSource", {}).get("inferenceSourceIdentifier")
        or model.get("bedrockModel", {}).get("modelIdentifier", "")
        for model in request["inferenceConfig"].get("models") or []
    ]
    outputs = []
    for config in human["datasetMetricConfigs"]:
        dataset = config["dataset"]
        text = read_text(dataset["name"], dataset["datasetLocation"]["s3Uri"])
        listed = set(config.get("metricNames") or [])
        rated = [m for m in metrics if m.get("name") in listed]
        lines = []
        for index, line in enumerate(part for part in text.splitlines() if part.strip()):
            try:
                record = json.loads(line)
            except ValueError as error:
                raise HumanDatasetError(
                    f"The dataset {dataset['name']} has a malformed JSON line."
                ) from error
            lines.append(human_output_line(job_name, index, record, rated, sources))
        body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        outputs.append((f"{base}/{run_id}/datasets/{dataset['name']}/{uuid.uuid4()}_output.jsonl", body))
    return outputs
