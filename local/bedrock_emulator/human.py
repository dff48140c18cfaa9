"""Human evaluation jobs in the emulator: FAKE, deterministic "worker" ratings, no people involved.

A real human job waits for a SageMaker Ground Truth work team for days. The emulator completes
it after the configured job delay (``controls.set_delays(job_seconds=...)``, like every job) and
writes ratings computed offline from a hash of the record (its content and line), the metric and
the model, so the same dataset gets the same ratings in every run (golden stored items stay put).
Every human loop says it is fake (``"workerId": "offline-emulator-worker"`` and a ``note``). The
output layout is the documented human one (AWS user guide, model-evaluation-report-s3): no
``models/`` or ``taskTypes/`` level::

    <prefix>/<job>/<job>/amazon-bedrock-evaluations-permission-check          (empty)
    <prefix>/<job>/<job-id>/datasets/<dataset>/<uuid>_output.jsonl

``<job-id>`` is the last segment of the job's ARN. One line per input record, the documented
record shape (per-method entries as the SageMaker page on human evaluation results lists them)::

    {"humanEvaluationResult": [{"flowDefinitionArn": ..., "humanLoopName": ...,
        "humanAnswers": [{"workerId": "offline-emulator-worker", "answerContent":
            {"evaluationResults": {"thumbsUpDown": [{"metricName": ..., "modelResponseId": "0",
                                                     "result": true}], ...}}, ...}],
        "modelResponseIdMap": {"0": <first model>, "1": <second model>},
        "inputContent": {"evaluationMetrics": [...], ...}, "note": ...}],
     "inputRecord": <the input line, unchanged>,
     "modelResponses": <the input line's modelResponses, when it has them>}

Ratings: ThumbsUpDown -> true / false per model (three in four true); IndividualLikertScale ->
2..5 per model; ComparisonChoice -> ``{"modelResponseId": id}`` of one model;
ComparisonLikertScale -> 1..5 with ``leftModelResponseId`` / ``rightModelResponseId``;
ComparisonRank -> ``[{"modelResponseId": id, "rank": r}, ...]``.
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


def fake_rating(record_key: str, index: int, metric: str, method: str, sources: list[str]) -> Any:
    """The deterministic fake rating of one record and metric (of one model: ``sources[0]``)."""
    digest = hashlib.sha256(f"{record_key}|{index}|{metric}|{'|'.join(sources)}".encode()).digest()
    pick = digest[0]
    if method == "ThumbsUpDown":
        return bool(pick % 4)  # three thumbs up in four
    if method in ("IndividualLikertScale", "ComparisonLikertScale"):
        return 2 + pick % 4  # 2..5
    if method == "ComparisonChoice":
        return str(pick % len(sources)) if sources else None
    if method == "ComparisonRank":
        order = (
            list(range(len(sources))) if pick % 2 or len(sources) < 2 else list(reversed(range(len(sources))))
        )
        return [{"modelResponseId": str(i), "rank": rank} for rank, i in enumerate(order, start=1)]
    return None


def _evaluation_results(
    record_key: str, index: int, metrics: list[dict], sources: list[str]
) -> dict[str, list]:
    """``answerContent.evaluationResults``: the rating-method key in camelCase -> its entries."""
    results: dict[str, list] = {}
    for metric in metrics:
        name, method = metric.get("name", ""), metric.get("ratingMethod", "")
        entries = results.setdefault(method[:1].lower() + method[1:], [])
        if method in ("ThumbsUpDown", "IndividualLikertScale"):
            for response_id, source in enumerate(sources or [""]):
                entries.append(
                    {
                        "metricName": name,
                        "modelResponseId": str(response_id),
                        "result": fake_rating(record_key, index, name, method, [source]),
                    }
                )
        elif method == "ComparisonLikertScale":
            entries.append(
                {
                    "metricName": name,
                    "leftModelResponseId": "0",
                    "rightModelResponseId": "1",
                    "result": fake_rating(record_key, index, name, method, sources),
                }
            )
        elif method == "ComparisonChoice":
            chosen = fake_rating(record_key, index, name, method, sources)
            entries.append({"metricName": name, "result": {"modelResponseId": chosen}})
        elif method == "ComparisonRank":
            entries.append(
                {"metricName": name, "result": fake_rating(record_key, index, name, method, sources)}
            )
    return {key: entries for key, entries in results.items() if entries}


def human_output_line(
    job_name: str, index: int, record: dict, metrics: list[dict], sources: list[str]
) -> dict:
    """One output line of the documented human layout (see the module docstring)."""
    loop_name = hashlib.sha256(f"{job_name}|{index}".encode()).hexdigest()[:32]
    loop = {
        "flowDefinitionArn": f"arn:aws:sagemaker:us-east-1:000000000000:flow-definition/{job_name}"[:256],
        "humanAnswers": [
            {
                "answerContent": {
                    "evaluationResults": _evaluation_results(
                        hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest(),
                        index,
                        metrics,
                        sources,
                    )
                },
                "workerId": FAKE_WORKER,
                "timeSpentInSeconds": 0,
            }
        ],
        "humanLoopName": loop_name,
        "inputContent": {
            "evaluationMetrics": [
                {"metricName": m.get("name", ""), "ratingMethod": m.get("ratingMethod", "")} for m in metrics
            ]
        },
        "modelResponseIdMap": {str(i): source for i, source in enumerate(sources)},
        "note": FAKE_NOTE,
    }
    line: dict[str, Any] = {"humanEvaluationResult": [loop], "inputRecord": record}
    if isinstance(record, dict) and isinstance(record.get("modelResponses"), list):
        line["modelResponses"] = record["modelResponses"]
    return line


class HumanDatasetError(Exception):
    """A dataset line the (fake) work team could not read; the job ends Failed."""


def human_outputs(
    read_text: Callable[[str, str], str], job_name: str, request: dict[str, Any], job_base: str
) -> list[tuple[str, bytes]]:
    """The output objects of a human job under ``job_base`` (``<prefix>/<job>/<job-id>``);
    ``read_text(name, s3_uri)`` reads a dataset."""
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
        outputs.append((f"{job_base}/datasets/{dataset['name']}/{uuid.uuid4()}_output.jsonl", body))
    return outputs
