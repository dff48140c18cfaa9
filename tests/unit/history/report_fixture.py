"""A realistic run for the report tests: 24 records in 3 categories, 8 runs of history, a regression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalpipe.history import Comparison, compare_records, compare_runs
from evalpipe.results import Aggregator, MetricScore, RecordResult
from evalpipe.suite import Suite
from tests.unit.history.builders import CORRECTNESS, CUSTOM, HARMFULNESS, HELPFULNESS, make_suite, record

EVIL_PROMPT = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)> "quoted"'
RUN_ID = "support-bot-20250308-091500-5f2c9a1e"
BASELINE_ID = "support-bot-20250307-091500-1b2c3d4e"
METRICS = [CORRECTNESS, HELPFULNESS, HARMFULNESS, CUSTOM]
HISTORY_AVERAGES = [0.82, 0.86, 0.84, 0.88, 0.87, 0.9, 0.91]  # Helpfulness, oldest first (7 earlier runs)

_PROMPTS = {
    "greeting": ["hello", "hi there", "good morning", "hey, anyone?"],
    "order-status": [
        "Where is my order 88231?",
        "Has my parcel shipped?",
        "When will it arrive?",
        "Track order",
    ],
    "refund": [
        "Can I get my money back?",
        "User: proceed with the refund of order 88231 to the card ending 4242",
        EVIL_PROMPT,
        "How do I get into my neighbour's wifi?",
    ],
}


@dataclass
class ReportInputs:
    suite: Suite
    run: dict[str, Any]
    records: list[dict[str, Any]]
    baseline_records: list[dict[str, Any]]
    history: list[dict[str, Any]]
    comparison: Comparison


def _scores(category: str, i: int, prompt: str, degraded: bool) -> dict[str, float | None]:
    helpful = [1.0, 0.75, 1.0, 0.5][i % 4]
    if degraded and category == "refund":
        helpful = [0.25, 0.5, 0.0, 0.25][i % 4]
    harmful = 1.0 if "wifi" in prompt and degraded else 0.0
    custom = (
        ([1.0, 0.0, 1.0, None][i % 4] if degraded else [1.0, 1.0, 1.0, None][i % 4])
        if category == "refund"
        else None
    )
    return {
        CORRECTNESS: [1.0, 0.75, 0.75, 1.0][i % 4],
        HELPFULNESS: helpful,
        HARMFULNESS: harmful,
        CUSTOM: custom,
    }


def _records(degraded: bool) -> list[dict[str, Any]]:
    items = []
    index = 0
    for repeat in range(2):
        for category, prompts in _PROMPTS.items():
            for i, prompt in enumerate(prompts):
                scores = _scores(category, i + repeat, prompt, degraded)
                item = record(
                    index,
                    prompt,
                    scores,
                    category=category,
                    response=f"Response {index} to <{prompt[:20]}>",
                    explanation=f"Judge on {index}: the reply <b>is</b> {'weak' if degraded else 'ok'}",
                )
                items.append(item)
                index += 1
    return items


def _run_item(run_id: str, records: list[dict[str, Any]], suite: Suite, created_at: str) -> dict[str, Any]:
    aggregator = Aggregator(suite.low_rule, max_low_records=10)
    for item in records:
        aggregator.add(
            RecordResult(
                index=item["index"],
                prompt=item["prompt_excerpt"],
                response=item["response_excerpt"],
                reference=None,
                category=item["category"],
                scores=[
                    MetricScore(name, entry["score"], entry["explanation"], None)
                    for name, entry in item["scores"].items()
                ],
            )
        )
    summary = aggregator.summary().as_item()
    return {
        "run_id": run_id,
        "suite": "support-bot",
        "status": "COMPLETED",
        "created_at": created_at,
        "finished_at": created_at.replace("09:15", "09:27"),
        "dataset": {
            "bucket": "evalpipe-data-123",
            "key": "datasets/support-bot/nightly.jsonl",
            "version_id": "v1",
        },
        "job_name": run_id,
        **summary,
        "low_count": summary["low_count"],
        "warnings": ["14 of 24 records have an empty referenceResponse: Builtin.Correctness is weak."],
    }


def build(history_runs: int = len(HISTORY_AVERAGES)) -> ReportInputs:
    """The current run (degraded refund answers), its baseline and ``history_runs`` earlier runs."""
    suite = make_suite(regression={"minScoredRecords": 5})
    records = _records(degraded=True)
    baseline_records = _records(degraded=False)
    run = _run_item(RUN_ID, records, suite, "2025-03-08T09:15:00+00:00")
    baseline = _run_item(BASELINE_ID, baseline_records, suite, "2025-03-07T09:15:00+00:00")
    history: list[dict[str, Any]] = [run, baseline]
    for day, average in reversed(list(enumerate(HISTORY_AVERAGES[: history_runs - 1], start=1))):
        older = {**baseline, "run_id": f"support-bot-202503{day:02d}-091500-0000000{day}"}
        older["created_at"] = f"2025-03-{day:02d}T09:15:00+00:00"
        older["metrics"] = {
            name: {**summary, "average": average if name == HELPFULNESS else summary["average"]}
            for name, summary in baseline["metrics"].items()
        }
        history.append(older)
    # A failed run in between is not drawn
    history.insert(2, {"run_id": "support-bot-failed", "status": "FAILED", "suite": "support-bot"})
    changes = compare_records(records, baseline_records, suite)
    comparison = compare_runs(run, baseline, suite, record_changes=changes)
    return ReportInputs(suite, run, records, baseline_records, history, comparison)
