"""`evalpipe estimate`: what one run of a suite on a dataset will cost, before it is submitted."""

from __future__ import annotations

import json
import sys
import textwrap
from typing import TYPE_CHECKING

from evalpipe.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    Printer,
    Unreadable,
    fail,
    open_chunks,
    read_bytes,
)
from evalpipe.estimate.cost import CostItem, Estimate, estimate_run, money
from evalpipe.estimate.measure import DatasetMeasure
from evalpipe.estimate.prices import PRICES_ENV, NoUsdBecause, PriceFileError, load_prices
from evalpipe.suite.datasets import names_only_builtin_datasets
from evalpipe.validation import parse_suite, validate_suite

if TYPE_CHECKING:
    import argparse

ITEM_WIDTH = 20
DETAILS_WIDTH = 64
COST_WIDTH = 10

# The cost column of a row without a number, and why the total is missing, per reason. Only a
# missing price or model is the user's to fix; the other two have no number to find offline.
NO_USD_COST = {
    NoUsdBecause.NO_PRICE: "no price",
    NoUsdBecause.NO_MODEL: "no model",
    NoUsdBecause.BUILTIN_DATASET: "unknown",
    NoUsdBecause.LIVE_KNOWLEDGE_BASE: "unknown",
}
NO_TOTAL_BECAUSE = {
    NoUsdBecause.NO_PRICE: "a price is missing (add it to the price file)",
    NoUsdBecause.NO_MODEL: "the suite names no model to price",
    NoUsdBecause.BUILTIN_DATASET: "built-in datasets are sized by Bedrock and cannot be measured offline",
    NoUsdBecause.LIVE_KNOWLEDGE_BASE: "the live knowledge base's retrieval and generation are not estimated",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate what one run will cost",
        description=(
            "Estimate the cost of one run of SUITE on DATASET with the practitioner's guide's cost "
            "model (response collection + evaluation job), token counts measured from the dataset. "
            f"Prices come from --prices, else ${PRICES_ENV}, else the bundled prices.json. "
            "Exit 0: estimate printed (its notes say why when it has no total); 1: the suite is not "
            "readable JSON; 2: usage error, unreadable path or unusable price file."
        ),
    )
    parser.add_argument("--suite", required=True, metavar="SUITE.json", help="the suite file")
    parser.add_argument(
        "dataset",
        metavar="DATASET.jsonl",
        nargs="?",
        help="the dataset (streamed, any size); leave it out for a suite of built-in datasets only",
    )
    parser.add_argument(
        "--prices",
        metavar="PRICES.json",
        help=f"price file to use (default: ${PRICES_ENV} or the bundled one)",
    )
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON (no colour)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        prices = load_prices(args.prices)
    except PriceFileError as exc:
        return fail(str(exc))
    try:
        suite_bytes = read_bytes(args.suite)
        suite, problem = parse_suite(suite_bytes, args.suite)
        if problem is not None:
            print(problem.render(), file=sys.stderr)
            return EXIT_INVALID
        if not isinstance(suite, dict):
            print(f"{args.suite}: error: a suite must be a JSON object", file=sys.stderr)
            return EXIT_INVALID
        if args.dataset is None and not names_only_builtin_datasets(suite):
            return fail(
                f"{args.suite} names a custom dataset: give the DATASET.jsonl to measure "
                "(only a suite of built-in datasets is estimated without one)"
            )
        # A suite of built-in datasets has nothing to measure: Bedrock sizes those datasets.
        measure = DatasetMeasure.of(open_chunks(args.dataset) if args.dataset else [])
    except Unreadable as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot read {args.dataset}: {exc.strerror or exc}")

    estimate = estimate_run(suite, measure, prices)
    notes = list(estimate.notes)
    suite_report = validate_suite(suite, args.suite)
    if not suite_report.ok:
        notes.append(
            f"the suite does not pass validation ({suite_report.summary_line()}); the estimate reads it "
            "as written: run `evalpipe validate`"
        )
    if args.json:
        document = {"suite": args.suite, "dataset": args.dataset, **estimate.as_dict(), "notes": notes}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_estimate(estimate, notes, args.suite, args.dataset, Printer())
    return EXIT_OK


def print_estimate(
    estimate: Estimate, notes: list[str], suite_file: str, dataset_file: str | None, out: Printer
) -> None:
    """The guide's "Estimated Cost Summary" table, then the assumptions and notes."""
    out.line(f"Estimated cost of one run ({estimate.currency})", "bold")
    out.line(f"  suite:    {suite_file}")
    if dataset_file is None:
        out.line("  dataset:  none (built-in datasets only, sized by Bedrock)")
    else:
        out.line(
            f"  dataset:  {dataset_file} ({estimate.records:,} record{'s' if estimate.records != 1 else ''}, "
            f"{estimate.metrics} judged metric{'s' if estimate.metrics != 1 else ''})"
        )
    out.line()
    out.line(_row("Item", ["Details"], "Est. cost"), "bold")
    for item in estimate.items:
        out.line(_row(item.item, _wrap(item.details, DETAILS_WIDTH), _cost(item)))
    total = estimate.total_usd
    out.line(_row("Total per run", [""], "unknown" if total is None else "~" + money(total)), "bold")
    if total is not None:
        scaling = f"Scaling: each additional run costs ~{money(total)}"
        if estimate.per_metric_usd is not None:
            scaling += f"; each built-in metric added adds ~{money(estimate.per_metric_usd)} per run"
        out.line(scaling + ".")
    else:
        for line in _wrap(_no_total(estimate), 94):
            out.line(line, "yellow")
    out.line()
    out.line("Assumptions", "bold")
    for assumption in estimate.assumptions:
        out.line(_bullet(assumption))
    if notes:
        out.line()
        out.line("Notes", "bold yellow")
        for note in notes:
            out.line(_bullet(note), "yellow")


def _cost(item: CostItem) -> str:
    if item.usd is None and item.no_usd_because is not None:
        return NO_USD_COST[item.no_usd_because]
    return money(item.usd)


def _no_total(estimate: Estimate) -> str:
    """Why there is no total, e.g. ``No total: built-in datasets are sized by Bedrock, ... .``"""
    because = "; ".join(NO_TOTAL_BECAUSE[reason] for reason in estimate.no_total_because)
    because = because or "a row has no number"
    return f"No total: {because} (see the notes); no number is made up."


def _row(item: str, details: list[str], cost: str) -> str:
    details = details or [""]
    lines = [f"{item:<{ITEM_WIDTH}} {details[0]:<{DETAILS_WIDTH}} {cost:>{COST_WIDTH}}".rstrip()]
    lines += [f"{'':<{ITEM_WIDTH}} {more}" for more in details[1:]]
    return "\n".join(lines)


def _bullet(text: str) -> str:
    return "\n".join(_wrap(text, 94, initial_indent="  - ", subsequent_indent="    "))


def _wrap(text: str, width: int, *, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """Wrap at spaces only: model ids and paths stay whole (and searchable)."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=initial_indent,
        subsequent_indent=subsequent_indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
