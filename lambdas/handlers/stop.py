"""StopJob state: stop a job that ran past its deadline."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.stop import stop
from handlers._inputs import JobRef
from handlers._runtime import event_parser, logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=JobRef)
def handler(event: JobRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    logger.append_keys(shard=event.shard)
    result = stop(event.run_id, event.shard, event.job_arn, ports())
    logger.info("job stopped", extra=result)
    return result
