"""The `Notification` the notify function publishes, and `build_notification`, which renders a
finished run's item into the subject, the body and the message attributes subscribers filter on
(``suite``, ``verdict``, ``status``, ``severity``, ``run_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from evalpipe.notification.body import _body
from evalpipe.notification.run_item import _text, comparison_of
from evalpipe.notification.subject import _subject
from evalpipe.notification.verdict import derive_verdict, severity_of


@dataclass(frozen=True)
class Notification:
    """What the notify function publishes.

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


def build_notification(run: Mapping, *, console_region: str | None = None) -> Notification:
    """Render the notification of one finished run.

    Parameters
    ----------
    run : Mapping
        The run item (plain Python types; `Decimal` numbers are fine). Missing attributes are
        tolerated: an ERROR run recorded early may carry little more than its id.
    console_region : str, optional
        When given, the body adds AWS console links (report object, results prefix) in that region.

    Returns
    -------
    Notification
        Subject, body and message attributes.
    """
    verdict = derive_verdict(run)
    comparison = comparison_of(run)
    suite = _text(run.get("suite")) or "unknown"
    status = _text(run.get("status")) or "UNKNOWN"
    run_id = _text(run.get("run_id")) or "unknown"
    attributes = {
        "suite": suite,
        "verdict": verdict,
        "status": status,
        "severity": severity_of(verdict),
        "run_id": run_id,
    }
    return Notification(
        subject=_subject(suite, verdict, run, comparison),
        message=_body(run, verdict, comparison, console_region),
        attributes=attributes,
    )
