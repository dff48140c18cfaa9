"""The run report: one self-contained HTML page per run (``reports/<suite>/<run_id>.html``).

Sections, in order (each a ``<section id=...>``):

``summary``
    The verdict first, the run's identity, warnings and the metric table (with the change
    against the baseline when there is a comparison).
``distributions``
    One histogram per metric of the records' scores (N/A scores are counted in the caption).
``categories``
    Category x metric averages; cells are coloured from bad (red) to good (green), taking the
    metric's direction into account.
``trends``
    One line chart per metric over the suite's last runs (the current run filled, the baseline
    ringed).
``regressions``
    The comparison with the baseline: per-metric limits and outcome, the prompts whose scores
    got worse, and the scores that became (or stopped being) N/A.
``low-scores``
    The flagged scores, worst first, each with the prompt, the response and the judge's
    explanation (the excerpts the record items hold).

The page has no script and loads nothing: charts are inline SVG drawn here, styles are inline,
and a Content-Security-Policy forbids everything else, so even a prompt that smuggles markup
past the escaping could not run or fetch. Every text from data goes through `html.escape`.
What each section draws is chosen in `evalpipe.history.report_data`; this module writes markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

from evalpipe.history.charts import (
    IntervalRow,
    Point,
    goodness_scale,
    heat_colour,
    histogram_svg,
    interval_chart_svg,
    line_chart_svg,
    parse_rule,
)
from evalpipe.history.compare import na_rate_warnings
from evalpipe.history.report_data import (
    chart_scale,
    flagged_scores,
    lower_is_better_in,
    scores_of,
    trend_labels,
    trend_runs,
)
from evalpipe.history.score_table import ScoreTable, as_table
from evalpipe.notification.tables import interval_text
from evalpipe.run.model import ChangeKind
from evalpipe.run.status import Verdict, reviewed_verdict
from evalpipe.run.triggers import iso

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from evalpipe.history.charts import Rule
    from evalpipe.history.report_data import Flagged
    from evalpipe.run.model import Comparison, MetricComparison, RecordChange, RecordItem, Run

REPORT_MAX_LOW_RECORDS = 50
TREND_MAX_RUNS = 30
SECTION_IDS = ("summary", "distributions", "categories", "trends", "regressions", "low-scores")
# No network, no script, no frames: inline styles and data: images only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_STYLE = """
:root { --fg: #1b1b1b; --muted: #5c5c5c; --line: #d4d4d4; --soft: #f6f6f6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); background: #fff; max-width: 1120px; margin: 24px auto; padding: 0 18px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav { font-size: 13px; margin: 6px 0 14px; color: var(--muted); }
nav a { color: #1f5fa8; margin-right: 12px; text-decoration: none; }
.verdict { display: inline-block; font-weight: 700; font-size: 20px; letter-spacing: .02em;
           padding: 4px 14px; border: 2px solid; border-radius: 4px; margin: 6px 0; }
.verdict-PASSED { background: #e4f3e4; border-color: #2e7d32; color: #1b5e20; }
.verdict-LOW_SCORES, .verdict-STOPPED { background: #fff3d4; border-color: #b26a00; color: #7a4700; }
.verdict-REGRESSED, .verdict-FAILED, .verdict-TIMED_OUT, .verdict-REJECTED, .verdict-ERROR,
.verdict-UNREADABLE { background: #fde3e1; border-color: #b2182b; color: #8b0d1a; }
.headline { font-size: 16px; margin: 2px 0 12px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 10px; }
.table-scroll { max-width: 100%; overflow-x: auto; margin: 6px 0 10px; }
.table-scroll > table { margin: 0; }
table.heat th.metric { white-space: normal; font-size: 12px; min-width: 4.5em; max-width: 10em;
                       vertical-align: bottom; }
table.heat th:first-child, table.heat td:first-child { position: sticky; left: 0; white-space: nowrap; }
table.heat td:first-child { background: #fff; }
th, td { border: 1px solid var(--line); padding: 3px 8px; vertical-align: top; text-align: left; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { background: none; border: none; padding: 1px 14px 1px 0; color: var(--muted);
                 font-weight: 500; }
table.facts td { border: none; padding: 1px 0; word-break: break-all; }
.worse { color: #a50f15; font-weight: 600; }
.better { color: #1b7a2e; }
.status-REGRESSED { background: #fde3e1; font-weight: 700; color: #8b0d1a; }
.status-OK { color: #1b5e20; }
.status-NOT_COMPARED { color: var(--muted); }
ul.warnings { margin: 4px 0 10px; padding-left: 20px; }
ul.warnings li { margin: 2px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 14px 22px; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 12px; color: var(--muted); max-width: 340px; overflow-wrap: anywhere; }
figcaption strong { color: var(--fg); }
svg.chart { display: block; background: #fff; }
.legend { font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; border: 1px solid #aaa;
          margin: 0 3px 0 8px; }
article.record { border: 1px solid var(--line); border-left: 4px solid #d6604d; border-radius: 3px;
                 padding: 8px 12px; margin: 10px 0; break-inside: avoid; page-break-inside: avoid; }
article.record header { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
article.record header .muted { font-weight: 400; }
article.record dl { margin: 0; display: grid; grid-template-columns: 110px 1fr; gap: 4px 10px; }
article.record dt { color: var(--muted); font-size: 13px; }
article.record dd { margin: 0; }
.text { white-space: pre-wrap; word-break: break-word; background: var(--soft); padding: 3px 7px;
        border-radius: 2px; font-size: 13px; }
footer { margin: 34px 0 10px; font-size: 12px; color: var(--muted); }
@page { margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_report(
    run: Run,
    records: ScoreTable | Iterable[RecordItem],
    history: Sequence[Run],
    comparison: Comparison | None,
) -> str:
    """The HTML report of one run.

    Parameters
    ----------
    run
        The run (as `RunsTable.get` returns it).
    records
        The run's records: a `ScoreTable`, or record items; may be empty (the distributions
        then say so and the flagged scores come from the run's ``low_records``).
    history
        `RunsTable.history` rows, newest first; the current run may be among them (the
        ``run`` passed here replaces it, being the fresher copy).
    comparison
        The comparison with the baseline, or None when the run was not compared.

    Returns
    -------
    str
        A complete HTML document (UTF-8, no external resources, no script).
    """
    table = as_table(records)
    shown_verdict = _verdict(run, comparison)
    rules = {name: parse_rule(summary.rule) for name, summary in run.metrics.items()}
    lower = {name: lower_is_better_in(name, rule, comparison) for name, rule in rules.items()}

    body = [
        f"<header><h1>Evaluation report: {escape(run.suite)}</h1>",
        f'<p class="muted">Run <code>{escape(run.run_id)}</code></p></header>',
        _nav(),
        _summary(run, shown_verdict, comparison),
        _distributions(run, table, rules),
        _categories(run, table, lower),
        _trends(run, history, rules, comparison),
        _regressions(comparison),
        _low_scores(run, table, rules),
        "<footer>Generated by bedrock-evalpipe. Scores range from 0 to 1 unless a custom metric says "
        "otherwise or the metric is a percentage (Builtin.Robustness, 0 to 100); N/A scores are never "
        "averaged. Prompts, responses and explanations are the excerpts stored with each record.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(f'{shown_verdict.value} - {run.suite} - {run.run_id}')}</title>"
        f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# ----------------------------------------------------------------------------------- summary


def _nav() -> str:
    labels = {
        "summary": "Summary",
        "distributions": "Distributions",
        "categories": "Categories",
        "trends": "Trends",
        "regressions": "Regressions",
        "low-scores": "Low scores",
    }
    links = "".join(f'<a href="#{key}">{label}</a>' for key, label in labels.items())
    return f"<nav>{links}</nav>"


def _verdict(run: Run, comparison: Comparison | None) -> Verdict:
    final = run.final_verdict()
    return reviewed_verdict(final, regressed=comparison.regressed) if comparison is not None else final


def _summary(run: Run, shown_verdict: Verdict, comparison: Comparison | None) -> str:
    parts = [
        '<section id="summary"><h2>Summary</h2>',
        f'<p class="verdict verdict-{escape(shown_verdict.value)}">'
        f"{escape(shown_verdict.value.replace('_', ' '))}</p>",
        f'<p class="headline">{escape(_headline(run, shown_verdict, comparison))}</p>',
    ]
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _facts(run, comparison) if v
    )
    parts.append(f'<table class="facts">{rows}</table>')

    # The run's own `warnings` are validation problems, which the notification lists and this
    # page does not: here are the comparison's (N/A rates, metrics gone since the baseline) or,
    # for a run that was not compared, its N/A rates.
    warnings = list(comparison.warnings) if comparison is not None else na_rate_warnings(run)
    if warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
        parts.append(f'<h3>Warnings ({len(warnings)})</h3><ul class="warnings">{items}</ul>')

    parts.append(_metrics_table(run, comparison))
    parts.append(_unreadable(run))
    parts.append(_human_ratings(run))
    parts.append("</section>")
    return "".join(parts)


def _unreadable(run: Run) -> str:
    """Verdict UNREADABLE: the first record no score could be read from."""
    info = run.unreadable
    if info is None:
        return ""
    where = f"{info.file} line {info.line}" if info.file and info.line is not None else info.file or ""
    first = f" First unreadable record: <code>{escape(where)}</code>." if where else ""
    return (
        f'<h3>Results not read</h3><p class="worse">{escape(info.message)}.{first} '
        f"{escape(_plural(info.unread_records, 'record'))} without any readable score.</p>"
    )


def _human_ratings(run: Run) -> str:
    """A human job's ratings as given, per metric and model: average, distribution, workers."""
    if not run.human_ratings:
        return ""
    rows = "".join(
        f"<tr><td>{escape(h.metric)}</td><td>{escape(h.model or '-')}</td><td>{escape(h.method or '-')}</td>"
        f'<td class="num">{"N/A" if h.average is None else f"{h.average:.2f}"}</td>'
        f"<td>{escape(' '.join(f'{value}: {count}' for value, count in h.distribution.items()))}</td>"
        f'<td class="num">{h.workers}</td><td class="num">{h.ratings}</td></tr>'
        for h in run.human_ratings
    )
    return (
        '<h3 id="human-ratings">Human ratings</h3><p class="muted">As the workers gave them: thumbs 1/0, '
        "Likert 1-5, rank 1 = best, chosen 1 / not chosen 0; the metric table above holds the 0-1 "
        'scores.</p><div class="table-scroll"><table><tr><th>Metric</th><th>Model</th><th>Method</th>'
        '<th class="num">Average</th>'
        '<th>Distribution (value: ratings)</th><th class="num">Workers</th>'
        '<th class="num">Ratings</th></tr>'
        f"{rows}</table></div>"
    )


def _facts(run: Run, comparison: Comparison | None) -> list[tuple[str, str]]:
    """The summary's facts table, label -> text; empty texts are left out."""
    dataset = run.dataset
    baseline = ""
    if comparison is not None:
        baseline = comparison.baseline_run_id or ""
        baseline = f"{baseline} ({comparison.baseline_note})" if baseline else comparison.baseline_note
    return [
        ("Run id", run.run_id),
        ("Suite", run.suite),
        ("Status", run.status.value),
        ("Dataset", f"s3://{dataset.bucket}/{dataset.key}" if dataset is not None and dataset.key else ""),
        ("Dataset version", (dataset.version_id or "") if dataset is not None else ""),
        ("Job", run.job_arn or run.job_name or ""),
        ("Started", iso(run.created_at)),
        ("Finished", iso(run.finished_at) if run.finished_at is not None else ""),
        ("Records", str(run.record_count) if run.record_count is not None else ""),
        ("Flagged scores", str(run.low_count) if run.metrics else ""),
        ("Baseline", baseline),
    ]


def _headline(run: Run, shown: Verdict, comparison: Comparison | None) -> str:
    records_text = _plural(run.record_count or 0, "record")
    if shown is Verdict.REGRESSED and comparison is not None:
        names = ", ".join(m.metric for m in comparison.regressed_metrics)
        return (
            f"{_plural(len(comparison.regressed_metrics), 'metric')} regressed against "
            f"{comparison.baseline_run_id or 'the baseline'}: {names}"
        )
    match shown:
        case Verdict.PASSED:
            return f"No low scores in {records_text}."
        case Verdict.LOW_SCORES:
            return f"{_plural(run.low_count, 'low score')} in {records_text}."
        case Verdict.FAILED:
            return "The evaluation job failed."
        case Verdict.STOPPED:
            return "The evaluation job was stopped before it finished."
        case Verdict.TIMED_OUT:
            return "The job ran past its deadline and the pipeline stopped it."
        case Verdict.REJECTED:
            return "The dataset did not pass validation."
        case Verdict.ERROR:
            return "The pipeline itself failed."
        case Verdict.UNREADABLE:
            reason = run.unreadable.message if run.unreadable is not None else "no score could be read"
            return f"The job completed but its results could not be read: {reason}."
    return f"{records_text} graded."


def _metrics_table(run: Run, comparison: Comparison | None) -> str:
    if not run.metrics:
        return '<p class="muted">No metric results are recorded for this run.</p>'
    compared = comparison is not None and comparison.baseline_run_id is not None
    head = ["Metric", "Average", "Scored", "N/A rate", "Low", "Flagged when"]
    if compared:
        head += ["Baseline", "Change", "vs baseline"]
    header = "".join(
        f'<th class="{"num" if i in (1, 2, 3, 4, 6, 7) else ""}">{escape(h)}</th>' for i, h in enumerate(head)
    )
    rows = []
    for name, summary in run.metrics.items():
        rule = parse_rule(summary.rule)
        # The rule says the direction the run was judged by (Toxicity, Robustness, detectors: ">").
        marker = ' <span class="muted">(lower is better)</span>' if rule and rule.flags_high_scores else ""
        cells = [
            f"<td>{escape(name)}</td>",
            _num_cell(summary.average),
            f'<td class="num">{summary.scored}</td>',
            f'<td class="num">{escape(_rate(summary.na_rate))}</td>',
            f'<td class="num">{summary.low_count}</td>',
            f"<td>{escape(summary.rule or '-')}{marker}</td>",
        ]
        if compared:
            assert comparison is not None
            cells += _comparison_cells(comparison.metric(name))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _scroll(
        f'<table class="metrics"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _comparison_cells(entry: MetricComparison | None) -> list[str]:
    if entry is None:
        return ['<td class="num">-</td>', '<td class="num">-</td>', "<td>-</td>"]
    change = _change_text(entry)
    return [
        _num_cell(entry.baseline_average),
        f'<td class="num">{change}</td>',
        f'<td class="status-{escape(entry.status)}">{escape(_status_text(entry))}</td>',
    ]


def _change_text(entry: MetricComparison) -> str:
    if entry.delta is None:
        return "-"
    css = "worse" if (entry.drop or 0) > 1e-9 else ("better" if (entry.drop or 0) < -1e-9 else "")
    relative = f" ({entry.relative_delta:+.1%})" if entry.relative_delta is not None else ""
    return f'<span class="{css}">{escape(f"{entry.delta:+.3f}{relative}")}</span>'


def _status_text(entry: MetricComparison) -> str:
    match entry.status:
        case "REGRESSED":
            return "REGRESSED"
        case "OK":
            return "ok"
        case "POSSIBLE_REGRESSION":
            return "possible regression"
        case "IMPROVED":
            return "improved"
    return "not compared"


# ----------------------------------------------------------------------------- distributions


def _distributions(run: Run, records: ScoreTable, rules: Mapping[str, Rule | None]) -> str:
    parts = ['<section id="distributions"><h2>Score distributions</h2>']
    if not len(records) or not run.metrics:
        parts.append('<p class="muted">No per-record scores are available for this run.</p></section>')
        return "".join(parts)
    parts.append(
        '<p class="legend">Records per score range; bars in the '
        '<span class="swatch" style="background:#d6604d"></span>flagged colour fall under the '
        "metric's low-score rule (dashed line).</p>"
    )
    parts.append('<div class="charts">')
    for name, summary in run.metrics.items():
        values, na = scores_of(records, name)
        caption = (
            f"<strong>{escape(name)}</strong>: {len(values)} scored, {na} N/A"
            + (f", average {escape(_fmt(summary.average))}" if summary.average is not None else "")
            + (f"; flagged when score {escape(summary.rule)}" if summary.rule else "")
        )
        svg = histogram_svg(
            values, title=f"Distribution of {name} scores", rule=rules.get(name), scale=chart_scale(name)
        )
        parts.append(
            f'<figure class="histogram" data-metric="{escape(name)}">{svg}<figcaption>{caption}'
            "</figcaption></figure>"
        )
    parts.append("</div></section>")
    return "".join(parts)


# -------------------------------------------------------------------------------- categories


def _categories(run: Run, records: ScoreTable, lower: Mapping[str, bool]) -> str:
    categories = run.categories
    metric_names = list(run.metrics)
    parts = ['<section id="categories"><h2>Scores by category</h2>']
    if not categories or not metric_names:
        parts.append('<p class="muted">No per-category averages are recorded for this run.</p></section>')
        return "".join(parts)
    counts = records.category_counts()
    names = sorted(categories)
    scales = {}
    for metric in metric_names:
        values = [v for c in names if (v := categories[c].get(metric)) is not None]
        scales[metric] = goodness_scale(values, lower[metric], chart_scale(metric))
    header = "".join(f'<th class="num metric" title="{escape(m)}">{_breakable(m)}</th>' for m in metric_names)
    count_header = '<th class="num">Records</th>' if len(records) else ""
    rows = []
    for category in names:
        averages = categories[category]
        cells = [f"<td>{escape(category)}</td>"]
        if len(records):
            cells.append(f'<td class="num">{counts.get(category, 0)}</td>')
        for metric in metric_names:
            if metric not in averages:
                cells.append('<td class="num heat" style="background:#ffffff">-</td>')
                continue
            value = averages[metric]
            colour = heat_colour(None if value is None else scales[metric](value))
            cells.append(f'<td class="num heat" style="background:{colour}">{escape(_fmt(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(
        _scroll(
            f'<table class="heat"><thead><tr><th>Category</th>{count_header}{header}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    )
    parts.append(
        '<p class="legend">Cell colour:'
        f'<span class="swatch" style="background:{heat_colour(0)}"></span>worst'
        f'<span class="swatch" style="background:{heat_colour(0.5)}"></span>middling'
        f'<span class="swatch" style="background:{heat_colour(1)}"></span>best'
        f'<span class="swatch" style="background:{heat_colour(None)}"></span>every score N/A. '
        "For lower-is-better metrics (detectors such as Harmfulness, Toxicity, Robustness) a low "
        "average is green.</p>"
    )
    parts.append("</section>")
    return "".join(parts)


# ------------------------------------------------------------------------------------ trends


def _trends(
    run: Run,
    history: Sequence[Run],
    rules: Mapping[str, Rule | None],
    comparison: Comparison | None,
) -> str:
    parts = ['<section id="trends"><h2>Trends over the last runs</h2>']
    runs = trend_runs(run, history, TREND_MAX_RUNS)
    if not run.metrics or not runs:
        parts.append('<p class="muted">No completed runs of this suite to draw.</p></section>')
        return "".join(parts)
    baseline_id = comparison.baseline_run_id if comparison is not None else None
    labels = trend_labels(runs)
    parts.append(
        '<p class="legend">Average per completed run, oldest left (runs on the same day are told apart '
        "by their time, UTC). The filled dot is this run"
        + (", the ringed one its baseline" if baseline_id else "")
        + "; the dashed line is the low-score rule's bound.</p>"
    )
    parts.append('<div class="charts">')
    for name in run.metrics:
        points = [
            _trend_point(row, average, labels[row.run_id], run.run_id, baseline_id)
            for row in runs
            if name in row.metrics and (average := row.metrics[name].average) is not None
        ]
        if not points:
            continue
        svg = line_chart_svg(points, title=f"Trend of {name}", rule=rules.get(name), scale=chart_scale(name))
        caption = f"<strong>{escape(name)}</strong>: {_plural(len(points), 'run')}"
        parts.append(
            f'<figure class="trend" data-metric="{escape(name)}">{svg}<figcaption>{caption}'
            "</figcaption></figure>"
        )
    parts.append("</div></section>")
    return "".join(parts)


def _trend_point(row: Run, average: float, label: str, current_id: str, baseline_id: str | None) -> Point:
    created = iso(row.created_at)
    tooltip = f"{label}: {row.run_id} ({created[:19]}): {average:.3f}"
    if row.verdict:
        tooltip += f", {row.verdict}"
    return Point(
        label=label,
        value=average,
        tooltip=tooltip,
        current=row.run_id == current_id,
        baseline=baseline_id is not None and row.run_id == baseline_id,
    )


# ------------------------------------------------------------------------------- regressions


def _regressions(comparison: Comparison | None) -> str:
    parts = ['<section id="regressions"><h2>Regressions</h2>']
    if comparison is None:
        parts.append('<p class="muted">This run was not compared with a baseline.</p></section>')
        return "".join(parts)
    if comparison.baseline_run_id is None:
        parts.append(f"<p>Not compared: {escape(comparison.baseline_note)}.</p></section>")
        return "".join(parts)
    regressed = comparison.regressed_metrics
    summary = (
        f"{_plural(len(regressed), 'metric')} regressed" if regressed else "No metric regressed"
    ) + f" against {comparison.baseline_run_id}"
    if comparison.baseline_created_at:
        summary += f" ({comparison.baseline_created_at})"
    parts.append(
        f'<p><strong>{escape(summary)}</strong>. <span class="muted">'
        f"{escape(comparison.baseline_note)}.</span></p>"
    )
    head = ["Metric", "Baseline", "This run", "Change", "Scored (base / now)", "N/A rate", "Limits", "Result"]
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    rows = []
    for entry in comparison.metrics:
        limits = (
            ", ".join(
                part
                for part in (
                    f"abs {entry.max_absolute_drop:g}" if entry.max_absolute_drop is not None else "",
                    f"rel {entry.max_relative_drop:.0%}" if entry.max_relative_drop is not None else "",
                )
                if part
            )
            or "off"
        )
        direction = " (lower is better)" if entry.lower_is_better else ""
        rows.append(
            "<tr>"
            f"<td>{escape(entry.metric + direction)}</td>"
            f"{_num_cell(entry.baseline_average)}{_num_cell(entry.average)}"
            f'<td class="num">{_change_text(entry)}</td>'
            f'<td class="num">{entry.baseline_scored} / {entry.scored}</td>'
            f'<td class="num">{escape(_rate(entry.na_rate))}</td>'
            f"<td>{escape(limits)}</td>"
            f'<td class="status-{escape(entry.status)}">'
            f"{escape(_status_text(entry))}: {escape(entry.reason)}</td>"
            "</tr>"
        )
    parts.append(
        _scroll(
            f'<table class="comparison"><thead><tr>{header}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    )
    parts.append(_intervals(comparison))
    parts.append(_record_changes(comparison))
    parts.append("</section>")
    return "".join(parts)


def _intervals(comparison: Comparison) -> str:
    """How sure each change is: the interval chart and its numbers (issue 13; empty without them)."""
    entries = [m for m in comparison.metrics if m.change is not None and m.change_low is not None]
    if not entries:
        return ""
    rows = [
        IntervalRow(
            label=m.metric,
            low=m.change_low or 0.0,
            mean=m.change or 0.0,
            high=m.change_high or 0.0,
            tolerance=m.tolerance or 0.0,
            lower_is_better=m.lower_is_better,
            status=m.status,
        )
        for m in entries
    ]
    head = ["Metric", "Change [95% CI]", "Pairs", "Tolerance", "Detectable drop", "Result"]
    body = "".join(
        "<tr>"
        f"<td>{escape(m.metric)}</td>"
        f'<td class="num">{escape(interval_text(m))}</td>'
        f'<td class="num">{m.pairs}{"" if m.paired else " (unpaired)"}</td>'
        f'<td class="num">{escape(f"{m.tolerance:g}" if m.tolerance is not None else "-")}</td>'
        f'<td class="num">{escape(_detectable(m))}</td>'
        f'<td class="status-{escape(m.status)}">{escape(_status_text(m))}</td>'
        "</tr>"
        for m in entries
    )
    return (
        "<h3>How sure: each change with its 95% interval</h3>"
        '<p class="muted">The mean change over records scored in both runs (this run - baseline), with '
        "its bootstrap interval; the shaded band is past the tolerance on the worse side. A metric "
        "regresses when its whole interval lies in the band.</p>"
        f"{interval_chart_svg(rows)}"
        + _scroll(
            f'<table class="comparison intervals"><thead><tr>'
            f"{''.join(f'<th>{escape(h)}</th>' for h in head)}</tr></thead><tbody>{body}</tbody></table>"
        )
    )


def _detectable(entry: MetricComparison) -> str:
    return f"{entry.min_detectable_drop:.3f}" if entry.min_detectable_drop is not None else "-"


def _record_changes(comparison: Comparison) -> str:
    parts = []
    worsened = comparison.record_changes
    total = max(comparison.worsened_count, len(worsened))
    if worsened:
        title = (
            f"Scores that got worse (worst {len(worsened)} of {total})"
            if total > len(worsened)
            else f"Scores that got worse ({total})"
        )
        parts.append(f"<h3>{escape(title)}</h3>")
        parts.append(_changes_table(worsened, show_amount=True))
    else:
        parts.append(
            '<p class="muted">No record scored worse than in the baseline'
            " (or records could not be matched).</p>"
        )
    transitions = comparison.na_transitions
    total_na = max(comparison.na_transition_count, len(transitions))
    if transitions:
        parts.append(f"<h3>{escape(f'N/A transitions ({total_na})')}</h3>")
        parts.append(_changes_table(transitions, show_amount=False))
    return "".join(parts)


def _changes_table(changes: Sequence[RecordChange], *, show_amount: bool) -> str:
    head = ["Metric", "Prompt", "Category", "Record", "Baseline", "Now"] + (
        ["Worse by"] if show_amount else []
    )
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    rows = []
    for change in changes:
        now = "N/A" if change.score is None else f"{change.score:.2f}"
        before = "N/A" if change.baseline_score is None else f"{change.baseline_score:.2f}"
        cells = [
            f"<td>{escape(change.metric)}</td>",
            f"<td>{escape(change.prompt_excerpt)}</td>",
            f"<td>{escape(change.category)}</td>",
            f'<td class="num">#{change.index if change.index is not None else "?"}</td>',
            f'<td class="num">{escape(before)}</td>',
            f'<td class="num">{escape(now)}</td>',
        ]
        if show_amount:
            cells.append(f'<td class="num worse">{escape(_fmt(change.worsened_by))}</td>')
        kind = "became N/A" if change.kind == ChangeKind.BECAME_NA else ""
        title = f' title="{escape(kind)}"' if kind else ""
        rows.append(f"<tr{title}>" + "".join(cells) + "</tr>")
    return _scroll(
        f'<table class="changes"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


# -------------------------------------------------------------------------------- low scores


def _low_scores(run: Run, records: ScoreTable, rules: Mapping[str, Rule | None]) -> str:
    shown, flagged = flagged_scores(run, records, rules, limit=REPORT_MAX_LOW_RECORDS)
    total = max(flagged, run.low_count)
    parts = ['<section id="low-scores"><h2>Low scores</h2>']
    if not shown:
        parts.append('<p class="muted">No score was flagged by its metric\'s rule.</p></section>')
        return "".join(parts)
    note = f"worst {len(shown)} of {total}" if total > len(shown) else f"{len(shown)}, worst first"
    parts.append(
        f"<p>Flagged scores ({escape(note)}). A flagged score is not always a low one: "
        "detectors such as Harmfulness flag high scores, so each shows the rule that flagged it.</p>"
    )
    parts.extend(_flagged_article(item) for item in shown)
    parts.append("</section>")
    return "".join(parts)


def _flagged_article(item: Flagged) -> str:
    where = [f"record #{item.index}"]
    if item.category:
        where.append(f"category {item.category}")
    rule = f" (flagged: {item.rule})" if item.rule else ""
    rows = [
        ("Prompt", item.prompt or "(no prompt recorded)"),
        ("Response", item.response if item.response is not None else "(no response recorded)"),
        ("Judge", item.explanation or "(no explanation)"),
    ]
    details = "".join(
        f'<dt>{escape(label)}</dt><dd><div class="text">{escape(text)}</div></dd>' for label, text in rows
    )
    return (
        f'<article class="record" data-index="{item.index}" data-metric="{escape(item.metric)}">'
        f"<header>{escape(item.metric)}: score {item.score:.2f}{escape(rule)}"
        f' <span class="muted">{escape(", ".join(where))}</span></header>'
        f"<dl>{details}</dl></article>"
    )


# ------------------------------------------------------------------------------------ helpers


def _scroll(table: str) -> str:
    """A table in a box that scrolls sideways, so a wide one never runs past the page's edge."""
    return f'<div class="table-scroll">{table}</div>'


def _breakable(name: str) -> str:
    """A metric name, escaped, that may wrap after its dots and underscores (``<wbr>``)."""
    return re.sub(r"([._])", r"\1<wbr>", escape(name))


def _num_cell(value: float | None) -> str:
    return f'<td class="num">{escape(_fmt(value))}</td>'


def _fmt(value: float | None, digits: int = 3) -> str:
    return "N/A" if value is None else f"{value:.{digits}f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
