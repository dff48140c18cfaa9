"""Validate state: claim the run for the dropped dataset and accept or reject it."""

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.validate import validate
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    # Shape check only: a malformed event fails here with a clear error and is caught into ERROR.
    S3EventNotificationEventBridgeModel.model_validate(event)
    result = validate(event, ports())
    logger.info("validated", extra=result)
    return result
