"""The `Notification` the notify step publishes, and `build_notification`, which renders a finished
run into the subject, the body (`evalpipe.notification.body`) and the message attributes
subscribers filter on (``suite``, ``verdict``, ``status``, ``severity``, ``run_id``).

The subject reads ``[evalpipe] <suite>: <VERDICT> - <detail>``, in ASCII on one line within SNS's
limit (a long suite name is shortened first, then the detail gives way); `short_run_id` is the
time-and-hash tail of a run id that the subject and the CLI show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalpipe.notification.body import problem_count, render_body
from evalpipe.notification.text import ascii_one_line, plural
from evalpipe.run.status import Verdict, severity_of

if TYPE_CHECKING:
    from evalpipe.run.model import Comparison, Coverage, Run

SUBJECT_PREFIX = "[evalpipe] "
# SNS: "less than 100 characters", no line breaks or control characters. 99 satisfies both
# that wording and the "<= 100" of the older documentation.
SUBJECT_MAX = 99
# The part after the verdict ("2 metrics regressed vs 20250228-091500-1a2b3c4d" is 47).
SUBJECT_DETAIL_MAX = 56

# `<suite-slug>-<YYYYMMDD-HHMMSS>-<hash8>`: the tail identifies a run within its suite.
_RUN_ID_TAIL = re.compile(r"(\d{8}-\d{6}-[0-9a-f]{8})$")
SHORT_RUN_ID_CHARS = 24


@dataclass(frozen=True)
class Notification:
    """What the notify step publishes.

    Attributes
    ----------
    subject : str
        ASCII, no line breaks, at most `SUBJECT_MAX` characters (SNS limits).
    message : str
        The plain-text body.
    attributes : dict[str, str]
        `suite`, `verdict`, `status`, `severity`, `run_id`; subscribers filter on them.
    """

    subject: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)

    def sns_attributes(self) -> dict[str, dict[str, str]]:
        """The attributes in the shape of SNS `Publish(MessageAttributes=...)`.

        Returns
        -------
        dict
            `{"suite": {"DataType": "String", "StringValue": "..."}, ...}`; empty values are
            left out because SNS rejects an attribute without a value.
        """
        return {
            name: {"DataType": "String", "StringValue": value}
            for name, value in self.attributes.items()
            if value
        }


def build_notification(run: Run, *, console_region: str | None = None) -> Notification:
    """Render the notification of one finished run.

    Parameters
    ----------
    run : Run
        The run as stored. An ERROR run recorded early may carry little more than its identity;
        every block it lacks the attributes for is left out.
    console_region : str, optional
        When given, the body adds AWS console links (report object, results prefix) in that region.

    Returns
    -------
    Notification
        Subject, body and message attributes; the verdict is `Run.final_verdict`.
    """
    verdict = str(run.final_verdict())
    suite = run.suite or "unknown"
    attributes = {
        "suite": suite,
        "verdict": verdict,
        "status": str(run.status),
        "severity": severity_of(verdict),
        "run_id": run.run_id or "unknown",
    }
    return Notification(
        subject=subject(run, verdict),
        message=render_body(run, verdict, console_region),
        attributes=attributes,
    )


def subject(run: Run, verdict: str) -> str:
    """The SNS subject of ``run``: ``[evalpipe] <suite>: <VERDICT> - <detail>``.

    Parameters
    ----------
    run : Run
        The run.
    verdict : str
        The verdict the notification leads with (`Run.final_verdict`).

    Returns
    -------
    str
        ASCII, one line, at most `SUBJECT_MAX` characters.
    """
    what = "results could not be read" if verdict == Verdict.UNREADABLE else _subject_detail(run, verdict)
    detail = ascii_one_line(what)[:SUBJECT_DETAIL_MAX].rstrip()
    tail = f": {ascii_one_line(verdict)[:20]}" + (f" - {detail}" if detail else "")
    budget = SUBJECT_MAX - len(SUBJECT_PREFIX) - len(tail)
    name = ascii_one_line(run.suite) or "unknown"
    if len(name) > budget:
        # Keep at least a recognisable stem; the detail gives way below if still too long.
        name = name[: max(budget, 12) - 3].rstrip() + "..."
    return (SUBJECT_PREFIX + name + tail)[:SUBJECT_MAX].rstrip()


def _subject_detail(run: Run, verdict: str) -> str:
    records = plural(run.record_count or 0, "record")
    match verdict:
        case Verdict.PASSED:
            return f"{records}, no low scores"
        case Verdict.LOW_SCORES:
            return f"{plural(run.low_count, 'low score')} in {records}"
        case Verdict.REGRESSED:
            return _regressed_detail(run.comparison)
        case Verdict.INCOMPLETE:
            return _incomplete_detail(run.coverage)
        case Verdict.FAILED:
            return "job failed"
        case Verdict.STOPPED:
            return "job stopped"
        case Verdict.TIMED_OUT:
            return "job timed out"
        case Verdict.REJECTED:
            what = "run" if run.request is not None else "dataset"
            return f"{what} rejected ({plural(problem_count(run), 'problem')})"
        case Verdict.ERROR:
            error_type = run.error.type if run.error is not None else ""
            return f"pipeline error ({error_type})" if error_type else "pipeline error"
    return ""


def _incomplete_detail(coverage: Coverage | None) -> str:
    """``3 of 18 records not evaluated`` (or the surplus, when nothing is missing)."""
    if coverage is not None and coverage.missing_count:
        return f"{coverage.missing_count} of {plural(coverage.expected, 'record')} not evaluated"
    surplus = coverage.surplus_count if coverage is not None else 0
    return f"{plural(surplus, 'result')} match no dataset record"


def _regressed_detail(comparison: Comparison | None) -> str:
    """``2 metrics regressed vs <baseline's short id>``; less when the comparison is missing."""
    count = len(comparison.regressed_metrics) if comparison is not None else 0
    baseline = comparison.baseline_run_id if comparison is not None else None
    against = f" vs {short_run_id(baseline)}" if baseline else ""
    return (f"{plural(count, 'metric')} regressed" if count else "metrics regressed") + against


def short_run_id(run_id: str | None) -> str:
    """A run id shortened for a subject: its time and hash (``20250228-091500-1a2b3c4d``).

    The suite slug in front is left out (the subject names the suite); an id of another shape
    keeps its last `SHORT_RUN_ID_CHARS` characters.

    Examples
    --------
    >>> short_run_id("support-bot-20250228-091500-1a2b3c4d")
    '20250228-091500-1a2b3c4d'
    """
    text = run_id or ""
    match = _RUN_ID_TAIL.search(text)
    if match:
        return match.group(1)
    return text if len(text) <= SHORT_RUN_ID_CHARS else "..." + text[-(SHORT_RUN_ID_CHARS - 3) :]
