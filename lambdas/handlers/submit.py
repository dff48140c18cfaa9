"""Submit state: create the run's evaluation job."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.submit import submit
from handlers._inputs import ShardRef
from handlers._runtime import event_parser, logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=ShardRef)
def handler(event: ShardRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    logger.append_keys(shard=event.shard)
    result = submit(event.run_id, event.shard, ports())
    logger.info("job submitted" if result.get("job_arn") else "queued: no free job slot", extra=result)
    return result
