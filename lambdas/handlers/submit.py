"""Submit state: create the run's evaluation job."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.submit import submit
from handlers._inputs import RunRef
from handlers._runtime import logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=RunRef)
def handler(event: RunRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    result = submit(event.run_id, ports())
    logger.info("job submitted", extra={"job_arn": result["job_arn"]})
    return result
