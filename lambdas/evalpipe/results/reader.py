"""Reading a job's output files: the one function the parse step and `evalpipe parse` share.

`OutputReader.records(keys, lines_of)` streams every record of the given ``*_output.jsonl`` files
in order (one running index), resolves each one's category against the dataset beside the
results (when there is one) and folds it into the aggregation; `OutputReader.summary()` is then
what the pipeline stores. Where the files live is the caller's: S3 objects for the parse step, a
local folder or a bucket prefix for the CLI (`is_output_file` says which names to read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.results.aggregate import Aggregator
from evalpipe.results.dataset_index import resolve_category
from evalpipe.results.output_lines import iter_output_records

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from evalpipe.dataset import RawLine
    from evalpipe.results.dataset_index import DatasetIndex
    from evalpipe.results.records import RecordResult
    from evalpipe.results.summary import RunSummary
    from evalpipe.suite import Suite

OUTPUT_SUFFIX = "_output.jsonl"


def is_output_file(name: str) -> bool:
    """A results file (``<uuid>_output.jsonl``); Bedrock's other objects (the permission check,
    ``custom_metrics/*.json``) are not."""
    return name.rsplit("/", 1)[-1].endswith(OUTPUT_SUFFIX)


class OutputReader:
    """The records and the summary of one job's output files, read as the pipeline reads them.

    Parameters
    ----------
    suite
        The suite the job ran: its low-score rules, its metric names (classic outputs'
        ``Accuracy`` -> ``Builtin.Accuracy``; a listed metric absent from every record makes
        the verdict UNREADABLE) and ``maxLowRecords``.
    dataset
        The dataset beside the results (categories, coverage), None when there is none.
    """

    def __init__(self, suite: Suite, dataset: DatasetIndex | None = None) -> None:
        self._suite = suite
        self._dataset = dataset
        self._aggregator = Aggregator(
            suite.low_rule,
            max_low_records=suite.pipeline.notification.max_low_records,
            expected_metrics=suite.listed_metric_names,
        )

    def records(
        self, keys: Iterable[str], lines_of: Callable[[str], Iterable[RawLine]]
    ) -> Iterator[RecordResult]:
        """Every record of the files ``keys`` (in that order), indexed from 0 across files.

        Raises
        ------
        OutputFormatError
            On the first line that is not JSON or holds no scores, naming the file and line.
        """
        index = 0
        for key in keys:
            parsed = iter_output_records(
                lines_of(key), start_index=index, source=key, metric_names=self._suite.listed_metric_names
            )
            for record in parsed:
                resolve_category(record, self._dataset)
                self._aggregator.add(record)
                index = record.index + 1
                yield record

    def summary(self) -> RunSummary:
        """What the records read so far amount to (`EmptyResultsError` when there were none)."""
        return self._aggregator.summary()
