"""Sending a run's one notification and recording it on the run, from any step that ends a run.

The notify step (every run's normal end), its NotifyError use (a failed run) and the reconcile step
(an execution that failed, timed out or was stopped) all send through `deliver`, so a run is
notified once whichever of them gets there: a run that records a ``notification_id`` is not sent
again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from evalpipe.aws.alerts import publish
from evalpipe.notification.message import build_notification

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run

logger = logging.getLogger(__name__)


class NotificationNotSent(RuntimeError):
    """SNS did not take the message: nothing went out, so the state machine retries it."""


@dataclass(frozen=True)
class Notified:
    """What `deliver` did.

    Attributes
    ----------
    message_id
        The SNS message id (the earlier one for a run already notified).
    verdict
        The verdict the message led with.
    published
        False when the run had been notified before (the handler publishes the run's verdict metric
        only with the notification it belongs to).
    recorded
        False when the message went out but the run item could not record it (the runs table was
        unavailable): the reconcile step records it later from the execution's history.
    run
        The run as stored (or as built from the execution's state when the table was unavailable).
    """

    message_id: str
    verdict: str
    published: bool
    run: Run
    recorded: bool = True

    def as_output(self) -> dict:
        """The state's output: ``{message_id, verdict, published}``."""
        return {"message_id": self.message_id, "verdict": self.verdict, "published": self.published}


def deliver(run: Run, ports: Ports, *, store: bool = True) -> Notified:
    """Publish the run's notification unless it was sent already, then record it on the run.

    Parameters
    ----------
    run
        The finished run.
    store
        False for a run built from an execution's state (the table could not be read): nothing is
        recorded.

    Raises
    ------
    NotificationNotSent
        SNS refused or failed: nothing went out, a retry is safe.
    """
    notification = build_notification(run, console_region=ports.settings.console_region)
    verdict = notification.attributes["verdict"]
    if run.notification_id:
        return Notified(run.notification_id, verdict, published=False, run=run)
    if not ports.settings.topic_arn:
        raise RuntimeError("TOPIC_ARN is not set for this function")
    try:
        message_id = publish(ports.sns_client, ports.settings.topic_arn, notification)
    except (ClientError, BotoCoreError) as exc:
        raise NotificationNotSent(f"SNS did not take the notification of run {run.run_id}: {exc}") from exc
    if not store:
        return Notified(message_id, verdict, published=True, run=run, recorded=False)
    run.notification_id = message_id
    run.notified_at = ports.clock()
    try:
        return Notified(message_id, verdict, published=True, run=ports.runs.save(run))
    except (ClientError, BotoCoreError):
        # Sent, not recorded: raising would make a retry send it twice.
        logger.exception(
            "run %s was notified (message %s) but the runs table did not record it", run.run_id, message_id
        )
        return Notified(message_id, verdict, published=True, run=run, recorded=False)
