"""`evalpipe preview`: a few records scored on the suite's custom metrics in seconds, before a job is
paid for (docs/preview.md).

Each custom metric's instructions are rendered with a record, the rating scale is appended, the judge
model answers through Bedrock Runtime's ``Converse`` (the suite's evaluator, or ``--judge``), and its
answer is mapped onto the rating scale. Built-in metrics are not previewed: their prompts are
Bedrock's own. boto3 reads credentials, region and endpoint the usual way (``--region``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``: the local mode's emulator answers as the offline judge).

Exit codes: 0 every call answered (an answer that cannot be mapped is shown, not an error); 1 the
suite cannot be read, has no custom metric to preview, or a judge call failed for good; 2 usage error,
unreadable path or unusable price file.
"""

from __future__ import annotations

import json
import sys
import textwrap
from statistics import fmean
from typing import IO, TYPE_CHECKING, Any

from evalpipe.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    Printer,
    Unreadable,
    _isatty,
    fail,
    open_chunks,
    positive_int,
    read_bytes,
    text_table,
)
from evalpipe.dataset import iter_raw_lines
from evalpipe.estimate.cost import money
from evalpipe.estimate.prices import PRICES_ENV, PriceFileError, load_prices
from evalpipe.preview import (
    DEFAULT_RECORDS,
    Preview,
    PreviewPlan,
    Scored,
    Skipped,
    first_records,
    plan_of,
    run_preview,
)
from evalpipe.preview.prompt import samples_of
from evalpipe.validation import parse_suite, validate_suite

if TYPE_CHECKING:
    import argparse

    from evalpipe.preview.metrics import Rating

WORKERS = 4  # judge calls in flight at once
RETRIES = 5  # botocore's standard mode: throttling and 5xx retried up to 5 times, with backoff
BUILTINS_NOT_PREVIEWED = "Built-in metrics are not previewed: their judge prompts are Bedrock's own"
WIDTH = 100


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="score a few records on the suite's custom metrics, before a job is paid for",
        description=(
            "Render each custom metric's instructions with the first records of DATASET, ask the judge "
            "model through Bedrock Runtime Converse (the suite's evaluator model unless --judge), map "
            "each answer onto the metric's rating scale and print score, reasoning and cost. Built-in "
            "metrics are not previewed (their prompts are Bedrock's own). Exit 0: every call answered; "
            "1: the suite cannot be read, has no custom metric, or a call failed; 2: usage error."
        ),
    )
    parser.add_argument("--suite", required=True, metavar="SUITE.json", help="the suite file")
    parser.add_argument(
        "dataset", metavar="DATASET.jsonl", help="the dataset (only its first records are read)"
    )
    parser.add_argument(
        "-n",
        "--records",
        type=positive_int,
        default=DEFAULT_RECORDS,
        metavar="N",
        help=f"preview the first N records (default {DEFAULT_RECORDS}; RAG: every turn of each)",
    )
    parser.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="only this custom metric (repeatable; default: every custom metric the job scores)",
    )
    parser.add_argument(
        "--judge", metavar="MODEL_ID", help="the judge model (default: the suite's evaluator)"
    )
    parser.add_argument("--region", metavar="REGION", help="AWS region (default: the AWS CLI's)")
    parser.add_argument(
        "--prices", metavar="PRICES.json", help=f"price file (default: ${PRICES_ENV} or the bundled one)"
    )
    parser.add_argument("--show-prompt", action="store_true", help="print each judge prompt as sent")
    parser.add_argument("--json", action="store_true", help="print the preview as JSON (no colour)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        prices = load_prices(args.prices)
        suite_bytes = read_bytes(args.suite)
        suite, problem = parse_suite(suite_bytes, args.suite)
        if problem is not None:
            print(problem.render(), file=sys.stderr)
            return EXIT_INVALID
        plan = plan_of(suite)
        refusal = _refusal(plan, args)
        if refusal is not None:
            return refusal
        skipped: list[Skipped] = []
        records = list(first_records(iter_raw_lines(open_chunks(args.dataset)), args.records, skipped))
    except PriceFileError as exc:
        return fail(str(exc))
    except Unreadable as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot read {args.dataset}: {exc.strerror or exc}")
    judge = args.judge or plan.evaluator_model
    if not judge:
        return fail(f"{args.suite} names no evaluator model: give the judge with --judge MODEL_ID")
    notes = _notes(plan, suite, args.suite, skipped)
    try:
        client = converse_client(args.region)
    except Exception as exc:  # botocore: no region, a bad profile, ...
        return fail(f"cannot create a bedrock-runtime client: {exc}")
    calls = sum(len(samples_of(record, line, rag=plan.is_rag)) for line, record in records) * len(
        _chosen(plan, args.metric)
    )
    with _Progress(calls) as progress:
        preview = run_preview(
            plan,
            records,
            client,
            judge_model=judge,
            prices=prices,
            metrics=args.metric,
            workers=WORKERS,
            on_result=progress.advance,
        )
    if not records:
        notes.append(f"{args.dataset} has no record to preview")
    source = "--judge" if args.judge else "the suite's evaluator model"
    if args.json:
        document = as_json(
            preview, plan, suite_file=args.suite, dataset_file=args.dataset, source=source, notes=notes
        )
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_preview(preview, plan, args, source=source, notes=notes, out=Printer())
    return EXIT_INVALID if preview.failed else EXIT_OK


def converse_client(region: str | None) -> Any:
    """A ``bedrock-runtime`` client for ``region`` (standard retries: throttling and 5xx retried)."""
    import boto3  # noqa: PLC0415 -- only this command needs it; the pre-flight commands run without
    from botocore.config import Config  # noqa: PLC0415

    session = boto3.session.Session(region_name=region or None)
    return session.client(
        "bedrock-runtime", config=Config(retries={"mode": "standard", "max_attempts": RETRIES})
    )


def _refusal(plan: PreviewPlan, args: argparse.Namespace) -> int | None:
    """The exit code when there is nothing to preview or ``--metric`` names the wrong thing."""
    for name in args.metric or []:
        if name in plan.builtin_metrics or name.startswith("Builtin."):
            return fail(f"{name}: {BUILTINS_NOT_PREVIEWED.lower()}; --metric takes a custom metric")
        if plan.metric(name) is None:
            known = ", ".join(m.name for m in plan.custom_metrics) or "none"
            return fail(f"{name} is not a custom metric the suite's job scores (its custom metrics: {known})")
    if plan.custom_metrics:
        return None
    builtins = ", ".join(plan.builtin_metrics) or "none"
    print(
        f"{args.suite}: nothing to preview: the suite's job scores no custom metric. "
        f"{BUILTINS_NOT_PREVIEWED} (this suite's: {builtins}).",
        file=sys.stderr,
    )
    return EXIT_INVALID


def _chosen(plan: PreviewPlan, metrics: list[str] | None) -> list[str]:
    return [m.name for m in plan.custom_metrics if metrics is None or m.name in metrics]


def _notes(plan: PreviewPlan, suite: object, suite_file: str, skipped: list[Skipped]) -> list[str]:
    notes = [f"line {s.line}: {s.reason}, skipped (run `evalpipe validate`)" for s in skipped]
    notes += [
        f"{name} is defined but not in metricNames: Bedrock would skip it, so it is not previewed"
        for name in plan.not_listed
    ]
    notes += [
        f"{name} is listed but has no definition: the job would fail on it" for name in plan.not_defined
    ]
    if plan.live:
        notes.append(
            "the suite's job generates its responses (live inference), so the dataset has none and "
            "{{prediction}} renders empty: preview a dataset of recorded responses (`evalpipe collect`)"
        )
    report = validate_suite(suite, suite_file)
    if not report.ok:
        notes.append(
            f"the suite does not pass validation ({report.summary_line()}): "
            "run `evalpipe validate` before a job"
        )
    return notes


# ------------------------------------------------------------------------------------ the output


def outcome(result: Scored) -> str:
    """What a call gave: ``1 (Good)``, ``N/A``, ``"ok" (Fine)``, ``unmappable``, ``failed``, ``no score``."""
    if result.error is not None:
        return "failed"
    judgement = result.judgement
    if judgement is None or judgement.unmappable is not None:
        return "unmappable"
    if judgement.rating is None:
        return "no score (no rating scale)"
    value, definition = _value(judgement.rating), judgement.rating.definition
    return value if value.casefold() == definition.strip().casefold() else f"{value} ({definition})"


def _value(rating: Rating) -> str:
    if rating.not_applicable:
        return "N/A"
    return json.dumps(rating.value) if isinstance(rating.value, str) else rating.shown_value


def _style(result: Scored) -> str | None:
    if result.error is not None:
        return "red"
    if result.judgement is None or result.judgement.unmappable is not None:
        return "yellow"
    return None


def print_preview(
    preview: Preview,
    plan: PreviewPlan,
    args: argparse.Namespace,
    *,
    source: str,
    notes: list[str],
    out: Printer,
) -> None:
    """Per record: each metric's score and the judge's reasoning; then a summary and the cost."""
    out.line(
        f"Preview of {_plural(len(preview.metrics), 'custom metric')} on the first "
        f"{_plural(preview.records, 'record')} of {args.dataset}",
        "bold",
    )
    out.line(f"  suite:  {args.suite}")
    out.line(f"  judge:  {preview.judge_model} ({source})")
    builtins = ", ".join(plan.builtin_metrics) or "none"
    for line in _wrap(f"{BUILTINS_NOT_PREVIEWED} (this suite's: {builtins}).", "  "):
        out.line(line, "yellow")
    current = None
    for result in preview.results:
        if result.sample.label != current:
            current = result.sample.label
            out.line()
            out.line(current, "bold")
        out.line(f"  {result.metric}: {outcome(result)}", _style(result))
        for line in _details(result, args.show_prompt):
            out.line(line)
    out.line()
    out.line("Summary", "bold")
    for line in text_table(
        ["metric", "scored", "N/A", "unmappable", "failed", "mean"], summary_rows(preview), "lrrrrr"
    ):
        out.line(line)
    out.line()
    for line in _wrap(cost_line(preview), ""):
        out.line(line, "bold")
    if notes:
        out.line()
        out.line("Notes", "bold yellow")
        for note in notes:
            for line in _wrap(note, "  - ", "    "):
                out.line(line, "yellow")


def _details(result: Scored, show_prompt: bool) -> list[str]:
    lines: list[str] = []
    if result.error is not None:
        lines += _wrap(f"error: {result.error}", "      ")
    judgement = result.judgement
    if judgement is not None and judgement.unmappable is not None:
        lines += _wrap(f"the judge answered {judgement.unmappable!r}: no rating of the scale", "      ")
    if judgement is not None and judgement.reasoning:
        lines += _wrap(f"reasoning: {judgement.reasoning}", "      ")
    if result.prompt.empty:
        names = ", ".join("{{" + name + "}}" for name in result.prompt.empty)
        lines += _wrap(f"rendered empty (the record has no value): {names}", "      ")
    if result.prompt.unknown:
        lines += _wrap(
            f"left as written (not a variable Bedrock fills in): {', '.join(result.prompt.unknown)}", "      "
        )
    if show_prompt:
        lines += ["      prompt:", *textwrap.indent(result.prompt.text, "        | ").splitlines()]
    return lines


def summary_rows(preview: Preview) -> list[list[str]]:
    """Per metric: scored, N/A, unmappable and failed calls, and the mean of the numeric scores."""
    rows = []
    for metric in preview.metrics:
        results = [r for r in preview.results if r.metric == metric]
        scores = [
            r.judgement.score for r in results if r.judgement is not None and r.judgement.score is not None
        ]
        rows.append(
            [
                metric,
                str(len(scores)),
                str(sum(1 for r in results if r.judgement is not None and r.judgement.not_applicable)),
                str(
                    len(
                        [r for r in results if r.judgement is not None and r.judgement.unmappable is not None]
                    )
                ),
                str(sum(1 for r in results if r.error is not None)),
                f"{fmean(scores):.2f}" if scores else "-",
            ]
        )
    return rows


def cost_line(preview: Preview) -> str:
    """``Cost of this preview: 10 judge calls, 9,000 input + 600 output tokens (...), ~$0.01 (...)``."""
    cost = preview.cost
    if cost.usd is None:
        price = f"no price for {preview.judge_model}"
    else:
        price = money(cost.usd) if money(cost.usd).startswith("<") else "~" + money(cost.usd)
    return (
        f"Cost of this preview: {_plural(cost.calls, 'judge call')}, {cost.input_tokens:,} input + "
        f"{cost.output_tokens:,} output tokens (Converse usage), {price} "
        f"(on-demand, {cost.currency}; prices: {cost.price_source})"
    )


def as_json(
    preview: Preview, plan: PreviewPlan, *, suite_file: str, dataset_file: str, source: str, notes: list[str]
) -> dict[str, Any]:
    """The machine-readable preview (snake_case keys, like ``evalpipe estimate --json``)."""
    return {
        "suite": suite_file,
        "dataset": dataset_file,
        "judge": {"model": preview.judge_model, "source": source},
        "records": preview.records,
        "metrics": list(preview.metrics),
        "builtin_metrics_not_previewed": list(plan.builtin_metrics),
        "builtin_metrics_note": BUILTINS_NOT_PREVIEWED,
        "results": [_result_json(result) for result in preview.results],
        "summary": [
            dict(
                zip(("metric", "scored", "not_applicable", "unmappable", "failed", "mean"), row, strict=True)
            )
            for row in summary_rows(preview)
        ],
        "cost": {
            "calls": preview.cost.calls,
            "input_tokens": preview.cost.input_tokens,
            "output_tokens": preview.cost.output_tokens,
            "usd": None if preview.cost.usd is None else round(preview.cost.usd, 6),
            "currency": preview.cost.currency,
            "prices": preview.cost.price_source,
        },
        "notes": notes,
    }


def _result_json(result: Scored) -> dict[str, Any]:
    judgement = result.judgement
    rating = judgement.rating if judgement is not None else None
    return {
        "line": result.sample.line,
        "turn": result.sample.turn,
        "metric": result.metric,
        "score": judgement.score if judgement is not None else None,
        "not_applicable": judgement.not_applicable if judgement is not None else False,
        "rating": rating.definition if rating is not None else None,
        "value": rating.value if rating is not None else None,
        "reasoning": judgement.reasoning if judgement is not None else None,
        "unmappable": judgement.unmappable if judgement is not None else None,
        "error": result.error,
        "answer": result.answer,
        "prompt": result.prompt.text,
        "empty_variables": list(result.prompt.empty),
        "unknown_variables": list(result.prompt.unknown),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
    }


class _Progress:
    """A progress bar of the judge calls on stderr, on a terminal with rich; nothing otherwise."""

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.total and _isatty(self.stream):
            try:
                from rich.console import Console  # noqa: PLC0415 -- optional, terminal only
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn  # noqa: PLC0415
            except ImportError:  # pragma: no cover - rich is a dev dependency
                return self
            self._progress = Progress(
                TextColumn("judging"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("judging", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, result: Scored) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _wrap(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    """Wrap at spaces only (model ids and paths stay whole); keep the text's own line breaks."""
    lines: list[str] = []
    first = indent
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(
            paragraph,
            WIDTH,
            initial_indent=first,
            subsequent_indent=subsequent if subsequent is not None else indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [first.rstrip()]
        first = subsequent if subsequent is not None else indent
    return lines
