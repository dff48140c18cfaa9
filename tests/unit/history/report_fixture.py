"""A realistic run for the report tests: 24 records in 3 categories, 8 runs of history, a regression."""

from __future__ import annotations

from dataclasses import dataclass

from evalpipe.history.compare import compare_runs
from evalpipe.history.records import compare_records
from evalpipe.results import Aggregator, MetricScore, RecordResult
from evalpipe.run.model import Comparison, ProblemItem, RecordItem, Run
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import DatasetObject, parse_time
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
    run: Run
    records: list[RecordItem]
    baseline_records: list[RecordItem]
    history: list[Run]
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


def _records(degraded: bool) -> list[RecordItem]:
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


def _run_item(run_id: str, records: list[RecordItem], suite: Suite, created_at: str) -> Run:
    aggregator = Aggregator(suite.low_rule, max_low_records=10)
    for item in records:
        aggregator.add(
            RecordResult(
                index=item.index,
                prompt=item.prompt_excerpt,
                response=item.response_excerpt,
                reference=None,
                category=item.category,
                scores=[
                    MetricScore(name, entry.score, entry.explanation, None)
                    for name, entry in item.scores.items()
                ],
            )
        )
    key = "datasets/support-bot/nightly.jsonl"
    run = Run(
        run_id=run_id,
        suite="support-bot",
        status=RunStatus.COMPLETED,
        created_at=parse_time(created_at),
        finished_at=parse_time(created_at.replace("09:15", "09:27")),
        dataset=DatasetObject(
            bucket="evalpipe-data-123",
            key=key,
            version_id="v1",
            etag="0f343b0931126a20f133d67c2b018a3b",
            size=4096,
            event_time=parse_time(created_at),
        ),
        job_name=run_id,
        # A validation warning: the report leaves these to the notification.
        warnings=[
            ProblemItem(
                severity="warning",
                file=key,
                message="14 of 24 records have an empty referenceResponse: Builtin.Correctness is weak.",
            )
        ],
    )
    aggregator.summary().record_on(run)
    return run


def build(history_runs: int = len(HISTORY_AVERAGES)) -> ReportInputs:
    """The current run (degraded refund answers), its baseline and ``history_runs`` earlier runs."""
    suite = make_suite(regression={"minScoredRecords": 5})
    records = _records(degraded=True)
    baseline_records = _records(degraded=False)
    run = _run_item(RUN_ID, records, suite, "2025-03-08T09:15:00+00:00")
    baseline = _run_item(BASELINE_ID, baseline_records, suite, "2025-03-07T09:15:00+00:00")
    history: list[Run] = [run, baseline]
    for day, average in reversed(list(enumerate(HISTORY_AVERAGES[: history_runs - 1], start=1))):
        older = baseline.model_dump()
        older["run_id"] = f"support-bot-202503{day:02d}-091500-0000000{day}"
        older["created_at"] = f"2025-03-{day:02d}T09:15:00+00:00"
        for name, summary in older["metrics"].items():
            if name == HELPFULNESS:
                summary["average"] = average
        history.append(Run.model_validate(older))
    # A failed run in between is not drawn
    failed = Run(
        run_id="support-bot-failed",
        suite="support-bot",
        status=RunStatus.FAILED,
        created_at=parse_time("2025-03-07T21:15:00+00:00"),
    )
    history.insert(2, failed)
    changes = compare_records(records, baseline_records, suite)
    comparison = compare_runs(run, baseline, suite, record_changes=changes)
    return ReportInputs(suite, run, records, baseline_records, history, comparison)


WIDE_METRIC_COUNT = 15


def wide_metric_names(count: int = WIDE_METRIC_COUNT) -> list[str]:
    """Long custom metric names, as a real rubric suite has them."""
    return [f"Custom.answer_quality_rubric_dimension_{i:02d}_with_a_long_name" for i in range(count)]


def build_wide(metric_count: int = WIDE_METRIC_COUNT, *, same_day: bool = False) -> ReportInputs:
    """`build` with ``metric_count`` metrics of long names in every run and category; with
    ``same_day``, every run of the history was created on the current run's day, an hour apart.
    """
    inputs = build()
    names = wide_metric_names(metric_count - len(METRICS))
    template = inputs.run.metrics[CORRECTNESS]

    def widen(run: Run) -> Run:
        copy = run.model_copy(deep=True)
        for offset, name in enumerate(names):
            summary = template.model_copy(update={"metric": name})
            copy.metrics[name] = summary
            for category, averages in copy.categories.items():
                averages[name] = round((len(category) * 7 + offset * 13) % 100 / 100, 3)
        return copy

    run = widen(inputs.run)
    history = [widen(r) if r.metrics else r for r in inputs.history]
    if same_day:  # history is newest first; the current run keeps 09:15
        for hour, row in enumerate(r for r in history if r.run_id != RUN_ID):
            row.created_at = parse_time(f"2025-03-08T{8 - hour:02d}:{15 + hour:02d}:00+00:00")
    history = [run if r.run_id == RUN_ID else r for r in history]
    return ReportInputs(
        inputs.suite, run, inputs.records, inputs.baseline_records, history, inputs.comparison
    )
