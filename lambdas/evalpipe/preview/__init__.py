"""``evalpipe preview``'s domain: score a few records on a suite's custom metrics through the judge
model's ``Converse``, before an evaluation job is paid for (docs/preview.md).

``metrics`` (what the suite asks: custom metrics, their rating scales, the evaluator; the built-ins
that are not previewed), ``prompt`` (a record rendered into a metric's instructions, the rating scale
and answer format appended; and the reading back of such a prompt), ``answer`` (a judge's answer on
the rating scale, N/A included, never guessed) and ``run`` (the calls through an injected Converse
client, and their cost). No boto3 here: the CLI passes the client in.
"""

from evalpipe.preview.answer import Judgement, read_answer
from evalpipe.preview.metrics import CustomMetric, PreviewPlan, Rating, plan_of
from evalpipe.preview.prompt import JudgePrompt, ReadBack, Sample, judge_prompt, read_judge_prompt, samples_of
from evalpipe.preview.run import (
    DEFAULT_RECORDS,
    ConverseClient,
    Preview,
    PreviewCost,
    Scored,
    Skipped,
    converse_request,
    first_records,
    run_preview,
)

__all__ = [
    "DEFAULT_RECORDS",
    "ConverseClient",
    "CustomMetric",
    "JudgePrompt",
    "Judgement",
    "Preview",
    "PreviewCost",
    "PreviewPlan",
    "Rating",
    "ReadBack",
    "Sample",
    "Scored",
    "Skipped",
    "converse_request",
    "first_records",
    "judge_prompt",
    "plan_of",
    "read_answer",
    "read_judge_prompt",
    "run_preview",
    "samples_of",
]
