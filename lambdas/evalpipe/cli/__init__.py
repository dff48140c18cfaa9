"""The ``evalpipe`` command: pre-flight checks, and the run history of the deployed pipeline.

Pre-flight (local files only): ``evalpipe validate --suite SUITE.json DATASET.jsonl [--json]``
applies the pipeline's own validation rules; ``evalpipe estimate --suite SUITE.json
DATASET.jsonl`` prints what one run will cost.

Before the upload: ``evalpipe collect SCENARIOS.json --target TARGET -o DATASET.jsonl [--suite S]``
turns scenarios into a dataset by asking the app (a Bedrock model, an HTTP endpoint, a Lambda
function; docs/collect.md); ``evalpipe preview --suite S DATASET.jsonl`` scores a few records on the
suite's custom metrics with the judge model in seconds (docs/preview.md).

History (the deployed stack, found by name: ``--stack``, ``$EVALPIPE_STACK``, cdk.json's
``stackName``): ``evalpipe runs [--suite S]`` lists runs, ``evalpipe show RUN [--wait]`` shows
one, ``evalpipe compare RUN_A RUN_B`` judges RUN_B against RUN_A, ``evalpipe report RUN
[--open]`` gets its HTML report.

Any job's output files, no stack needed: ``evalpipe parse PATH --suite SUITE.json [--json]
[--report FILE.html]`` reads every ``*_output.jsonl`` below a folder or ``s3://bucket/prefix`` as
the parse step does. ``evalpipe import JOB --suite S`` records a completed job started outside the
pipeline (console, CLI) as a run of suite S, so it can be a baseline.

CI: ``evalpipe gate --suite S DATASET.jsonl [--fail-on REGRESSED,...] [--markdown FILE]`` validates,
uploads the dataset, waits for its run and exits 1 on a failing verdict (examples/ci/).

Runs without a dataset drop: ``evalpipe run --suite S [--wait]`` starts a run of a suite whose
datasets are all built in (what its schedule does), and follows it with ``--wait``.

Bedrock (the account's evaluation jobs, any of them): ``evalpipe jobs list|get|stop|delete``.

Standard library argparse; rich colours the output and draws the spinner on a terminal when
installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from evalpipe.cli import (
    collect,
    compare,
    estimate,
    gate,
    import_,
    jobs,
    parse,
    preview,
    report,
    run,
    runs,
    validate,
)
from evalpipe.cli._common import EXIT_INVALID, EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalpipe",
        description=(
            "bedrock-evalpipe: validate a suite and dataset and estimate a run before uploading; run a "
            "suite of built-in datasets; list, show, compare and report the runs of the deployed pipeline."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate.add_parser(subparsers)
    estimate.add_parser(subparsers)
    runs.add_parsers(subparsers)
    run.add_parser(subparsers)
    compare.add_parser(subparsers)
    report.add_parser(subparsers)
    jobs.add_parser(subparsers)
    parse.add_parser(subparsers)
    import_.add_parser(subparsers)
    gate.add_parser(subparsers)
    collect.add_parser(subparsers)
    preview.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Exit codes: 0 success / valid, 1 invalid, not found or failed, 2 usage error or unreadable path.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (`evalpipe runs | head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INVALID
