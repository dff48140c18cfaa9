"""The plain-text body of a run's notification (`render_body`), block by block:

1. the headline: the verdict and what it amounts to;
2. the identity: run id, suite, dataset or run request, job, times, estimated cost, baseline;
3. the outcome: why the job failed, was stopped or timed out, why the run was rejected (its
   problems), the pipeline error and what to check; or, for a graded run, the note that opens a
   human job and the tables of `evalpipe.notification.tables`;
4. the warnings: the run's, then the comparison's (N/A rates, metrics gone since the baseline);
5. where to look: the HTML report, the run record, the job output (console links with a region).

The whole body is capped to what SNS accepts.
"""

from __future__ import annotations

import json
import math
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

from evalpipe.history.compare import na_rate_warnings
from evalpipe.notification.tables import (
    categories_table,
    human_ratings_table,
    low_records,
    metrics_table,
    record_changes,
)
from evalpipe.notification.text import PROMPT_EXCERPT_CHARS, bullet, one_line, plural
from evalpipe.run.status import Verdict
from evalpipe.run.triggers import TriggerKind, iso, results_prefix, scenarios_key
from evalpipe.suite.datasets import builtin_dataset_names, collected_scenarios_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from evalpipe.run.model import Coverage, ProblemItem, Run
    from evalpipe.run.triggers import DatasetObject

# SNS caps the whole message (body + subject + attributes) at 256 KiB; keep a margin.
BODY_MAX_BYTES = 240 * 1024
MAX_PROBLEMS_SHOWN = 20

# The verdicts of a graded run: its body shows the scores.
GRADED_VERDICTS = frozenset({Verdict.PASSED, Verdict.LOW_SCORES, Verdict.INCOMPLETE, Verdict.REGRESSED})


def render_body(run: Run, verdict: str, console_region: str | None = None) -> str:
    """The notification body of ``run``.

    Parameters
    ----------
    run : Run
        The finished run.
    verdict : str
        The verdict the body leads with (`Run.final_verdict`).
    console_region : str, optional
        When given, "Where to look" adds AWS console links in that region.

    Returns
    -------
    str
        Blocks separated by blank lines, ending with a newline, at most `BODY_MAX_BYTES` bytes.
    """
    blocks: list[list[str]] = [[_headline(run, verdict)], _identity(run)]
    outcome = _OUTCOME_BLOCKS.get(verdict)
    if outcome is not None:
        blocks.append(outcome(run))
        if run.metrics:  # a run of several jobs: those that completed were parsed and stored
            blocks.append(_partial(run))
            blocks.extend(_completed(run))
    else:
        if run.unreadable is not None:
            blocks.append(_unreadable(run))
        if run.is_human:
            blocks.append(_human_done(run))
        blocks.extend(_completed(run))
    blocks.append(_warnings(run, verdict))
    blocks.append(_where_to_look(run, verdict, console_region))
    text = "\n\n".join("\n".join(line.rstrip() for line in block) for block in blocks if block) + "\n"
    return _cap_bytes(text)


def problem_line(problem: ProblemItem) -> str:
    """`FILE:LINE: FIELD: message` for dataset lines, `FILE: field: message` for the suite file."""
    where = problem.file or "?"
    if problem.line is not None:
        where += f":{problem.line}"
    parts = [where]
    if problem.field:
        parts.append(problem.field)
    parts.append(one_line(problem.message, 500))
    return ": ".join(parts)


def _cap_bytes(text: str) -> str:
    if len(text.encode()) <= BODY_MAX_BYTES:
        return text
    note = "\n[message truncated: see the run record in DynamoDB for the rest]\n"
    cut = text.encode()[: BODY_MAX_BYTES - len(note.encode())].decode(errors="ignore")
    return cut.rsplit("\n", 1)[0] + note


# -- headline -----------------------------------------------------------------------------------


def _headline(run: Run, verdict: str) -> str:
    records = plural(run.record_count or 0, "record")
    detail = (
        f"the job completed but its results could not be read ({records})"
        if verdict == Verdict.UNREADABLE
        else _headline_detail(run, verdict, records)
    )
    if run.is_human and verdict in GRADED_VERDICTS:
        # The ratings cover every record: say so once, up front.
        detail = detail.replace(f" in {records}", "")
        detail = f"the work team finished: human ratings of {records}, {detail}"
    return f"Verdict: {verdict.replace('_', ' ')} — {detail}"


def _headline_detail(run: Run, verdict: str, records: str) -> str:
    match verdict:
        case Verdict.PASSED:
            return f"no low scores in {records}"
        case Verdict.LOW_SCORES:
            return f"{plural(run.low_count, 'low score')} in {records}"
        case Verdict.REGRESSED:
            count = len(run.comparison.regressed_metrics) if run.comparison is not None else 0
            return (
                f"{plural(count, 'metric') if count else 'metrics'} regressed against the baseline run "
                f"({plural(run.low_count, 'low score')} in {records})"
            )
        case Verdict.INCOMPLETE:
            return f"{coverage_text(run.coverage)} ({plural(run.low_count, 'low score')} in {records})"
        case Verdict.FAILED:
            return "the evaluation job failed"
        case Verdict.STOPPED:
            return "the evaluation job was stopped before it finished"
        case Verdict.TIMED_OUT:
            return "the job ran past its deadline and the pipeline stopped it"
        case Verdict.REJECTED:
            what = "the run request" if run.request is not None else "the dataset"
            return f"{what} did not pass validation ({plural(problem_count(run), 'problem')})"
        case Verdict.ERROR:
            error_type = run.error.type if run.error is not None else ""
            return "the pipeline itself failed" + (f" ({error_type})" if error_type else "")
    return f"{records} graded"


def problem_count(run: Run) -> int:
    """Every validation problem of the run (``problem_count``), not only the listed ones."""
    return run.problem_count if run.problem_count is not None else len(run.problems)


# -- identity -----------------------------------------------------------------------------------


def _identity(run: Run) -> list[str]:
    dataset = run.dataset
    fields: list[tuple[str, str]] = [
        ("Run id", run.run_id),
        ("Suite", run.suite),
        ("Dataset", _dataset_uri(dataset)),
        ("Version", (dataset.version_id if dataset else None) or ""),
        *_request_fields(run),
        ("Job name", run.job_name or ""),
        ("Job ARN", run.job_arn or ""),
        ("Started", iso(run.created_at)),
        ("Finished", _finished(run)),
        ("Est. cost", _estimate(run.estimate)),
    ]
    comparison = run.comparison
    if comparison is not None and comparison.baseline_run_id:
        pinned = " (pinned)" if comparison.baseline_pinned else ""
        fields.append(("Baseline", f"{comparison.baseline_run_id}{pinned}"))
    shown = [(label, value) for label, value in fields if value]
    label_width = max((len(label) for label, _ in shown), default=0) + 2
    return [f"{(label + ':').ljust(label_width)}{value}" for label, value in shown]


def _dataset_uri(dataset: DatasetObject | None) -> str:
    if dataset is None or not (dataset.bucket and dataset.key):
        return ""
    return f"s3://{dataset.bucket}/{dataset.key}"


def _request_fields(run: Run) -> list[tuple[str, str]]:
    """``Trigger`` (scheduled run / manual run by evalpipe run) and the built-in datasets of a run
    that no dataset drop started, or the scenarios file it collected from; nothing for a dataset's
    run (its ``Dataset`` line names it)."""
    request = run.request
    if request is None:
        return []
    trigger = request.describe()
    if request.requested_by is TriggerKind.SCHEDULE:
        # As the request stores its time (``2026-03-02T06:00:00Z``).
        trigger += f" (scheduled for {request.request_time.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})"
    fields = [("Trigger", trigger)]
    document: object = None
    if run.suite_document is not None:
        try:
            document = json.loads(run.suite_document)
        except ValueError:
            document = None
    names = builtin_dataset_names(document)
    if names:
        fields.append(("Datasets", ", ".join(names) + " (built in)"))
    scenarios = collected_scenarios_file(document) if run.collection is not None else None
    if scenarios is not None:
        fields.append(("Scenarios", f"s3://{run.bucket or ''}/{scenarios_key(run.suite, scenarios)}"))
    return fields


def _finished(run: Run) -> str:
    if run.finished_at is None:
        return ""
    finished = iso(run.finished_at)
    seconds = int((run.finished_at - run.created_at).total_seconds())
    if seconds < 0:
        return finished
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    took = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return f"{finished} (took {took})"


def _estimate(estimate: dict | None) -> str:
    total = _usd((estimate or {}).get("total_usd"))
    if total is None:
        return ""
    shown = "< $0.01" if 0 < total < 0.01 else f"${total:,.2f}"
    return f"{shown} (estimated before submission)"


def _usd(value: object) -> float | None:
    """The estimate's amount: the estimate is a free-form dict, so any number type (or none)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _time(value: datetime | None) -> str:
    return iso(value) if value is not None else ""


# -- outcomes -----------------------------------------------------------------------------------

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


def _partial(run: Run) -> list[str]:
    done = [shard for shard in run.all_shards() if shard.status == "COMPLETED"]
    records = plural(run.record_count or 0, "record")
    return [
        f"Scores of the {len(done)} of {len(run.shards)} jobs that completed ({records}): partial, "
        "not a verdict on the whole dataset."
    ]


def _failed(run: Run) -> list[str]:
    messages = [m for m in run.failure_messages if m]
    lines = ["Bedrock reported the job as Failed."]
    if not messages:
        return [*lines, "It gave no failure message; open the job in the Bedrock console."]
    lines.append("Failure messages:")
    for message in messages:
        lines.extend(bullet(message))
    return lines


def _stopped(run: Run) -> list[str]:
    lines = [
        "Someone stopped the evaluation job (console, CLI or API) before it finished;",
        "the pipeline did not parse any results for this run.",
    ]
    messages = [m for m in run.failure_messages if m]
    if messages:
        lines.append("Messages from Bedrock:")
        for message in messages:
            lines.extend(bullet(message))
    return lines


def _timed_out(run: Run) -> list[str]:
    deadline = _time(run.deadline)
    return [
        "The job was still running at its deadline"
        + (f" ({deadline})" if deadline else "")
        + ", so the pipeline stopped it.",
        "No results were parsed. Jobs usually take 5-15 minutes for 30-50 records; a long queue",
        "or a large dataset may need a longer JOB_TIMEOUT_SECONDS.",
    ]


def _rejected(run: Run) -> list[str]:
    problems = run.problems[:MAX_PROBLEMS_SHOWN]
    total = max(problem_count(run), len(problems))
    lines = [f"Problems ({total})"]
    for problem in problems:
        lines.extend(bullet(problem_line(problem), marker=""))
    if total > len(problems):
        lines.append(f"  ... and {total - len(problems)} more")
    again = (
        f"request the run again (evalpipe run --suite {run.suite})"
        if run.request is not None
        else "upload the dataset again"
    )
    lines += ["", f"Nothing was submitted. Fix the problems and {again}."]
    return lines


def _error(run: Run) -> list[str]:
    error_type = (run.error.type if run.error is not None else "") or "unknown error"
    message = run.error.message if run.error is not None else ""
    lines = [f"Error: {error_type}"]
    if message:
        # The cause may be long or JSON; wrap it but keep it whole up to the reason limit.
        lines.extend(bullet(one_line(message, 1500), marker=""))
    hint = _ERROR_HINTS.get(error_type)
    lines += ["", "What to check:"]
    if hint:
        lines.extend(bullet(hint))
    lines.extend(
        bullet(
            "The state machine execution of this run (Step Functions console, search the executions "
            "for the run id): its history names the failed state and the full cause."
        )
    )
    lines.extend(bullet("The function's CloudWatch logs (service evalpipe) around the finish time."))
    if run.job_arn:
        lines.extend(bullet("Whether the Bedrock job (Job ARN above) is still running or finished."))
    return lines


# The block of each outcome that is not a graded run.
_OUTCOME_BLOCKS: dict[str, Callable[[Run], list[str]]] = {
    Verdict.FAILED: _failed,
    Verdict.STOPPED: _stopped,
    Verdict.TIMED_OUT: _timed_out,
    Verdict.REJECTED: _rejected,
    Verdict.ERROR: _error,
}


def _human_done(run: Run) -> list[str]:
    """A completed human job: the work is done, when, and where the ratings are."""
    bucket = run.bucket
    lines = [
        "Human evaluation: your work team has finished rating this job.",
        f"  Work done:   {_time(run.job_finished_at) or _time(run.finished_at)}",
    ]
    if bucket and run.suite and run.run_id:
        lines.append(f"  Ratings:     s3://{bucket}/{results_prefix(run.suite, run.run_id)} (*_output.jsonl)")
    if run.report_key and bucket:
        lines.append(f"  Report:      s3://{bucket}/{run.report_key}")
    lines.extend(
        bullet(
            "Scores below are human ratings scaled to 0-1 (workers averaged per record): thumbs up = 1, "
            "thumbs down = 0, a Likert rating r of 1..5 = (r - 1) / 4, a choice = the share of workers "
            "choosing the model, rank r of n = (n - r) / (n - 1); a job of two models scores each as "
            "metric@model. Comparison Likert ratings are tallied only.",
            marker="  ",
        )
    )
    table = human_ratings_table(run)
    return [*lines, "", *table] if table else lines


def _unreadable(run: Run) -> list[str]:
    """Verdict UNREADABLE: what could not be read, and where to look."""
    info = run.unreadable
    assert info is not None
    lines = [f"The results could not be read: {info.message}."]
    if info.file:
        where = f"{info.file} line {info.line}" if info.line is not None else info.file
        lines.append(f"  First unreadable record: {where}")
    if info.unread_records:
        lines.append(
            f"  {plural(info.unread_records, 'record')} without any readable score (stored without scores)."
        )
    lines.extend(
        bullet(
            "Check the output files against the suite (`evalpipe parse <output folder> --suite <suite>` "
            "reads them as the pipeline does); this run is never PASSED.",
            marker="  ",
        )
    )
    return lines


def coverage_text(coverage: Coverage | None) -> str:
    """``3 of 18 dataset records have no result, 2 results match no record`` (or what applies)."""
    if coverage is None or coverage.complete:
        return "the results cover the dataset"
    parts = []
    if coverage.missing_count:
        parts.append(
            f"{coverage.missing_count} of {plural(coverage.expected, 'dataset record')} have no result"
        )
    if coverage.surplus_count:
        parts.append(f"{plural(coverage.surplus_count, 'result')} match no dataset record")
    return ", ".join(parts)


def _coverage(run: Run) -> list[str]:
    """The dataset records the results lack, and the results no record explains (first few of each)."""
    coverage = run.coverage
    if coverage is None or coverage.complete:
        return []
    lines = [
        "Records not evaluated",
        *bullet(
            f"{coverage_text(coverage)}: the scores above are about the records that were evaluated, "
            "not the whole dataset. Rerun the dataset; if it happens again, the job's output is short.",
            marker="",
        ),
    ]
    for record in coverage.missing:
        where = f"line {record.line}" + (f", turn {record.turn}" if record.turn else "")
        lines.append(f'  - missing: {where}: "{one_line(record.prompt_excerpt, PROMPT_EXCERPT_CHARS)}"')
    if coverage.missing_count > len(coverage.missing):
        lines.append(f"  ... and {coverage.missing_count - len(coverage.missing)} more missing")
    for record in coverage.surplus:
        lines.append(
            f'  - surplus: result #{record.index}: "{one_line(record.prompt_excerpt, PROMPT_EXCERPT_CHARS)}"'
        )
    if coverage.surplus_count > len(coverage.surplus):
        lines.append(f"  ... and {coverage.surplus_count - len(coverage.surplus)} more surplus")
    return lines


def _completed(run: Run) -> list[list[str]]:
    """A graded run's tables: metrics, categories, datasets, flagged records, record changes."""
    blocks = [_coverage(run), metrics_table(run.metrics, run.record_count or 0, run.comparison)]
    if run.categories:
        blocks.append(categories_table(run.categories, sorted(run.metrics)))
    if len(run.datasets) > 1:  # only runs over several datasets carry it
        title = "Average score by dataset"
        blocks.append(categories_table(run.datasets, sorted(run.metrics), title_text=title, label="Dataset"))
    blocks.append(low_records(run))
    blocks.append(record_changes(run.comparison))
    return blocks


# -- warnings and pointers ----------------------------------------------------------------------


def _warnings(run: Run, verdict: str) -> list[str]:
    """The run's warnings, then the comparison's (N/A rates, metrics gone since the baseline).

    A graded run stored before comparisons gets its N/A-rate warnings computed here. A warning
    the run already shows is not repeated.
    """
    texts = [problem_line(w) for w in run.warnings]
    if run.comparison is not None:
        extra = run.comparison.warnings
    elif verdict in GRADED_VERDICTS:
        extra = na_rate_warnings(run)
    else:
        extra = []
    shown = set(texts)
    texts += [w for w in extra if w not in shown]
    if not texts:
        return []
    lines = [f"Warnings ({len(texts)})"]
    for text in texts[:MAX_PROBLEMS_SHOWN]:
        lines.extend(bullet(text, marker=""))
    if len(texts) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(texts) - MAX_PROBLEMS_SHOWN} more")
    return lines


def _where_to_look(run: Run, verdict: str, console_region: str | None) -> list[str]:
    """The report (and its console link), the CLI command, the run record, the job output."""
    lines = _report_lines(run, console_region)
    if run.run_id:
        lines.append(f"  Run record:  DynamoDB runs table, pk RUN#{run.run_id}, sk RUN")
    # A run that ended without a job (a rejected one never reached Bedrock) has no output to
    # point at; a graded run always had one.
    if run.job_arn or verdict not in _OUTCOME_BLOCKS:
        lines.extend(_output_lines(run, console_region))
    return ["Where to look", *lines] if lines else []


def _report_lines(run: Run, console_region: str | None) -> list[str]:
    bucket, report = run.bucket, run.report_key
    if not (report and bucket):
        return []
    lines = [f"  Report:      s3://{bucket}/{report}"]
    if console_region:
        url = (
            f"https://{console_region}.console.aws.amazon.com/s3/object/{quote(bucket)}"
            f"?region={quote(console_region)}&prefix={quote(report, safe='')}"
        )
        lines.append(f"  Report link: {url}")
    if run.run_id:
        lines.append(f"  CLI:         evalpipe report {run.run_id} --open")
    return lines


def _output_lines(run: Run, console_region: str | None) -> list[str]:
    bucket = run.bucket
    if not (bucket and run.suite and run.run_id):
        return []
    prefix = results_prefix(run.suite, run.run_id)
    lines = [f"  Job output:  s3://{bucket}/{prefix}"]
    if console_region:
        url = (
            f"https://{console_region}.console.aws.amazon.com/s3/buckets/{quote(bucket)}"
            f"?region={quote(console_region)}&prefix={quote(prefix, safe='')}"
        )
        lines.append(f"  S3 console:  {url}")
    return lines
