"""Where a run is (`RunStatus`) and what its notification leads with (`Verdict`, and its severity).

docs/design.md, "Run statuses and verdicts", is the contract these enums spell.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    VALIDATING = "VALIDATING"
    # The suite's pipeline.collect is playing the dropped scenarios (the dataset is being made).
    COLLECTING = "COLLECTING"
    REJECTED = "REJECTED"
    # Valid, waiting for a slot in the account's pool of concurrent evaluation jobs.
    QUEUED = "QUEUED"
    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    ERROR = "ERROR"


class Verdict(StrEnum):
    PASSED = "PASSED"
    LOW_SCORES = "LOW_SCORES"
    # The results do not cover exactly the dataset: records are missing or surplus.
    INCOMPLETE = "INCOMPLETE"
    # The job completed but its results could not be read (no score for any metric, or a metric
    # with neither a score nor an N/A): never PASSED.
    UNREADABLE = "UNREADABLE"
    REGRESSED = "REGRESSED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    ERROR = "ERROR"


SEVERITY: dict[Verdict, str] = {
    Verdict.PASSED: "info",
    Verdict.LOW_SCORES: "warning",
    Verdict.INCOMPLETE: "warning",
    Verdict.REGRESSED: "warning",
    Verdict.STOPPED: "warning",
    Verdict.UNREADABLE: "error",
    Verdict.FAILED: "error",
    Verdict.TIMED_OUT: "error",
    Verdict.REJECTED: "error",
    Verdict.ERROR: "error",
}

# A run in one of these statuses has ended: its verdict leads with the status.
FAILURE_VERDICT: dict[RunStatus, Verdict] = {
    RunStatus.REJECTED: Verdict.REJECTED,
    RunStatus.FAILED: Verdict.FAILED,
    RunStatus.STOPPED: Verdict.STOPPED,
    RunStatus.TIMED_OUT: Verdict.TIMED_OUT,
    RunStatus.ERROR: Verdict.ERROR,
}
FINAL_STATUSES = frozenset({RunStatus.COMPLETED, *FAILURE_VERDICT})


def severity_of(verdict: str) -> str:
    """`info` / `warning` / `error` as docs/design.md defines them (unknown verdicts: `warning`)."""
    try:
        return SEVERITY[Verdict(verdict)]
    except ValueError:
        return "warning"


def reviewed_verdict(summary_verdict: Verdict, *, regressed: bool, incomplete: bool = False) -> Verdict:
    """A parsed run's verdict: REGRESSED over INCOMPLETE over LOW_SCORES over PASSED.

    REGRESSED wins because it is news (flagged scores the baseline had as well are not), and the
    paired records it rests on were evaluated. INCOMPLETE (records of the dataset missing from the
    results, or results no line of it explains) can never be PASSED: a verdict must be about
    exactly the data that was dropped. A verdict other than PASSED / LOW_SCORES (UNREADABLE,
    FAILED, ERROR, ...) is returned unchanged.

    Examples
    --------
    >>> reviewed_verdict(Verdict.LOW_SCORES, regressed=True).value
    'REGRESSED'
    >>> reviewed_verdict(Verdict.FAILED, regressed=True).value
    'FAILED'
    """
    if summary_verdict not in (Verdict.PASSED, Verdict.LOW_SCORES):
        return summary_verdict
    if regressed:
        return Verdict.REGRESSED
    return Verdict.INCOMPLETE if incomplete else summary_verdict
