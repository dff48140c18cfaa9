"""Validate state: claim the run (a dropped dataset or scenarios, a run request) and accept or reject
it; ValidateCollected: the same function, once the run's scenarios are collected."""

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel  # noqa: TC002 -- the annotation of a local variable, kept at run time

from evalpipe.run.triggers import is_run_request
from evalpipe.steps.validate import validate
from handlers._inputs import CollectedRef, RunRequestEvent
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    # Shape check only: a malformed event fails here with a clear error and is caught into ERROR.
    if "collected" in event:
        model: type[BaseModel] = CollectedRef
    elif is_run_request(event):
        model = RunRequestEvent
    else:
        model = S3EventNotificationEventBridgeModel
    model.model_validate(event)
    result = validate(event, ports())
    logger.info("validated", extra=result)
    return result
