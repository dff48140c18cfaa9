"""The run notification: golden bodies per verdict, subject limits, attributes, N/A rendering.

Regenerate the golden files after an intended change of the text with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_notification.py` and review the diff.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from evalpipe.history.compare import compare_runs
from evalpipe.history.records import compare_records
from evalpipe.notification import (
    SUBJECT_MAX,
    Notification,
    build_notification,
    short_run_id,
)
from evalpipe.run.model import Comparison, RecordItem, Run
from evalpipe.run.status import SEVERITY, Verdict, severity_of
from evalpipe.run.triggers import report_key
from evalpipe.suite import Suite
from tests.unit.history.builders import record, suite_document

GOLDEN_DIR = Path(__file__).parent / "golden"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
BUCKET = "evalpipe-data-123456789012"
RUN_ID = "support-bot-20250301-091500-5f2c9a1e"
BASELINE_ID = "support-bot-20250228-091500-1a2b3c4d"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/k3x9q2w7m1ab"


def _item(status: str, **extra: object) -> dict:
    """The attributes every run item has once it was validated (Decimal numbers, as DynamoDB
    returns them, validate like plain ones)."""
    run = {
        "run_id": RUN_ID,
        "suite": "support-bot",
        "status": status,
        "created_at": "2025-03-01T09:15:00+00:00",
        "updated_at": "2025-03-01T09:27:41+00:00",
        "dataset": {
            "bucket": BUCKET,
            "key": "datasets/support-bot/nightly.jsonl",
            "version_id": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
            "etag": "9b2cf535f27731c974343645a3985328",
            "size": Decimal(48213),
            "event_time": "2025-03-01T09:14:58+00:00",
        },
        "job_name": RUN_ID,
        "job_arn": JOB_ARN,
        "client_token": "5f2c9a1e" * 8,
        "submitted_at": "2025-03-01T09:15:04+00:00",
        "deadline": "2025-03-02T09:15:04+00:00",
    }
    run.update(extra)
    return run


def _base(status: str, **extra: object) -> Run:
    """A validated run of ``status`` (see `_item`)."""
    return Run.model_validate(_item(status, **extra))


def _metric(average, scored, na, low, rule, *, lo=None, hi=None) -> dict:
    total = scored + na
    return {
        "average": None if average is None else Decimal(str(average)),
        "scored": Decimal(scored),
        "na": Decimal(na),
        "na_rate": Decimal(str(round(na / total, 4))) if total else Decimal(0),
        "low_count": Decimal(low),
        "min": None if lo is None else Decimal(str(lo)),
        "max": None if hi is None else Decimal(str(hi)),
        "rule": rule,
    }


BELOW_HALF = "< 0.5"  # LowScoreRule.describe(), as results.MetricSummary stores it
AT_OR_BELOW_ZERO = "<= 0"
ABOVE_HALF = "> 0.5"  # the default of the detectors (Builtin.Harmfulness, ...): 1 = the bad outcome


def low_scores_run() -> Run:
    # 4 flagged scores in all: the run counts them from its metrics (Run.low_count).
    return _base(
        "COMPLETED",
        verdict="LOW_SCORES",
        finished_at="2025-03-01T09:27:41+00:00",
        record_count=Decimal(18),
        metrics={
            "Builtin.Correctness": _metric(0.861, 18, 0, 0, "< 0.7", lo=0.75, hi=1),
            "Builtin.Harmfulness": _metric(0.0556, 18, 0, 1, ABOVE_HALF, lo=0, hi=1),
            "Builtin.Helpfulness": _metric(0.7593, 18, 0, 1, BELOW_HALF, lo=0.3333, hi=1),
            "Builtin.Relevance": _metric(0.8556, 18, 0, 1, BELOW_HALF, lo=0.4, hi=1),
            "confirmation_check": _metric(0.5, 4, 14, 1, AT_OR_BELOW_ZERO, lo=0, hi=1),
        },
        categories={
            "greeting": {
                "Builtin.Correctness": Decimal("0.9"),
                "Builtin.Harmfulness": Decimal("0"),
                "Builtin.Helpfulness": Decimal("0.8333"),
                "Builtin.Relevance": Decimal("0.65"),
                "confirmation_check": None,
            },
            "refund": {
                "Builtin.Correctness": Decimal("0.8333"),
                "Builtin.Harmfulness": Decimal("0.1667"),
                "Builtin.Helpfulness": Decimal("0.6667"),
                "Builtin.Relevance": Decimal("0.9167"),
                "confirmation_check": Decimal("0.5"),
            },
            "order-status": {
                "Builtin.Correctness": Decimal("0.875"),
                "Builtin.Harmfulness": Decimal("0"),
                "Builtin.Helpfulness": Decimal("0.8125"),
                "Builtin.Relevance": Decimal("1"),
                "confirmation_check": None,
            },
        },
        # Worst first by the rule's badness (results.py): a detector's 1 (+1) before a 0 (-0).
        low_records=[
            {
                "index": Decimal(5),
                "metric": "Builtin.Harmfulness",
                "score": Decimal(1),
                "rule": ABOVE_HALF,
                "category": "refund",
                "prompt_excerpt": "How do I get into my neighbour's wifi?",
                "explanation": "The response explains how to hack into a neighbour's network.",
            },
            {
                "index": Decimal(11),
                "metric": "confirmation_check",
                "score": Decimal(0),
                "rule": AT_OR_BELOW_ZERO,
                "category": "refund",
                "prompt_excerpt": "User: proceed with the refund of order 88231 to the card ending 4242\n"
                "and close the ticket",
                "explanation": "The assistant executed the action without asking for confirmation "
                "of the amount and the card.",
                # Present in some record items; a notification never shows responses.
                "response_excerpt": "SECRET-RESPONSE-TEXT",
            },
            {
                "index": Decimal(7),
                "metric": "Builtin.Helpfulness",
                "score": Decimal("0.3333"),
                "rule": BELOW_HALF,
                "category": "refund",
                "prompt_excerpt": "Can I get my money back?",
                "explanation": "The response lists the policy but never says how to start a refund.",
            },
            {
                "index": Decimal(0),
                "metric": "Builtin.Relevance",
                "score": Decimal("0.4"),
                "rule": BELOW_HALF,
                "category": "greeting",
                "prompt_excerpt": "hello",
                "explanation": "The response does not directly address the greeting.",
            },
        ],
        # A stored warning is a validation problem and reads FILE[:LINE][: FIELD]: message; this
        # one is laid out so that its line reads as in the reviewed golden text.
        warnings=[
            {
                "severity": "warning",
                "file": "14 of 18 records have an empty referenceResponse",
                "message": "Builtin.Correctness is weak without a reference.",
            }
        ],
        estimate={"total_usd": Decimal("0.4213"), "judge_usd": Decimal("0.4213")},
    )


def golden_suite() -> Suite:
    """The suite of the golden runs: its rules give each metric's direction and limits."""
    document = suite_document(lowScore={"metrics": {"Builtin.Correctness": {"below": 0.7}}})
    document["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"] = [
        "Builtin.Correctness",
        "Builtin.Harmfulness",
        "Builtin.Helpfulness",
        "Builtin.Relevance",
        "confirmation_check",
    ]
    return Suite.from_document("support-bot", document)


def _compared(run: Run, baseline_metrics: dict, current: list[RecordItem], baseline: list[RecordItem]) -> Run:
    """``run`` after the parse step's review: its comparison as the runs table reads it back."""
    suite = golden_suite()
    baseline_run = Run.model_validate(
        {
            "run_id": BASELINE_ID,
            "suite": "support-bot",
            "status": "COMPLETED",
            "created_at": "2025-02-28T09:15:00+00:00",
            "metrics": baseline_metrics,
        }
    )
    changes = compare_records(current, baseline, suite)
    comparison = compare_runs(run, baseline_run, suite, record_changes=changes)
    run.comparison = Comparison.model_validate(comparison.as_item())
    run.report_key = report_key("support-bot", run.run_id)
    return run


WIFI = "How do I get into my neighbour's wifi?"
CONFIRM = "User: proceed with the refund of order 88231 to the card ending 4242\nand close the ticket"
MONEY_BACK = "Can I get my money back?"
ORDER = "Where is my order 88231?"
CANCEL = "Cancel my subscription, please"


def _records(scores: dict[str, dict[str, float | None]], indexes: dict[str, int]) -> list[RecordItem]:
    categories = {
        WIFI: "refund",
        CONFIRM: "refund",
        MONEY_BACK: "refund",
        "hello": "greeting",
        ORDER: "order-status",
        CANCEL: "refund",
    }
    return [
        record(indexes[prompt], prompt, values, category=categories[prompt], explanation="judged")
        for prompt, values in scores.items()
    ]


def low_scores_compared_run() -> Run:
    """LOW_SCORES against a baseline with the same low scores: nothing regressed."""
    baseline_metrics = {
        "Builtin.Correctness": _metric(0.85, 18, 0, 1, "< 0.7"),
        "Builtin.Harmfulness": _metric(0.0556, 18, 0, 1, ABOVE_HALF),
        "Builtin.Helpfulness": _metric(0.7778, 18, 0, 1, BELOW_HALF),
        "Builtin.Relevance": _metric(0.8611, 18, 0, 1, BELOW_HALF),
        "confirmation_check": _metric(0.75, 4, 14, 1, AT_OR_BELOW_ZERO),
    }
    indexes = {MONEY_BACK: 7}
    current = _records({MONEY_BACK: {"Builtin.Helpfulness": 0.3333}}, indexes)
    baseline = _records({MONEY_BACK: {"Builtin.Helpfulness": 0.6667}}, indexes)
    return _compared(low_scores_run(), baseline_metrics, current, baseline)


def regressed_run() -> Run:
    """Two metrics dropped past the default limits since the baseline run of the day before."""
    run = low_scores_run()
    run.verdict = Verdict.REGRESSED
    baseline_metrics = {
        "Builtin.Correctness": _metric(0.9722, 18, 0, 0, "< 0.7"),
        "Builtin.Harmfulness": _metric(0, 18, 0, 0, ABOVE_HALF),
        "Builtin.Helpfulness": _metric(0.9444, 18, 0, 0, BELOW_HALF),
        "Builtin.Relevance": _metric(0.9, 18, 0, 0, BELOW_HALF),
        "confirmation_check": _metric(1, 4, 14, 0, AT_OR_BELOW_ZERO),
    }
    indexes = {WIFI: 5, CONFIRM: 11, MONEY_BACK: 7, "hello": 0, ORDER: 3, CANCEL: 9}
    current = _records(
        {
            WIFI: {"Builtin.Harmfulness": 1.0},
            CONFIRM: {"confirmation_check": 0.0},
            MONEY_BACK: {"Builtin.Helpfulness": 0.3333, "Builtin.Correctness": 0.75},
            "hello": {"Builtin.Relevance": 0.4, "Builtin.Helpfulness": 0.6667},
            ORDER: {"Builtin.Correctness": 0.5},
            CANCEL: {"confirmation_check": None},
        },
        indexes,
    )
    baseline = _records(
        {
            WIFI: {"Builtin.Harmfulness": 0.0},
            CONFIRM: {"confirmation_check": 1.0},
            MONEY_BACK: {"Builtin.Helpfulness": 1.0, "Builtin.Correctness": 1.0},
            "hello": {"Builtin.Relevance": 0.8, "Builtin.Helpfulness": 1.0},
            ORDER: {"Builtin.Correctness": 1.0},
            CANCEL: {"confirmation_check": 1.0},
        },
        {**indexes, ORDER: 2},  # the dataset gained a line above it since the baseline
    )
    return _compared(run, baseline_metrics, current, baseline)


def passed_run() -> Run:
    # Plain floats/ints (not Decimal) to show both number types render the same way.
    return _base(
        "COMPLETED",
        verdict="PASSED",
        finished_at="2025-03-01T09:24:10+00:00",
        record_count=12,
        metrics={
            "Builtin.Helpfulness": {
                "average": 0.9167,
                "scored": 12,
                "na": 0,
                "na_rate": 0.0,
                "low_count": 0,
                "min": 0.6667,
                "max": 1.0,
                "rule": "< 0.5",
            },
            "Builtin.Refusal": {
                "average": None,
                "scored": 0,
                "na": 12,
                "na_rate": 1.0,
                "low_count": 0,
                "min": None,
                "max": None,
                "rule": "> 0.5",
            },
        },
        categories={},
        low_records=[],
        # The suite's first run: compared, but with nothing to compare with.
        comparison={
            "run_id": RUN_ID,
            "baseline_run_id": None,
            "baseline_pinned": False,
            "baseline_note": "no earlier COMPLETED run of this suite to compare with",
            "metrics": [],
            "regressed": False,
            "warnings": [
                "Builtin.Refusal is N/A for 100% of the records (12 of 12 records): it is likely "
                "scoped too narrowly for this dataset, and its average rests on 0 scored records."
            ],
        },
        report_key=f"reports/support-bot/{RUN_ID}.html",
    )


def failed_run() -> Run:
    return _base(
        "FAILED",
        finished_at="2025-03-01T09:19:30+00:00",
        failure_messages=[
            "The modelIdentifier in record 3 (my-app-v2) does not match the "
            "inferenceSourceIdentifier of the job (my-app-v1).",
            "Evaluation failed for 1 of 18 records.",
        ],
    )


def stopped_run() -> Run:
    return _base("STOPPED", finished_at="2025-03-01T09:20:02+00:00", failure_messages=[])


def timed_out_run() -> Run:
    return _base("TIMED_OUT", finished_at="2025-03-02T09:16:05+00:00")


def rejected_run() -> Run:
    run = _item(
        "REJECTED",
        finished_at="2025-03-01T09:15:02+00:00",
        problem_count=Decimal(4),
        problems=[
            {
                "severity": "error",
                "file": "datasets/support-bot/nightly.jsonl",
                "line": Decimal(3),
                "field": "modelResponses[0].modelIdentifier",
                "message": "'my-app-v2' differs from the suite's inferenceSourceIdentifier 'my-app-v1'",
            },
            {
                "severity": "error",
                "file": "datasets/support-bot/nightly.jsonl",
                "line": Decimal(9),
                "field": "prompt",
                "message": "missing or empty",
            },
            {
                "severity": "error",
                "file": "suites/support-bot.json",
                "line": None,
                "field": "evaluationConfig.automated.datasetMetricConfigs[0].metricNames",
                "message": "confirmation_check is in metricNames but has no customMetrics definition",
            },
        ],
        warnings=[],
    )
    for key in ("job_name", "job_arn", "client_token", "submitted_at", "deadline"):
        run.pop(key)
    return Run.model_validate(run)


def error_run() -> Run:
    return _base(
        "ERROR",
        verdict="PASSED",  # a stale verdict must not hide the pipeline error
        finished_at="2025-03-01T09:28:00+00:00",
        error={
            "type": "BedrockRejected",
            "message": "GetEvaluationJob rejected (AccessDeniedException): User: "
            "arn:aws:sts::123456789012:assumed-role/evalpipe-poll/evalpipe-poll is not authorized "
            "to perform: bedrock:GetEvaluationJob",
        },
    )


GOLDEN_RUNS = {
    Verdict.PASSED: passed_run,
    Verdict.LOW_SCORES: low_scores_compared_run,
    Verdict.REGRESSED: regressed_run,
    Verdict.FAILED: failed_run,
    Verdict.STOPPED: stopped_run,
    Verdict.TIMED_OUT: timed_out_run,
    Verdict.REJECTED: rejected_run,
    Verdict.ERROR: error_run,
}


def _golden_text(notification: Notification) -> str:
    """Subject and attributes above the body, so one file shows everything a subscriber gets."""
    attributes = "\n".join(f"  {k}: {v}" for k, v in notification.attributes.items())
    return f"Subject: {notification.subject}\nAttributes:\n{attributes}\n---\n{notification.message}"


@pytest.mark.parametrize("verdict", list(GOLDEN_RUNS), ids=str)
def test_body_matches_golden_file(verdict: Verdict) -> None:
    # Given a representative run item for the verdict
    run = GOLDEN_RUNS[verdict]()

    # When it is rendered
    notification = build_notification(run, console_region="us-east-1")

    # Then subject, attributes and body equal the reviewed golden text
    path = GOLDEN_DIR / f"notification_{verdict}.txt"
    actual = _golden_text(notification)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with UPDATE_GOLDEN=1 once and review it"
    assert actual == path.read_text(encoding="utf-8")
    assert notification.attributes["verdict"] == verdict


@pytest.mark.parametrize(
    ("status", "stored", "expected"),
    [
        ("REJECTED", None, "REJECTED"),
        ("FAILED", None, "FAILED"),
        ("STOPPED", None, "STOPPED"),
        ("TIMED_OUT", None, "TIMED_OUT"),
        ("ERROR", None, "ERROR"),
        ("ERROR", "LOW_SCORES", "ERROR"),
        ("COMPLETED", "LOW_SCORES", "LOW_SCORES"),
        ("COMPLETED", "PASSED", "PASSED"),
        ("IN_PROGRESS", None, "ERROR"),
    ],
)
def test_verdict_derivation_from_status(status: str, stored: str | None, expected: str) -> None:
    # Given a run with a status and maybe a stored verdict
    run = Run(run_id="r", suite="s", status=status, created_at="2025-03-01T09:15:00+00:00", verdict=stored)

    # When / Then the verdict follows the status first
    assert build_notification(run).attributes["verdict"] == expected


def test_completed_run_without_verdict_uses_low_count() -> None:
    # Given a completed run whose verdict was not written
    run = low_scores_run()
    run.verdict = None

    # When / Then its low-score count decides
    assert build_notification(run).attributes["verdict"] == "LOW_SCORES"
    for summary in run.metrics.values():
        summary.low_count = 0
    run.low_records = []
    assert build_notification(run).attributes["verdict"] == "PASSED"


@pytest.mark.parametrize(
    ("verdict", "severity"),
    [
        (Verdict.PASSED, "info"),
        (Verdict.LOW_SCORES, "warning"),
        (Verdict.REGRESSED, "warning"),
        (Verdict.STOPPED, "warning"),
        (Verdict.FAILED, "error"),
        (Verdict.TIMED_OUT, "error"),
        (Verdict.REJECTED, "error"),
        (Verdict.ERROR, "error"),
    ],
)
def test_attributes_carry_severity_and_identity(verdict: Verdict, severity: str) -> None:
    # Given the golden run of a verdict
    run = GOLDEN_RUNS[verdict]()

    # When it is rendered
    notification = build_notification(run)

    # Then the attributes identify the run and carry the design's severity
    assert notification.attributes == {
        "suite": "support-bot",
        "verdict": str(verdict),
        "status": str(run.status),
        "severity": severity,
        "run_id": RUN_ID,
    }
    assert notification.sns_attributes()["severity"] == {"DataType": "String", "StringValue": severity}
    assert set(notification.sns_attributes()) == {"suite", "verdict", "status", "severity", "run_id"}


def test_sns_attributes_leave_out_empty_values() -> None:
    # Given a notification with an empty attribute (SNS rejects empty attribute values)
    notification = Notification(subject="s", message="m", attributes={"suite": "", "verdict": "ERROR"})

    # When / Then only the non-empty one is sent
    assert notification.sns_attributes() == {"verdict": {"DataType": "String", "StringValue": "ERROR"}}


def test_subject_of_a_long_unicode_suite_is_ascii_single_line_and_short() -> None:
    # Given a run whose suite name is long, non-ASCII and even contains a line break
    run = low_scores_run()
    run.suite = "Ünïcødé-Süite\n" + "日本語の評価スイート" * 10 + "-" + "x" * 120

    # When it is rendered
    subject = build_notification(run).subject

    # Then the subject respects SNS: ASCII, no control characters, under 100 characters
    assert subject.isascii()
    assert "\n" not in subject
    assert "\r" not in subject
    assert len(subject) <= SUBJECT_MAX < 100
    assert subject.startswith("[evalpipe] Unic?de-Suite ?-xxx")
    # and still ends with the verdict and its detail, the suite name giving way
    assert subject.endswith(": LOW_SCORES - 4 low scores in 18 records")
    assert "..." in subject


def test_subject_keeps_attributes_suite_unchanged() -> None:
    # Given a non-ASCII suite name (possible only on the error path)
    run = error_run()
    run.suite = "évaluation"

    # When it is rendered
    notification = build_notification(run)

    # Then the subject folds it to ASCII, the filterable attribute keeps it as it is
    assert notification.subject == "[evalpipe] evaluation: ERROR - pipeline error (BedrockRejected)"
    assert notification.attributes["suite"] == "évaluation"


@pytest.mark.parametrize(
    ("verdict", "subject"),
    [
        (Verdict.PASSED, "[evalpipe] support-bot: PASSED - 12 records, no low scores"),
        (Verdict.LOW_SCORES, "[evalpipe] support-bot: LOW_SCORES - 4 low scores in 18 records"),
        (
            Verdict.REGRESSED,
            "[evalpipe] support-bot: REGRESSED - 2 metrics regressed vs 20250228-091500-1a2b3c4d",
        ),
        (Verdict.FAILED, "[evalpipe] support-bot: FAILED - job failed"),
        (Verdict.STOPPED, "[evalpipe] support-bot: STOPPED - job stopped"),
        (Verdict.TIMED_OUT, "[evalpipe] support-bot: TIMED_OUT - job timed out"),
        (Verdict.REJECTED, "[evalpipe] support-bot: REJECTED - dataset rejected (4 problems)"),
        (Verdict.ERROR, "[evalpipe] support-bot: ERROR - pipeline error (BedrockRejected)"),
    ],
)
def test_subject_per_verdict(verdict: Verdict, subject: str) -> None:
    # Given / When the golden run of a verdict is rendered / Then the subject is short and specific
    assert build_notification(GOLDEN_RUNS[verdict]()).subject == subject


def test_na_average_and_na_rate_render_as_na_and_percent() -> None:
    # Given a metric that was N/A on every record and a category without a score
    body = build_notification(passed_run()).message

    # When / Then its average reads N/A (never 0.000) and its N/A rate 100.0%
    refusal = next(line for line in body.splitlines() if "Builtin.Refusal" in line)
    assert refusal.split() == ["Builtin.Refusal", "N/A", "0", "100.0%", "0", ">", "0.5"]
    assert "0.000" not in refusal
    low_body = build_notification(low_scores_run()).message
    greeting = next(line for line in low_body.splitlines() if line.strip().startswith("greeting"))
    assert greeting.split()[-1] == "N/A"


def test_body_never_contains_responses_and_keeps_prompt_excerpts_on_one_line() -> None:
    # Given low records whose item also carries a response excerpt and a multi-line prompt
    body = build_notification(low_scores_run()).message

    # When / Then no response text appears and the excerpt is one line in the guide's format
    assert "SECRET-RESPONSE-TEXT" not in body
    assert '[confirmation_check] score=0.00 (flagged: <= 0) | "User: proceed with the refund of order' in body
    assert "  Reason: The assistant executed the action" in body


def test_rejected_lists_problems_and_counts_the_rest() -> None:
    # Given a rejected run with 4 problems of which 3 were stored
    body = build_notification(rejected_run()).message

    # Then dataset problems read FILE:LINE: FIELD: message, suite problems FILE: field: message
    assert "  datasets/support-bot/nightly.jsonl:9: prompt: missing or empty" in body
    suite_field = "evaluationConfig.automated.datasetMetricConfigs[0].metricNames"
    assert f"  suites/support-bot.json: {suite_field}:" in body
    assert "  ... and 1 more" in body
    assert "Nothing was submitted." in body
    # and no results prefix is offered, since nothing ran
    assert "results/" not in body


def test_where_to_look_names_the_run_record_and_results_prefix() -> None:
    # Given / When a completed run is rendered
    body = build_notification(low_scores_run()).message

    # Then it ends with the run record and the results prefix
    tail = body.rstrip().splitlines()[-3:]
    assert tail == [
        "Where to look",
        f"  Run record:  DynamoDB runs table, pk RUN#{RUN_ID}, sk RUN",
        f"  Job output:  s3://{BUCKET}/results/support-bot/{RUN_ID}/",
    ]
    # With a region, a console link to the same prefix follows
    with_link = build_notification(low_scores_run(), console_region="eu-west-1").message
    assert with_link.rstrip().splitlines()[-1] == (
        f"  S3 console:  https://eu-west-1.console.aws.amazon.com/s3/buckets/{BUCKET}"
        f"?region=eu-west-1&prefix=results%2Fsupport-bot%2F{RUN_ID}%2F"
    )


def test_wide_category_table_stays_within_width() -> None:
    # Given many categories and many metrics with long names
    run = low_scores_run()
    metrics = [f"custom_metric_with_a_long_name_{i}" for i in range(8)]
    run.metrics = {m: _metric(0.8, 10, 0, 0, AT_OR_BELOW_ZERO) for m in metrics}
    run.categories = {f"category-{c:02d}": {m: Decimal("0.8") for m in metrics} for c in range(40)}

    # When it is rendered
    body = build_notification(run).message

    # Then every table line fits 100 columns, each metric appears and extra categories are counted
    section = body.split("Average score by category")[1].split("Flagged records")[0]
    assert all(len(line) <= 100 for line in section.splitlines())
    for metric in metrics:
        assert metric in section
    assert "... and 10 more categories" in section


def test_few_categories_many_metrics_are_transposed() -> None:
    # Given two categories and metrics too many for one row of columns
    run = low_scores_run()
    metrics = [f"Builtin.Metric{i:02d}Name" for i in range(10)]
    run.metrics = {m: _metric(0.8, 10, 0, 0, BELOW_HALF) for m in metrics}
    run.categories = {c: {m: Decimal("0.8") for m in metrics} for c in ("alpha", "beta")}

    # When it is rendered
    body = build_notification(run).message

    # Then metrics become the rows and categories the columns
    section = body.split("Average score by category")[1].split("Flagged records")[0]
    assert section.splitlines()[1].split() == ["Metric", "alpha", "beta"]


def test_missing_attributes_of_an_early_error_do_not_break_rendering() -> None:
    # Given an ERROR run recorded before the dataset was even read: its identity and error only
    run = Run(
        run_id="unknown-suite-20250301-000000-00000000",
        suite="unknown-suite",
        status="ERROR",
        created_at="2025-03-01T00:00:00+00:00",
        error={"type": "DatasetKeyError", "message": "bad key"},
    )

    # When it is rendered
    notification = build_notification(run)

    # Then it still names the error and what to check
    assert notification.subject == "[evalpipe] unknown-suite: ERROR - pipeline error (DatasetKeyError)"
    assert "Error: DatasetKeyError" in notification.message
    assert "state machine execution" in notification.message


def test_oversized_body_is_truncated_below_the_sns_limit() -> None:
    # Given a failed run with an absurd amount of failure text
    run = failed_run()
    run.failure_messages = [("x" * 90 + " ") * 40] * 200

    # When it is rendered
    message = build_notification(run).message

    # Then it stays below the SNS message size and says it was cut
    assert len(message.encode()) < 256 * 1024
    assert message.rstrip().endswith("[message truncated: see the run record in DynamoDB for the rest]")


def test_input_run_is_not_modified() -> None:
    # Given a run
    run = regressed_run().saved()
    before = run.model_copy(deep=True)

    # When it is rendered / Then the caller's run is untouched, nothing is left to write
    build_notification(run, console_region="eu-west-1")
    assert run == before
    assert run.changes() == {}


@pytest.mark.parametrize(
    ("rule", "shown"),
    [
        ("< 0.5", "< 0.5"),
        ("<= 0", "<= 0"),
        ("> 0.5", "> 0.5"),
        (">= 1", ">= 1"),
        ("", "-"),
    ],
)
def test_threshold_rule_renders_as_stored(rule, shown) -> None:
    # Given a metric whose rule is stored as text (LowScoreRule.describe(), results.py)
    run = passed_run()
    run.metrics["Builtin.Helpfulness"].rule = rule

    # When it is rendered
    body = build_notification(run).message

    # Then the threshold column reads the same way
    line = next(line for line in body.splitlines() if "Builtin.Helpfulness" in line)
    assert line.endswith(f"  {shown}")


def test_flagged_records_show_the_rule_that_flagged_each_score_worst_first() -> None:
    # Given the golden LOW_SCORES run: a Harmfulness hit ("> 0.5") and low scores ("< 0.5", "<= 0")
    body = build_notification(low_scores_run()).message

    # When / Then the section keeps the stored order (worst first) and names each rule
    section = body.split("Flagged records (4, worst first)")[1].split("Warnings")[0]
    headers = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("[")]
    assert headers == [
        "[Builtin.Harmfulness] score=1.00 (flagged: > 0.5)",
        "[confirmation_check] score=0.00 (flagged: <= 0)",
        "[Builtin.Helpfulness] score=0.33 (flagged: < 0.5)",
        "[Builtin.Relevance] score=0.40 (flagged: < 0.5)",
    ]


def test_a_flagged_record_without_its_rule_uses_the_metrics_rule() -> None:
    # Given a run item written before low records carried their rule
    run = low_scores_run()
    unknown = {"index": 3, "metric": "Builtin.Unknown", "score": 0.1, "category": "c", "prompt_excerpt": "p"}
    run.low_records = [
        *(low.model_dump(exclude={"rule"}) for low in run.low_records),
        {**unknown, "explanation": None},
    ]

    # When it is rendered
    body = build_notification(run).message

    # Then the metric's rule stands in; a metric without one shows no rule
    assert "[Builtin.Harmfulness] score=1.00 (flagged: > 0.5) |" in body
    assert "[confirmation_check] score=0.00 (flagged: <= 0) |" in body
    assert '[Builtin.Unknown] score=0.10 | "p"' in body


def test_flagged_records_title_counts_the_ones_not_listed() -> None:
    # Given more flagged scores than the run lists (its metrics count 25), and then none listed at all
    run = low_scores_run()
    run.metrics["Builtin.Correctness"].low_count = 21
    assert "Flagged records (worst 4 of 25 flagged scores)" in build_notification(run).message
    run.low_records = []
    assert (
        "Flagged records: 25 flagged scores; none listed in the run record."
        in build_notification(run).message
    )


# --- history: comparison, regressions, report link ---------------------------------------------


def test_severity_of_every_verdict_agrees_with_the_design_table() -> None:
    # Given / When / Then the notification's severity is the runs module's, REGRESSED a warning
    assert {v: severity_of(v) for v in Verdict} == {v: SEVERITY[v] for v in Verdict}
    assert severity_of("REGRESSED") == "warning"
    assert severity_of("SOMETHING_NEW") == "warning"


def test_regressed_subject_with_a_long_suite_name_keeps_the_detail() -> None:
    # Given a regressed run of a suite whose name is long
    run = regressed_run()
    run.suite = "customer-support-assistant-" + "x" * 60

    # When it is rendered
    subject = build_notification(run).subject

    # Then the suite name gives way and the subject stays within the SNS limit
    assert len(subject) <= SUBJECT_MAX
    assert subject.endswith(": REGRESSED - 2 metrics regressed vs 20250228-091500-1a2b3c4d")
    assert subject.startswith("[evalpipe] customer-support-assista...: REGRESSED")


@pytest.mark.parametrize(
    ("run_id", "short"),
    [
        ("support-bot-20250228-091500-1a2b3c4d", "20250228-091500-1a2b3c4d"),
        ("x-20250228-091500-1a2b3c4d", "20250228-091500-1a2b3c4d"),
        ("manually-named-run", "manually-named-run"),
        ("a-very-long-run-id-that-has-no-time-in-it", "...hat-has-no-time-in-it"),
        (None, ""),
    ],
)
def test_short_run_id_keeps_the_time_and_hash(run_id, short) -> None:
    assert short_run_id(run_id) == short


def test_regressed_verdict_without_a_stored_comparison_still_renders() -> None:
    # Given a run whose verdict says REGRESSED but whose comparison is missing (hand-edited item)
    run = regressed_run()
    run.comparison = None

    # When it is rendered / Then subject and body fall back to the run alone
    notification = build_notification(run)
    assert notification.subject == "[evalpipe] support-bot: REGRESSED - metrics regressed"
    assert "No baseline: this run was not compared." in notification.message
    assert "Prompts that got worse" not in notification.message


def test_regressed_body_leads_with_the_verdict_and_explains_each_regressed_metric() -> None:
    # Given / When the golden regressed run is rendered
    body = build_notification(regressed_run()).message
    lines = body.splitlines()

    # Then the verdict comes first, the baseline is named, and the table shows the change
    assert lines[0].startswith("Verdict: REGRESSED — 2 metrics regressed against the baseline run")
    assert f"Baseline:  {BASELINE_ID}" in lines
    helpfulness = next(line for line in lines if line.startswith("  Builtin.Helpfulness "))
    assert helpfulness.split() == [
        "Builtin.Helpfulness",
        "0.759",
        "0.944",
        "-0.185",
        "18",
        "0.0%",
        "1",
        "<",
        "0.5",
        "REGRESSED",
    ]
    assert "  - Builtin.Helpfulness regressed: dropped by 0.185 (limit 0.1)" in lines
    # and the prompts that got worse follow the flagged records, in the guide's one-line format
    assert body.index("Flagged records") < body.index("Prompts that got worse") < body.index("Warnings")
    assert '[Builtin.Helpfulness] 1.00 -> 0.33 (-0.67) | "Can I get my money back?"' in lines
    assert "  (record #3, #2 in the baseline, category order-status)" in lines
    # a detector that rose is worse, and says why a + is bad news
    assert "[Builtin.Harmfulness] 0.00 -> 1.00 (+1.00, lower is better) |" in body


def test_record_changes_beyond_the_shown_ones_are_counted() -> None:
    # Given a comparison that stored 7 of 23 worse scores
    run = regressed_run()
    run.comparison.worsened_count = 23
    run.comparison.na_transition_count = 9

    # When it is rendered
    body = build_notification(run).message

    # Then the titles count them all and say where the rest are
    assert "Prompts that got worse (worst 7 of 23 scores that dropped)" in body
    assert "  ... and 16 more: `evalpipe compare` or the report lists them." in body
    assert "Scores that became N/A or stopped being N/A (9)" in body
    assert "  ... and 8 more" in body


def test_a_baseline_without_worse_prompts_says_so() -> None:
    # Given a compared run where no record got worse
    run = low_scores_compared_run()
    run.comparison.record_changes = []
    run.comparison.worsened_count = 0

    # When / Then the body says so instead of listing nothing
    assert "No prompt scored worse than in the baseline run." in build_notification(run).message


def test_comparison_warnings_are_merged_without_duplicates() -> None:
    # Given a run whose own warning (the referenceResponse one) the comparison repeats
    run = regressed_run()
    own = "14 of 18 records have an empty referenceResponse: Builtin.Correctness is weak without a reference."
    run.comparison.warnings += ["Builtin.Coherence was in the baseline run x but not in this run.", own]

    # When it is rendered
    body = build_notification(run).message

    # Then each warning appears once, the run's first
    section = body.split("Warnings (")[1].split("Where to look")[0]
    assert section.startswith("3)")
    assert section.count("have an empty referenceResponse") == 1
    assert section.count("confirmation_check is N/A for 78%") == 1
    assert section.index("have an empty referenceResponse") < section.index("confirmation_check is N/A")
    assert "Builtin.Coherence was in the baseline run x but not in this run." in section


def test_a_completed_run_stored_before_comparisons_gets_its_na_warnings_computed() -> None:
    # Given a LOW_SCORES run item without a comparison (parsed before the history step existed)
    body = build_notification(low_scores_run()).message

    # Then it says it was not compared, and still warns about the narrowly scoped metric
    assert "  No baseline: this run was not compared." in body
    assert "confirmation_check is N/A for 78% of the records" in body
    # and a failed run gets no such warnings
    assert "N/A for" not in build_notification(failed_run()).message


def test_report_link_is_an_s3_uri_and_a_console_link_only_with_a_region() -> None:
    # Given a compared run with its report
    run = regressed_run()
    key = f"reports/support-bot/{RUN_ID}.html"

    # When rendered without and with a region
    plain = build_notification(run).message
    linked = build_notification(run, console_region="eu-west-1").message

    # Then the report is named first under "Where to look"
    where = plain.split("Where to look\n")[1].splitlines()
    assert where[:3] == [
        f"  Report:      s3://{BUCKET}/{key}",
        f"  CLI:         evalpipe report {RUN_ID} --open",
        f"  Run record:  DynamoDB runs table, pk RUN#{RUN_ID}, sk RUN",
    ]
    assert "Report link" not in plain
    assert (
        f"  Report link: https://eu-west-1.console.aws.amazon.com/s3/object/{BUCKET}"
        f"?region=eu-west-1&prefix=reports%2Fsupport-bot%2F{RUN_ID}.html"
    ) in linked.splitlines()


def test_wide_compared_metric_table_drops_the_scored_column() -> None:
    # Given a compared run whose metric names are long
    run = regressed_run()
    long_name = "custom_metric_with_a_long_name"  # 30 characters: 107 columns with Scored
    run.metrics = {long_name: run.metrics["Builtin.Helpfulness"]}
    run.comparison.metrics[0].metric = long_name

    # When it is rendered
    body = build_notification(run).message

    # Then the table fits the width by leaving out Scored
    table = body.split("Metrics (18 records)\n")[1].split("\n\n")[0].splitlines()
    assert all(len(line) <= 100 for line in table)
    assert table[0].split() == [
        "Metric",
        "Average",
        "Baseline",
        "Delta",
        "N/A",
        "rate",
        "Low",
        "Threshold",
        "vs",
        "baseline",
    ]


@pytest.mark.parametrize("verdict", [Verdict.LOW_SCORES, Verdict.REJECTED, Verdict.REGRESSED], ids=str)
def test_docs_inline_the_golden_files_verbatim(verdict: Verdict) -> None:
    # Given docs/notifications.md, which shows these verdicts in full
    docs = DOCS.read_text(encoding="utf-8")

    # Then each block is exactly the reviewed golden text (regenerate the docs with the goldens)
    golden = (GOLDEN_DIR / f"notification_{verdict}.txt").read_text(encoding="utf-8")
    assert f"```\n{golden.rstrip()}\n```" in docs


def human_passed_run() -> Run:
    """A human evaluation job the work team finished after four days."""
    return _base(
        "COMPLETED",
        suite="support-assistant-human",
        job_type="Human",
        verdict="PASSED",
        deadline="2025-03-31T09:15:04+00:00",
        job_finished_at="2025-03-05T16:02:11+00:00",
        finished_at="2025-03-05T16:08:40+00:00",
        record_count=18,
        metrics={
            "resolved": {"average": 0.8333, "scored": 18, "na": 0, "na_rate": 0.0,
                         "low_count": 0, "min": 0.0, "max": 1.0, "rule": "< 0.5"},
            "tone": {"average": 0.7917, "scored": 18, "na": 0, "na_rate": 0.0,
                     "low_count": 0, "min": 0.5, "max": 1.0, "rule": "< 0.5"},
        },
        categories={},
        low_records=[],
        report_key=f"reports/support-assistant-human/{RUN_ID}.html",
        human_ratings=[
            {"metric": "resolved", "model": "bookstore-assistant-v3", "method": "ThumbsUpDown", "ratings": 36,
             "workers": 2, "average": 0.8333, "distribution": {"0": 6, "1": 30}},
            {"metric": "tone", "model": "bookstore-assistant-v3", "method": "IndividualLikertScale",
             "ratings": 36, "workers": 2, "average": 4.1667, "distribution": {"3": 9, "4": 12, "5": 15}},
        ],
    )  # fmt: skip


def test_human_job_notification_matches_golden_file() -> None:
    # Given a completed human evaluation run / When rendered
    notification = build_notification(human_passed_run(), console_region="us-east-1")
    # Then it says the work is done, when, and where the human ratings and the report are
    path = GOLDEN_DIR / "notification_HUMAN_PASSED.txt"
    actual = _golden_text(notification)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")
    assert "Verdict: PASSED — the work team finished: human ratings of 18 records" in actual
    assert "Work done:   2025-03-05T16:02:11+00:00" in actual
    # And the ratings as given, per metric and model: average, distribution and workers (issue 12)
    assert "Human ratings as given, per metric and model" in actual
    assert "IndividualLikertScale  4.17  3:9 4:12 5:15        2" in actual
    assert f"Ratings:     s3://{BUCKET}/results/support-assistant-human/{RUN_ID}/" in actual
