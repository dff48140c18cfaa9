"""What the run report draws, taken from the run, its records and the suite's history; no markup.

`evalpipe.history.report` turns these into the page: `flagged_scores` for the low-score section,
`scores_by_metric` for the histograms, `trend_runs` and `trend_labels` for the trend charts, and
`chart_scale` / `lower_is_better_in` for the axes and the colours of every chart and table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.history.charts import Rule, parse_rule
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import iso
from evalpipe.suite.metrics import BUILTIN_PREFIX, lower_is_better, metric_scale

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from evalpipe.run.model import Comparison, MetricSummary, RecordItem, Run

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
    run: Run, records: Sequence[RecordItem], rules: Mapping[str, Rule | None]
) -> list[Flagged]:
    """Every flagged score of the records (by the run's rules), plus the run's ``low_records`` not
    found that way (e.g. no records given); worst first by badness, then index.

    Parameters
    ----------
    run
        The run: its metrics' rules (as text) and its ``low_records``.
    records
        The run's record items; may be empty.
    rules
        Metric -> its rule, parsed from the run's metric summaries (None = not readable).
    """
    found = {(f.index, f.metric): f for f in _flagged_in_records(records, run.metrics, rules)}
    by_index = {record.index: record for record in records}
    for low in run.low_records:
        if (low.index, low.metric) in found:
            continue
        record = by_index.get(low.index)
        summary = run.metrics.get(low.metric)
        rule_text = low.rule or (summary.rule if summary is not None else "")
        rule = parse_rule(rule_text)
        found[(low.index, low.metric)] = Flagged(
            index=low.index,
            metric=low.metric,
            score=low.score,
            rule=rule_text,
            badness=rule.badness(low.score) if rule is not None else -low.score,
            category=low.category,
            prompt=record.prompt_excerpt if record is not None else low.prompt_excerpt,
            response=record.response_excerpt if record is not None else None,
            explanation=low.explanation or None,
        )
    return sorted(found.values(), key=lambda f: (-f.badness, f.index, f.metric))


def _flagged_in_records(
    records: Iterable[RecordItem], metrics: Mapping[str, MetricSummary], rules: Mapping[str, Rule | None]
) -> Iterable[Flagged]:
    for record in records:
        for metric, entry in record.scores.items():
            base = base_metric(metric)
            rule = rules.get(base)
            if rule is None or entry.score is None or not rule.is_flagged(entry.score):
                continue
            # A readable rule comes from the run's summary of this metric, so the summary is there.
            yield Flagged(
                index=record.index,
                metric=metric,
                score=entry.score,
                rule=metrics[base].rule,
                badness=rule.badness(entry.score),
                category=record.category,
                prompt=record.prompt_excerpt,
                response=record.response_excerpt,
                explanation=entry.explanation or None,
            )


def scores_by_metric(records: Iterable[RecordItem]) -> dict[str, tuple[list[float], int]]:
    """Metric -> (its scores, how many N/A), over the records; RAG turns count with their metric."""
    result: dict[str, tuple[list[float], int]] = {}
    for record in records:
        for metric, entry in record.scores.items():
            base = base_metric(metric)
            values, na = result.get(base, ([], 0))
            if entry.score is None:
                na += 1
            else:
                values.append(entry.score)
            result[base] = (values, na)
    return result


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
