"""`evalpipe collect`: play a scenarios file against the app under test and write the dataset.

``evalpipe collect SCENARIOS.json --target TARGET -o DATASET.jsonl [--suite SUITE.json]
[--concurrency N] [--resume | --overwrite] [--each-turn]`` (docs/collect.md). The work is
:mod:`evalpipe.collect`'s; this module reads the files, builds the clients (botocore's standard
retry mode, urllib3's Retry), shows the progress and prints the summary.

Exit codes: 0 every scenario collected and the dataset valid; 1 some scenario failed (reported
with its id and the error, left out of the dataset) or the dataset breaks the rules; 2 usage
error, unreadable or invalid input; 130 interrupted (Ctrl-C): the files hold complete lines
only, and ``--resume`` collects the rest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import NoRegionError

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
from evalpipe.cli.validate import print_report
from evalpipe.collect import (
    BedrockTarget,
    CollectOptions,
    HttpTarget,
    InputError,
    JsonlSink,
    LambdaTarget,
    MissingHeaderValue,
    Outcome,
    RecordCheck,
    Resume,
    adapter_for,
    boto_config,
    collect,
    collected_ids,
    env_headers,
    http_retry,
    load_scenarios,
    meta_path_for,
    target_from_text,
)
from evalpipe.suite.facts import DatasetKind, SuiteFacts
from evalpipe.validation import parse_suite, validate_dataset

if TYPE_CHECKING:
    import argparse

    from evalpipe.collect import Summary, Target

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 5
HTTP_BACKOFF_SECONDS = 0.5
LAMBDA_READ_TIMEOUT = 910  # a synchronous invocation may last the 900 s a function is allowed

TargetConfig = BedrockTarget | HttpTarget | LambdaTarget


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="collect a dataset by playing scenarios against your app",
        description=(
            "Play every scenario of SCENARIOS.json against the app under test (a Bedrock model, an HTTP "
            "endpoint or a Lambda function) and write one record per scenario to DATASET.jsonl, each "
            "checked with the pipeline's dataset rules; latency and tokens go to DATASET.meta.jsonl. "
            "Exit 0: all collected and valid; 1: some scenario failed or the dataset is invalid; 2: usage "
            "error or invalid input; 130: interrupted (the file holds complete lines; use --resume)."
        ),
    )
    parser.add_argument("scenarios", metavar="SCENARIOS.json", help="the scenarios file (docs/collect.md)")
    parser.add_argument(
        "--target",
        required=True,
        metavar="TARGET",
        help="a target file (JSON), the same JSON inline, or bedrock:MODEL_ID",
    )
    parser.add_argument("-o", "--output", required=True, metavar="DATASET.jsonl", help="the dataset to write")
    parser.add_argument(
        "--suite",
        metavar="SUITE.json",
        help="check records with this suite's rules and use its inferenceSourceIdentifier",
    )
    parser.add_argument(
        "--identifier",
        metavar="ID",
        help="modelIdentifier of the records without --suite (default: the target's modelIdentifier, "
        "else its model id, URL host or function name)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"scenarios played at once (default {DEFAULT_CONCURRENCY})",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true", help="keep DATASET.jsonl and skip the ids it has")
    existing.add_argument("--overwrite", action="store_true", help="replace an existing DATASET.jsonl")
    parser.add_argument(
        "--each-turn",
        action="store_true",
        help="one record per user turn (ids ID#1, ID#2, ...) instead of one per scenario",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"attempts per call on throttling, 5xx and connection errors (default {DEFAULT_MAX_ATTEMPTS})",
    )
    parser.add_argument("--region", metavar="REGION", help="AWS region of a bedrock or lambda target")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        scenarios = load_scenarios(read_bytes(args.scenarios), args.scenarios)
        config = _target_config(args.target)
        suite, identifier, origin = _suite_and_identifier(args, config)
        target = build_target(config, args)
        resume = _prepare_output(args.output, resume=args.resume, overwrite=args.overwrite)
    except (Unreadable, InputError, MissingHeaderValue, ValueError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    except NoRegionError:
        return fail("no AWS region for the target's client: give --region or set AWS_REGION")
    out = Printer()
    out.line(f"records carry modelIdentifier {identifier!r} ({origin})")
    options = CollectOptions(
        identifier, config.strip_tags, each_turn=args.each_turn, concurrency=args.concurrency
    )
    meta_path = meta_path_for(args.output)
    try:
        with (
            Path(args.output).open("a", encoding="utf-8", newline="\n") as dataset,
            Path(meta_path).open("a", encoding="utf-8", newline="\n") as meta,
            progress_display(sys.stderr) as progress,
        ):
            summary = collect(
                scenarios,
                target,
                JsonlSink(dataset, meta),
                options,
                RecordCheck(suite, args.output),
                skip=resume.scenario_ids,
                progress=progress,
            )
    except KeyboardInterrupt:  # a second Ctrl-C while the last write completed
        summary = None
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    if summary is None or summary.interrupted:
        return _interrupted(summary, args.output, out)
    return _report(summary, args, suite, meta_path, out)


def _target_config(value: str) -> TargetConfig:
    """``--target``: a file when one exists at that path, else inline JSON or a shorthand."""
    path = Path(value)
    if not value.lstrip().startswith("{") and path.is_file():
        return target_from_text(read_bytes(value).decode("utf-8-sig", errors="replace"), value)
    if value.endswith(".json"):
        raise Unreadable(f"cannot read {value}: no such file")
    return target_from_text(value, "--target")


def _suite_and_identifier(args: argparse.Namespace, config: TargetConfig) -> tuple[object | None, str, str]:
    """The parsed suite (or None), the records' modelIdentifier and where it comes from."""
    if args.suite is None:
        if args.identifier:
            return None, args.identifier, "--identifier; without --suite"
        origin = "the target's modelIdentifier" if config.model_identifier else "from the target"
        return (
            None,
            config.identifier,
            f"{origin}; without --suite, a suite must name it as inferenceSourceIdentifier",
        )
    suite, problem = parse_suite(read_bytes(args.suite), args.suite)
    if problem is not None:
        raise InputError(args.suite, [problem.message])
    facts = SuiteFacts.from_suite(suite)
    if facts.dataset_kind is not DatasetKind.PRECOMPUTED_MODEL or facts.precomputed_identifier is None:
        raise InputError(
            args.suite,
            [
                "collect writes precomputed model responses: the suite needs "
                "inferenceConfig.models[0].precomputedInferenceSource.inferenceSourceIdentifier"
            ],
        )
    if len(facts.precomputed_identifiers) > 1:
        raise InputError(
            args.suite, ["the suite compares several models; collect writes one response per record"]
        )
    identifier = facts.precomputed_identifier
    if args.identifier and args.identifier != identifier:
        raise InputError("--identifier", [f"{args.identifier!r} differs from the suite's {identifier!r}"])
    return suite, identifier, f"the inferenceSourceIdentifier of {args.suite}"


def _prepare_output(output: str, *, resume: bool, overwrite: bool) -> Resume:
    """Check the output paths; with --resume, what the dataset has (a cut-off last line removed)."""
    path, meta = Path(output), Path(meta_path_for(output))
    if path.is_dir():
        raise Unreadable(f"{output} is a directory")
    if overwrite or not path.exists():
        # A metadata file without its dataset belongs to nothing: start both afresh.
        path.write_bytes(b"")
        meta.write_bytes(b"")
        return collected_ids(b"")
    if not resume:
        raise Unreadable(f"{output} exists: --resume to skip the scenarios it has, or --overwrite")
    data = read_bytes(output)
    state = collected_ids(data)
    if state.keep_bytes < len(data):
        print(f"evalpipe: {output}: dropping a cut-off last line (collected again)", file=sys.stderr)
        with path.open("r+b") as handle:
            handle.truncate(state.keep_bytes)
    return state


def build_target(config: TargetConfig, args: argparse.Namespace) -> Target:
    """The adapter of the target's type on a client built for it (tests replace this)."""
    if isinstance(config, HttpTarget):
        import urllib3  # noqa: PLC0415 -- only for an HTTP target

        pool = urllib3.PoolManager(
            maxsize=args.concurrency, retries=http_retry(args.max_attempts, HTTP_BACKOFF_SECONDS)
        )
        return adapter_for(config, http=pool, headers=env_headers(config, os.environ))
    import boto3  # noqa: PLC0415

    session = boto3.session.Session(region_name=args.region or None)
    if isinstance(config, BedrockTarget):
        client = session.client("bedrock-runtime", config=boto_config(args.max_attempts, args.concurrency))
        return adapter_for(config, bedrock_runtime=client)
    lambda_config = boto_config(args.max_attempts, args.concurrency, read_timeout=LAMBDA_READ_TIMEOUT)
    return adapter_for(config, lambda_client=session.client("lambda", config=lambda_config))


def _interrupted(summary: Summary | None, output: str, out: Printer) -> int:
    written = f"{summary.records} records of {len(summary.written)} scenarios" if summary else "the records"
    remaining = f" ({summary.remaining} scenarios left)" if summary else ""
    out.line(
        f"interrupted: {written} written to {output} (complete lines only); run the same command with "
        f"--resume to collect the rest{remaining}",
        "yellow",
    )
    return EXIT_INTERRUPTED


def _report(
    summary: Summary, args: argparse.Namespace, suite: object | None, meta_path: str, out: Printer
) -> int:
    already = f"; {summary.skipped} already there" if summary.skipped else ""
    out.line(
        f"collected {len(summary.written)} of {summary.total} scenarios ({summary.records} records) "
        f"into {args.output}{already}; latency and tokens in {meta_path}"
    )
    if summary.failed:
        out.line(f"{len(summary.failed)} scenarios failed and are left out (run again with --resume):", "red")
        for outcome in summary.failed:
            out.line(f"  {outcome.scenario_id}: {outcome.error}", "red")
    try:
        report = validate_dataset(open_chunks(args.output), args.output, suite=suite)
    except (Unreadable, OSError) as exc:
        return fail(str(exc))
    print_report(report, args.output, out)
    return EXIT_OK if report.ok and not summary.failed else EXIT_INVALID


class _PlainProgress:
    """Off a terminal: one line per scenario."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.total = self.done = 0

    def start(self, total: int, skipped: int) -> None:
        self.total, self.done = total, skipped
        if skipped:
            print(
                f"{skipped} of {total} scenarios already collected (--resume)", file=self.stream, flush=True
            )

    def advance(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.ok:
            count = len(outcome.lines)
            records = f"{count} record{'s' if count > 1 else ''}"
            what = f"ok {outcome.scenario_id} ({records}, {outcome.latency_ms} ms)"
        else:
            what = f"FAILED {outcome.scenario_id}: {outcome.error}"
        print(f"[{self.done}/{self.total}] {what}", file=self.stream, flush=True)


class _RichProgress:
    """On a terminal: a bar with the count, the rate, the failures and the time left."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None
        self.failed = 0

    def start(self, total: int, skipped: int) -> None:
        self.task = self.progress.add_task("collecting", total=total, completed=skipped, failed=0)

    def advance(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.failed += 1
            # Plain text: an error message may hold brackets rich would read as markup.
            self.progress.console.print(
                f"failed {outcome.scenario_id}: {outcome.error}", style="red", markup=False
            )
        self.progress.update(self.task, advance=1, failed=self.failed)


class progress_display:
    """The progress of a collection on ``stream``: a rich bar on a terminal, lines otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._live: Any = None

    def __enter__(self) -> _PlainProgress | _RichProgress:
        if not _isatty(self.stream):
            return _PlainProgress(self.stream)
        try:
            self._live = _rich_progress(self.stream)
        except ImportError:  # pragma: no cover - rich is a dev dependency
            return _PlainProgress(self.stream)
        self._live.start()
        return _RichProgress(self._live)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()


def _rich_progress(stream: IO[str]) -> Any:
    from rich.console import Console  # noqa: PLC0415 -- optional, terminal only
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text  # noqa: PLC0415

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.2f}/s" if speed else "-/s", style="cyan")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
    )


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
