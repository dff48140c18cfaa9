"""The blocks of a completed run's body that ``evalpipe compare`` and ``evalpipe show`` print too.

- `metrics_table`: each metric's average, N/A rate, flagged count and threshold and, with a
  baseline, the baseline's average, the delta and the outcome, a line per regressed or not
  compared metric, then which metrics are lower-is-better or percentages.
- `categories_table`: the average score per category (or per dataset), transposed or split into
  blocks of columns when it would be wider than the message allows.
- `low_records`: the worst flagged scores the run keeps, each with the rule that flagged it, the
  prompt excerpt, the judge's reason and where the record is.
- `record_changes`: the "Prompts that got worse" block, the scores that dropped since the baseline,
  then those that became N/A or stopped being N/A.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from evalpipe.history.compare import interval_text
from evalpipe.notification.text import (
    CATEGORY_LABEL_CHARS,
    PROMPT_EXCERPT_CHARS,
    TABLE_MAX_WIDTH,
    WRAP_WIDTH,
    bullet,
    fmt_delta,
    fmt_rate,
    fmt_rule,
    fmt_score,
    one_line,
    plural,
    short_metric_names,
    table,
    width,
)
from evalpipe.run.model import MetricStatus
from evalpipe.suite.metrics import BUILTIN_PREFIX, metric_scale

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from evalpipe.run.model import Comparison, LowRecord, MetricComparison, MetricSummary, RecordChange, Run

MAX_CATEGORY_ROWS = 30
REASON_CHARS = 300
# Record changes against the baseline listed in the body (the run item stores up to 20).
MAX_RECORD_CHANGES_SHOWN = 10
MAX_NA_TRANSITIONS_SHOWN = 5

# -- metrics ------------------------------------------------------------------------------------


def metrics_table(
    metrics: Mapping[str, MetricSummary],
    record_count: int,
    comparison: Comparison | None,
    *,
    no_baseline_note: bool = True,
) -> list[str]:
    """The metric table: against the baseline when ``comparison`` has one, else the run alone.

    Parameters
    ----------
    metrics : Mapping[str, MetricSummary]
        The run's ``metrics``.
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

    Examples
    --------
    >>> from evalpipe.run.model import MetricSummary
    >>> summary = MetricSummary(average=0.9, scored=2, na=0, na_rate=0.0, low_count=0, min=0.8,
    ...                         max=1.0, rule="< 0.5")
    >>> print("\\n".join(metrics_table({"tone": summary}, 2, None)))
    Metrics (2 records)
      Metric  Average  Scored  N/A rate  Low  Threshold
      ------  -------  ------  --------  ---  ---------
      tone      0.900       2      0.0%    0  < 0.5
      No baseline: this run was not compared.
    """
    title = f"Metrics ({plural(record_count, 'record')})"
    if not metrics:
        return [title, "  No metric results were found in the job output."]
    if comparison is not None and comparison.baseline_run_id:
        compared = (
            _metrics_with_intervals(metrics, comparison)
            if any(m.change_low is not None for m in comparison.metrics)
            else _compared_metrics(metrics, comparison)
        )
        return [title, *compared, *_comparability_notes(comparison), *_direction_notes(metrics)]
    lines = [title, *_plain_metrics(metrics), *_direction_notes(metrics)]
    if no_baseline_note:
        note = comparison.baseline_note if comparison is not None else "this run was not compared"
        lines.extend(bullet(f"No baseline: {note}.", marker=""))
    return lines


def _direction_notes(metrics: Mapping[str, MetricSummary]) -> list[str]:
    """Which metrics are lower-is-better (their rule flags high scores) and which are percentages."""
    names = sorted(metrics)
    lower = [name for name in names if fmt_rule(metrics[name].rule).startswith(">")]
    percent = [name for name in names if name.startswith(BUILTIN_PREFIX) and metric_scale(name) > 1]
    notes = []
    if lower:
        notes.append(f"Lower is better for {', '.join(lower)}.")
    if percent:
        verb = "is a percentage" if len(percent) == 1 else "are percentages"
        notes.append(f"{', '.join(percent)} {verb} (0-100).")
    return [line for note in notes for line in bullet(note, marker="")]


def _plain_metrics(metrics: Mapping[str, MetricSummary]) -> list[str]:
    rows = [
        [
            name,
            fmt_score(summary.average, 3),
            str(summary.scored),
            fmt_rate(summary.na_rate),
            str(summary.low_count),
            fmt_rule(summary.rule),
        ]
        for name, summary in sorted(metrics.items())
    ]
    headers = ["Metric", "Average", "Scored", "N/A rate", "Low", "Threshold"]
    return table(headers, rows, "lrrrrl")


def _compared_metrics(metrics: Mapping[str, MetricSummary], comparison: Comparison) -> list[str]:
    """The run's metrics beside the baseline's; a too wide table drops its Scored column."""
    rows = []
    notes = []
    for name, summary in sorted(metrics.items()):
        entry = comparison.metric(name)
        rows.append(
            [
                name,
                fmt_score(summary.average, 3),
                _baseline_average(entry),
                fmt_delta(entry.delta if entry is not None else None, 3),
                str(summary.scored),
                fmt_rate(summary.na_rate),
                str(summary.low_count),
                fmt_rule(summary.rule),
                _outcome(entry),
            ]
        )
        if entry is not None and entry.regressed:
            notes.append(f"{name} regressed: {entry.reason}")
        elif entry is not None and entry.status != MetricStatus.OK and entry.reason:
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
    lines = _fitted_table(headers, rows, "lrrrrrrll", optional="Scored")
    for note in notes:
        lines.extend(bullet(note))
    return lines


def _fitted_table(headers: list[str], rows: list[list[str]], align: str, *, optional: str) -> list[str]:
    """The table, without its ``optional`` column when it would be wider than an e-mail line."""
    lines = table(headers, rows, align)
    if width(lines) <= TABLE_MAX_WIDTH:
        return lines
    drop = headers.index(optional)
    return table(
        [h for i, h in enumerate(headers) if i != drop],
        [[c for i, c in enumerate(r) if i != drop] for r in rows],
        align[:drop] + align[drop + 1 :],
    )


def _metrics_with_intervals(metrics: Mapping[str, MetricSummary], comparison: Comparison) -> list[str]:
    """Per metric: baseline, this run, the mean paired change with its 95% interval, the pairs it
    rests on, the smallest drop they could detect, and the outcome (issue 13)."""
    rows = []
    notes = []
    for name, summary in sorted(metrics.items()):
        entry = comparison.metric(name)
        rows.append(
            [
                name,
                _baseline_average(entry),
                fmt_score(summary.average, 3),
                interval_text(entry),
                _pairs(entry),
                fmt_score(entry.min_detectable_drop, 3) if entry is not None else "-",
                str(summary.low_count),
                _outcome(entry),
            ]
        )
        if entry is not None and entry.reason and entry.status != MetricStatus.OK:
            notes.append(f"{name} {_outcome(entry).lower()}: {entry.reason}")
    headers = [
        "Metric",
        "Baseline",
        "This run",
        "Change [95% CI]",
        "Pairs",
        "Detectable",
        "Low",
        "vs baseline",
    ]
    lines = _fitted_table(headers, rows, "lrrlrrrl", optional="Low")
    for note in notes:
        lines.extend(bullet(note))
    lines.extend(
        bullet(
            "Change: this run - baseline, the mean over records scored in both runs; Detectable: the "
            "smallest drop these records catch 4 times in 5 (docs/suite-file.md, Regressions).",
            marker="",
        )
    )
    return lines


def _pairs(entry: MetricComparison | None) -> str:
    if entry is None or entry.change is None:
        return "-"
    return str(entry.pairs)


def _comparability_notes(comparison: Comparison) -> list[str]:
    """Why newer runs were not the baseline (the per-metric reasons are in the metric notes)."""
    skipped = [n for n in comparison.comparability_notes if n.startswith(("skipped ", "no earlier run"))]
    return [line for note in skipped for line in bullet(f"Baseline: {note}.")]


def _baseline_average(entry: MetricComparison | None) -> str:
    """The baseline's average; "-" when the baseline did not have the metric at all."""
    if entry is None or (entry.baseline_average is None and entry.baseline_na_rate is None):
        return "-"
    return fmt_score(entry.baseline_average, 3)


def _outcome(entry: MetricComparison | None) -> str:
    if entry is None:
        return "-"
    if entry.regressed:
        return "REGRESSED"
    labels = {
        MetricStatus.OK: "ok",
        MetricStatus.POSSIBLE_REGRESSION: "possible regression",
        MetricStatus.IMPROVED: "improved",
    }
    return (
        labels.get(MetricStatus(entry.status), "not compared")
        if entry.status in set(MetricStatus)
        else "not compared"
    )


# -- categories and datasets --------------------------------------------------------------------


def categories_table(
    categories: Mapping[str, Mapping[str, float | None]],
    metric_names: list[str],
    *,
    title_text: str = "Average score by category",
    label: str = "Category",
) -> list[str]:
    """Category averages (or per-dataset averages, with ``title_text`` / ``label``).

    Categories are the rows; a table wider than `TABLE_MAX_WIDTH` is transposed (metrics as rows)
    or, when that is too wide as well, split into blocks of metric columns.

    Parameters
    ----------
    categories : Mapping[str, Mapping[str, float | None]]
        The run's ``categories`` (or ``datasets``): name -> metric -> average (None = all N/A).
    metric_names : list[str]
        The columns, in order; empty: every metric a category has.
    title_text, label : str
        The block's title and the first column's header.
    """
    names = sorted(categories, key=str)
    hidden = max(len(names) - MAX_CATEGORY_ROWS, 0)
    names = names[:MAX_CATEGORY_ROWS]
    metric_names = metric_names or sorted({m for c in names for m in categories[c]})
    headers = short_metric_names(metric_names)
    labels = [one_line(str(name), CATEGORY_LABEL_CHARS) or "(none)" for name in names]

    def cell(category: str, metric: str) -> str:
        values = categories[category]
        return fmt_score(values[metric], 3) if metric in values else "-"

    by_category = [[text] + [cell(c, m) for m in metric_names] for c, text in zip(names, labels, strict=True)]
    title = [title_text]
    notes = []
    if headers != metric_names:
        notes.append(f"  (metric names shown without the {BUILTIN_PREFIX} prefix)")
    if hidden:
        notes.append(f"  ... and {plural(hidden, 'more category', 'more categories')}")

    wide = table([label, *headers], by_category, "l" + "r" * len(headers))
    if width(wide) <= TABLE_MAX_WIDTH:
        return title + wide + notes
    # Few categories, many metrics: metrics as rows reads better than a split table.
    by_metric = [[h] + [row[i + 1] for row in by_category] for i, h in enumerate(headers)]
    transposed = table(["Metric", *labels], by_metric, "l" + "r" * len(labels))
    if width(transposed) <= TABLE_MAX_WIDTH:
        return title + transposed + notes
    # Still too wide both ways: split the metric columns into blocks that fit.
    lines = list(title)
    for chunk_headers, chunk_rows in _column_chunks(by_category, [label, *headers]):
        if len(lines) > 1:
            lines.append("")
        lines.extend(table(chunk_headers, chunk_rows, "l" + "r" * (len(chunk_headers) - 1)))
    return lines + notes


def _column_chunks(rows: list[list[str]], headers: list[str]) -> Iterable[tuple[list[str], list[list[str]]]]:
    """Split columns 1.. into groups whose table fits TABLE_MAX_WIDTH, repeating column 0."""
    first = max(len(headers[0]), *(len(r[0]) for r in rows)) if rows else len(headers[0])
    group: list[int] = []
    used = 2 + first
    for i in range(1, len(headers)):
        col = max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
        if group and used + 2 + col > TABLE_MAX_WIDTH:
            yield [headers[0]] + [headers[j] for j in group], [[r[0]] + [r[j] for j in group] for r in rows]
            group, used = [], 2 + first
        group.append(i)
        used += 2 + col
    if group:
        yield [headers[0]] + [headers[j] for j in group], [[r[0]] + [r[j] for j in group] for r in rows]


# -- flagged records ----------------------------------------------------------------------------


def low_records(run: Run) -> list[str]:
    """The flagged scores, in the stored order (worst first by their rule, see evalpipe.results.aggregate).

    A flagged score is not always a low one: detectors such as Builtin.Harmfulness flag high
    scores, so each line shows the rule that flagged it. The title counts every flagged score of
    the run (`Run.low_count`), not only the listed ones.
    """
    records = run.low_records
    total = run.low_count
    if not records:
        if total:
            return [f"Flagged records: {plural(total, 'flagged score')}; none listed in the run record."]
        return ["No score was flagged by its metric's threshold."]
    if total > len(records):
        lines = [f"Flagged records (worst {len(records)} of {plural(total, 'flagged score')})"]
    else:
        lines = [f"Flagged records ({len(records)}, worst first)"]
    for record in records:
        lines.append("")
        lines.extend(_low_record(record, run.metrics))
    return lines


def _low_record(record: LowRecord, metrics: Mapping[str, MetricSummary]) -> list[str]:
    """``[metric] score=0.33 (flagged: < 0.5) | "prompt"``, the judge's reason, where it is."""
    metric = one_line(record.metric, 63) or "?"
    excerpt = one_line(record.prompt_excerpt, PROMPT_EXCERPT_CHARS)
    # Run items written before low records carried their rule: use the metric's.
    summary = metrics.get(record.metric)
    rule = record.rule or (summary.rule if summary is not None else "")
    flagged = f" (flagged: {fmt_rule(rule)})" if rule else ""
    lines = [f'[{metric}] score={fmt_score(record.score, 2)}{flagged} | "{excerpt}"']
    reason = one_line(record.explanation, REASON_CHARS)
    if reason:
        lines.extend(
            textwrap.wrap(
                reason,
                width=WRAP_WIDTH,
                initial_indent="  Reason: ",
                subsequent_indent=" " * len("  Reason: "),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    where = [f"record #{record.index}"]
    category = one_line(record.category, CATEGORY_LABEL_CHARS)
    if category:
        where.append(f"category {category}")
    lines.append(f"  ({', '.join(where)})")
    return lines


# -- record changes -----------------------------------------------------------------------------


def record_changes(
    comparison: Comparison | None,
    limit: int = MAX_RECORD_CHANGES_SHOWN,
    *,
    na_limit: int = MAX_NA_TRANSITIONS_SHOWN,
    more_hint: str = "`evalpipe compare` or the report lists them.",
) -> list[str]:
    """The "Prompts that got worse" block: worse scores since the baseline, then N/A transitions.

    One entry per record x metric: ``[metric] 1.00 -> 0.25 (-0.75) | "prompt excerpt"`` and the
    record number and category below it. Empty without a baseline.

    Parameters
    ----------
    comparison : Comparison or None
        The run's comparison (``record_changes`` worst first, ``worsened_count`` all of them).
    limit, na_limit : int
        How many worsened scores, and how many N/A transitions, to list.
    more_hint : str
        Where to find the ones not listed.
    """
    if comparison is None or not comparison.baseline_run_id:
        return []
    worsened = comparison.record_changes
    total = max(comparison.worsened_count, len(worsened))
    shown = worsened[: max(limit, 0)]
    if not total:
        lines = ["No prompt scored worse than in the baseline run."]
    elif total > len(shown):
        lines = [f"Prompts that got worse (worst {len(shown)} of {plural(total, 'score')} that dropped)"]
    else:
        records = plural(len({(c.index, c.key) for c in shown}), "record")
        lines = [f"Prompts that got worse ({plural(total, 'score')} in {records}, worst first)"]
    for change in shown:
        lines += ["", _change_line(change), f"  ({_change_where(change)})"]
    if total > len(shown):
        lines += ["", f"  ... and {total - len(shown)} more: {more_hint}"]
    return lines + _na_transitions(comparison, na_limit)


def _na_transitions(comparison: Comparison, limit: int) -> list[str]:
    """The scores that became N/A or stopped being N/A, one line each; empty when there are none."""
    transitions = comparison.na_transitions
    count = max(comparison.na_transition_count, len(transitions))
    if not count:
        return []
    lines = ["", f"Scores that became N/A or stopped being N/A ({count})"]
    listed = transitions[: max(limit, 0)]
    for change in listed:
        excerpt = one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS // 2)
        lines.append(
            f"  [{one_line(change.metric, 63)}] {fmt_score(change.baseline_score, 2)} -> "
            f'{fmt_score(change.score, 2)} | "{excerpt}" ({_change_where(change)})'
        )
    if count > len(listed):
        lines.append(f"  ... and {count - len(listed)} more")
    return lines


def _change_line(change: RecordChange) -> str:
    metric = one_line(change.metric, 63) or "?"
    excerpt = one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS)
    delta = (
        change.score - change.baseline_score
        if change.score is not None and change.baseline_score is not None
        else None
    )
    # A worse score that is higher belongs to a lower-is-better metric (a detector).
    direction = ", lower is better" if delta is not None and delta > 0 else ""
    return (
        f"[{metric}] {fmt_score(change.baseline_score, 2)} -> {fmt_score(change.score, 2)} "
        f'({fmt_delta(delta, 2)}{direction}) | "{excerpt}"'
    )


def _change_where(change: RecordChange) -> str:
    where = []
    if change.index is not None:
        record = f"record #{change.index}"
        if change.baseline_index is not None and change.baseline_index != change.index:
            record += f", #{change.baseline_index} in the baseline"
        where.append(record)
    category = one_line(change.category, CATEGORY_LABEL_CHARS)
    if category:
        where.append(f"category {category}")
    return ", ".join(where)


# -- human ratings ------------------------------------------------------------------------------

HUMAN_MODEL_CHARS = 40


def human_ratings_table(run: Run) -> list[str]:
    """A human job's ratings as given, per metric and model: average, distribution, workers.

    Empty for runs without them (automated jobs, human runs parsed before issue 12).
    """
    if not run.human_ratings:
        return []
    rows = [
        [
            h.metric,
            one_line(h.model or "-", HUMAN_MODEL_CHARS),
            h.method or "-",
            fmt_score(h.average, 2),
            " ".join(f"{value}:{count}" for value, count in h.distribution.items()),
            str(h.workers),
        ]
        for h in run.human_ratings
    ]
    return [
        "Human ratings as given, per metric and model (thumbs 1/0, Likert 1-5, rank 1 = best, chosen 1/0):",
        *table(["metric", "model", "method", "avg", "value:count", "workers"], rows, "lllrlr"),
    ]
