"""Which run this is and where to look: the identity block (run id, suite, dataset or run request,
job, times, estimated cost, baseline) and the closing block of pointers (HTML report, run record,
job output; console links when a region is given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from evalpipe.notification.run_item import _bucket, _mapping, _num, _request, _text
from evalpipe.run.triggers import Verdict, results_prefix
from evalpipe.suite.datasets import builtin_dataset_names

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison


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


_TERMINAL_JOB_VERDICTS = {Verdict.FAILED, Verdict.STOPPED, Verdict.TIMED_OUT, Verdict.REJECTED, Verdict.ERROR}


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
