"""What a run's output amounts to: `RunSummary`, with a `MetricSummary` per metric, the category and
dataset averages and the worst flagged scores (`LowRecord`), recorded on the run by `record_on`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalpipe.run.model import HumanRatingSummary, LowRecord, MetricSummary, ResultsUnreadable, Run
    from evalpipe.run.status import Verdict


@dataclass
class RunSummary:
    """What a run's output amounts to.

    Parameters
    ----------
    record_count
        Records parsed.
    metrics
        Per metric, in order of first appearance.
    categories
        Category -> metric -> average (None when every score of that metric there was N/A).
    low_records
        The worst flagged scores, worst first (by their rule's `badness`, then index), capped.
    low_count
        All flagged scores of the run (record x metric pairs), not just the listed ones.
    verdict
        `UNREADABLE` when no score of any metric could be read, or a metric has neither a score
        nor an N/A (``unreadable`` says why); else `LOW_SCORES` if any score is flagged, else `PASSED`.
    datasets
        Dataset -> metric -> average, like `categories`, when the records come from more than
        one dataset (a job with several ``datasetMetricConfigs`` entries); empty otherwise,
        since one dataset's averages are `metrics`' own.
    human
        A human job's ratings as given, per metric and model (empty for other jobs).
    unreadable
        Why the results could not be read (verdict `UNREADABLE`), else None.
    unread_records
        Records from which no score could be read (with any verdict).
    """

    record_count: int
    metrics: dict[str, MetricSummary]
    categories: dict[str, dict[str, float | None]]
    low_records: list[LowRecord]
    low_count: int
    verdict: Verdict
    datasets: dict[str, dict[str, float | None]] = field(default_factory=dict)
    human: list[HumanRatingSummary] = field(default_factory=list)
    unreadable: ResultsUnreadable | None = None
    unread_records: int = 0

    def record_on(self, run: Run) -> None:
        """Set the run's summary attributes (its verdict before the review against a baseline)."""
        run.metrics = self.metrics
        run.categories = self.categories
        run.low_records = self.low_records
        run.record_count = self.record_count
        run.verdict = self.verdict
        if self.datasets:  # per-dataset averages exist only for runs over several datasets
            run.datasets = self.datasets
        if self.human or run.human_ratings:
            run.human_ratings = self.human
        if self.unreadable is not None or run.unreadable is not None:
            run.unreadable = self.unreadable  # a re-parse that reads them clears it
