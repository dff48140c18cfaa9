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
    result = notify(event.run_id, ports())
    if result["published"]:
        publish_verdict_metric(event.run_id)
    logger.info("run notified", extra=result)
    return result


def publish_verdict_metric(run_id: str) -> None:
    """Publish the notified run's verdict; a failure is logged, never raised (the run is notified)."""
    try:
        run = ports().runs.get_run(run_id) or {}
        publish_metric_groups(verdict_metric_groups(run))
    except Exception:
        logger.exception("the run's RunVerdict metric was not published")
