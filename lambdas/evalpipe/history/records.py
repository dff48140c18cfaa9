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
    baseline_by_key: dict[str, list[RecordItem]] = {}
    for item in _by_index(baseline_records):
        key = key_of_item(item)
        if key is not None:
            baseline_by_key.setdefault(key, []).append(item)

    worsened: list[RecordChange] = []
    transitions: list[RecordChange] = []
    seen: dict[str, int] = {}
    for item in _by_index(current_records):
        key = key_of_item(item)
        if key is None:
            continue
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        partners = baseline_by_key.get(key, [])
        if occurrence >= len(partners):
            continue
        partner = partners[occurrence]
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
