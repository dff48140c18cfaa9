"""Poll state: read the job's status once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.poll import poll
from handlers._inputs import PollInput
from handlers._runtime import event_parser, logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PollInput)
def handler(event: PollInput, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    logger.append_keys(shard=event.shard)
    result = poll(event.run_id, event.shard, event.job_arn, event.deadline, ports())
    logger.info("job polled", extra={"job_status": result["status"]})
    return result
