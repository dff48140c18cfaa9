"""Notify (and NotifyError) state: publish the run's one notification and its verdict metric.

``RunVerdict`` (`evalpipe.run.metrics.verdict_metric_groups`) is published here, with the
notification, so every run counts once whatever its verdict: completed, failed, stopped, timed
out, rejected or in error. A retried call that finds the run already notified publishes neither.
"""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.run.metrics import verdict_metric_groups
from evalpipe.steps.notify import notify
from handlers._inputs import RunRef
from handlers._runtime import logger, ports, publish_metric_groups, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@event_parser(model=RunRef)
def handler(event: RunRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    notified = notify(event.run_id, ports())
    if notified.published:
        # Best effort: the run is notified whether or not its metric is published.
        publish_metric_groups(verdict_metric_groups(notified.run), logger)
    logger.info("run notified", extra=notified.as_output())
    return notified.as_output()
