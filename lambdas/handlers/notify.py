"""Notify (and NotifyError) state: publish the run's one notification."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.notify import notify
from handlers._inputs import RunRef
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@event_parser(model=RunRef)
def handler(event: RunRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    result = notify(event.run_id, ports())
    logger.info("run notified", extra=result)
    return result
