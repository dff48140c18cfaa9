"""Validate state: claim the run (a dropped dataset or a run request) and accept or reject it."""

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.run.triggers import is_run_request
from evalpipe.steps.validate import validate
from handlers._inputs import RunRequestEvent
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    # Shape check only: a malformed event fails here with a clear error and is caught into ERROR.
    model = RunRequestEvent if is_run_request(event) else S3EventNotificationEventBridgeModel
    model.model_validate(event)
    result = validate(event, ports())
    logger.info("validated", extra=result)
    return result
