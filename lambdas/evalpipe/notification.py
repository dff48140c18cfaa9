"""The one SNS notification that ends every run: subject, plain-text body and message attributes.

The input is the run item as read from DynamoDB (see docs/design.md, "Run item attributes"),
converted to plain Python types; numbers may still be `Decimal`. Everything here is pure: no
clients, no clock, so the same run item always renders the same text (the golden tests rely on
it).

The body is written for an e-mail client showing plain text: fixed-width tables aligned with
spaces, at most ~100 columns, no markdown. It never carries model responses; prompts appear only
as the excerpts the run item already holds, shortened further to one line.

A COMPLETED run reads, in order: the verdict, the run's identity (with its baseline run), the
metric table (average, baseline average, delta, N/A rate, threshold and the outcome against the
baseline when the run item holds a ``comparison``; a "No baseline" note otherwise), category
averages, the flagged records with the judge's reasons, the prompts that got worse since the
baseline, warnings (the run's and the comparison's N/A-rate warnings), then where to look: the
HTML report (``report_key``), the run record and the job output.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

from evalpipe.dataset_configs import builtin_dataset_names
from evalpipe.runs import SEVERITY, RunStatus, Verdict, results_prefix
from evalpipe.validation.metrics import metric_scale

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison, MetricComparison
    from evalpipe.history.records import RecordChange

SUBJECT_PREFIX = "[evalpipe] "
# SNS: "less than 100 characters", no line breaks or control characters. 99 satisfies both
# that wording and the "<= 100" of the older documentation.
SUBJECT_MAX = 99
# The part after the verdict ("2 metrics regressed vs 20250228-091500-1a2b3c4d" is 47).
SUBJECT_DETAIL_MAX = 56
# SNS caps the whole message (body + subject + attributes) at 256 KiB; keep a margin.
BODY_MAX_BYTES = 240 * 1024
TABLE_MAX_WIDTH = 100
WRAP_WIDTH = 100
PROMPT_EXCERPT_CHARS = 80
REASON_CHARS = 300
CATEGORY_LABEL_CHARS = 40
MAX_CATEGORY_ROWS = 30
MAX_PROBLEMS_SHOWN = 20
BUILTIN_PREFIX = "Builtin."
# Record changes against the baseline listed in the body (the run item stores up to 20).
MAX_RECORD_CHANGES_SHOWN = 10
MAX_NA_TRANSITIONS_SHOWN = 5
# `<suite-slug>-<YYYYMMDD-HHMMSS>-<hash8>`: the tail identifies a run within its suite.
_RUN_ID_TAIL = re.compile(r"(\d{8}-\d{6}-[0-9a-f]{8})$")
SHORT_RUN_ID_CHARS = 24

_STATUS_VERDICT: dict[str, Verdict] = {
    RunStatus.REJECTED: Verdict.REJECTED,
    RunStatus.FAILED: Verdict.FAILED,
    RunStatus.STOPPED: Verdict.STOPPED,
    RunStatus.TIMED_OUT: Verdict.TIMED_OUT,
    RunStatus.ERROR: Verdict.ERROR,
}
_TERMINAL_JOB_VERDICTS = {Verdict.FAILED, Verdict.STOPPED, Verdict.TIMED_OUT, Verdict.REJECTED, Verdict.ERROR}

# What to check after a pipeline error, by the error name Step Functions recorded.
_ERROR_HINTS: dict[str, str] = {
    "BedrockRejected": (
        "Bedrock refused the request. Check the suite file (metric names, evaluator model, "
        "inference source identifier), the Bedrock service role and model access in this region."
    ),
    "BedrockThrottled": (
        "Bedrock kept throttling (or the evaluation job quota was reached) after all retries. "
        "Wait for running jobs to finish, then upload the dataset again."
    ),
    "BedrockUnavailable": (
        "Bedrock kept failing with server errors after all retries. Upload the dataset again later."
    ),
    "States.Timeout": "A state ran longer than its timeout.",
    "States.TaskFailed": "A task failed; the execution history names the state and the cause.",
}


@dataclass(frozen=True)
class Notification:
    """What the notify function publishes.

    Attributes
    ----------
    subject : str
        ASCII, no line breaks, at most `SUBJECT_MAX` characters (SNS limits).
    message : str
        The plain-text body.
    attributes : dict[str, str]
        `suite`, `verdict`, `status`, `severity`, `run_id`; subscribers filter on them.
    """

    subject: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)

    def sns_attributes(self) -> dict[str, dict[str, str]]:
        """The attributes in the shape of SNS `Publish(MessageAttributes=...)`.

        Returns
        -------
        dict
            `{"suite": {"DataType": "String", "StringValue": "..."}, ...}`; empty values are
            left out because SNS rejects an attribute without a value.
        """
        return {
            name: {"DataType": "String", "StringValue": value}
            for name, value in self.attributes.items()
            if value
        }


def build_notification(run: Mapping, *, console_region: str | None = None) -> Notification:
    """Render the notification of one finished run.

    Parameters
    ----------
    run : Mapping
        The run item (plain Python types; `Decimal` numbers are fine). Missing attributes are
        tolerated: an ERROR run recorded early may carry little more than its id.
    console_region : str, optional
        When given, the body adds AWS console links (report object, results prefix) in that region.

    Returns
    -------
    Notification
        Subject, body and message attributes.
    """
    verdict = derive_verdict(run)
    comparison = comparison_of(run)
    suite = _text(run.get("suite")) or "unknown"
    status = _text(run.get("status")) or "UNKNOWN"
    run_id = _text(run.get("run_id")) or "unknown"
    attributes = {
        "suite": suite,
        "verdict": verdict,
        "status": status,
        "severity": severity_of(verdict),
        "run_id": run_id,
    }
    return Notification(
        subject=_subject(suite, verdict, run, comparison),
        message=_body(run, verdict, comparison, console_region),
        attributes=attributes,
    )


def comparison_of(run: Mapping) -> Comparison | None:
    """The run's stored comparison with its baseline (``comparison`` attribute), or None.

    Parameters
    ----------
    run : Mapping
        The run item; the attribute is `Comparison.as_item()` as the parse step stored it.
    """
    item = run.get("comparison")
    if not isinstance(item, Mapping):
        return None
    # Imported here: evalpipe.history.report imports this module (derive_verdict).
    from evalpipe.history.compare import Comparison  # noqa: PLC0415

    return Comparison.from_item(item)


def short_run_id(run_id: str | None) -> str:
    """A run id shortened for a subject: its time and hash (``20250228-091500-1a2b3c4d``).

    The suite slug in front is left out (the subject names the suite); an id of another shape
    keeps its last `SHORT_RUN_ID_CHARS` characters.

    Examples
    --------
    >>> short_run_id("support-bot-20250228-091500-1a2b3c4d")
    '20250228-091500-1a2b3c4d'
    """
    text = _text(run_id)
    match = _RUN_ID_TAIL.search(text)
    if match:
        return match.group(1)
    return text if len(text) <= SHORT_RUN_ID_CHARS else "..." + text[-(SHORT_RUN_ID_CHARS - 3) :]


def derive_verdict(run: Mapping) -> str:
    """The verdict the notification leads with.

    A failure status always wins over a stored verdict (a run that was parsed and then hit a
    pipeline error is an ERROR). A COMPLETED run uses its `verdict`, or its low-score count if
    the verdict is missing.

    Parameters
    ----------
    run : Mapping
        The run item.

    Returns
    -------
    str
        A `Verdict` value (unknown stored verdicts, e.g. a future `REGRESSED`, pass through).
    """
    status = _text(run.get("status"))
    stored = _text(run.get("verdict"))
    if status in _STATUS_VERDICT:
        return _STATUS_VERDICT[status].value
    if status == RunStatus.COMPLETED:
        if stored:
            return stored
        return (Verdict.LOW_SCORES if _low_count(run) > 0 else Verdict.PASSED).value
    # Notify is only reached with a final status; anything else is a pipeline bug.
    return stored or Verdict.ERROR.value


def severity_of(verdict: str) -> str:
    """`info` / `warning` / `error` as docs/design.md defines them (unknown verdicts: `warning`)."""
    try:
        return SEVERITY[Verdict(verdict)]
    except ValueError:
        return "warning"


# ---------------------------------------------------------------------------------------- subject


def _subject(suite: str, verdict: str, run: Mapping, comparison: Comparison | None) -> str:
    detail = _ascii_one_line(_subject_detail(verdict, run, comparison))[:SUBJECT_DETAIL_MAX].rstrip()
    tail = f": {_ascii_one_line(verdict)[:20]}" + (f" - {detail}" if detail else "")
    budget = SUBJECT_MAX - len(SUBJECT_PREFIX) - len(tail)
    name = _ascii_one_line(suite) or "unknown"
    if len(name) > budget:
        # Keep at least a recognisable stem; the detail gives way below if still too long.
        name = name[: max(budget, 12) - 3].rstrip() + "..."
    return (SUBJECT_PREFIX + name + tail)[:SUBJECT_MAX].rstrip()


def _subject_detail(verdict: str, run: Mapping, comparison: Comparison | None) -> str:
    records = _int(run.get("record_count"))
    match verdict:
        case Verdict.PASSED:
            return f"{_plural(records, 'record')}, no low scores"
        case Verdict.LOW_SCORES:
            return f"{_plural(_low_count(run), 'low score')} in {_plural(records, 'record')}"
        case Verdict.REGRESSED:
            count = len(comparison.regressed_metrics) if comparison is not None else 0
            baseline = comparison.baseline_run_id if comparison is not None else None
            against = f" vs {short_run_id(baseline)}" if baseline else ""
            return (f"{_plural(count, 'metric')} regressed" if count else "metrics regressed") + against
        case Verdict.FAILED:
            return "job failed"
        case Verdict.STOPPED:
            return "job stopped"
        case Verdict.TIMED_OUT:
            return "job timed out"
        case Verdict.REJECTED:
            what = "run" if _request(run) else "dataset"
            return f"{what} rejected ({_plural(_problem_count(run), 'problem')})"
        case Verdict.ERROR:
            error_type = _text(_mapping(run.get("error")).get("type"))
            return f"pipeline error ({error_type})" if error_type else "pipeline error"
    return ""


# ------------------------------------------------------------------------------------------- body


def _body(run: Mapping, verdict: str, comparison: Comparison | None, console_region: str | None) -> str:
    blocks: list[list[str]] = [[_headline(verdict, run, comparison)], _identity(run, comparison)]
    match verdict:
        case Verdict.FAILED:
            blocks.append(_failed(run))
        case Verdict.STOPPED:
            blocks.append(_stopped(run))
        case Verdict.TIMED_OUT:
            blocks.append(_timed_out(run))
        case Verdict.REJECTED:
            blocks.append(_rejected(run))
        case Verdict.ERROR:
            blocks.append(_error(run))
        case _:
            if _is_human(run):
                blocks.append(_human_done(run))
            blocks.extend(_completed(run, comparison))
    blocks.append(_warnings(run, verdict, comparison))
    blocks.append(_where_to_look(run, verdict, console_region))
    text = "\n\n".join("\n".join(line.rstrip() for line in block) for block in blocks if block) + "\n"
    return _cap_bytes(text)


def _headline(verdict: str, run: Mapping, comparison: Comparison | None) -> str:
    records = _int(run.get("record_count"))
    match verdict:
        case Verdict.PASSED:
            detail = f"no low scores in {_plural(records, 'record')}"
        case Verdict.LOW_SCORES:
            detail = f"{_plural(_low_count(run), 'low score')} in {_plural(records, 'record')}"
        case Verdict.REGRESSED:
            count = len(comparison.regressed_metrics) if comparison is not None else 0
            detail = (
                f"{_plural(count, 'metric') if count else 'metrics'} regressed against the baseline run "
                f"({_plural(_low_count(run), 'low score')} in {_plural(records, 'record')})"
            )
        case Verdict.FAILED:
            detail = "the evaluation job failed"
        case Verdict.STOPPED:
            detail = "the evaluation job was stopped before it finished"
        case Verdict.TIMED_OUT:
            detail = "the job ran past its deadline and the pipeline stopped it"
        case Verdict.REJECTED:
            what = "the run request" if _request(run) else "the dataset"
            detail = f"{what} did not pass validation ({_plural(_problem_count(run), 'problem')})"
        case Verdict.ERROR:
            error_type = _text(_mapping(run.get("error")).get("type"))
            detail = "the pipeline itself failed" + (f" ({error_type})" if error_type else "")
        case _:
            detail = f"{_plural(records, 'record')} graded"
    if _is_human(run) and verdict in (Verdict.PASSED, Verdict.LOW_SCORES, Verdict.REGRESSED):
        detail = f"the work team finished: human ratings of {_plural(records, 'record')}, " + detail.replace(
            f" in {_plural(records, 'record')}", ""
        )
    return f"Verdict: {verdict.replace('_', ' ')} — {detail}"


def _is_human(run: Mapping) -> bool:
    """A human evaluation job (the submit step records ``job_type``)."""
    return _text(run.get("job_type")) == "Human"


def _human_done(run: Mapping) -> list[str]:
    """A completed human job: the work is done, when, and where the ratings are."""
    bucket = _bucket(run)
    suite, run_id = _text(run.get("suite")), _text(run.get("run_id"))
    lines = [
        "Human evaluation: your work team has finished rating this job.",
        f"  Work done:   {_text(run.get('job_finished_at')) or _text(run.get('finished_at'))}",
    ]
    if bucket and suite and run_id:
        lines.append(f"  Ratings:     s3://{bucket}/{results_prefix(suite, run_id)} (*_output.jsonl)")
    report = _text(run.get("report_key"))
    if report and bucket:
        lines.append(f"  Report:      s3://{bucket}/{report}")
    lines.extend(
        _bullet(
            "Scores below are human ratings scaled to 0-1: thumbs up = 1, thumbs down = 0, a Likert "
            "rating r of 1..5 = (r - 1) / 4. Comparison ratings are kept in the job output, not averaged.",
            marker="  ",
        )
    )
    return lines


def _identity(run: Mapping, comparison: Comparison | None) -> list[str]:
    dataset = _mapping(run.get("dataset"))
    fields: list[tuple[str, str]] = [
        ("Run id", _text(run.get("run_id"))),
        ("Suite", _text(run.get("suite"))),
        ("Dataset", _dataset_uri(dataset)),
        ("Version", _text(dataset.get("version_id"))),
        *_request_fields(run),
        ("Job name", _text(run.get("job_name"))),
        ("Job ARN", _text(run.get("job_arn"))),
        ("Started", _text(run.get("created_at"))),
        ("Finished", _finished(run)),
    ]
    estimate = _estimate(run.get("estimate"))
    if estimate:
        fields.append(("Est. cost", estimate))
    if comparison is not None and comparison.baseline_run_id:
        pinned = " (pinned)" if comparison.baseline_pinned else ""
        fields.append(("Baseline", f"{comparison.baseline_run_id}{pinned}"))
    shown = [(label, value) for label, value in fields if value]
    width = max((len(label) for label, _ in shown), default=0) + 2
    return [f"{(label + ':').ljust(width)}{value}" for label, value in shown]


def _completed(run: Mapping, comparison: Comparison | None) -> list[list[str]]:
    metrics = _mapping(run.get("metrics"))
    blocks = [metrics_table(metrics, _int(run.get("record_count")), comparison)]
    categories = _mapping(run.get("categories"))
    if categories:
        blocks.append(_categories_table(categories, sorted(metrics)))
    datasets = _mapping(run.get("datasets"))  # only runs over several datasets carry it
    if len(datasets) > 1:
        title = "Average score by dataset"
        blocks.append(_categories_table(datasets, sorted(metrics), title_text=title, label="Dataset"))
    blocks.append(_low_records(run))
    blocks.append(record_changes(comparison))
    return blocks


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
        lines = [f"Prompts that got worse (worst {len(shown)} of {_plural(total, 'score')} that dropped)"]
    else:
        records = _plural(len({(c.index, c.key) for c in shown}), "record")
        lines = [f"Prompts that got worse ({_plural(total, 'score')} in {records}, worst first)"]
    for change in shown:
        lines.append("")
        lines.append(_change_line(change))
        lines.append(f"  ({_change_where(change)})")
    if total > len(shown):
        lines += ["", f"  ... and {total - len(shown)} more: {more_hint}"]
    transitions = comparison.na_transitions
    count = max(comparison.na_transition_count, len(transitions))
    if count:
        lines += ["", f"Scores that became N/A or stopped being N/A ({count})"]
        listed = transitions[: max(na_limit, 0)]
        for change in listed:
            excerpt = _one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS // 2)
            lines.append(
                f"  [{_one_line(change.metric, 63)}] {_fmt_score(change.baseline_score, 2)} -> "
                f'{_fmt_score(change.score, 2)} | "{excerpt}" ({_change_where(change)})'
            )
        if count > len(listed):
            lines.append(f"  ... and {count - len(listed)} more")
    return lines


def _change_line(change: RecordChange) -> str:
    metric = _one_line(change.metric, 63) or "?"
    excerpt = _one_line(change.prompt_excerpt, PROMPT_EXCERPT_CHARS)
    delta = (
        change.score - change.baseline_score
        if change.score is not None and change.baseline_score is not None
        else None
    )
    # A worse score that is higher belongs to a lower-is-better metric (a detector).
    direction = ", lower is better" if delta is not None and delta > 0 else ""
    return (
        f"[{metric}] {_fmt_score(change.baseline_score, 2)} -> {_fmt_score(change.score, 2)} "
        f'({_fmt_delta(delta, 2)}{direction}) | "{excerpt}"'
    )


def _change_where(change: RecordChange) -> str:
    where = []
    if change.index is not None:
        record = f"record #{change.index}"
        if change.baseline_index is not None and change.baseline_index != change.index:
            record += f", #{change.baseline_index} in the baseline"
        where.append(record)
    category = _one_line(change.category, CATEGORY_LABEL_CHARS)
    if category:
        where.append(f"category {category}")
    return ", ".join(where)


def _categories_table(
    categories: Mapping,
    metric_names: list[str],
    *,
    title_text: str = "Average score by category",
    label: str = "Category",
) -> list[str]:
    """Category averages (or per-dataset averages, with ``title_text`` / ``label``); categories as
    rows, or transposed / split when the table gets wide."""
    names = sorted(categories, key=str)
    hidden = max(len(names) - MAX_CATEGORY_ROWS, 0)
    names = names[:MAX_CATEGORY_ROWS]
    metric_names = metric_names or sorted({m for c in names for m in _mapping(categories[c])})
    headers = _short_metric_names(metric_names)
    labels = [_one_line(str(name), CATEGORY_LABEL_CHARS) or "(none)" for name in names]

    def cell(category: object, metric: str) -> str:
        values = _mapping(categories[category])
        return _fmt_score(values[metric], 3) if metric in values else "-"

    by_category = [
        [label] + [cell(c, m) for m in metric_names] for c, label in zip(names, labels, strict=True)
    ]
    title = [title_text]
    notes = []
    if headers != metric_names:
        notes.append(f"  (metric names shown without the {BUILTIN_PREFIX} prefix)")
    if hidden:
        notes.append(f"  ... and {_plural(hidden, 'more category', 'more categories')}")

    wide = _table([label, *headers], by_category, "l" + "r" * len(headers))
    if _width(wide) <= TABLE_MAX_WIDTH:
        return title + wide + notes
    # Few categories, many metrics: metrics as rows reads better than a split table.
    by_metric = [[h] + [row[i + 1] for row in by_category] for i, h in enumerate(headers)]
    transposed = _table(["Metric", *labels], by_metric, "l" + "r" * len(labels))
    if _width(transposed) <= TABLE_MAX_WIDTH:
        return title + transposed + notes
    # Still too wide both ways: split the metric columns into blocks that fit.
    lines = list(title)
    for chunk_headers, chunk_rows in _column_chunks(by_category, [label, *headers]):
        if len(lines) > 1:
            lines.append("")
        lines.extend(_table(chunk_headers, chunk_rows, "l" + "r" * (len(chunk_headers) - 1)))
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


def _low_records(run: Mapping) -> list[str]:
    """The flagged scores, in the stored order (worst first by their rule, see results.py).

    A flagged score is not always a low one: detectors such as Builtin.Harmfulness flag high
    scores, so each line shows the rule that flagged it.
    """
    records = [_mapping(r) for r in _sequence(run.get("low_records"))]
    total = _low_count(run)
    if not records:
        if total:
            return [f"Flagged records: {_plural(total, 'flagged score')}; none listed in the run record."]
        return ["No score was flagged by its metric's threshold."]
    if total > len(records):
        lines = [f"Flagged records (worst {len(records)} of {_plural(total, 'flagged score')})"]
    else:
        lines = [f"Flagged records ({len(records)}, worst first)"]
    metrics = _mapping(run.get("metrics"))
    for record in records:
        metric_name = _text(record.get("metric"))
        metric = _one_line(metric_name, 63) or "?"
        excerpt = _one_line(_text(record.get("prompt_excerpt")), PROMPT_EXCERPT_CHARS)
        # Run items written before low records carried their rule: use the metric's.
        rule = record.get("rule") or _mapping(metrics.get(metric_name)).get("rule")
        flagged = f" (flagged: {_fmt_rule(rule)})" if rule else ""
        lines.append("")
        lines.append(f'[{metric}] score={_fmt_score(record.get("score"), 2)}{flagged} | "{excerpt}"')
        reason = _one_line(_text(record.get("explanation")), REASON_CHARS)
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
        where = []
        if record.get("index") is not None:
            where.append(f"record #{_int(record.get('index'))}")
        category = _one_line(_text(record.get("category")), CATEGORY_LABEL_CHARS)
        if category:
            where.append(f"category {category}")
        if where:
            lines.append(f"  ({', '.join(where)})")
    return lines


def _failed(run: Mapping) -> list[str]:
    messages = [_text(m) for m in _sequence(run.get("failure_messages")) if _text(m)]
    lines = ["Bedrock reported the job as Failed."]
    if not messages:
        return [*lines, "It gave no failure message; open the job in the Bedrock console."]
    lines.append("Failure messages:")
    for message in messages:
        lines.extend(_bullet(message))
    return lines


def _stopped(run: Mapping) -> list[str]:
    lines = [
        "Someone stopped the evaluation job (console, CLI or API) before it finished;",
        "the pipeline did not parse any results for this run.",
    ]
    messages = [_text(m) for m in _sequence(run.get("failure_messages")) if _text(m)]
    if messages:
        lines.append("Messages from Bedrock:")
        for message in messages:
            lines.extend(_bullet(message))
    return lines


def _timed_out(run: Mapping) -> list[str]:
    deadline = _text(run.get("deadline"))
    lines = [
        "The job was still running at its deadline"
        + (f" ({deadline})" if deadline else "")
        + ", so the pipeline stopped it.",
        "No results were parsed. Jobs usually take 5-15 minutes for 30-50 records; a long queue",
        "or a large dataset may need a longer JOB_TIMEOUT_SECONDS.",
    ]
    return lines


def _rejected(run: Mapping) -> list[str]:
    problems = list(_sequence(run.get("problems")))[:MAX_PROBLEMS_SHOWN]
    total = max(_problem_count(run), len(problems))
    lines = [f"Problems ({total})"]
    for problem in problems:
        lines.extend(_bullet(_problem_line(problem), marker=""))
    if total > len(problems):
        lines.append(f"  ... and {total - len(problems)} more")
    again = (
        f"request the run again (evalpipe run --suite {_text(run.get('suite'))})"
        if _request(run)
        else "upload the dataset again"
    )
    lines += ["", f"Nothing was submitted. Fix the problems and {again}."]
    return lines


def _error(run: Mapping) -> list[str]:
    error = _mapping(run.get("error"))
    error_type = _text(error.get("type")) or "unknown error"
    message = _text(error.get("message"))
    lines = [f"Error: {error_type}"]
    if message:
        # The cause may be long or JSON; wrap it but keep it whole up to the reason limit.
        lines.extend(_bullet(_one_line(message, 1500), marker=""))
    hint = _ERROR_HINTS.get(error_type)
    lines += ["", "What to check:"]
    if hint:
        lines.extend(_bullet(hint))
    lines.extend(
        _bullet(
            "The state machine execution of this run (Step Functions console, search the executions "
            "for the run id): its history names the failed state and the full cause."
        )
    )
    lines.extend(_bullet("The function's CloudWatch logs (service evalpipe) around the finish time."))
    if run.get("job_arn"):
        lines.extend(_bullet("Whether the Bedrock job (Job ARN above) is still running or finished."))
    return lines


def _warnings(run: Mapping, verdict: str, comparison: Comparison | None) -> list[str]:
    """The run's warnings, then the comparison's (N/A rates, metrics gone since the baseline).

    A completed run stored before comparisons gets its N/A-rate warnings computed here.
    """
    warnings = [w for w in _sequence(run.get("warnings")) if w]
    if comparison is not None:
        extra = comparison.warnings
    elif verdict in (Verdict.PASSED, Verdict.LOW_SCORES, Verdict.REGRESSED):
        from evalpipe.history.compare import na_rate_warnings  # noqa: PLC0415 -- see comparison_of

        extra = na_rate_warnings(run)
    else:
        extra = []
    texts = {_text(w) for w in warnings if not isinstance(w, Mapping)}
    warnings += [w for w in extra if w not in texts]
    if not warnings:
        return []
    lines = [f"Warnings ({len(warnings)})"]
    for warning in warnings[:MAX_PROBLEMS_SHOWN]:
        text = _problem_line(warning) if isinstance(warning, Mapping) else _text(warning)
        lines.extend(_bullet(text, marker=""))
    if len(warnings) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(warnings) - MAX_PROBLEMS_SHOWN} more")
    return lines


def _where_to_look(run: Mapping, verdict: str, console_region: str | None) -> list[str]:
    run_id = _text(run.get("run_id"))
    suite = _text(run.get("suite"))
    bucket = _bucket(run)
    lines = ["Where to look"]
    report = _text(run.get("report_key"))
    if report and bucket:
        lines.append(f"  Report:      s3://{bucket}/{report}")
        if console_region:
            url = (
                f"https://{console_region}.console.aws.amazon.com/s3/object/{quote(bucket)}"
                f"?region={quote(console_region)}&prefix={quote(report, safe='')}"
            )
            lines.append(f"  Report link: {url}")
        if run_id:
            lines.append(f"  CLI:         evalpipe report {run_id} --open")
    if run_id:
        lines.append(f"  Run record:  DynamoDB runs table, pk RUN#{run_id}, sk RUN")
    # A rejected run never reached Bedrock, so there is no output to point at.
    submitted = bool(run.get("job_arn")) or verdict not in _TERMINAL_JOB_VERDICTS
    if submitted and bucket and suite and run_id:
        prefix = results_prefix(suite, run_id)
        lines.append(f"  Job output:  s3://{bucket}/{prefix}")
        if console_region:
            url = (
                f"https://{console_region}.console.aws.amazon.com/s3/buckets/{quote(bucket)}"
                f"?region={quote(console_region)}&prefix={quote(prefix, safe='')}"
            )
            lines.append(f"  S3 console:  {url}")
    return lines if len(lines) > 1 else []


# ---------------------------------------------------------------------------------------- helpers


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Fixed-width table, two-space indent and gutters, dashed rule under the header."""
    widths = [
        max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _width(lines: Iterable[str]) -> int:
    return max((len(line) for line in lines), default=0)


def _short_metric_names(names: list[str]) -> list[str]:
    """Drop `Builtin.` in narrow columns, unless that would make two headers equal."""
    short = [n.removeprefix(BUILTIN_PREFIX) for n in names]
    return short if len(set(short)) == len(short) else list(names)


def _bullet(text: str, marker: str = "- ") -> list[str]:
    first = "  " + marker
    return textwrap.wrap(
        text,
        width=WRAP_WIDTH,
        initial_indent=first,
        subsequent_indent=" " * (len(first) + 2 if not marker else len(first)),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _problem_line(problem: object) -> str:
    """`FILE:LINE: FIELD: message` for dataset lines, `FILE: field: message` for the suite file."""
    if not isinstance(problem, Mapping):
        return _text(problem)
    where = _text(problem.get("file")) or "?"
    if problem.get("line") is not None:
        where += f":{_int(problem.get('line'))}"
    parts = [where]
    if _text(problem.get("field")):
        parts.append(_text(problem.get("field")))
    parts.append(_one_line(_text(problem.get("message")), 500))
    return ": ".join(parts)


def _request(run: Mapping) -> Mapping:
    """The run request of a run no dataset drop started (``request``), else empty."""
    return _mapping(run.get("request"))


def _bucket(run: Mapping) -> str:
    """The product bucket: the dropped dataset's, else the one a run request recorded."""
    return _text(_mapping(run.get("dataset")).get("bucket")) or _text(_request(run).get("bucket"))


def _request_fields(run: Mapping) -> list[tuple[str, str]]:
    """``Trigger`` (scheduled run / manual run by evalpipe run) and the built-in datasets of a run
    that no dataset drop started; nothing for a dataset's run (its ``Dataset`` line names it)."""
    request = _request(run)
    if not request:
        return []
    by = _text(request.get("requested_by"))
    trigger = "scheduled run" if by == "schedule" else "manual run by evalpipe run" if by == "cli" else by
    when = _text(request.get("time"))
    if by == "schedule" and when:
        trigger += f" (scheduled for {when})"
    fields = [("Trigger", trigger)]
    document = run.get("suite_document")
    if isinstance(document, str):
        try:
            names = builtin_dataset_names(json.loads(document))
        except ValueError:
            names = []
        if names:
            fields.append(("Datasets", ", ".join(names) + " (built in)"))
    return fields


def _dataset_uri(dataset: Mapping) -> str:
    bucket, key = _text(dataset.get("bucket")), _text(dataset.get("key"))
    if not (bucket and key):
        return ""
    return f"s3://{bucket}/{key}"


def _finished(run: Mapping) -> str:
    finished = _text(run.get("finished_at"))
    if not finished:
        return ""
    try:
        elapsed = datetime.fromisoformat(finished) - datetime.fromisoformat(_text(run.get("created_at")))
    except (TypeError, ValueError):
        return finished
    seconds = int(elapsed.total_seconds())
    if seconds < 0:
        return finished
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    took = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return f"{finished} (took {took})"


def _estimate(estimate: object) -> str:
    total = _num(_mapping(estimate).get("total_usd"))
    if total is None:
        return ""
    shown = "< $0.01" if 0 < total < 0.01 else f"${total:,.2f}"
    return f"{shown} (estimated before submission)"


def _fmt_score(value: object, decimals: int) -> str:
    number = _num(value)
    return "N/A" if number is None else f"{number:.{decimals}f}"


def _fmt_delta(value: object, decimals: int) -> str:
    """Signed (``+0.050``, ``-0.150``), ``0.000`` unchanged, ``-`` when there is nothing to subtract."""
    number = _num(value)
    if number is None:
        return "-"
    text = f"{number:+.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text  # no "+0.000" / "-0.000"


def _fmt_rate(rate: object, scored: int, na: int) -> str:
    """`na_rate` is a fraction of the records (0..1); fall back to na / (scored + na)."""
    fraction = _num(rate)
    if fraction is None:
        fraction = na / (scored + na) if scored + na else None
    return "N/A" if fraction is None else f"{fraction * 100:.1f}%"


def _fmt_rule(rule: object) -> str:
    """`{"below": 0.5}` -> `< 0.5`, `{"atOrAbove": 1}` -> `>= 1`; strings pass through."""
    if isinstance(rule, Mapping):
        for key, op in (("below", "<"), ("atOrBelow", "<="), ("above", ">"), ("atOrAbove", ">=")):
            if rule.get(key) is not None:
                return f"{op} {_fmt_plain(rule[key])}"
        return ", ".join(f"{k} {_fmt_plain(v)}" for k, v in rule.items())
    return _one_line(_text(rule), 30) or "-"


def _fmt_plain(value: object) -> str:
    number = _num(value)
    if number is None:
        return _text(value)
    return f"{number:g}"


def _low_count(run: Mapping) -> int:
    if run.get("low_count") is not None:
        return _int(run.get("low_count"))
    by_metric = sum(_int(_mapping(m).get("low_count")) for m in _mapping(run.get("metrics")).values())
    return by_metric or len(_sequence(run.get("low_records")))


def _problem_count(run: Mapping) -> int:
    if run.get("problem_count") is not None:
        return _int(run.get("problem_count"))
    return len(_sequence(run.get("problems")))


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: object, default: int = 0) -> int:
    number = _num(value)
    return default if number is None else int(number)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence:
    return value if isinstance(value, list | tuple) else []


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str, limit: int) -> str:
    """Whitespace and control characters collapsed to single spaces, cut at `limit` with '...'."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 3, 1)].rstrip() + "..."


def _ascii_one_line(text: str) -> str:
    """ASCII for the SNS subject: accents folded (é -> e), other characters become '?'."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    ascii_text = "".join(c if c.isascii() else "?" for c in folded)
    ascii_text = re.sub(r"\?{2,}", "?", ascii_text)
    return " ".join(_CONTROL.sub(" ", ascii_text).split())


def _cap_bytes(text: str) -> str:
    if len(text.encode()) <= BODY_MAX_BYTES:
        return text
    note = "\n[message truncated: see the run record in DynamoDB for the rest]\n"
    cut = text.encode()[: BODY_MAX_BYTES - len(note.encode())].decode(errors="ignore")
    return cut.rsplit("\n", 1)[0] + note
