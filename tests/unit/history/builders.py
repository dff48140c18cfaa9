"""Inputs for the history tests: a suite, runs and record items as the runs table returns them."""

from __future__ import annotations

from typing import Any

from evalpipe.history.keys import prompt_hash, record_key
from evalpipe.run.model import RecordItem, Run
from evalpipe.suite import Suite
from tests.builders import POOR_GOOD, custom_metric, judge_suite

SUITE_NAME = "support-bot"
CORRECTNESS = "Builtin.Correctness"
HELPFULNESS = "Builtin.Helpfulness"
HARMFULNESS = "Builtin.Harmfulness"
REFUSAL = "Builtin.Refusal"
CUSTOM = "confirmation_check"
METRICS = [CORRECTNESS, HELPFULNESS, HARMFULNESS, CUSTOM]
ASKED_FIRST = "Did it ask first?\nPrompt: {{prompt}}\nResponse: {{prediction}}"
RULES = {CORRECTNESS: "< 0.5", HELPFULNESS: "< 0.5", HARMFULNESS: "> 0.5", CUSTOM: "<= 0", REFUSAL: "> 0.5"}


def suite_document(**pipeline: Any) -> dict[str, Any]:
    """A valid suite file; keyword arguments become its ``pipeline`` block."""
    return judge_suite(
        dataset="nightly",
        metrics=[CORRECTNESS, HELPFULNESS, HARMFULNESS, REFUSAL, CUSTOM],
        custom=[custom_metric(CUSTOM, ASKED_FIRST, POOR_GOOD)],
        source="app-v1",
        pipeline=pipeline or None,
    )


def make_suite(**pipeline: Any) -> Suite:
    return Suite.from_document(SUITE_NAME, suite_document(**pipeline))


def metric(
    average: float | None, scored: int = 20, na: int = 0, *, rule: str = "< 0.5", low: int = 0
) -> dict[str, Any]:
    total = scored + na
    return {
        "average": average,
        "scored": scored,
        "na": na,
        "na_rate": na / total if total else 0.0,
        "low_count": low,
        "min": None if average is None else 0.0,
        "max": None if average is None else 1.0,
        "rule": rule,
    }


def run_item(
    run_id: str,
    metrics: dict[str, dict[str, Any]] | None = None,
    *,
    status: str = "COMPLETED",
    created_at: str = "2025-03-01T09:15:00+00:00",
    verdict: str | None = "PASSED",
    **extra: Any,
) -> Run:
    run: dict[str, Any] = {
        "run_id": run_id,
        "suite": SUITE_NAME,
        "status": status,
        "created_at": created_at,
        "metrics": metrics or {},
        **extra,
    }
    if verdict is not None:
        run["verdict"] = verdict
    return Run.model_validate(run)


def record(
    index: int,
    prompt: str,
    scores: dict[str, float | None],
    *,
    category: str = "general",
    response: str | None = "a response",
    explanation: str = "because",
    explicit_id: str | int | None = None,
    legacy: bool = False,
) -> RecordItem:
    """A record item; ``legacy`` leaves out ``record_key`` as items written before it did."""
    item: dict[str, Any] = {
        "index": index,
        "category": category,
        "prompt_hash": prompt_hash(prompt),
        "prompt_excerpt": prompt[:300],
        "response_excerpt": response,
        "scores": {
            name: {"score": score, "explanation": f"{explanation} ({name})"} for name, score in scores.items()
        },
    }
    if not legacy:
        item["record_key"] = record_key(prompt, category, explicit_id)
    return RecordItem.model_validate(item)
