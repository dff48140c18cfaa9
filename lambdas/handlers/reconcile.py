"""Reconcile: an execution of the pipeline ended FAILED, TIMED_OUT or ABORTED (an EventBridge rule on
Step Functions' "Execution Status Change" events); give its run a final, notified state."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.reconcile import execution_ended, reconcile
from handlers._inputs import ExecutionStatusChange
from handlers._runtime import event_parser, executions, logger, ports, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=ExecutionStatusChange)
def handler(event: ExecutionStatusChange, context: LambdaContext) -> dict:
    ended = execution_ended(event.detail)
    logger.append_keys(execution_arn=ended.execution_arn, execution_status=ended.status)
    result = reconcile(ended, ports(), executions())
    logger.info("execution reconciled", extra=result)
    return result
