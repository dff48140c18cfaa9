"""A run whose results do not cover its dataset: the verdict says so and the message names the records."""

from __future__ import annotations

from evalpipe.notification import build_notification
from evalpipe.run.model import Coverage, Run, UncoveredRecord
from evalpipe.run.status import Verdict, reviewed_verdict

METRIC = {"average": 0.9, "scored": 15, "na": 0, "na_rate": 0.0, "low_count": 0}
METRIC |= {"min": 0.5, "max": 1.0, "rule": "< 0.5"}


def incomplete_run() -> Run:
    return Run.model_validate(
        {
            "run_id": "support-20261203-100000-1a2b3c4d",
            "suite": "support",
            "status": "COMPLETED",
            "verdict": "INCOMPLETE",
            "created_at": "2026-12-03T10:00:00+00:00",
            "record_count": 15,
            "metrics": {"Builtin.Helpfulness": METRIC},
            "coverage": Coverage(
                expected=18,
                parsed=15,
                missing_count=3,
                missing=[UncoveredRecord(line=n, prompt_excerpt=f"prompt of line {n}") for n in (16, 17, 18)],
            ).model_dump(),
        }
    )


def test_missing_records_can_never_pass_but_a_regression_stays_the_news() -> None:
    assert reviewed_verdict(Verdict.PASSED, regressed=False, incomplete=True) is Verdict.INCOMPLETE
    assert reviewed_verdict(Verdict.LOW_SCORES, regressed=False, incomplete=True) is Verdict.INCOMPLETE
    assert reviewed_verdict(Verdict.PASSED, regressed=True, incomplete=True) is Verdict.REGRESSED
    assert reviewed_verdict(Verdict.PASSED, regressed=False, incomplete=False) is Verdict.PASSED


def test_the_notification_leads_with_the_gap_and_names_every_missing_line() -> None:
    notification = build_notification(incomplete_run())
    assert notification.subject == "[evalpipe] support: INCOMPLETE - 3 of 18 records not evaluated"
    assert notification.attributes["verdict"] == "INCOMPLETE"
    assert notification.attributes["severity"] == "warning"
    body = notification.message
    assert body.startswith("Verdict: INCOMPLETE — 3 of 18 dataset records have no result")
    assert "Records not evaluated" in body
    for number in (16, 17, 18):
        assert f'missing: line {number}: "prompt of line {number}"' in body
    # And the scores are still shown, for the records that were evaluated
    assert "Builtin.Helpfulness" in body
