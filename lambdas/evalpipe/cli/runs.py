"""`evalpipe runs` and `evalpipe show`: a suite's run history, and one run in full.

``evalpipe runs --suite S`` lists the suite's runs newest first (the runs table's ``by-suite``
index); without ``--suite`` it lists the latest run of every suite (a Scan of that sparse index,
which holds run items only). ``evalpipe show RUN`` prints the run as its notification reads
(verdict, metrics against the baseline, flagged records, prompts that got worse, warnings,
where to look); ``--wait`` polls until the run has finished, with a spinner on a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from evalpipe.cli._common import (
    EXIT_OK,
    Printer,
    _isatty,
    positive_int,
    short_time,
    text_table,
    verdict_style,
)
from evalpipe.cli._stack import Deployment, add_stack_arguments, aws_command, connect, failed
from evalpipe.notification import build_notification, short_run_id
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import iso

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from evalpipe.run.model import Run

DEFAULT_LIMIT = 20
DEFAULT_TIMEOUT_SECONDS = 3600
DEFAULT_INTERVAL_SECONDS = 10
EXIT_INTERRUPTED = 130
# What `runs` reads of each run item when it scans every suite.
SUMMARY_ATTRIBUTES = (
    "run_id",
    "suite",
    "status",
    "verdict",
    "created_at",
    "record_count",
    "low_count",
    "metrics",
    "comparison.baseline_run_id",
    "comparison.metrics",
)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="list a suite's runs, or the latest run of every suite",
        description=(
            "List the runs of --suite newest first, or without --suite the latest run of every suite. "
            "Exit 0: listed; 1: no runs found or an AWS error; 2: usage error."
        ),
    )
    runs.add_argument("--suite", metavar="SUITE", help="the suite whose history to list")
    runs.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N rows ({DEFAULT_LIMIT})",
    )
    runs.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    add_stack_arguments(runs)
    runs.set_defaults(run=run_runs)

    show = subparsers.add_parser(
        "show",
        help="show one run: verdict, metrics against the baseline, flagged records",
        description=(
            "Show RUN as its notification reads: verdict, metrics against the baseline, flagged records, "
            "prompts that got worse, warnings and where to look. --wait polls until the run has finished. "
            "Exit 0: shown; 1: not found, still running at --timeout, or an AWS error; 2: usage error."
        ),
    )
    show.add_argument("run_id", metavar="RUN", help="the run id (= the Bedrock job name)")
    show.add_argument("--json", action="store_true", help="print the run item as JSON")
    show.add_argument("--wait", action="store_true", help="poll until the run has finished")
    show.add_argument(
        "--timeout",
        type=_non_negative,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"with --wait: give up after this long ({DEFAULT_TIMEOUT_SECONDS})",
    )
    show.add_argument(
        "--interval",
        type=_positive_float,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help=f"with --wait: seconds between polls ({DEFAULT_INTERVAL_SECONDS})",
    )
    add_stack_arguments(show)
    show.set_defaults(run=run_show)


# ---------------------------------------------------------------------------------------- runs


@aws_command
def run_runs(args: argparse.Namespace) -> int:
    deployment = connect(args)
    if args.suite:
        rows = [run_summary(r) for r in deployment.runs.history(args.suite, limit=args.limit)]
        title = f"Runs of {args.suite} (newest first)"
        missing = f"no runs of suite {args.suite} in {deployment.outputs.runs_table_name}"
    else:
        rows = latest_per_suite(deployment.runs.iter_runs(SUMMARY_ATTRIBUTES))[: args.limit]
        title = f"Latest run of each suite ({len(rows)})"
        missing = f"no runs in {deployment.outputs.runs_table_name}"
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif rows:
        print_runs(rows, title, with_suite=not args.suite, out=Printer())
    if not rows:
        return failed(missing)
    return EXIT_OK


def run_summary(run: Run) -> dict[str, Any]:
    """One row of `evalpipe runs` (also its --json shape)."""
    comparison = run.comparison
    return {
        "suite": run.suite,
        "run_id": run.run_id,
        "created_at": iso(run.created_at),
        "status": run.status.value,
        "verdict": run.final_verdict().value if run.finished else (run.verdict and run.verdict.value),
        "record_count": run.record_count,
        # A run that never got results (rejected, failed) has no count rather than 0.
        "low_count": run.low_count if "metrics" in run.model_fields_set else None,
        "baseline_run_id": comparison.baseline_run_id if comparison is not None else None,
        "regressed_metrics": [m.metric for m in comparison.regressed_metrics] if comparison else [],
    }


def latest_per_suite(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """The newest run (by ``created_at``, then run id) of each suite, as rows sorted by suite."""
    latest: dict[str, Run] = {}
    for run in runs:
        current = latest.get(run.suite)
        if current is None or (run.created_at, run.run_id) > (current.created_at, current.run_id):
            latest[run.suite] = run
    return [run_summary(latest[suite]) for suite in sorted(latest)]


def print_runs(rows: list[dict[str, Any]], title: str, *, with_suite: bool, out: Printer) -> None:
    headers = ["Created (UTC)", "Run id", "Status", "Verdict", "Records", "Low", "Baseline"]
    align = "llllrrl"
    cells = [
        [
            short_time(row["created_at"]),
            str(row["run_id"] or ""),
            row["status"] or "-",
            str(row["verdict"] or "-"),
            _count(row["record_count"]),
            _count(row["low_count"]),
            short_run_id(row["baseline_run_id"]) if row["baseline_run_id"] else "-",
        ]
        for row in rows
    ]
    if with_suite:
        headers = ["Suite", *headers]
        align = "l" + align
        cells = [[str(row["suite"] or ""), *c] for row, c in zip(rows, cells, strict=True)]
    lines = text_table(headers, cells, align)
    out.line(title, "bold")
    out.line(lines[0], "bold")
    out.line(lines[1])
    for row, line in zip(rows, lines[2:], strict=True):
        out.line(line, verdict_style(row["verdict"]))


# ---------------------------------------------------------------------------------------- show


@aws_command
def run_show(args: argparse.Namespace) -> int:
    return show_run(
        connect(args),
        args.run_id,
        wait=args.wait,
        timeout=args.timeout,
        interval=args.interval,
        as_json=args.json,
    )


def show_run(
    deployment: Deployment, run_id: str, *, wait: bool, timeout: float, interval: float, as_json: bool
) -> int:
    """Print one run (``evalpipe show``); with ``wait``, poll until it has settled first.

    Shared by ``evalpipe run --wait``, which follows the run it started the same way.

    Returns
    -------
    int
        0 when shown (settled, with ``wait``); 1 when not found or still running at ``timeout``;
        130 when interrupted.
    """
    run_id = deployment.run_id(run_id)
    if wait:
        try:
            with WaitDisplay(run_id, timeout) as display:
                run, settled = wait_for_run(
                    deployment.runs.get,
                    run_id,
                    timeout=timeout,
                    interval=interval,
                    report=display.update,
                )
        except KeyboardInterrupt:
            print("evalpipe: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    else:
        run = deployment.runs.get(run_id)
        settled = run is not None and run.settled
    if run is None:
        return failed(f"run {run_id} not found in {deployment.outputs.runs_table_name}")
    if as_json:
        print(json.dumps(run.to_item(), indent=2, ensure_ascii=False, default=str))
    else:
        print_run(run, Printer(), console_region=deployment.console_region)
    if wait and not settled:
        return failed(f"run {run_id} is still {run.status} after {timeout:g}s")
    return EXIT_OK


def print_run(run: Run, out: Printer, *, console_region: str | None = None) -> None:
    """A finished run as its notification reads; an unfinished one as its status and identity."""
    if run.finished:
        lines = build_notification(run, console_region=console_region).message.rstrip().splitlines()
        out.line(lines[0], verdict_style(run.final_verdict()))
        for line in lines[1:]:
            out.line(line)
        return
    hint = f"evalpipe show {run.run_id} --wait waits for it"
    out.line(f"Status: {run.status} — the run has not finished ({hint})", "bold")
    out.line()
    fields = [
        ("Run id", run.run_id),
        ("Suite", run.suite),
        ("Dataset", run.dataset.s3_uri if run.dataset is not None else ""),
        ("Trigger", run.request.describe() if run.request is not None else ""),
        ("Job ARN", run.job_arn or ""),
        ("Started", iso(run.created_at)),
        ("Submitted", iso(run.submitted_at) if run.submitted_at else ""),
        ("Deadline", iso(run.deadline) if run.deadline else ""),
    ]
    shown = [(label, value) for label, value in fields if value]
    width = max(len(label) for label, _ in shown) + 2
    for label, value in shown:
        out.line(f"{(label + ':').ljust(width)}{value}")


# ---------------------------------------------------------------------------------------- wait


def wait_for_run(
    get_run: Callable[[str], Run | None],
    run_id: str,
    *,
    timeout: float,
    interval: float,
    report: Callable[[Run | None, float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[Run | None, bool]:
    """Poll ``get_run`` until the run is settled or ``timeout`` seconds have passed.

    ``sleep`` and ``clock`` default to `time.sleep` and `time.monotonic` (looked up per call).

    Returns
    -------
    tuple
        ``(run or None, settled)``; the run as last read.
    """
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    start = clock()
    while True:
        run = get_run(run_id)
        if run is not None and run.settled:
            return run, True
        elapsed = clock() - start
        if report is not None:
            report(run, elapsed)
        if elapsed >= timeout:
            return run, False
        sleep(max(min(interval, timeout - elapsed), 0))


class WaitDisplay:
    """What ``show --wait`` shows while it polls, on stderr (stdout stays the result).

    On a terminal with rich installed: a spinner with the run's status and the time waited.
    Otherwise: one line each time the status changes.
    """

    def __init__(self, run_id: str, timeout: float, stream: IO[str] | None = None) -> None:
        self.run_id = run_id
        self.timeout = timeout
        self.stream = stream or sys.stderr
        self._progress: Any = None
        self._task: Any = None
        self._last: str | None = None

    def __enter__(self) -> WaitDisplay:
        if _isatty(self.stream):
            try:
                from rich.console import Console  # noqa: PLC0415 -- optional, terminal only
                from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415
            except ImportError:  # pragma: no cover - rich is a dev dependency
                return self
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._describe(None), total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, run: Run | None, elapsed: float) -> None:
        text = self._describe(run)
        if self._progress is not None:
            self._progress.update(self._task, description=text)
        elif text != self._last:
            print(f"{text} ({elapsed:.0f}s)", file=self.stream, flush=True)
        self._last = text

    def _describe(self, run: Run | None) -> str:
        if run is None:
            state = "not recorded yet"
        elif run.status is RunStatus.COMPLETED:
            state = "COMPLETED, reviewing against the baseline"
        else:
            state = run.status.value
        return f"waiting for {self.run_id}: {state} (timeout {self.timeout:g}s)"


# ------------------------------------------------------------------------------------- helpers


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) else "-"


def _positive_float(text: str) -> float:
    value = _non_negative(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # negative or NaN
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
