"""Bedrock evaluation output: parse `*_output.jsonl` lines, aggregate scores, decide the verdict.

Everything here is pure and streaming: records are parsed one line at a time and folded into an
`Aggregator` that keeps running sums, a bounded heap of the worst flagged ("low") scores and
per-category sums -- never the records themselves -- so memory does not grow with the size of
the job.

Output line (model evaluation, see the Bedrock facts page)::

    {"automatedEvaluationResult": {"scores": [
        {"metricName": "Builtin.Helpfulness", "result": 0.6667,
         "evaluatorDetails": [{"modelIdentifier": "...", "explanation": "..."}]}]},
     "inputRecord": {"prompt": "...", "referenceResponse": "", "category": "...",
                     "modelResponses": [{"response": "...", "modelIdentifier": "..."}]}}

Variations handled: `modelResponses` top-level instead of inside `inputRecord`; `result` as a
number, `null` (N/A), `{"floatValue": x}` or `{"stringValue": s}` (N/A, kept in `extra`); metric
names without the `Builtin.` prefix (classic outputs write `"Accuracy"`: `iter_output_records`
renames them to the suite's `Builtin.Accuracy` when given the suite's metric names, else keeps
them verbatim); values outside [0, 1] (Robustness is a percentage); missing `evaluatorDetails`;
RAG lines whose prompt, response and scores live in `conversationTurns`.

Which dataset a record came from is not in the line: a job with several `datasetMetricConfigs`
entries writes one file per dataset, `.../taskTypes/<task>/datasets/<dataset>/<uuid>_output.jsonl`
(human jobs: `.../datasets/<dataset>/...`), so `iter_output_records` reads `dataset` and
`task_type` from the file's key (`output_location`); a key of another shape leaves them None.

The code lives in focused modules and every public name is re-exported here, so
``from evalpipe.results import Aggregator`` is the import to use (each name is imported from its
module on first use): ``records`` (`RecordResult`,
`MetricScore`), ``output_lines`` (line and file parsing), ``rag_turns`` (RAG per-turn parsing),
``fields`` (the tolerant field readers both parsers and the category index share),
``dataset_index`` (`DatasetIndex`: the dataset beside the results, `resolve_category`),
``aggregate`` (`Aggregator`), ``summary`` (`RunSummary` and its parts), ``text`` (`excerpt`, `truncate`),
``human`` / ``human_tally`` (human ratings) and ``reader`` (`OutputReader`: the reading of a job's
output files that the parse step and `evalpipe parse` share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe._lazy import lazy_exports

if TYPE_CHECKING:
    from evalpipe.results.aggregate import (
        EXPLANATION_EXCERPT_CHARS,
        PROMPT_EXCERPT_CHARS,
        Aggregator,
        EmptyResultsError,
        LowRule,
    )
    from evalpipe.results.dataset_index import UNCATEGORIZED, DatasetIndex, resolve_category
    from evalpipe.results.output_lines import (
        BUILTIN_PREFIX,
        OutputFormatError,
        iter_output_records,
        normalise_metric_name,
        output_location,
        parse_output_line,
    )
    from evalpipe.results.reader import OutputReader, is_output_file
    from evalpipe.results.records import HumanRating, MetricScore, RecordResult
    from evalpipe.results.summary import RunSummary
    from evalpipe.results.text import excerpt, truncate

# Each name is imported from its module on first use (PEP 562): a function that needs
# `RecordResult` does not pay for the output parser, the aggregator and the human-job readers at
# its cold start.
_MODULES = {
    "EXPLANATION_EXCERPT_CHARS": "aggregate",
    "PROMPT_EXCERPT_CHARS": "aggregate",
    "Aggregator": "aggregate",
    "EmptyResultsError": "aggregate",
    "LowRule": "aggregate",
    "UNCATEGORIZED": "dataset_index",
    "DatasetIndex": "dataset_index",
    "resolve_category": "dataset_index",
    "BUILTIN_PREFIX": "output_lines",
    "OutputFormatError": "output_lines",
    "iter_output_records": "output_lines",
    "normalise_metric_name": "output_lines",
    "output_location": "output_lines",
    "parse_output_line": "output_lines",
    "OutputReader": "reader",
    "is_output_file": "reader",
    "HumanRating": "records",
    "MetricScore": "records",
    "RecordResult": "records",
    "RunSummary": "summary",
    "excerpt": "text",
    "truncate": "text",
}


__getattr__ = lazy_exports(__name__, _MODULES)

__all__ = [
    "BUILTIN_PREFIX",
    "EXPLANATION_EXCERPT_CHARS",
    "PROMPT_EXCERPT_CHARS",
    "UNCATEGORIZED",
    "Aggregator",
    "DatasetIndex",
    "EmptyResultsError",
    "HumanRating",
    "LowRule",
    "MetricScore",
    "OutputFormatError",
    "OutputReader",
    "RecordResult",
    "RunSummary",
    "excerpt",
    "is_output_file",
    "iter_output_records",
    "normalise_metric_name",
    "output_location",
    "parse_output_line",
    "resolve_category",
    "truncate",
]
