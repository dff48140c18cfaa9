"""RecordError state: any step failed unexpectedly; record status ERROR so it can be notified."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.record_error import record_error
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    # The state carries the event and the error; log only the error name, never payloads.
    logger.warning("recording pipeline error", extra={"error": (event.get("error") or {}).get("Error")})
    return record_error(event, ports())
