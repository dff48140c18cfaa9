"""`evalpipe validate`: the pipeline's pre-flight checks on a suite and a dataset, on your machine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evalpipe.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    Printer,
    Unreadable,
    fail,
    open_chunks,
    positive_int,
    read_bytes,
)
from evalpipe.validation import DeploymentLimits, Report, Severity, validate_run

if TYPE_CHECKING:
    import argparse

DEFAULT_MAX_PROBLEMS = 50
STYLES = {Severity.ERROR: "red", Severity.WARNING: "yellow"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a suite and a dataset before uploading them",
        description=(
            "Check a suite file and a JSONL dataset with the rules the pipeline applies before it "
            "submits a job. Prints one line per problem (FILE:LINE: FIELD: error|warning: message), "
            "then the counts. Exit 0: valid (warnings allowed); 1: invalid; 2: usage error or "
            "unreadable path."
        ),
    )
    parser.add_argument("--suite", required=True, metavar="SUITE.json", help="the suite file")
    parser.add_argument("dataset", metavar="DATASET.jsonl", help="the dataset (streamed, any size)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (no colour)")
    parser.add_argument(
        "--max-problems",
        type=positive_int,
        default=DEFAULT_MAX_PROBLEMS,
        metavar="N",
        help=f"list at most N problems; all are counted (default {DEFAULT_MAX_PROBLEMS})",
    )
    parser.add_argument(
        "--allow-evaluator",
        action="append",
        default=[],
        metavar="MODEL_ID",
        help="an evaluator model your deployment may invoke (repeatable); others are then errors",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        suite_bytes = read_bytes(args.suite)
        chunks = open_chunks(args.dataset)
        report = validate_run(
            suite_bytes,
            args.suite,
            chunks,
            args.dataset,
            max_listed=args.max_problems,
            limits=DeploymentLimits(allowed_evaluator_models=tuple(args.allow_evaluator)),
        )
    except Unreadable as exc:
        return fail(str(exc))
    except OSError as exc:  # the dataset became unreadable while streaming
        return fail(f"cannot read {args.dataset}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(as_json(report, args.suite, args.dataset), indent=2, ensure_ascii=False))
    else:
        print_report(report, args.dataset, Printer())
    return EXIT_OK if report.ok else EXIT_INVALID


def as_json(report: Report, suite_file: str, dataset_file: str) -> dict:
    """The machine-readable result: verdict, exact counts and the listed problems."""
    return {
        "valid": report.ok,
        "suite": suite_file,
        "dataset": dataset_file,
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "listed": len(report.problems),
        "listed_all": report.listed_all,
        "problems": [problem.as_dict() for problem in report.problems],
    }


def print_report(report: Report, dataset_file: str, out: Printer) -> None:
    for problem in report.problems:
        out.line(problem.render(), STYLES[problem.severity])
    summary = f"{dataset_file}: {'valid' if report.ok else 'invalid'}: {report.summary_line()}"
    if not report.listed_all:
        summary += "; use --max-problems N to list more"
    out.line(summary, "bold green" if report.ok else "bold red")
