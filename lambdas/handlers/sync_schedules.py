"""SyncSchedules: a suite file was uploaded or deleted; bring its EventBridge Scheduler schedule in step.

Invoked by the EventBridge rule on ``suites/*.json`` (``Object Created`` / ``Object Deleted``).
The schedule is reconciled with the suite file as it is now (`evalpipe.steps.sync_schedules`), so a late or
repeated event does no harm.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.sync_schedules import SyncOutcome, suite_of_suite_key, sync_suite_schedule
from handlers._inputs import SuiteObjectEvent
from handlers._runtime import event_parser, logger, schedule_ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=SuiteObjectEvent)
def handler(event: SuiteObjectEvent, context: LambdaContext) -> dict:
    key = event.detail.object.key
    suite = suite_of_suite_key(key)
    if suite is None:
        # The rule's wildcard also matches suites/a/b.json, which names no suite.
        logger.warning("not a suite file: suites/<suite>.json", extra={"key": key})
        return {"key": key, "outcome": SyncOutcome.IGNORED.value}
    logger.append_keys(suite=suite)
    result = sync_suite_schedule(suite, schedule_ports())
    logger.info("schedule synced", extra={"event_type": event.detail_type, **result})
    return result
