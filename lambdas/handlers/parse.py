"""Parse state: store the job's per-record scores and the run summary."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.steps.parse import parse
from handlers._inputs import RunRef
from handlers._runtime import logger, metrics, ports, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=RunRef)
def handler(event: RunRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    result = parse(event.run_id, ports())
    metrics.add_metric(name="RecordsParsed", unit=MetricUnit.Count, value=result["record_count"])
    logger.info("results parsed", extra=result)
    return result
