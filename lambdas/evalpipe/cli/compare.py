"""`evalpipe compare RUN_A RUN_B`: judge RUN_B against RUN_A as if RUN_A were its baseline.

The same rules as the pipeline's own review (docs/suite-file.md, "Regressions"): per metric, the
paired change with its 95% interval against the tolerance of RUN_B's suite file (or its limits,
``method: threshold``), metrics whose judge or definition changed not compared; then every record
score that got worse, matched across the runs by record key. Unlike the stored comparison, every
changed score is kept.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import TYPE_CHECKING

from evalpipe.cli._common import EXIT_OK, Printer, fail, short_time, verdict_style
from evalpipe.cli._stack import add_stack_arguments, aws_command, connect, failed
from evalpipe.history.compare import compare_runs
from evalpipe.history.records import compare_records, score_samples
from evalpipe.notification import metrics_table, record_changes
from evalpipe.run.status import Verdict
from evalpipe.run.triggers import iso
from evalpipe.suite import Suite, SuiteError

if TYPE_CHECKING:
    from evalpipe.run.model import Comparison, Run

DEFAULT_LIMIT = 20
WRAP_WIDTH = 100


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs of a suite: RUN_B against RUN_A as its baseline",
        description=(
            "Judge RUN_B against RUN_A as if RUN_A were its baseline (like diff OLD NEW): metric averages "
            "against the regression limits of RUN_B's suite file, then the prompts whose scores got "
            'worse. Exit 0: compared (regressed or not: see --json\'s "regressed"); 1: a run is not '
            "found or has no scores, or an AWS error; 2: usage error (e.g. runs of different suites)."
        ),
    )
    parser.add_argument("baseline_id", metavar="RUN_A", help="the baseline run (the older one, usually)")
    parser.add_argument("run_id", metavar="RUN_B", help="the run judged against RUN_A")
    parser.add_argument(
        "--limit",
        type=_count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"list at most N worse scores and N N/A changes (default {DEFAULT_LIMIT}; 0: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON (every change)")
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


@aws_command
def run(args: argparse.Namespace) -> int:
    if args.baseline_id == args.run_id:
        return fail("RUN_A and RUN_B are the same run")
    deployment = connect(args)
    runs = deployment.runs
    args.baseline_id, args.run_id = deployment.run_id(args.baseline_id), deployment.run_id(args.run_id)
    baseline, current = runs.get(args.baseline_id), runs.get(args.run_id)
    for run_id, item in ((args.baseline_id, baseline), (args.run_id, current)):
        if item is None:
            return failed(f"run {run_id} not found in {deployment.outputs.runs_table_name}")
    assert baseline is not None and current is not None
    if baseline.suite != current.suite:
        return fail(
            f"{args.baseline_id} is a run of {baseline.suite}, {args.run_id} of "
            f"{current.suite}: only runs of one suite compare"
        )
    for run_id, item in ((args.baseline_id, baseline), (args.run_id, current)):
        if not item.metrics:
            return failed(f"run {run_id} has no scores to compare (status {item.status})")
    suite = suite_of(current) or suite_of(baseline)
    if suite is None:
        return failed("neither run holds the suite file it was validated with (suite_document)")

    records, baseline_records = (
        list(runs.iter_records(args.run_id)),
        list(runs.iter_records(args.baseline_id)),
    )
    changes = compare_records(records, baseline_records, suite)
    samples = score_samples(records, baseline_records)
    comparison = compare_runs(
        current,
        baseline,
        suite,
        record_changes=changes,
        max_record_changes=max(
            len(changes), samples.matching.only_current_count, samples.matching.only_baseline_count
        ),
        samples=samples,
    )
    if args.json:
        document = {
            "suite": suite.name,
            "run_id": args.run_id,
            "baseline_run_id": args.baseline_id,
            "regressed": comparison.regressed,
            "regressed_metrics": [m.metric for m in comparison.regressed_metrics],
            "comparison": comparison.as_item(),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_comparison(current, baseline, comparison, args.limit, Printer())
    return EXIT_OK


def print_comparison(current: Run, baseline: Run, comparison: Comparison, limit: int, out: Printer) -> None:
    """Verdict of the comparison, both runs, the metric table, the changed scores, warnings."""
    regressed = comparison.regressed_metrics
    if regressed:
        names = ", ".join(m.metric for m in regressed)
        count = f"{len(regressed)} metric{'s' if len(regressed) != 1 else ''}"
        out.line(f"{Verdict.REGRESSED}: {count} regressed ({names})", verdict_style(Verdict.REGRESSED))
    else:
        out.line("No metric regressed.", verdict_style("PASSED"))
    out.line()
    for label, item in (("Run", current), ("Baseline", baseline)):
        out.line(
            f"{label + ':':<10}{item.run_id} ({short_time(iso(item.created_at))} UTC, "
            f"{item.verdict or item.status})"
        )
    out.line(f"{'Suite:':<10}{current.suite}")
    out.line()
    for line in metrics_table(current.metrics, current.record_count or 0, comparison):
        out.line(line)
    out.line()
    shown = limit or len(comparison.record_changes)
    for line in record_changes(
        comparison,
        shown,
        na_limit=limit or len(comparison.na_transitions),
        more_hint="--limit 0 lists them all.",
    ):
        out.line(line)
    if comparison.warnings:
        out.line()
        out.line(f"Warnings ({len(comparison.warnings)})")
        for warning in comparison.warnings:
            for line in textwrap.wrap(
                warning, WRAP_WIDTH, initial_indent="  ", subsequent_indent="    ", break_long_words=False
            ):
                out.line(line)


def suite_of(run: Run) -> Suite | None:
    """The suite file a run was validated with (``suite_document``), or None."""
    try:
        return run.validated_suite()
    except (LookupError, ValueError, SuiteError):
        return None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
