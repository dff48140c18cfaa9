"""What the run report draws, taken from the run, its records and the suite's history; no markup.

`evalpipe.history.report` turns these into the page: `flagged_scores` for the low-score section,
`scores_of` for the histograms, `trend_runs` and `trend_labels` for the trend charts, and
`chart_scale` / `lower_is_better_in` for the axes and the colours of every chart and table.
"""

from __future__ import annotations

import heapq
import re
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.history.charts import Rule, parse_rule
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import iso
from evalpipe.suite.metrics import BUILTIN_PREFIX, lower_is_better, metric_scale

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from evalpipe.history.score_table import ScoreTable
    from evalpipe.run.model import Comparison, MetricSummary, Run

# Record items name a metric scored several times in one RAG line "<metric>#2", "#3", ...
_TURN_SUFFIX = re.compile(r"#\d+$")


def base_metric(name: str) -> str:
    """The metric a record item's score belongs to (``"Builtin.Helpfulness#2"`` -> without ``#2``)."""
    return _TURN_SUFFIX.sub("", name)


@dataclass
class Flagged:
    """One flagged score as the report shows it: the record's texts beside the judge's verdict.

    Attributes
    ----------
    index
        The record's index in the run.
    metric
        The metric as the record item names it (a RAG turn keeps its ``#2``).
    score
        The flagged score.
    rule
        The rule that flagged it, as text (``"< 0.5"``); ``""`` when unknown.
    badness
        Larger = worse (`Rule.badness`): the order of the section.
    category, prompt, response, explanation
        The record's category and excerpts, and the judge's explanation (None = none given).
    """

    index: int
    metric: str
    score: float
    rule: str
    badness: float
    category: str
    prompt: str
    response: str | None
    explanation: str | None


def flagged_scores(
    run: Run, records: ScoreTable, rules: Mapping[str, Rule | None], limit: int | None = None
) -> tuple[list[Flagged], int]:
    """The worst flagged scores of the records (by the run's rules), plus the run's ``low_records``
    not found that way (e.g. no records given); worst first by badness, then index.

    Parameters
    ----------
    run
        The run: its metrics' rules (as text) and its ``low_records``.
    records
        The run's records; may be empty.
    rules
        Metric -> its rule, parsed from the run's metric summaries (None = not readable).
    limit
        Keep the worst this many; only their records' texts are read. None keeps all.

    Returns
    -------
    tuple[list[Flagged], int]
        The flagged scores kept, and how many there are in all.
    """
    lows = {(low.index, low.metric): low for low in run.low_records}
    total = 0

    def every() -> Iterator[_FlaggedRow]:
        # Streamed into a bounded selection: a low-scoring run flags nearly every score.
        nonlocal total
        in_records: set[tuple[int, str]] = set()  # of the run's low_records (a bounded list)
        for row in _flagged_in_records(records, run.metrics, rules):
            if (row[1], row[2]) in lows:
                in_records.add((row[1], row[2]))
            total += 1
            yield row
        for key, low in lows.items():
            if key not in in_records:
                rule = parse_rule(low.rule or _rule_text(run, low.metric))
                badness = rule.badness(low.score) if rule is not None else -low.score
                total += 1
                yield (-badness, low.index, low.metric, low.score, None)

    kept = sorted(every()) if limit is None else heapq.nsmallest(limit, every())
    items = records.items({index for _, index, _, _, _ in kept})
    flagged = []
    for negative_badness, index, metric, score, row in kept:
        item = items.get(index)
        stored = lows.get((index, metric))
        entry = item.scores.get(metric) if item is not None else None
        explanation = (
            entry.explanation
            if row is not None and entry is not None
            else (stored.explanation if stored else None)
        )
        flagged.append(
            Flagged(
                index=index,
                metric=metric,
                score=score,
                rule=(
                    stored.rule
                    if row is None and stored is not None and stored.rule
                    else _rule_text(run, metric)
                ),
                badness=-negative_badness,
                category=records.row(row)[2] if row is not None else (stored.category if stored else ""),
                prompt=item.prompt_excerpt if item is not None else (stored.prompt_excerpt if stored else ""),
                response=item.response_excerpt if item is not None else None,
                explanation=explanation or None,
            )
        )
    return flagged, total


_FlaggedRow = tuple[float, int, str, float, int | None]
"""``(-badness, index, metric, score, row)``: sorts worst first, then by index and metric."""


def _rule_text(run: Run, metric: str) -> str:
    summary = run.metrics.get(base_metric(metric))
    return summary.rule if summary is not None else ""


def _flagged_in_records(
    records: ScoreTable, metrics: Mapping[str, MetricSummary], rules: Mapping[str, Rule | None]
) -> Iterator[_FlaggedRow]:
    for metric in records.metrics:
        rule = rules.get(base_metric(metric))
        if rule is None:
            continue
        for row, index, score in records.column(metric):
            if score is not None and rule.is_flagged(score):
                yield (-rule.badness(score), index, metric, score, row)


def scores_of(records: ScoreTable, metric: str) -> tuple[array[float], int]:
    """``metric``'s scores over the records and how many N/A; RAG turns count with their metric.

    Doubles in an array (8 bytes a score, not a float object's 32): the histogram needs them all.
    """
    values: array[float] = array("d")
    na = 0
    for name in records.metrics:
        if base_metric(name) != metric:
            continue
        for _row, _index, score in records.column(name):
            if score is None:
                na += 1
            else:
                values.append(score)
    return values, na


def trend_runs(run: Run, history: Sequence[Run], limit: int) -> list[Run]:
    """COMPLETED runs with metrics, oldest first, the current run in its place (or last), capped.

    ``history`` is newest first. The ``run`` given replaces its row there, being the fresher
    copy, and is drawn even when its status is not COMPLETED.
    """
    rows: list[Run] = []
    seen_current = False
    for entry in history:
        row = entry
        if entry.run_id == run.run_id:
            row = run
            seen_current = True
        if row.metrics and (row.status is RunStatus.COMPLETED or row is run):
            rows.append(row)
    rows.reverse()
    if not seen_current and run.metrics:
        rows.append(run)
    return rows[-limit:]


def trend_labels(runs: Sequence[Run]) -> dict[str, str]:
    """Run id -> its label on a trend chart's axis, distinct for every run drawn.

    The date (UTC) when no other run of ``runs`` falls on that day; else the date and time
    (``"2025-03-08 09:15"``); and when two runs share that minute too, their run number on the
    chart as well (``"2025-03-08 09:15 #3"``, 1 = the oldest of ``runs``, oldest first).
    """
    stamps = [iso(run.created_at) for run in runs]
    days = Counter(stamp[:10] for stamp in stamps)
    labels = [stamp[:10] if days[stamp[:10]] == 1 else f"{stamp[:10]} {stamp[11:16]}" for stamp in stamps]
    repeated = Counter(labels)
    return {
        run.run_id: label if repeated[label] == 1 else f"{label} #{number}"
        for number, (run, label) in enumerate(zip(runs, labels, strict=True), start=1)
    }


def chart_scale(name: str) -> float:
    """Top of a metric's scale for the chart axes: 100 for a percentage built-in, else 1."""
    base = base_metric(name)
    return metric_scale(base) if base.startswith(BUILTIN_PREFIX) else 1.0


def lower_is_better_in(name: str, rule: Rule | None, comparison: Comparison | None) -> bool:
    """A metric's direction: its rule in this run, else the comparison's, else the built-in's."""
    if rule is not None:
        return rule.flags_high_scores
    entry = comparison.metric(name) if comparison is not None else None
    if entry is not None:
        return entry.lower_is_better
    return lower_is_better(base_metric(name))
