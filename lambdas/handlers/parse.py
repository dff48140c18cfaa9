"""Parse state: store the job's per-record scores and the run summary; publish its score metrics.

Besides ``RecordsParsed`` (the shared Powertools `Metrics`, dimension ``service``), every parsed
run publishes its score statistics per suite and metric (`evalpipe.run.metrics` lists the names
and dimensions), one EMF document per dimension set. The verdict is the notify state's to publish.
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from evalpipe.run.metrics import score_metric_groups
from evalpipe.steps.parse import parse
from handlers._inputs import RunRef
from handlers._runtime import event_parser, logger, metrics, ports, publish_metric_groups, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_parser(model=RunRef)
def handler(event: RunRef, context: LambdaContext) -> dict:
    logger.append_keys(run_id=event.run_id)
    run = parse(event.run_id, ports())
    result = {"record_count": run.record_count, "verdict": run.verdict}
    metrics.add_metric(name="RecordsParsed", unit=MetricUnit.Count, value=run.record_count or 0)
    # Best effort: the run is parsed whether or not its metrics are published.
    publish_metric_groups(score_metric_groups(run), logger)
    logger.info("results parsed", extra=result)
    return result
