"""The verdict a notification leads with and its severity: `derive_verdict` lets a failure status win
over a stored verdict, and `severity_of` maps a verdict to the ``severity`` attribute (docs/design.md,
"Run statuses and verdicts"). The history report and the CLI use them without building a message.
"""

from __future__ import annotations

from collections.abc import Mapping

from evalpipe.notification.run_item import _low_count, _text
from evalpipe.run.triggers import SEVERITY, RunStatus, Verdict

_STATUS_VERDICT: dict[str, Verdict] = {
    RunStatus.REJECTED: Verdict.REJECTED,
    RunStatus.FAILED: Verdict.FAILED,
    RunStatus.STOPPED: Verdict.STOPPED,
    RunStatus.TIMED_OUT: Verdict.TIMED_OUT,
    RunStatus.ERROR: Verdict.ERROR,
}


def derive_verdict(run: Mapping) -> str:
    """The verdict the notification leads with.

    A failure status always wins over a stored verdict (a run that was parsed and then hit a
    pipeline error is an ERROR). A COMPLETED run uses its `verdict`, or its low-score count if
    the verdict is missing.

    Parameters
    ----------
    run : Mapping
        The run item.

    Returns
    -------
    str
        A `Verdict` value (unknown stored verdicts, e.g. a future `REGRESSED`, pass through).
    """
    status = _text(run.get("status"))
    stored = _text(run.get("verdict"))
    if status in _STATUS_VERDICT:
        return _STATUS_VERDICT[status].value
    if status == RunStatus.COMPLETED:
        if stored:
            return stored
        return (Verdict.LOW_SCORES if _low_count(run) > 0 else Verdict.PASSED).value
    # Notify is only reached with a final status; anything else is a pipeline bug.
    return stored or Verdict.ERROR.value


def severity_of(verdict: str) -> str:
    """`info` / `warning` / `error` as docs/design.md defines them (unknown verdicts: `warning`)."""
    try:
        return SEVERITY[Verdict(verdict)]
    except ValueError:
        return "warning"
