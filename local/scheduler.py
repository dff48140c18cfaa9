"""The local stand-in for EventBridge Scheduler's invocations: fire one schedule, as the service would.

moto 5.2.1 keeps schedules (CreateSchedule, GetSchedule, ...) but never invokes their targets.
`fire` does what the scheduler does when a schedule's time comes, and nothing more: it takes the
schedule *as the scheduler API returns it* (so what the product wrote is what runs), replaces the
context attributes in the target's ``Input`` (Scheduler user guide, "Adding context attributes"):

- ``<aws.scheduler.schedule-arn>``: the schedule's ARN;
- ``<aws.scheduler.scheduled-time>``: the time it was due, ``2026-03-02T06:00:00Z``;
- ``<aws.scheduler.execution-id>``: a fresh id per invocation attempt;
- ``<aws.scheduler.attempt-number>``: the attempt, from 1;

and calls the target's templated API with it: a Step Functions state machine gets
``StartExecution(input=...)``, a Lambda function an asynchronous ``Invoke``, an SQS queue a
``SendMessage``. A DISABLED schedule does not fire. The local mode does not assume the target's
``RoleArn`` (the emulator checks no IAM): that is the one thing the service does that this skips.

Only public APIs are used (any endpoint would do), like the rest of ``LocalDeployment``.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

SCHEDULED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class ScheduleDisabled(RuntimeError):
    """The schedule's State is DISABLED: the scheduler would not invoke its target."""


class UnsupportedTarget(ValueError):
    """A target service this stand-in does not invoke (the product only targets Step Functions)."""


def render_input(
    text: str, *, schedule_arn: str, scheduled_time: str, execution_id: str, attempt_number: int = 1
) -> str:
    """``text`` with EventBridge Scheduler's context attributes replaced.

    Examples
    --------
    >>> render_input('{"t": "<aws.scheduler.scheduled-time>", "n": <aws.scheduler.attempt-number>}',
    ...              schedule_arn="arn", scheduled_time="2026-03-02T06:00:00Z", execution_id="e1")
    '{"t": "2026-03-02T06:00:00Z", "n": 1}'
    """
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": scheduled_time,
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.attempt-number>": str(attempt_number),
    }
    for attribute, value in values.items():
        text = text.replace(attribute, value)
    return text


def due_time(when: datetime | str | None = None) -> str:
    """The scheduled time as the scheduler writes it: UTC, whole seconds; default: this minute.

    The scheduler invokes with one-minute precision, so "now" is the start of the current minute.
    """
    if isinstance(when, str):
        return when
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    if when is None:
        moment = moment.replace(second=0, microsecond=0)
    return moment.strftime(SCHEDULED_TIME_FORMAT)


def fire(
    schedule: dict[str, Any],
    client: Callable[[str], Any],
    *,
    scheduled_time: datetime | str | None = None,
    execution_id: str | None = None,
    attempt_number: int = 1,
) -> dict[str, Any]:
    """Invoke ``schedule``'s target once, as EventBridge Scheduler does when the schedule is due.

    Parameters
    ----------
    schedule
        The schedule as ``GetSchedule`` returns it.
    client
        Returns a boto3 client for a service name (``stepfunctions``, ``lambda``, ``sqs``).
    scheduled_time
        The time the schedule was due (default: the current minute). Firing the same time twice is
        what the scheduler does when it retries an invocation.
    execution_id
        The invocation's id (default: a fresh 16-hex-digit id, as the scheduler's).
    attempt_number
        ``<aws.scheduler.attempt-number>``.

    Returns
    -------
    dict
        ``{target, input, scheduled_time, execution_id}`` plus ``execution_arn`` (Step Functions),
        ``status_code`` (Lambda) or ``message_id`` (SQS).

    Raises
    ------
    ScheduleDisabled
        The schedule is DISABLED.
    UnsupportedTarget
        The target is not a state machine, a function or a queue.
    """
    if schedule.get("State") == "DISABLED":
        raise ScheduleDisabled(
            f"schedule {schedule.get('Name')} is DISABLED: the scheduler would not fire it"
        )
    target = schedule["Target"]
    arn = target["Arn"]
    fired: dict[str, Any] = {
        "target": arn,
        "scheduled_time": due_time(scheduled_time),
        "execution_id": execution_id or secrets.token_hex(8),
    }
    fired["input"] = render_input(
        target.get("Input") or "{}",
        schedule_arn=schedule["Arn"],
        scheduled_time=fired["scheduled_time"],
        execution_id=fired["execution_id"],
        attempt_number=attempt_number,
    )
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service == "states":
        # The scheduler names no execution and Step Functions generates a UUID; moto names every
        # unnamed execution "None" (the second one collides), so the UUID is generated here.
        response = client("stepfunctions").start_execution(
            stateMachineArn=arn, name=str(uuid.uuid4()), input=fired["input"]
        )
        fired["execution_arn"] = response["executionArn"]
    elif service == "lambda":
        response = client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=fired["input"])
        fired["status_code"] = response["StatusCode"]
    elif service == "sqs":
        account, name = arn.split(":")[4:6]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        fired["message_id"] = sqs.send_message(QueueUrl=url, MessageBody=fired["input"])["MessageId"]
    else:
        raise UnsupportedTarget(f"schedule {schedule.get('Name')}: cannot invoke target {arn} locally")
    return fired
