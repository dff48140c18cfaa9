"""Streaming aggregation: `Aggregator` folds records into a `RunSummary` without keeping them
(running sums per metric, category and dataset, and a bounded heap of the worst flagged scores),
so memory does not grow with the size of the job. `LowRule` is all it needs of a low-score rule;
`EmptyResultsError` means the job's output held no record.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, Protocol

from evalpipe.results.dataset_index import UNCATEGORIZED
from evalpipe.results.human_tally import HumanTally
from evalpipe.results.summary import RunSummary
from evalpipe.results.text import excerpt
from evalpipe.run.model import LowRecord, MetricSummary, ResultsUnreadable
from evalpipe.run.status import Verdict

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from evalpipe.results.records import MetricScore, RecordResult

PROMPT_EXCERPT_CHARS = 160
EXPLANATION_EXCERPT_CHARS = 400


class EmptyResultsError(ValueError):
    """The job's output files hold no records at all, so there is nothing to judge."""


class LowRule(Protocol):
    """What the aggregation needs from a low-score rule (`evalpipe.suite.LowScoreRule` fits).

    `is_low` says whether a score is flagged (for a detector such as `Builtin.Harmfulness` the
    flagged scores are the high ones), `badness` orders flagged scores worst first (larger =
    worse), `describe` is the rule as text (`"< 0.5"`, `"> 0.5"`).
    """

    def is_low(self, score: float) -> bool: ...

    def badness(self, score: float) -> float: ...

    def describe(self) -> str: ...


class _Running:
    """Running count/sum/min/max of one metric (or one metric within one category)."""

    __slots__ = ("low", "max", "min", "n", "na", "total")

    def __init__(self) -> None:
        self.n = 0
        self.na = 0
        self.low = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, score: float | None) -> None:
        if score is None:
            self.na += 1
            return
        self.n += 1
        self.total += score
        self.min = score if self.min is None else min(self.min, score)
        self.max = score if self.max is None else max(self.max, score)

    @property
    def average(self) -> float | None:
        if not self.n:
            return None
        # Clamp: float rounding of sum/n may leave [min, max] by an ulp (e.g. 3 x 0.1).
        return min(max(self.total / self.n, self.min), self.max)  # type: ignore[type-var]


class Aggregator:
    """Fold records into a `RunSummary` without keeping them.

    Parameters
    ----------
    low_rule
        Metric name -> its low-score rule (anything with `is_low(score)`, `badness(score)` and
        `describe()`, see `LowRule`), typically `Suite.low_rule`. Called once per metric.
    max_low_records
        How many of the worst flagged scores to keep for the notification.
    expected_metrics
        The suite's metric names: one that no record scores or marks N/A makes the verdict
        UNREADABLE (a human job's ``metric@model`` keys count for ``metric``).

    Examples
    --------
    >>> class Below:
    ...     def is_low(self, score): return score < 0.5
    ...     def badness(self, score): return -score
    ...     def describe(self): return "< 0.5"
    >>> agg = Aggregator(lambda metric: Below())
    >>> agg.add(RecordResult(0, "hi", "hello", None, "greeting",
    ...                      [MetricScore("Builtin.Helpfulness", 0.25, "meh", None)]))
    >>> agg.summary().verdict
    <Verdict.LOW_SCORES: 'LOW_SCORES'>
    """

    def __init__(
        self,
        low_rule: Callable[[str], Any],
        max_low_records: int = 10,
        expected_metrics: Collection[str] = (),
    ) -> None:
        if max_low_records < 0:
            raise ValueError("max_low_records must be >= 0")
        self._low_rule = low_rule
        self._max_low = max_low_records
        self._rules: dict[str, LowRule] = {}
        self._metrics: dict[str, _Running] = {}
        self._categories: dict[str, dict[str, _Running]] = {}
        self._datasets: dict[str, dict[str, _Running]] = {}
        # Min-heap of the kept flagged scores keyed (badness, -index, -seq): the root is the least
        # bad one (on equal badness the later record), evicted first.
        self._heap: list[tuple[float, int, int, LowRecord]] = []
        self._seq = 0
        self._records = 0
        self._expected = list(expected_metrics)
        self._human = HumanTally()
        self._unread = 0
        self._first_unread: tuple[str | None, int | None] | None = None

    def add(self, record: RecordResult) -> None:
        """Fold one record in; its category is `record.category` or `uncategorized`."""
        self._records += 1
        for rating in record.human:
            self._human.add(rating)
        if record.unreadable:
            self._unread += 1
            if self._first_unread is None:
                self._first_unread = (record.source, record.line)
        category = record.category or UNCATEGORIZED
        per_category = self._categories.setdefault(category, {})
        per_dataset = self._datasets.setdefault(record.dataset, {}) if record.dataset else None
        for item in record.scores:
            running = self._metrics.get(item.metric)
            if running is None:
                running = self._metrics[item.metric] = _Running()
            running.add(item.score)
            per_category.setdefault(item.metric, _Running()).add(item.score)
            if per_dataset is not None:
                per_dataset.setdefault(item.metric, _Running()).add(item.score)
            if item.score is not None:
                rule = self._rule(item.metric)
                if rule.is_low(item.score):
                    running.low += 1
                    self._keep_low(record, item, category, rule)

    def summary(self) -> RunSummary:
        """The summary of everything added so far.

        Raises
        ------
        EmptyResultsError
            If no record was added.
        """
        if not self._records:
            raise EmptyResultsError("the evaluation job's output holds no records")
        metrics = {
            name: MetricSummary(
                metric=name,
                average=r.average,
                scored=r.n,
                na=r.na,
                na_rate=r.na / (r.n + r.na) if r.n + r.na else 0.0,
                low_count=r.low,
                min=r.min,
                max=r.max,
                rule=self._rule(name).describe(),
            )
            for name, r in self._metrics.items()
        }
        categories = {
            cat: {metric: r.average for metric, r in per_metric.items()}
            for cat, per_metric in sorted(self._categories.items())
        }
        # Heap entries are (badness, -index, -seq): sorting them descending gives worst first.
        low_records = [entry[3] for entry in sorted(self._heap, reverse=True)]
        low_count = sum(m.low_count for m in metrics.values())
        datasets = (
            {
                name: {metric: r.average for metric, r in per_metric.items()}
                for name, per_metric in sorted(self._datasets.items())
            }
            if len(self._datasets) > 1
            else {}
        )
        unreadable = self._unreadable(metrics)
        verdict = Verdict.UNREADABLE if unreadable else Verdict.LOW_SCORES if low_count else Verdict.PASSED
        return RunSummary(
            record_count=self._records,
            metrics=metrics,
            categories=categories,
            low_records=low_records,
            low_count=low_count,
            verdict=verdict,
            datasets=datasets,
            human=self._human.summaries(),
            unreadable=unreadable,
            unread_records=self._unread,
        )

    def _unreadable(self, metrics: dict[str, MetricSummary]) -> ResultsUnreadable | None:
        """Why the results cannot be judged: no score at all, or a metric with no score and no N/A."""
        file, line = self._first_unread or (None, None)
        where = f" (first unreadable record: {file or 'output'} line {line})" if line is not None else ""
        scored = sum(m.scored for m in metrics.values()) + self._human.count
        if not scored:
            what = (
                "no score for any metric could be read"
                if self._unread or not metrics
                else "every score is N/A"
            )
            message = f"{what} in {self._records} records{where}"
        else:
            present = {name.split("@", 1)[0] for name in metrics} | set(metrics)
            missing = [name for name in self._expected if name not in present]
            if not missing:
                return None
            message = f"no record has a score or an N/A for {', '.join(missing)}{where}"
        return ResultsUnreadable(message=message, file=file, line=line, unread_records=self._unread)

    def _rule(self, metric: str) -> LowRule:
        rule = self._rules.get(metric)
        if rule is None:
            rule = self._rules[metric] = self._low_rule(metric)
        return rule

    def _keep_low(self, record: RecordResult, item: MetricScore, category: str, rule: LowRule) -> None:
        if not self._max_low:
            return
        assert item.score is not None
        key = (rule.badness(item.score), -record.index, -self._seq)
        self._seq += 1
        if len(self._heap) >= self._max_low and key <= self._heap[0][:3]:
            return  # not worse than the least bad one kept: skip building the LowRecord
        low = LowRecord(
            index=record.index,
            metric=item.metric,
            score=item.score,
            category=category,
            prompt_excerpt=excerpt(record.prompt, PROMPT_EXCERPT_CHARS),
            explanation=excerpt(item.explanation, EXPLANATION_EXCERPT_CHARS) if item.explanation else None,
            rule=rule.describe(),
        )
        if len(self._heap) < self._max_low:
            heapq.heappush(self._heap, (*key, low))
        else:
            heapq.heapreplace(self._heap, (*key, low))
