"""`evalpipe gate`: run a dataset through the deployed pipeline and pass or fail on its verdict (CI).

``evalpipe gate --suite S DATASET.jsonl [--stack NAME] [--timeout S] [--fail-on REGRESSED,...]
[--markdown FILE]``:

1. the suite: ``S`` names a suite deployed in the bucket (``suites/S.json`` is read from there), or
   is the path of a local suite file, which must then be the deployed ``suites/<its name>.json``
   (the run validates the deployed file: a gate on a file the pipeline does not use would pass
   or fail the wrong thing);
2. validates suite and dataset on this machine with the pipeline's rules (`evalpipe validate`),
   and checks a pinned baseline is comparable; nothing is uploaded when they fail;
3. uploads the dataset as ``datasets/S/gate-<UTC time>-<random>.jsonl`` (a key of its own: its
   run is found by it, and no other upload can be mistaken for it);
4. waits for that run with `evalpipe show --wait`'s progress display, then prints the run as its
   notification reads;
5. exits 1 when the verdict is one of ``--fail-on`` (default REGRESSED) or the run did not
   complete (REJECTED, FAILED, STOPPED, TIMED_OUT, ERROR) or is still running at ``--timeout``;
   else 0. ``--markdown FILE`` writes a summary for a pull-request comment: the verdict, the metric
   table with the intervals, the worst records, the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from evalpipe.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    Printer,
    Unreadable,
    open_chunks,
    read_bytes,
)
from evalpipe.cli._stack import Deployment, add_stack_arguments, aws_command, connect, failed
from evalpipe.cli.runs import EXIT_INTERRUPTED, WaitDisplay, print_run, wait_for_run
from evalpipe.cli.validate import print_report
from evalpipe.notification.tables import interval_text
from evalpipe.notification.text import fmt_score, one_line
from evalpipe.run.model import MetricStatus
from evalpipe.run.status import Verdict
from evalpipe.run.triggers import SUITE_NAME_PATTERN, suite_key
from evalpipe.suite import Suite, SuiteError
from evalpipe.validation import DeploymentLimits, Problem, Severity, validate_run
from evalpipe.validation.baseline_rules import check_pinned_baseline

if TYPE_CHECKING:
    from collections.abc import Callable

    from evalpipe.run.model import Run
    from evalpipe.validation import Report

DEFAULT_TIMEOUT_SECONDS = 3600
DEFAULT_INTERVAL_SECONDS = 10
DEFAULT_FAIL_ON = (Verdict.REGRESSED,)
# A run that did not complete fails the gate whatever --fail-on says: it judged nothing.
ALWAYS_FAIL = (Verdict.REJECTED, Verdict.FAILED, Verdict.STOPPED, Verdict.TIMED_OUT, Verdict.ERROR)
# How the run is found: the newest runs of the suite, one of which names the uploaded key.
HISTORY_ROWS = 20
MARKDOWN_RECORDS = 5


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="run a dataset through the deployed pipeline and fail on its verdict (for CI)",
        description=(
            "Validate SUITE and DATASET locally, upload the dataset under a key of its own, wait for its "
            "run and print its verdict. Exit 0: the run completed with a verdict not in --fail-on; "
            "1: a verdict in --fail-on, a run that did not complete (rejected, failed, stopped, timed "
            "out, error), invalid files, --timeout reached, or an AWS error; 2: usage error."
        ),
    )
    parser.add_argument(
        "--suite",
        required=True,
        metavar="SUITE",
        help="a suite deployed in the bucket (suites/SUITE.json), or the path of that suite's file",
    )
    parser.add_argument("dataset", metavar="DATASET.jsonl", help="the dataset to run")
    parser.add_argument(
        "--fail-on",
        type=_verdicts,
        default=DEFAULT_FAIL_ON,
        metavar="VERDICT,...",
        help=(
            "verdicts that fail the gate, comma-separated (default REGRESSED; e.g. "
            "REGRESSED,LOW_SCORES,INCOMPLETE); REJECTED, FAILED, STOPPED, TIMED_OUT and ERROR always do"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up waiting for the run after this long ({DEFAULT_TIMEOUT_SECONDS})",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help=f"seconds between polls ({DEFAULT_INTERVAL_SECONDS})",
    )
    parser.add_argument(
        "--markdown", metavar="FILE", help="write a Markdown summary for a pull-request comment"
    )
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


@aws_command
def run(args: argparse.Namespace) -> int:
    deployment = connect(args)
    try:
        name, suite_bytes, suite_file = resolve_suite(args.suite, deployment)
        report = validate_locally(suite_bytes, suite_file, args.dataset, name, deployment)
    except Unreadable as exc:
        print(f"evalpipe: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except GateError as exc:
        return failed(str(exc))
    if not report.ok:
        print_report(report, args.dataset, Printer())
        _write_markdown(args.markdown, _rejected_markdown(name, args.dataset, report))
        return EXIT_INVALID

    key = f"datasets/{name}/gate-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.jsonl"
    deployment.s3.upload_file(args.dataset, deployment.bucket, key)
    print(f"Uploaded {args.dataset} as s3://{deployment.bucket}/{key}", file=sys.stderr)
    try:
        with WaitDisplay(f"the run of {key}", args.timeout) as display:
            found, settled = wait_for_run(
                _run_of_key(deployment, name, key),
                key,
                timeout=args.timeout,
                interval=args.interval,
                report=display.update,
            )
    except KeyboardInterrupt:
        print("evalpipe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if found is None or not settled:
        state = "was not recorded" if found is None else f"is still {found.status}"
        _write_markdown(
            args.markdown,
            f"## evalpipe gate: no verdict\n\nThe run of `{key}` {state} after {args.timeout:g}s.\n",
        )
        return failed(f"the run of {key} {state} after {args.timeout:g}s")
    print_run(found, Printer(), console_region=deployment.console_region)
    verdict = found.final_verdict()
    _write_markdown(args.markdown, markdown_summary(found, console_region=deployment.console_region))
    if verdict in ALWAYS_FAIL or verdict in args.fail_on:
        print(f"evalpipe gate: {verdict} fails the gate (run {found.run_id})", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


class GateError(Exception):
    """The suite cannot be gated as given (exit status 1)."""


def resolve_suite(given: str, deployment: Deployment) -> tuple[str, bytes, str]:
    """``(suite name, the deployed suite file's bytes, how problems name it)``.

    Raises
    ------
    GateError
        No such suite deployed, or a local file that is not the deployed one.
    Unreadable
        The local file cannot be read.
    """
    path = Path(given)
    local = path.suffix == ".json" or path.is_file()
    name = path.stem if local else given
    if not SUITE_NAME_PATTERN.fullmatch(name):
        raise GateError(f"{given}: a suite name must match {SUITE_NAME_PATTERN.pattern}")
    key = suite_key(name)
    try:
        deployed = deployment.s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        raise GateError(
            f"suite {name} is not deployed: s3://{deployment.bucket}/{key} does not exist (upload it first)"
        ) from exc
    if local:
        mine = read_bytes(given)
        if _parsed(mine) != _parsed(deployed):
            raise GateError(
                f"{given} differs from the deployed s3://{deployment.bucket}/{key}, which is what the run "
                "would use: upload it first (aws s3 cp), or pass --suite with the suite's name"
            )
        return name, deployed, given
    return name, deployed, key


def validate_locally(
    suite_bytes: bytes, suite_file: str, dataset: str, name: str, deployment: Deployment
) -> Report:
    """`evalpipe validate`'s checks, plus the pinned baseline's comparability (it needs the table)."""
    report = validate_run(suite_bytes, suite_file, open_chunks(dataset), dataset, limits=DeploymentLimits())
    if not report.ok:
        return report
    try:
        suite = Suite.from_document(name, json.loads(suite_bytes))
    except (SuiteError, ValueError) as exc:
        report.add(Problem(Severity.ERROR, suite_file, str(exc)))
        return report
    pinned = suite.pipeline.regression.baseline_run_id
    if pinned:
        for problem in check_pinned_baseline(suite, deployment.runs.get(pinned), suite_file):
            report.add(problem)
    return report


def _parsed(data: bytes) -> object:
    """The suite file's JSON (None when it is not JSON: then only identical bytes match)."""
    try:
        return json.loads(data)
    except ValueError:
        return data


def _run_of_key(deployment: Deployment, suite: str, key: str) -> Callable[[str], Run | None]:
    """``get_run`` for `wait_for_run`: the run whose dataset is ``key`` (None until it is claimed)."""
    found: dict[str, str] = {}

    def get(_: str) -> Run | None:
        if "run_id" in found:
            return deployment.runs.get(found["run_id"])
        for row in deployment.runs.history(suite, limit=HISTORY_ROWS):
            if row.dataset is not None and row.dataset.key == key:
                found["run_id"] = row.run_id
                return row
        return None

    return get


# ---------------------------------------------------------------------------------- markdown


def markdown_summary(run: Run, *, console_region: str | None = None) -> str:
    """A pull-request comment: verdict, the metric table with intervals, worst records, the report."""
    verdict = run.final_verdict()
    lines = [f"## evalpipe gate: {verdict} — suite `{run.suite}`", ""]
    comparison = run.comparison
    baseline = (
        f", baseline `{comparison.baseline_run_id}`" if comparison and comparison.baseline_run_id else ""
    )
    dataset = f" on `{run.dataset.key}`" if run.dataset is not None else ""
    lines += [f"Run `{run.run_id}`{dataset} ({run.record_count or 0} records){baseline}.", ""]
    if run.problems:
        lines += ["**Problems**", ""] + [f"- `{p.field or p.file}`: {p.message}" for p in run.problems] + [""]
    if run.metrics:
        lines += _metric_rows(run)
    if comparison is not None:
        for entry in comparison.metrics:
            if entry.regressed or entry.status == MetricStatus.POSSIBLE_REGRESSION:
                label = "Regressed" if entry.regressed else "Possible regression"
                lines.append(f"- **{label}: {entry.metric}**: {_escape(entry.reason)}")
        if comparison.baseline_run_id is None:
            lines.append(f"- No baseline: {comparison.baseline_note}.")
        lines += [f"- {_escape(note)}" for note in comparison.comparability_notes]
        lines.append("")
    lines += _worst_records(run)
    if run.report_key and run.bucket:
        lines.append(f"Report: `s3://{run.bucket}/{run.report_key}` (`evalpipe report {run.run_id} --open`)")
        if console_region:
            lines.append(
                f"([console](https://{console_region}.console.aws.amazon.com/s3/object/{run.bucket}"
                f"?region={console_region}&prefix={run.report_key}))"
            )
    return "\n".join(lines).rstrip() + "\n"


def _metric_rows(run: Run) -> list[str]:
    comparison = run.comparison
    rows = [
        "| Metric | Baseline | This run | Change [95% CI] | Pairs | Detectable drop | Outcome |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for name, summary in sorted(run.metrics.items()):
        entry = comparison.metric(name) if comparison is not None else None
        baseline = fmt_score(entry.baseline_average, 3) if entry is not None else "-"
        pairs = str(entry.pairs) if entry is not None and entry.change is not None else "-"
        detectable = fmt_score(entry.min_detectable_drop, 3) if entry is not None else "-"
        outcome = _outcome(entry.status, regressed=entry.regressed) if entry is not None else "-"
        rows.append(
            f"| {name} | {baseline} | {fmt_score(summary.average, 3)} | {interval_text(entry)} | {pairs} "
            f"| {detectable} | {outcome} |"
        )
    return [*rows, ""]


def _outcome(status: str, *, regressed: bool) -> str:
    if regressed:
        return "**REGRESSED**"
    labels: dict[str, str] = {
        MetricStatus.OK.value: "ok",
        MetricStatus.POSSIBLE_REGRESSION.value: "possible regression",
        MetricStatus.IMPROVED.value: "improved",
    }
    return labels.get(status, "not compared")


def _worst_records(run: Run) -> list[str]:
    lines = []
    changes = run.comparison.record_changes[:MARKDOWN_RECORDS] if run.comparison is not None else []
    if changes:
        lines += ["**Prompts that got worse**", ""]
        for change in changes:
            lines.append(
                f"- `{change.metric}` {fmt_score(change.baseline_score, 2)} → {fmt_score(change.score, 2)}: "
                f"{_escape(one_line(change.prompt_excerpt, 120))} (record #{change.index})"
            )
        lines.append("")
    if run.low_records:
        lines += ["**Lowest scores**", ""]
        for low in run.low_records[:MARKDOWN_RECORDS]:
            lines.append(
                f"- `{low.metric}` {fmt_score(low.score, 2)} ({low.rule or 'flagged'}): "
                f"{_escape(one_line(low.prompt_excerpt, 120))} (record #{low.index})"
            )
        lines.append("")
    return lines


def _rejected_markdown(suite: str, dataset: str, report: Report) -> str:
    lines = [f"## evalpipe gate: invalid — suite `{suite}`", "", f"`{dataset}` was not uploaded:", ""]
    lines += [f"- {_escape(problem.render())}" for problem in report.problems]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    # A pipe would end a table cell; a comment is no place for raw HTML from a prompt.
    return text.replace("|", "\\|").replace("<", "&lt;")


def _write_markdown(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------------- parsing


def _verdicts(text: str) -> tuple[Verdict, ...]:
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    known = {v.value for v in Verdict}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown verdict {', '.join(unknown) or '(none)'}; choose from {', '.join(sorted(known))}"
        )
    return tuple(Verdict(n) for n in names)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
