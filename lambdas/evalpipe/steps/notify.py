"""Notify step: one SNS message per finished run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.aws.alerts import publish
from evalpipe.notification import build_notification

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run


@dataclass(frozen=True)
class Notified:
    """What the notify step did: the message id, the verdict it led with, and the run as stored.

    ``published`` is False for the no-op retry of a run already notified (the handler publishes
    the run's verdict metric only with the notification it belongs to).
    """

    message_id: str
    verdict: str
    published: bool
    run: Run

    def as_output(self) -> dict:
        """The state's output: ``{message_id, verdict, published}``."""
        return {"message_id": self.message_id, "verdict": self.verdict, "published": self.published}


def notify(run_id: str, ports: Ports) -> Notified:
    """Publish the run's notification once; a retried call after a successful publish is a no-op."""
    run = ports.runs.load(run_id)
    notification = build_notification(run, console_region=ports.settings.console_region)
    verdict = notification.attributes["verdict"]
    if run.notification_id:
        return Notified(run.notification_id, verdict, published=False, run=run)
    if not ports.settings.topic_arn:
        raise RuntimeError("TOPIC_ARN is not set for the notify function")
    run.notification_id = publish(ports.sns_client, ports.settings.topic_arn, notification)
    run.notified_at = ports.clock()
    return Notified(run.notification_id, verdict, published=True, run=ports.runs.save(run))
