"""Notify step: one SNS message per finished run, and the run's error recorder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.aws.alerts import publish
from evalpipe.notification import build_notification
from evalpipe.run.triggers import iso
from evalpipe.steps.submit import load_run

if TYPE_CHECKING:
    from evalpipe.ports import Ports

MAX_ERROR_MESSAGE = 1000


def notify(run_id: str, ports: Ports) -> dict:
    """Publish the run's notification once; a retried call after a successful publish is a no-op.

    Returns
    -------
    dict
        `{message_id, verdict, published}`; `published` is False for the no-op retry (the
        handler publishes the run's verdict metric only with the notification it belongs to).
    """
    run = load_run(run_id, ports)
    notification = build_notification(run, console_region=ports.settings.console_region)
    verdict = notification.attributes["verdict"]
    if run.get("notification_id"):
        return {"message_id": run["notification_id"], "verdict": verdict, "published": False}
    if not ports.settings.topic_arn:
        raise RuntimeError("TOPIC_ARN is not set for the notify function")
    message_id = publish(ports.sns_client, ports.settings.topic_arn, notification)
    ports.runs.update_run(run_id, notification_id=message_id, notified_at=iso(ports.clock()))
    return {"message_id": message_id, "verdict": verdict, "published": True}
