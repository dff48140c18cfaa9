"""CollectBatch state: play one batch of the run's scenarios against the suite's collection target."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.collect import collect_batch
from handlers._inputs import BatchRef
from handlers._runtime import collect_ports, event_parser, logger, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=BatchRef)
def handler(event: BatchRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id, batch=event.batch)
    seconds_left = context.get_remaining_time_in_millis() / 1000
    result = collect_batch(event.run_id, event.batch, collect_ports(), seconds_left)
    logger.info("batch collected", extra=result)
    return result
