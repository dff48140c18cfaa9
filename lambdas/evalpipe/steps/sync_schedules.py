"""Suite schedules: keep one EventBridge Scheduler schedule per suite in step with its suite file.

Whenever ``suites/<suite>.json`` is uploaded or deleted, `sync_suite_schedule` *reconciles* the
schedule ``<suite>`` of the stack's schedule group with the suite file as it is **now** (not as
the event describes it), so events that arrive late or out of order still converge:

- a valid suite with ``pipeline.schedule``: the schedule is created, or updated when a setting
  differs (``enabled: false`` keeps it, DISABLED);
- no suite file, or a valid one without ``pipeline.schedule``: the schedule is deleted;
- an invalid suite file: **the existing schedule is kept as it was**, and when the file has a
  schedule block or a schedule exists, an alert names the file and every problem's field. Keeping
  it (rather than deleting it) means one bad upload never silently ends a suite's regular runs:
  each scheduled run validates the current suite file and is REJECTED with a notification until
  the file is fixed; deleting the file (or removing ``pipeline.schedule``) stops them.

A schedule's target is the state machine: the scheduler assumes the stack's scheduler role and
starts an execution whose input is the ``Run Requested`` envelope (`evalpipe.run.triggers`) with the
scheduler's context attributes as ``id``, ``time`` and ``detail.scheduleArn``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from evalpipe.aws.alerts import publish
from evalpipe.aws.objects import ObjectMissing, ObjectTooLarge
from evalpipe.notification import SUBJECT_MAX, SUBJECT_PREFIX, Notification
from evalpipe.run.triggers import SUITE_NAME_PATTERN, SUITE_PREFIX, TriggerKind, run_request_event, suite_key
from evalpipe.suite import Suite, SuiteError
from evalpipe.validation import Problem, Report, Severity, parse_suite, validate_suite

if TYPE_CHECKING:
    from evalpipe.ports import SchedulePorts

# EventBridge Scheduler context attributes, replaced when the schedule invokes its target.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"
# The scheduler retries a failed StartExecution like the dataset trigger's rule does.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
MAX_SUITE_BYTES = 256_000
LISTED_PROBLEMS = 20
ALERT_EVENT = "SCHEDULE_REJECTED"


class SyncOutcome(StrEnum):
    """What `sync_suite_schedule` did."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    DELETED = "DELETED"
    ABSENT = "ABSENT"  # no schedule wanted, none there
    INVALID = "INVALID"  # the suite file is invalid: the schedule (if any) was kept
    IGNORED = "IGNORED"  # the key is not suites/<suite>.json


class ScheduleConfigError(RuntimeError):
    """The function lacks the settings a schedule needs (a deployment error, never the user's)."""


def suite_of_suite_key(key: str) -> str | None:
    """``suites/<suite>.json`` -> ``<suite>``; None for any other key (e.g. ``suites/a/b.json``).

    Examples
    --------
    >>> suite_of_suite_key("suites/qa-builtin-weekly.json"), suite_of_suite_key("suites/a/b.json")
    ('qa-builtin-weekly', None)
    """
    if not key.startswith(SUITE_PREFIX) or not key.endswith(".json"):
        return None
    name = key.removeprefix(SUITE_PREFIX).removesuffix(".json")
    return name if SUITE_NAME_PATTERN.match(name) else None


def scheduled_run_input(suite: str) -> str:
    """The schedule target's input: the ``Run Requested`` envelope with the scheduler's context attributes.

    Examples
    --------
    >>> json.loads(scheduled_run_input("qa"))["time"]
    '<aws.scheduler.scheduled-time>'
    """
    event = run_request_event(
        suite, TriggerKind.SCHEDULE, request_id=EXECUTION_ID, time=SCHEDULED_TIME, schedule_arn=SCHEDULE_ARN
    )
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


def desired_schedule(suite: Suite, ports: SchedulePorts) -> dict[str, Any] | None:
    """The ``CreateSchedule`` / ``UpdateSchedule`` arguments for ``suite`` (without ``GroupName``).

    Returns
    -------
    dict or None
        None when the suite has no ``pipeline.schedule``.

    Raises
    ------
    ScheduleConfigError
        The function's environment lacks the state machine or the scheduler role.
    """
    schedule = suite.pipeline.schedule
    if schedule is None:
        return None
    settings = ports.settings
    if not settings.state_machine_arn or not settings.scheduler_role_arn:
        raise ScheduleConfigError("STATE_MACHINE_ARN and SCHEDULER_ROLE_ARN must be set for SyncSchedules")
    target: dict[str, Any] = {
        "Arn": settings.state_machine_arn,
        "RoleArn": settings.scheduler_role_arn,
        "Input": scheduled_run_input(suite.name),
        "RetryPolicy": dict(RETRY_POLICY),
    }
    if settings.schedule_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.schedule_dlq_arn}
    window: dict[str, Any] = (
        {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": schedule.flexible_window_minutes}
        if schedule.flexible_window_minutes
        else {"Mode": "OFF"}
    )
    return {
        "Name": suite.name,
        "Description": f"evalpipe: runs suite {suite.name} (suites/{suite.name}.json)",
        "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone,
        "State": "ENABLED" if schedule.enabled else "DISABLED",
        "FlexibleTimeWindow": window,
        "Target": target,
    }


def differs(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether the existing schedule (``GetSchedule``) has any setting other than ``desired``'s.

    Only what the pipeline sets is compared (``GetSchedule`` adds ARN, dates and the like).
    """
    return _comparable(current) != _comparable(desired)


def _comparable(schedule: dict[str, Any]) -> dict[str, Any]:
    target = schedule.get("Target") or {}
    return {
        "Description": schedule.get("Description"),
        "ScheduleExpression": schedule.get("ScheduleExpression"),
        "ScheduleExpressionTimezone": schedule.get("ScheduleExpressionTimezone") or "UTC",
        "State": schedule.get("State") or "ENABLED",
        "FlexibleTimeWindow": {k: v for k, v in (schedule.get("FlexibleTimeWindow") or {}).items() if v},
        "Target": {
            name: target.get(name)
            for name in ("Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig")
            if target.get(name)
        },
    }


def sync_suite_schedule(suite: str, ports: SchedulePorts) -> dict[str, Any]:
    """Reconcile the schedule ``<suite>`` with ``suites/<suite>.json`` as it is now.

    Parameters
    ----------
    suite
        The suite name (``suite_of_suite_key`` of the event's key).
    ports
        Adapters.

    Returns
    -------
    dict
        ``{suite, outcome, schedule_arn?, problems?, alert_id?}``; ``outcome`` is a `SyncOutcome`.
    """
    key = suite_key(suite)
    current = ports.schedules.get(suite)
    try:
        data: bytes | None = ports.objects.read_bytes(key, max_bytes=MAX_SUITE_BYTES)
    except ObjectMissing:
        data = None
    except ObjectTooLarge:
        report = Report()
        report.add(Problem(Severity.ERROR, key, f"suite file is larger than {MAX_SUITE_BYTES} bytes"))
        return _invalid(suite, report, None, current, ports)

    if data is None:
        return _remove(suite, current, ports)

    model, report, document = _validated_suite(suite, key, data)
    if model is None:
        return _invalid(suite, report, document, current, ports)
    return _reconcile(suite, desired_schedule(model, ports), current, ports)


def _validated_suite(suite: str, key: str, data: bytes) -> tuple[Suite | None, Report, object]:
    """The suite file's model, or None with the report saying why (and the document, when it parsed).

    The document is handed to `_invalid` so that it can tell whether the file meant a schedule.
    """
    document, problem = parse_suite(data, key)
    report = Report(max_listed=LISTED_PROBLEMS)
    if problem is not None:
        report.add(problem)
        return None, report, None
    report.extend(validate_suite(document, key, suite_name=suite))
    if not report.ok:
        return None, report, document
    try:
        return Suite.from_document(suite, document), report, document  # type: ignore[arg-type]
    except SuiteError as exc:
        report.add(Problem(Severity.ERROR, key, str(exc)))
        return None, report, document


def _reconcile(
    suite: str, desired: dict[str, Any] | None, current: dict[str, Any] | None, ports: SchedulePorts
) -> dict[str, Any]:
    """Create, update, keep or delete the schedule so that it matches ``desired`` (None: no schedule)."""
    if desired is None:
        return _remove(suite, current, ports)
    if current is None:
        arn = ports.schedules.create(desired)
        return {"suite": suite, "outcome": SyncOutcome.CREATED.value, "schedule_arn": arn}
    if differs(current, desired):
        arn = ports.schedules.update(desired)
        return {"suite": suite, "outcome": SyncOutcome.UPDATED.value, "schedule_arn": arn}
    return {"suite": suite, "outcome": SyncOutcome.UNCHANGED.value, "schedule_arn": current.get("Arn")}


def _remove(suite: str, current: dict[str, Any] | None, ports: SchedulePorts) -> dict[str, Any]:
    if current is not None and ports.schedules.delete(suite):
        return {"suite": suite, "outcome": SyncOutcome.DELETED.value}
    return {"suite": suite, "outcome": SyncOutcome.ABSENT.value}


def _invalid(
    suite: str, report: Report, document: object, current: dict[str, Any] | None, ports: SchedulePorts
) -> dict[str, Any]:
    """Keep the schedule; alert when the file meant one (a schedule block) or one exists."""
    errors = report.errors()
    result: dict[str, Any] = {
        "suite": suite,
        "outcome": SyncOutcome.INVALID.value,
        "problems": [p.render() for p in errors[:LISTED_PROBLEMS]],
    }
    pipeline = document.get("pipeline") if isinstance(document, dict) else None
    wants_schedule = isinstance(pipeline, dict) and pipeline.get("schedule") is not None
    if (wants_schedule or current is not None) and ports.settings.topic_arn:
        alert = invalid_suite_alert(
            suite, ports.objects.uri(suite_key(suite)), errors, report.error_count, current
        )
        result["alert_id"] = publish(ports.sns_client, ports.settings.topic_arn, alert)
    return result


def invalid_suite_alert(
    suite: str, uri: str, problems: list[Problem], count: int, current: dict[str, Any] | None
) -> Notification:
    """The SNS alert about a suite file whose schedule could not be created or changed.

    Attributes ``suite``, ``severity`` (``error``) and ``event`` (``SCHEDULE_REJECTED``) let a
    subscription filter it apart from run notifications (which carry ``verdict``).

    Examples
    --------
    >>> problem = Problem(Severity.ERROR, "suites/qa.json", "bad", field="pipeline.schedule.expression")
    >>> alert = invalid_suite_alert("qa", "s3://b/suites/qa.json", [problem], 1, None)
    >>> alert.subject
    '[evalpipe] qa: schedule not updated, suite file invalid'
    """
    detail = ": schedule not updated, suite file invalid"
    subject = (SUBJECT_PREFIX + suite[: SUBJECT_MAX - len(SUBJECT_PREFIX) - len(detail)] + detail)[
        :SUBJECT_MAX
    ]
    lines = [
        f"The suite file {uri} is not valid, so its schedule was not created or changed.",
        "",
        f"Problems ({count})",
        *(f"  {problem.render()}" for problem in problems[:LISTED_PROBLEMS]),
    ]
    if count > len(problems[:LISTED_PROBLEMS]):
        lines.append(f"  ... and {count - LISTED_PROBLEMS} more")
    lines.append("")
    if current is not None:
        state = str(current.get("State") or "ENABLED")
        lines += [
            f"The existing schedule {suite} ({current.get('ScheduleExpression')}, "
            f"{current.get('ScheduleExpressionTimezone') or 'UTC'}, {state}) is kept as it was: each of its",
            "runs validates the current suite file and is REJECTED (with a notification) until the file",
            "is fixed. Fix the file and upload it again; to stop the runs, remove pipeline.schedule or",
            "delete the suite file.",
        ]
    else:
        lines.append(
            "No schedule exists for this suite, and none was created. Fix the file and upload it again."
        )
    return Notification(
        subject=subject,
        message="\n".join(lines) + "\n",
        attributes={"suite": suite, "severity": "error", "event": ALERT_EVENT},
    )
