"""The plain-text body: the headline, then the blocks in order (identity, the outcome's block or a
completed run's tables, warnings, where to look), capped to what SNS accepts. The sections live in
their own modules; this one decides which apply and in what order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from evalpipe.notification.categories import _categories_table
from evalpipe.notification.changes import record_changes
from evalpipe.notification.formatting import _plural
from evalpipe.notification.identity import _identity, _where_to_look
from evalpipe.notification.layout import _bullet
from evalpipe.notification.low_records import _low_records
from evalpipe.notification.outcomes import (
    MAX_PROBLEMS_SHOWN,
    _error,
    _failed,
    _human_done,
    _problem_line,
    _rejected,
    _stopped,
    _timed_out,
)
from evalpipe.notification.run_item import (
    _int,
    _is_human,
    _low_count,
    _mapping,
    _problem_count,
    _request,
    _sequence,
    _text,
)
from evalpipe.notification.scores import metrics_table
from evalpipe.run.triggers import Verdict

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison


# SNS caps the whole message (body + subject + attributes) at 256 KiB; keep a margin.
BODY_MAX_BYTES = 240 * 1024


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


def _warnings(run: Mapping, verdict: str, comparison: Comparison | None) -> list[str]:
    """The run's warnings, then the comparison's (N/A rates, metrics gone since the baseline).

    A completed run stored before comparisons gets its N/A-rate warnings computed here.
    """
    warnings = [w for w in _sequence(run.get("warnings")) if w]
    if comparison is not None:
        extra = comparison.warnings
    elif verdict in (Verdict.PASSED, Verdict.LOW_SCORES, Verdict.REGRESSED):
        from evalpipe.history.compare import na_rate_warnings  # noqa: PLC0415 -- see run_item.comparison_of

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


def _cap_bytes(text: str) -> str:
    if len(text.encode()) <= BODY_MAX_BYTES:
        return text
    note = "\n[message truncated: see the run record in DynamoDB for the rest]\n"
    cut = text.encode()[: BODY_MAX_BYTES - len(note.encode())].decode(errors="ignore")
    return cut.rsplit("\n", 1)[0] + note
