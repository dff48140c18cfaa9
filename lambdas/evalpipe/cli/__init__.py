"""The ``evalpipe`` command: pre-flight checks before a dataset is uploaded.

``evalpipe validate --suite SUITE.json DATASET.jsonl [--json]`` applies the pipeline's own
validation rules; ``evalpipe estimate --suite SUITE.json DATASET.jsonl`` prints what one run will
cost. Standard library only (argparse); rich colours the output on a terminal when installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evalpipe.cli import estimate, validate
from evalpipe.cli._common import EXIT_USAGE

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalpipe",
        description="Pre-flight checks for bedrock-evalpipe: validate a suite and dataset, estimate a run.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate.add_parser(subparsers)
    estimate.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Exit codes: 0 success / valid, 1 invalid, 2 usage error or unreadable path.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    return args.run(args)
