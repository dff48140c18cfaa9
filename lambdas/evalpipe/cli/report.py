"""`evalpipe report RUN`: the run's HTML report, from the bucket or rendered here.

The parse step uploads ``reports/<suite>/<run_id>.html`` (the run item's ``report_key``). When it
is not there (a run parsed before reports existed, or a run that never got that far) the same
page is rendered locally with `evalpipe.history.report.render_report` from the run, its records
and the suite's recent history.
"""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from evalpipe.cli._common import EXIT_OK, fail
from evalpipe.cli._stack import Deployment, add_stack_arguments, aws_command, connect, failed
from evalpipe.history.report import render_report
from evalpipe.history.review import TREND_RUNS, scores_of
from evalpipe.run.triggers import report_key

if TYPE_CHECKING:
    import argparse

    from evalpipe.run.model import Run

STDOUT = "-"
_MISSING = {"NoSuchKey", "404", "NotFound"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="get a run's HTML report (download it, or render it when the bucket has none)",
        description=(
            "Write the HTML report of RUN to --output (default ./RUN.html): the copy in the bucket "
            "(reports/<suite>/RUN.html), else one rendered here from the runs table. --open shows it in "
            "the browser. Exit 0: written; 1: run not found or an AWS error; 2: usage error or the "
            "output cannot be written."
        ),
    )
    parser.add_argument("run_id", metavar="RUN", help="the run id (= the Bedrock job name)")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help=f"where to write the page (default ./RUN.html; {STDOUT!r}: stdout)",
    )
    parser.add_argument("--open", action="store_true", help="open the written page in the web browser")
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


@aws_command
def run(args: argparse.Namespace) -> int:
    output = args.output or f"{args.run_id}.html"
    if output == STDOUT and args.open:
        return fail("--open needs a file: give --output FILE (or leave it out)")
    deployment = connect(args)
    args.run_id = deployment.run_id(args.run_id)
    found = deployment.runs.get(args.run_id)
    if found is None:
        return failed(f"run {args.run_id} not found in {deployment.outputs.runs_table_name}")
    key = found.report_key or report_key(found.suite, args.run_id)
    html = download(deployment, key)
    if html is not None:
        source = f"s3://{deployment.bucket}/{key}"
    else:
        html = render(deployment, found)
        source = f"rendered locally: s3://{deployment.bucket}/{key} does not exist"
    if output == STDOUT:
        sys.stdout.write(html)
        return EXIT_OK
    path = Path(output)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    print(f"wrote {output} ({source})", file=sys.stderr)
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return EXIT_OK


def download(deployment: Deployment, key: str) -> str | None:
    """The report object's text, or None when the bucket has no such object."""
    try:
        response = deployment.s3.get_object(Bucket=deployment.bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            return None
        raise
    return response["Body"].read().decode("utf-8")


def render(deployment: Deployment, run: Run) -> str:
    """The report the parse step would have written, from the table as it is now."""
    return render_report(
        run,
        scores_of(run.run_id, deployment.runs),
        deployment.runs.history(run.suite, limit=TREND_RUNS),
        run.comparison,
    )
