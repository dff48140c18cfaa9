"""Per-record comparison: which prompts got worse since the baseline run, and by how much.

Records of two runs are matched by their key (`evalpipe.history.keys`). A key that occurs
several times in a run (the same prompt twice in one category, or a repeated id) is paired in
record-index order: the first occurrence in this run with the first in the baseline, and so on;
surplus occurrences have no partner and are not compared. The result is the same whatever
order the records are passed in.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from evalpipe import scratch
from evalpipe.history.score_table import ScoreTable, as_table
from evalpipe.history.stats import Sample
from evalpipe.run.model import UNCATEGORIZED, ChangeKind, RecordChange, UnmatchedRecord
from evalpipe.suite.metrics import lower_is_better

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from evalpipe.run.model import RecordItem
    from evalpipe.suite import Suite

# A score must move by more than this to count as worse (float noise of stored averages).
EPSILON = 1e-9
PROMPT_EXCERPT_CHARS = 160
EXPLANATION_CHARS = 400
ELLIPSIS = "…"
# Record items name a metric scored several times in one RAG line "<metric>#2", "#3", ...
_TURN_SUFFIX = re.compile(r"#\d+$")


def compare_records(
    current_records: ScoreTable | Iterable[RecordItem],
    baseline_records: ScoreTable | Iterable[RecordItem],
    suite: Suite | None,
    *,
    limit: int | None = None,
    matching: Matching | None = None,
) -> RecordChanges:
    """The record scores that got worse since the baseline, worst first, then N/A transitions.

    Parameters
    ----------
    current_records, baseline_records
        The two runs' records: `ScoreTable`s, or record items as `RunsTable.iter_records` yields
        them. Records without a key are skipped.
    suite
        Gives each metric's direction: a metric whose low-score rule flags high scores
        (``above`` / ``atOrAbove``, the detectors by default) is lower-is-better, so "worse"
        is a higher score. Without a suite the built-in detectors are lower-is-better.
    limit
        Keep at most this many changes of each kind (the counts stay exact); None keeps all.
        Only the kept changes' texts are read, so a bounded comparison holds no record's texts.
    matching
        `match_records` of these two tables, when the caller has it already.

    Returns
    -------
    RecordChanges
        ``worsened`` ordered by ``worsened_by`` (largest first), then metric, then index;
        ``transitions`` (BECAME_NA before BECAME_SCORED, then metric, then index). Only metrics
        present in both records are compared; improvements and unchanged scores are left out.
    """
    current, baseline = as_table(current_records), as_table(baseline_records)
    pairs = matching if matching is not None else match_records(current, baseline)
    # One pass over the pairs into two bounded selections: every changed score could be n x metrics.
    worst = _Selection(limit, key=lambda f: (-(f.amount or 0.0), f.metric, f.index))
    na = _Selection(limit, key=lambda f: (f.kind != ChangeKind.BECAME_NA, f.metric, f.index))
    for found in _changed_scores(current, baseline, pairs, direction(suite)):
        (worst if found.kind == ChangeKind.WORSENED else na).add(found)
    worsened, transitions = worst.result(), na.result()
    items = current.items({f.index for f in (*worsened, *transitions)})
    return RecordChanges(
        worsened=[f.change(items.get(f.index)) for f in worsened],
        transitions=[f.change(items.get(f.index)) for f in transitions],
        worsened_count=worst.count,
        transition_count=na.count,
    )


@dataclass
class RecordChanges:
    """`compare_records`' result: the changes kept of each kind and how many there were."""

    worsened: list[RecordChange] = field(default_factory=list)
    transitions: list[RecordChange] = field(default_factory=list)
    worsened_count: int = 0
    transition_count: int = 0

    def __iter__(self) -> Iterator[RecordChange]:
        """The worsened changes, then the N/A transitions."""
        yield from self.worsened
        yield from self.transitions

    def __len__(self) -> int:
        return len(self.worsened) + len(self.transitions)


@dataclass(slots=True)
class _Found:
    """One changed score, before its record's texts are read."""

    kind: str
    metric: str
    index: int
    baseline_index: int
    key: str
    occurrence: int
    category: str
    score: float | None
    baseline_score: float | None
    amount: float | None

    def change(self, item: RecordItem | None) -> RecordChange:
        entry = item.scores.get(self.metric) if item is not None else None
        explanation = entry.explanation if entry is not None else None
        return RecordChange(
            kind=self.kind,
            metric=self.metric,
            key=self.key,
            index=self.index,
            baseline_index=self.baseline_index,
            category=self.category or UNCATEGORIZED,
            prompt_excerpt=shorten(item.prompt_excerpt if item is not None else "", PROMPT_EXCERPT_CHARS),
            score=self.score,
            baseline_score=self.baseline_score,
            worsened_by=self.amount,
            explanation=shorten(explanation, EXPLANATION_CHARS) if explanation else None,
            occurrence=self.occurrence,
        )


def _changed_scores(
    current: ScoreTable, baseline: ScoreTable, matching: Matching, is_lower_better: Callable[[str], bool]
) -> Iterator[_Found]:
    for pair in matching.pairs():
        baseline_scores = baseline.scores(pair.partner)
        for metric, score in current.scores(pair.row).items():
            if metric not in baseline_scores:
                continue
            baseline_score = baseline_scores[metric]
            change = _change(score, baseline_score, is_lower_better(metric))
            if change is None:
                continue
            kind, amount = change
            yield _Found(
                kind=kind,
                metric=metric,
                index=pair.current_index,
                baseline_index=pair.baseline_index,
                key=pair.key,
                occurrence=pair.occurrence,
                category=pair.category,
                score=score,
                baseline_score=baseline_score,
                amount=amount,
            )


class _Selection:
    """The first ``limit`` changes by ``key`` of those added (all when None), and how many were
    added; the kept list is cut back to ``limit`` whenever it doubles (a stable cut: ties keep
    their order of arrival, as a sort of everything would)."""

    def __init__(self, limit: int | None, key: Callable[[_Found], Any]) -> None:
        self.limit, self.key = limit, key
        self.kept: list[_Found] = []
        self.count = 0

    def add(self, found: _Found) -> None:
        self.count += 1
        self.kept.append(found)
        if self.limit is not None and len(self.kept) >= 2 * self.limit + 64:
            self.kept = heapq.nsmallest(self.limit, self.kept, key=self.key)

    def result(self) -> list[_Found]:
        if self.limit is None:
            return sorted(self.kept, key=self.key)
        return heapq.nsmallest(self.limit, self.kept, key=self.key)


class Pair(NamedTuple):
    """A record of this run and its partner in the baseline."""

    row: int
    partner: int  # the baseline's row
    occurrence: int  # which occurrence of its key the pair is (0 = the first)
    current_index: int
    baseline_index: int
    key: str
    category: str


class Matching:
    """Two runs' records matched by key (see the module docstring), as rows of their tables.

    The pairs and the unmatched rows are scratch tables beside the runs' (`evalpipe.scratch`):
    a comparison of 50,000 records holds none of them in memory.
    """

    def __init__(self, current: ScoreTable, baseline: ScoreTable) -> None:
        if current.db is not baseline.db:
            raise ValueError("both runs' tables must be in the same scratch database (one thread)")
        self.current, self.baseline = current, baseline
        current.ready()
        baseline.ready()
        self.tables = scratch.Tables(self, "matching")
        self.db = self.tables.db
        self.pairs_table = self.tables.create(
            "pairs",
            "seq INTEGER PRIMARY KEY, row INTEGER, partner INTEGER, occurrence INTEGER, idx INTEGER, "
            "baseline_idx INTEGER, key TEXT, category TEXT",
            indexes=["row", "partner"],
        )
        # A key's occurrences are numbered in record-index order in each run; the n-th of this run
        # pairs with the n-th of the baseline. Stored in this run's index order.
        numbered = "ROW_NUMBER() OVER (PARTITION BY key ORDER BY idx, row) - 1"
        self.db.execute(  # one statement: one transaction
            f"INSERT INTO {self.pairs_table} "
            "(row, partner, occurrence, idx, baseline_idx, key, category) "
            "SELECT c.row, b.row, c.n, c.idx, b.idx, c.key, c.category "
            f"FROM (SELECT row, idx, key, category, {numbered} AS n "
            f"      FROM {current.rows_table} WHERE key IS NOT NULL) c "
            f"JOIN (SELECT row, idx, key, {numbered} AS n "
            f"      FROM {baseline.rows_table} WHERE key IS NOT NULL) b "
            "ON b.key = c.key AND b.n = c.n ORDER BY c.idx, c.row"
        )
        self.tables.ready()
        self.pair_count: int = self.db.execute(f"SELECT COUNT(*) FROM {self.pairs_table}").fetchone()[0]
        self.only_current_count = len(current) - self.pair_count
        self.only_baseline_count = len(baseline) - self.pair_count

    def pairs(self) -> Iterator[Pair]:
        """Every matched record, in this run's index order."""
        query = (
            "SELECT row, partner, occurrence, idx, baseline_idx, key, category "
            f"FROM {self.pairs_table} ORDER BY seq"
        )
        return map(Pair._make, self.db.execute(query))

    def only_current(self, limit: int | None = None) -> Iterator[int]:
        """The rows (index order) only this run has: no key, or no partner left."""
        return self._unpaired(self.current, "row", limit)

    def only_baseline(self, limit: int | None = None) -> Iterator[int]:
        """The rows (index order) only the baseline has."""
        return self._unpaired(self.baseline, "partner", limit)

    def _unpaired(self, table: ScoreTable, column: str, limit: int | None) -> Iterator[int]:
        query = (
            f"SELECT r.row FROM {table.rows_table} r WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.pairs_table} p WHERE p.{column} = r.row) ORDER BY r.idx, r.row"
            + ("" if limit is None else f" LIMIT {int(limit)}")
        )
        return (row for (row,) in self.db.execute(query))

    def unmatched(self, limit: int | None = None) -> tuple[list[UnmatchedRecord], list[UnmatchedRecord]]:
        """The first ``limit`` records (by index) only this run has, and only the baseline has."""
        return (
            _unmatched(self.current, list(self.only_current(limit))),
            _unmatched(self.baseline, list(self.only_baseline(limit))),
        )


def _unmatched(table: ScoreTable, rows: list[int]) -> list[UnmatchedRecord]:
    facts = [table.row(row) for row in rows]
    items = table.items({index for index, _, _ in facts})
    listed = []
    for index, key, _category in facts:
        item = items.get(index)
        listed.append(
            UnmatchedRecord(
                key=key or "",
                index=index,
                prompt_excerpt=shorten(item.prompt_excerpt if item is not None else "", PROMPT_EXCERPT_CHARS),
            )
        )
    return listed


def match_records(
    current_records: ScoreTable | Iterable[RecordItem], baseline_records: ScoreTable | Iterable[RecordItem]
) -> Matching:
    """Pair each record of this run with the baseline's record of the same key (and occurrence).

    Records without a key, and surplus occurrences, are left in ``only_current`` / ``only_baseline``
    (a record without a key can never pair).
    """
    return Matching(as_table(current_records), as_table(baseline_records))


@dataclass
class MetricSamples:
    """One metric's scores for the comparison: the matched pairs' differences and each run's scores."""

    differences: Sample = field(default_factory=Sample)  # current - baseline, per pair
    current: Sample = field(default_factory=Sample)
    baseline: Sample = field(default_factory=Sample)
    only_current: int = 0  # records scored in this run whose partner has no score (or none exists)
    only_baseline: int = 0

    def add(self, score: float | None, baseline: float | None) -> None:
        """One record's scores (None: N/A, or no partner); a lone score still counts unpaired."""
        if score is not None and baseline is not None:
            self.differences.add(score - baseline)
        if score is not None:
            self.current.add(score)
            self.only_current += baseline is None
        if baseline is not None:
            self.baseline.add(baseline)
            self.only_baseline += score is None


@dataclass
class ScoreSamples:
    """Per metric (as `Run.metrics` names it), what the statistics of the comparison rest on."""

    matching: Matching
    metrics: dict[str, MetricSamples] = field(default_factory=dict)

    def of(self, metric: str) -> MetricSamples | None:
        return self.metrics.get(metric)


def score_samples(
    current_records: ScoreTable | Iterable[RecordItem], baseline_records: ScoreTable | Iterable[RecordItem]
) -> ScoreSamples:
    """The scores of both runs per metric, paired by record key (N/A scores left out).

    A RAG record's repeated metric (``Builtin.Correctness#2``) counts under its metric's name.
    """
    current, baseline = as_table(current_records), as_table(baseline_records)
    matching = match_records(current, baseline)
    samples = ScoreSamples(matching=matching)

    def entry(name: str) -> MetricSamples:
        return samples.metrics.setdefault(_TURN_SUFFIX.sub("", name), MetricSamples())

    for pair in matching.pairs():
        current_scores = current.scores(pair.row)
        baseline_scores = baseline.scores(pair.partner)
        for metric in dict.fromkeys([*current_scores, *baseline_scores]):
            entry(metric).add(current_scores.get(metric), baseline_scores.get(metric))
    for row in matching.only_current():
        for metric, score in current.scores(row).items():
            entry(metric).add(score, None)
    for row in matching.only_baseline():
        for metric, score in baseline.scores(row).items():
            entry(metric).add(None, score)
    return samples


def direction(suite: Suite | None) -> Callable[[str], bool]:
    """``metric -> True when lower is better`` for this suite (see :func:`compare_records`)."""
    cache: dict[str, bool] = {}

    def is_lower_better(metric: str) -> bool:
        if metric not in cache:
            base = _TURN_SUFFIX.sub("", metric)
            if suite is None:
                cache[metric] = lower_is_better(base)
            else:
                cache[metric] = suite.low_rule(base).flags_high_scores
        return cache[metric]

    return is_lower_better


def _change(
    score: float | None, baseline: float | None, lower_better: bool
) -> tuple[str, float | None] | None:
    if score is None and baseline is None:
        return None
    if score is None:
        return ChangeKind.BECAME_NA.value, None
    if baseline is None:
        return ChangeKind.BECAME_SCORED.value, None
    amount = score - baseline if lower_better else baseline - score
    if amount > EPSILON:
        return ChangeKind.WORSENED.value, amount
    return None


def shorten(text: str | None, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + ELLIPSIS
