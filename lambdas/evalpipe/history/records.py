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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from evalpipe.history.keys import key_of_item
from evalpipe.results import UNCATEGORIZED
from evalpipe.validation.metrics import lower_is_better

if TYPE_CHECKING:
    from evalpipe.suite import Suite

# A score must move by more than this to count as worse (float noise of stored averages).
EPSILON = 1e-9
PROMPT_EXCERPT_CHARS = 160
EXPLANATION_CHARS = 400
ELLIPSIS = "…"
# Record items name a metric scored several times in one RAG line "<metric>#2", "#3", ...
_TURN_SUFFIX = re.compile(r"#\d+$")


class ChangeKind(StrEnum):
    """How a record's score of one metric changed since the baseline."""

    WORSENED = "WORSENED"  # scored in both runs, worse now
    BECAME_NA = "BECAME_NA"  # scored in the baseline, N/A now
    BECAME_SCORED = "BECAME_SCORED"  # N/A in the baseline, scored now


@dataclass
class RecordChange:
    """One record x metric whose score changed for the worse (or to or from N/A).

    Attributes
    ----------
    kind
        A `ChangeKind` value.
    metric
        The metric as the record item names it.
    key
        The record key both runs share.
    index, baseline_index
        The record's index in this run and in the baseline run.
    category
        The record's category in this run.
    prompt_excerpt
        The prompt, shortened to `PROMPT_EXCERPT_CHARS`.
    score, baseline_score
        The scores (None = N/A).
    worsened_by
        For WORSENED: how much worse, always positive (for a lower-is-better metric the score
        rose by this much); None otherwise.
    explanation
        The judge's explanation of this run's score, shortened.
    occurrence
        0 for the first record with this key in the run, 1 for the second, ...
    """

    kind: str
    metric: str
    key: str
    index: int | None
    baseline_index: int | None
    category: str
    prompt_excerpt: str
    score: float | None
    baseline_score: float | None
    worsened_by: float | None = None
    explanation: str | None = None
    occurrence: int = 0

    def as_item(self) -> dict[str, Any]:
        """Plain dict (floats, ints, strings, None)."""
        return asdict(self)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RecordChange:
        """Rebuild from `as_item()` output (numbers may be Decimal)."""
        return cls(
            kind=str(item.get("kind") or ChangeKind.WORSENED),
            metric=str(item.get("metric") or ""),
            key=str(item.get("key") or ""),
            index=_int_or_none(item.get("index")),
            baseline_index=_int_or_none(item.get("baseline_index")),
            category=str(item.get("category") or UNCATEGORIZED),
            prompt_excerpt=str(item.get("prompt_excerpt") or ""),
            score=to_float(item.get("score")),
            baseline_score=to_float(item.get("baseline_score")),
            worsened_by=to_float(item.get("worsened_by")),
            explanation=item.get("explanation") if isinstance(item.get("explanation"), str) else None,
            occurrence=_int_or_none(item.get("occurrence")) or 0,
        )


def compare_records(
    current_records: Iterable[Mapping[str, Any]],
    baseline_records: Iterable[Mapping[str, Any]],
    suite: Suite | None,
) -> list[RecordChange]:
    """The record scores that got worse since the baseline, worst first, then N/A transitions.

    Parameters
    ----------
    current_records, baseline_records
        Record items as `RunsTable.iter_records` yields them (``index``, ``category``,
        ``record_key`` or ``prompt_hash``, ``prompt_excerpt``, ``scores {metric -> {score,
        explanation}}``). Items without a key are skipped.
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
    baseline_by_key: dict[str, list[Mapping[str, Any]]] = {}
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
                index=_int_or_none(item.get("index")),
                baseline_index=_int_or_none(partner.get("index")),
                category=str(item.get("category") or UNCATEGORIZED),
                prompt_excerpt=shorten(_text(item.get("prompt_excerpt")), PROMPT_EXCERPT_CHARS),
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


def _scores(item: Mapping[str, Any]) -> dict[str, tuple[float | None, str | None]]:
    scores = item.get("scores")
    if not isinstance(scores, Mapping):
        return {}
    result: dict[str, tuple[float | None, str | None]] = {}
    for metric, entry in scores.items():
        if isinstance(entry, Mapping):
            explanation = entry.get("explanation")
            result[str(metric)] = (
                to_float(entry.get("score")),
                explanation if isinstance(explanation, str) else None,
            )
        else:
            result[str(metric)] = (to_float(entry), None)
    return result


def _by_index(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # Stable sort: items without an index keep their relative order, after the indexed ones.
    return sorted(records, key=lambda item: _sort_index(_int_or_none(item.get("index"))))


def _sort_index(index: int | None) -> float:
    return math.inf if index is None else index


def to_float(value: object) -> float | None:
    """A finite number as float, else None (N/A, missing, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int_or_none(value: object) -> int | None:
    number = to_float(value)
    return int(number) if number is not None else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def shorten(text: str | None, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + ELLIPSIS
