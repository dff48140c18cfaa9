"""Notify (and NotifyError) state: publish the run's one notification and its verdict metric.

Notify is handed ``{run_id}``; NotifyError the whole execution state after a failure (the event,
``run`` if Validate got that far, ``error``), so it can notify even when the runs table could not
record the failure (`evalpipe.steps.notify.notify_failure`).

``RunVerdict`` (`evalpipe.run.metrics.verdict_metric_groups`) is published here, with the
notification, so every run counts once whatever its verdict. A retried call that finds the run
already notified publishes neither.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.run.metrics import verdict_metric_groups
from evalpipe.steps.notify import notify, notify_failure
from handlers._inputs import NotifyInput
from handlers._runtime import event_parser, logger, ports, publish_metric_groups, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=NotifyInput)
def handler(event: NotifyInput, context: LambdaContext) -> dict:
    if event.run_id is not None:
        logger.append_keys(run_id=event.run_id)
        notified = notify(event.run_id, ports())
    else:
        notified = notify_failure(event.model_dump(by_alias=True), ports())
    if notified.published:
        # Best effort: the run is notified whether or not its metric is published.
        publish_metric_groups(verdict_metric_groups(notified.run), logger)
    if not notified.recorded:
        logger.error("notified, but the runs table did not record it", extra=notified.as_output())
    logger.info("run notified", extra=notified.as_output())
    return notified.as_output()
