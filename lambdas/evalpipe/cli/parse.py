"""`evalpipe parse PATH --suite SUITE.json`: read any job's output files as the pipeline would.

PATH is a local folder (what ``aws s3 sync`` of a job's output prefix gave), one output file, or an
``s3://bucket/prefix``. Every ``*_output.jsonl`` below it is read, in key order, with the parse
step's own reader (`evalpipe.results.OutputReader`); the other objects Bedrock leaves there (the
permission check, ``custom_metrics/*.json``) are ignored. Printed: the metric table, per-category
(and per-dataset) averages, a human job's ratings, the worst records with the judge's reasons and
the verdict against the suite's low-score rules. ``--json`` prints the same as one object;
``--report FILE.html`` writes the HTML report the pipeline would store (no baseline: the run is
not compared). No stack is needed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalpipe.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    Printer,
    Unreadable,
    fail,
    open_chunks,
    read_bytes,
    verdict_style,
)
from evalpipe.dataset import iter_raw_lines
from evalpipe.history.report import render_report
from evalpipe.notification.tables import categories_table, human_ratings_table, low_records, metrics_table
from evalpipe.results import EmptyResultsError, OutputFormatError, OutputReader, is_output_file
from evalpipe.run.model import RecordItem, Run
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import now_utc
from evalpipe.suite import Suite, SuiteError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable

    from evalpipe.dataset import RawLine

LOCAL_RUN_ID = "local-parse"
_SUITE_NAME_FALLBACK = "suite"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="read a job's *_output.jsonl files (a folder or s3://bucket/prefix) as the pipeline would",
        description=(
            "Read every *_output.jsonl below PATH (a local folder, one file, or s3://bucket/prefix) "
            "with the pipeline's own parser and print what it would store: the metric table, category "
            "averages, human ratings, the worst records and the verdict against the suite's low-score "
            "rules. Exit 0: parsed; 1: the outputs cannot be read (or no score could be read from them: "
            "verdict UNREADABLE); 2: usage error or unreadable suite."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="output folder, output file, or s3://bucket/prefix")
    parser.add_argument("--suite", required=True, metavar="SUITE.json", help="the suite the job ran")
    parser.add_argument("--json", action="store_true", help="print one JSON object (no colour)")
    parser.add_argument("--report", metavar="FILE.html", help="also write the HTML report to FILE.html")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        suite = load_suite(args.suite)
        keys, lines_of = output_files(args.path)
    except Unreadable as exc:
        return fail(str(exc))
    if not keys:
        print(f"evalpipe: error: no *_output.jsonl below {args.path}", file=sys.stderr)
        return EXIT_INVALID
    try:
        result, records = read_outputs(suite, keys, lines_of, keep_records=bool(args.report))
    except (OutputFormatError, EmptyResultsError, OSError) as exc:
        print(f"evalpipe: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.report:
        try:
            Path(args.report).write_text(render_report(result, records, [], None), encoding="utf-8")
        except OSError as exc:
            return fail(f"cannot write {args.report}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(as_json(result), indent=2, ensure_ascii=False))
    else:
        print_result(result, Printer())
    return EXIT_INVALID if result.unreadable is not None else EXIT_OK


def load_suite(path: str) -> Suite:
    """The suite file at ``path``; its name is the file's stem (as ``suites/<name>.json``)."""
    try:
        document = json.loads(read_bytes(path))
    except ValueError as exc:
        raise Unreadable(f"{path}: not valid JSON ({exc})") from exc
    stem = Path(path).stem
    try:
        return Suite.from_document(stem, document)
    except SuiteError as exc:
        if "name" in str(exc) and stem != _SUITE_NAME_FALLBACK:  # a file name that is not a suite name
            try:
                return Suite.from_document(_SUITE_NAME_FALLBACK, document)
            except SuiteError:
                pass
        raise Unreadable(f"{path}: {exc}") from exc


def output_files(path: str) -> tuple[list[str], Callable[[str], Iterable[RawLine]]]:
    """The output files below ``path`` (sorted) and how to read one; `Unreadable` for a bad path."""
    if path.startswith("s3://"):
        return _s3_output_files(path)
    root = Path(path)
    if root.is_file():
        files = [str(root)]
    elif root.is_dir():
        files = sorted(str(p) for p in root.rglob("*") if p.is_file() and is_output_file(p.name))
    else:
        raise Unreadable(f"cannot read {path}: no such file or folder")
    return files, lambda key: iter_raw_lines(open_chunks(key))


def _s3_output_files(uri: str) -> tuple[list[str], Callable[[str], Iterable[RawLine]]]:
    import boto3  # noqa: PLC0415 -- only for s3:// paths; local folders need no AWS at all
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from evalpipe.aws.objects import Objects  # noqa: PLC0415

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise Unreadable(f"not an S3 URI: {uri}")
    objects = Objects(boto3.client("s3"), bucket)
    try:
        keys = [key for key in objects.list_output_files(prefix) if is_output_file(key)]
    except (ClientError, BotoCoreError) as exc:
        raise Unreadable(f"cannot list {uri}: {exc}") from exc
    return keys, lambda key: iter_raw_lines(objects.iter_chunks(key))


def read_outputs(
    suite: Suite,
    keys: list[str],
    lines_of: Callable[[str], Iterable[RawLine]],
    *,
    keep_records: bool = False,
    run: Run | None = None,
) -> tuple[Run, list[RecordItem]]:
    """Read the files with the parse step's reader; the run as the pipeline would store it.

    Returns the run (``run``, or a new local one) with its summary, and the record items when
    ``keep_records`` (for the report).
    """
    from evalpipe.aws.runs_table import record_item  # noqa: PLC0415 -- the item the table would store

    reader = OutputReader(suite)
    kept: list[RecordItem] = []
    for record in reader.records(keys, lines_of):
        if keep_records:
            kept.append(RecordItem.model_validate(record_item(LOCAL_RUN_ID, record)))
    result = run or Run(
        run_id=LOCAL_RUN_ID, suite=suite.name, status=RunStatus.COMPLETED, created_at=now_utc()
    )
    reader.summary().record_on(result)
    result.status = RunStatus.COMPLETED
    result.output_files = len(keys)
    return result, kept


def as_json(result: Run) -> dict[str, Any]:
    """The machine-readable result: counts, per-metric summaries, categories, worst records, verdict."""
    return {
        "verdict": result.verdict.value if result.verdict else None,
        "record_count": result.record_count,
        "output_files": result.output_files,
        "metrics": {
            name: {
                "average": m.average,
                "scored": m.scored,
                "na": m.na,
                "na_rate": m.na_rate,
                "low": m.low_count,
                "min": m.min,
                "max": m.max,
                "rule": m.rule,
            }
            for name, m in result.metrics.items()
        },
        "categories": result.categories,
        "datasets": result.datasets,
        "low_records": [low.model_dump(mode="json") for low in result.low_records],
        "human_ratings": [h.model_dump(mode="json") for h in result.human_ratings],
        "unreadable": result.unreadable.model_dump(mode="json") if result.unreadable else None,
    }


def print_result(result: Run, out: Printer) -> None:
    names = list(result.metrics)
    blocks = [
        metrics_table(result.metrics, result.record_count or 0, None, no_baseline_note=False),
        categories_table(result.categories, names),
        categories_table(result.datasets, names, title_text="Average score by dataset", label="Dataset")
        if result.datasets
        else [],
        human_ratings_table(result),
        low_records(result),
    ]
    for block in blocks:
        if block:
            for text in block:
                out.line(text)
            out.line()
    verdict = result.verdict.value if result.verdict else "?"
    detail = f": {result.unreadable.message}" if result.unreadable else ""
    out.line(
        f"Verdict: {verdict}{detail} ({result.record_count} records in {result.output_files} files)",
        verdict_style(verdict),
    )
