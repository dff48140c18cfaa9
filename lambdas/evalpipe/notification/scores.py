"""The metric table of a completed run: each metric's average, N/A rate, flagged count and
threshold and, when the run has a baseline, the baseline's average, the delta and the outcome, with
a line per regressed or not compared metric; then which metrics are lower-is-better or
percentages. ``evalpipe compare`` prints the same table (`metrics_table`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from evalpipe.notification.formatting import _fmt_delta, _fmt_rate, _fmt_rule, _fmt_score, _plural
from evalpipe.notification.layout import BUILTIN_PREFIX, TABLE_MAX_WIDTH, _bullet, _table, _width
from evalpipe.notification.run_item import _int, _mapping
from evalpipe.validation.metrics import metric_scale

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison, MetricComparison


def metrics_table(
    metrics: Mapping, record_count: int, comparison: Comparison | None, *, no_baseline_note: bool = True
) -> list[str]:
    """The metric table: against the baseline when ``comparison`` has one, else the run alone.

    Parameters
    ----------
    metrics : Mapping
        The run item's ``metrics`` (name -> MetricSummary item).
    record_count : int
        For the title.
    comparison : Comparison or None
        The run's comparison; with a baseline the table adds Baseline, Delta and "vs baseline"
        columns and one line per regressed or not compared metric saying why.
    no_baseline_note : bool
        Without a baseline, end with a "No baseline: ..." line.

    Returns
    -------
    list[str]
        The lines (title first).
    """
    title = f"Metrics ({_plural(record_count, 'record')})"
    if not metrics:
        return [title, "  No metric results were found in the job output."]
    if comparison is not None and comparison.baseline_run_id:
        return [title, *_compared_metrics(metrics, comparison), *_direction_notes(metrics)]
    lines = [title, *_plain_metrics(metrics), *_direction_notes(metrics)]
    if no_baseline_note:
        note = comparison.baseline_note if comparison is not None else "this run was not compared"
        lines.extend(_bullet(f"No baseline: {note}.", marker=""))
    return lines


def _direction_notes(metrics: Mapping) -> list[str]:
    """Which metrics are lower-is-better (their rule flags high scores) and which are percentages."""
    names = [str(name) for name in sorted(metrics)]
    lower = [name for name in names if _fmt_rule(_mapping(metrics[name]).get("rule")).startswith(">")]
    percent = [name for name in names if name.startswith(BUILTIN_PREFIX) and metric_scale(name) > 1]
    notes = []
    if lower:
        notes.append(f"Lower is better for {', '.join(lower)}.")
    if percent:
        verb = "is a percentage" if len(percent) == 1 else "are percentages"
        notes.append(f"{', '.join(percent)} {verb} (0-100).")
    return [line for note in notes for line in _bullet(note, marker="")]


def _plain_metrics(metrics: Mapping) -> list[str]:
    rows = []
    for name in sorted(metrics):
        summary = _mapping(metrics[name])
        scored = _int(summary.get("scored"))
        na = _int(summary.get("na"))
        rows.append(
            [
                name,
                _fmt_score(summary.get("average"), 3),
                str(scored),
                _fmt_rate(summary.get("na_rate"), scored, na),
                str(_int(summary.get("low_count"))),
                _fmt_rule(summary.get("rule")),
            ]
        )
    headers = ["Metric", "Average", "Scored", "N/A rate", "Low", "Threshold"]
    return _table(headers, rows, "lrrrrl")


def _compared_metrics(metrics: Mapping, comparison: Comparison) -> list[str]:
    """The run's metrics beside the baseline's; a too wide table drops its Scored column."""
    rows = []
    notes = []
    for name in sorted(metrics):
        summary = _mapping(metrics[name])
        entry = comparison.metric(name)
        scored = _int(summary.get("scored"))
        rows.append(
            [
                name,
                _fmt_score(summary.get("average"), 3),
                _baseline_average(entry),
                _fmt_delta(entry.delta if entry is not None else None, 3),
                str(scored),
                _fmt_rate(summary.get("na_rate"), scored, _int(summary.get("na"))),
                str(_int(summary.get("low_count"))),
                _fmt_rule(summary.get("rule")),
                _outcome(entry),
            ]
        )
        if entry is not None and entry.regressed:
            notes.append(f"{name} regressed: {entry.reason}")
        elif entry is not None and entry.status != "OK" and entry.reason:
            notes.append(f"{name} not compared: {entry.reason}")
    headers = [
        "Metric",
        "Average",
        "Baseline",
        "Delta",
        "Scored",
        "N/A rate",
        "Low",
        "Threshold",
        "vs baseline",
    ]
    align = "lrrrrrrll"
    lines = _table(headers, rows, align)
    if _width(lines) > TABLE_MAX_WIDTH:
        drop = headers.index("Scored")
        lines = _table(
            [h for i, h in enumerate(headers) if i != drop],
            [[c for i, c in enumerate(r) if i != drop] for r in rows],
            align[:drop] + align[drop + 1 :],
        )
    for note in notes:
        lines.extend(_bullet(note))
    return lines


def _baseline_average(entry: MetricComparison | None) -> str:
    """The baseline's average; "-" when the baseline did not have the metric at all."""
    if entry is None or (entry.baseline_average is None and entry.baseline_na_rate is None):
        return "-"
    return _fmt_score(entry.baseline_average, 3)


def _outcome(entry: MetricComparison | None) -> str:
    if entry is None:
        return "-"
    if entry.regressed:
        return "REGRESSED"
    return "ok" if entry.status == "OK" else "not compared"
