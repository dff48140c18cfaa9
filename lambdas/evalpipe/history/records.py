"""Per-record comparison: which prompts got worse since the baseline run, and by how much.

Records of two runs are matched by their key (`evalpipe.history.keys`). A key that occurs
several times in a run (the same prompt twice in one category, or a repeated id) is paired in
record-index order: the first occurrence in this run with the first in the baseline, and so on;
surplus occurrences have no partner and are not compared. The result is the same whatever
order the records are passed in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalpipe.history.keys import key_of_item
from evalpipe.run.model import UNCATEGORIZED, ChangeKind, RecordChange
from evalpipe.suite.metrics import lower_is_better

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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
    current_records: Iterable[RecordItem],
    baseline_records: Iterable[RecordItem],
    suite: Suite | None,
) -> list[RecordChange]:
    """The record scores that got worse since the baseline, worst first, then N/A transitions.

    Parameters
    ----------
    current_records, baseline_records
        Record items as `RunsTable.iter_records` yields them. Items without a key are skipped.
    suite
        Gives each metric's direction: a metric whose low-score rule flags high scores
        (``above`` / ``atOrAbove``, the detectors by default) is lower-is-better, so "worse"
        is a higher score. Without a suite the built-in detectors are lower-is-better.

    Returns
    -------
    list[RecordChange]
        First every WORSENED change ordered by ``worsened_by`` (largest first), then metric,
        then index; then the N/A transitions (BECAME_NA before BECAME_SCORED, then metric,
        then index). Only metrics present in both records are compared; improvements and
        unchanged scores are left out. Use :func:`split_changes` to separate the two groups.
    """
    is_lower_better = direction(suite)
    worsened: list[RecordChange] = []
    transitions: list[RecordChange] = []
    for item, partner, key, occurrence in match_records(current_records, baseline_records).pairs:
        current_scores = _scores(item)
        baseline_scores = _scores(partner)
        for metric, (score, explanation) in current_scores.items():
            if metric not in baseline_scores:
                continue
            baseline_score = baseline_scores[metric][0]
            change = _change(score, baseline_score, is_lower_better(metric))
            if change is None:
                continue
            kind, amount = change
            record_change = RecordChange(
                kind=kind,
                metric=metric,
                key=key,
                index=item.index,
                baseline_index=partner.index,
                category=item.category or UNCATEGORIZED,
                prompt_excerpt=shorten(item.prompt_excerpt, PROMPT_EXCERPT_CHARS),
                score=score,
                baseline_score=baseline_score,
                worsened_by=amount,
                explanation=shorten(explanation, EXPLANATION_CHARS) if explanation else None,
                occurrence=occurrence,
            )
            (worsened if kind == ChangeKind.WORSENED else transitions).append(record_change)

    worsened.sort(key=lambda c: (-(c.worsened_by or 0.0), c.metric, _sort_index(c.index)))
    transitions.sort(key=lambda c: (c.kind != ChangeKind.BECAME_NA, c.metric, _sort_index(c.index)))
    return worsened + transitions


@dataclass
class Matching:
    """Two runs' records matched by key (see the module docstring)."""

    pairs: list[tuple[RecordItem, RecordItem, str, int]] = field(default_factory=list)
    """``(current item, baseline item, key, occurrence)`` per matched record, in this run's order."""
    only_current: list[RecordItem] = field(default_factory=list)
    only_baseline: list[RecordItem] = field(default_factory=list)


def match_records(current_records: Iterable[RecordItem], baseline_records: Iterable[RecordItem]) -> Matching:
    """Pair each record of this run with the baseline's record of the same key (and occurrence).

    Records without a key, and surplus occurrences, are left in ``only_current`` / ``only_baseline``
    (a record without a key can never pair).
    """
    matching = Matching()
    baseline_by_key: dict[str, list[RecordItem]] = {}
    for item in _by_index(baseline_records):
        key = key_of_item(item)
        if key is None:
            matching.only_baseline.append(item)
        else:
            baseline_by_key.setdefault(key, []).append(item)
    seen: dict[str, int] = {}
    for item in _by_index(current_records):
        key = key_of_item(item)
        if key is None:
            matching.only_current.append(item)
            continue
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        partners = baseline_by_key.get(key, [])
        if occurrence >= len(partners):
            matching.only_current.append(item)
        else:
            matching.pairs.append((item, partners[occurrence], key, occurrence))
    for key, partners in baseline_by_key.items():
        matching.only_baseline.extend(partners[seen.get(key, 0) :])
    matching.only_baseline.sort(key=lambda item: item.index)
    return matching


@dataclass
class MetricSamples:
    """One metric's scores for the comparison: the matched pairs and each run's scores."""

    pairs: list[tuple[float, float]] = field(default_factory=list)  # (current, baseline)
    current: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    only_current: int = 0  # records scored in this run whose partner has no score (or none exists)
    only_baseline: int = 0

    def add(self, score: float | None, baseline: float | None) -> None:
        """One record's scores (None: N/A, or no partner); a lone score still counts unpaired."""
        if score is not None and baseline is not None:
            self.pairs.append((score, baseline))
        if score is not None:
            self.current.append(score)
            self.only_current += baseline is None
        if baseline is not None:
            self.baseline.append(baseline)
            self.only_baseline += score is None


@dataclass
class ScoreSamples:
    """Per metric (as `Run.metrics` names it), what the statistics of the comparison rest on."""

    metrics: dict[str, MetricSamples] = field(default_factory=dict)
    matching: Matching = field(default_factory=Matching)

    def of(self, metric: str) -> MetricSamples | None:
        return self.metrics.get(metric)


def score_samples(
    current_records: Iterable[RecordItem], baseline_records: Iterable[RecordItem]
) -> ScoreSamples:
    """The scores of both runs per metric, paired by record key (N/A scores left out).

    A RAG record's repeated metric (``Builtin.Correctness#2``) counts under its metric's name.
    """
    matching = match_records(current_records, baseline_records)
    samples = ScoreSamples(matching=matching)

    def entry(name: str) -> MetricSamples:
        return samples.metrics.setdefault(_TURN_SUFFIX.sub("", name), MetricSamples())

    for item, partner, _key, _occurrence in matching.pairs:
        current_scores = _scores(item)
        baseline_scores = _scores(partner)
        for metric in dict.fromkeys([*current_scores, *baseline_scores]):
            entry(metric).add(
                current_scores.get(metric, (None, None))[0], baseline_scores.get(metric, (None, None))[0]
            )
    for item in matching.only_current:
        for metric, (score, _explanation) in _scores(item).items():
            entry(metric).add(score, None)
    for item in matching.only_baseline:
        for metric, (score, _explanation) in _scores(item).items():
            entry(metric).add(None, score)
    return samples


def split_changes(changes: Iterable[RecordChange]) -> tuple[list[RecordChange], list[RecordChange]]:
    """``(worsened, na_transitions)``, each keeping the given order."""
    worsened: list[RecordChange] = []
    transitions: list[RecordChange] = []
    for change in changes:
        (worsened if change.kind == ChangeKind.WORSENED else transitions).append(change)
    return worsened, transitions


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


def _scores(item: RecordItem) -> dict[str, tuple[float | None, str | None]]:
    return {metric: (entry.score, entry.explanation) for metric, entry in item.scores.items()}


def _by_index(records: Iterable[RecordItem]) -> list[RecordItem]:
    return sorted(records, key=lambda item: item.index)


def _sort_index(index: int | None) -> float:
    return math.inf if index is None else index


def shorten(text: str | None, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + ELLIPSIS
