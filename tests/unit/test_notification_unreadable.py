"""A completed run whose results could not be read (verdict UNREADABLE, issue 12): the notification
and the report say so, name the first unreadable record, and the severity is an error."""

from __future__ import annotations

from evalpipe.history.report import render_report
from evalpipe.notification import build_notification
from evalpipe.run.model import Run

RUN_ID = "support-assistant-human-20250301-091500-5f2c9a1e"


def unreadable_run() -> Run:
    return Run.model_validate(
        {
            "run_id": RUN_ID,
            "suite": "support-assistant-human",
            "status": "COMPLETED",
            "verdict": "UNREADABLE",
            "created_at": "2025-03-01T09:15:00+00:00",
            "finished_at": "2025-03-05T16:08:40+00:00",
            "job_type": "Human",
            "record_count": 18,
            "metrics": {},
            "unreadable": {
                "message": "no score for any metric could be read in 18 records "
                "(first unreadable record: results/s/r/j/id/datasets/d/u_output.jsonl line 1)",
                "file": "results/s/r/j/id/datasets/d/u_output.jsonl",
                "line": 1,
                "unread_records": 18,
            },
        }
    )


def test_the_notification_leads_with_unreadable_and_names_the_record() -> None:
    # Given a run whose outputs yielded no score / When notified
    notification = build_notification(unreadable_run())
    # Then the subject and severity say the results could not be read, never PASSED
    assert notification.subject.endswith(": UNREADABLE - results could not be read")
    assert notification.attributes["severity"] == "error"
    assert notification.attributes["verdict"] == "UNREADABLE"
    # And the body names the first unreadable record and how many there were
    body = notification.message
    assert "Verdict: UNREADABLE — the job completed but its results could not be read (18 records)" in body
    assert "First unreadable record: results/s/r/j/id/datasets/d/u_output.jsonl line 1" in body
    assert "18 records without any readable score" in body


def test_the_report_says_the_results_were_not_read() -> None:
    html = render_report(unreadable_run(), [], [], None)
    assert 'class="verdict verdict-UNREADABLE"' in html
    assert "First unreadable record: <code>results/s/r/j/id/datasets/d/u_output.jsonl line 1</code>" in html


def test_the_report_shows_a_human_jobs_ratings_as_given() -> None:
    # Given a human run with its ratings tallied per metric and model
    run = unreadable_run()
    run.verdict = "PASSED"  # type: ignore[assignment]
    run.unreadable = None
    run.human_ratings = [  # type: ignore[assignment]
        {"metric": "tone", "model": "app-v1", "method": "IndividualLikertScale", "ratings": 4, "workers": 2,
         "average": 3.5, "distribution": {"3": 2, "4": 2}},
    ]  # fmt: skip
    # When the report is rendered / Then the table shows the average, distribution and workers
    html = render_report(run, [], [], None)
    assert '<h3 id="human-ratings">Human ratings</h3>' in html
    assert '<td>tone</td><td>app-v1</td><td>IndividualLikertScale</td><td class="num">3.50</td>' in html
    assert '<td>3: 2 4: 2</td><td class="num">2</td>' in html
