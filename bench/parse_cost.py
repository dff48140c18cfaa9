"""Benchmark of the parse step's per-record cost: CPU to parse and store 1,000 records x 25 metrics.

Every figure is process CPU (``time.process_time``) of this process only: the real boto3 client
talks HTTP to moto's server in a subprocess, so moto's own work is not counted and botocore's
(serialisation, validation, signing, HTTP) is. The baseline, measured in the same run on the
same lines, is the plain ``json.loads`` of every output line. The resource's batch writer (what
`RunsTable.put_records` used before issue 14) is measured beside it, on the same records. So is
the review's read of a baseline run: its scores (`RunsTable.iter_record_scores`, what the review
reads) against its whole record items (`iter_records`, what it read before).
"""

from __future__ import annotations

import gc
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3

from evalpipe import scratch
from evalpipe.aws.runs_table import RunsTable, record_item
from evalpipe.history.records import Matching
from evalpipe.history.score_table import ScoreTable
from evalpipe.results import iter_output_records

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

RECORDS = 1_000
METRICS = 25
MEMORY_RECORDS = (1_000, 10_000)
SCRATCH_RECORDS = (10_000, 50_000)  # a run and its baseline of as many, the largest run by default
REPEATS = 3
TABLE = "bench-runs"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TEXT = (
    "the answer explains how the account settings page lets a customer reset a password and why "
    "the order arrived late while the refund policy covers damaged books within thirty days"
)


def output_lines(count: int, seed: int = 14) -> list[bytes]:
    """Bedrock judge output lines: a prompt, a response, a reference and 25 explained scores."""
    rng = random.Random(seed)
    vocabulary = TEXT.split()

    def text(count: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(count))

    lines = []
    for i in range(count):
        line = {
            "automatedEvaluationResult": {
                "scores": [
                    {
                        "metricName": f"Builtin.Metric{m}",
                        "result": round(rng.random(), 4),
                        "evaluatorDetails": [{"modelIdentifier": JUDGE, "explanation": text(70)}],
                    }
                    for m in range(METRICS)
                ]
            },
            "inputRecord": {
                "prompt": f"{text(60)} (#{i})",
                "referenceResponse": text(40),
                "category": rng.choice(["billing", "login", "shipping"]),
            },
            "modelResponses": [{"response": text(80), "modelIdentifier": "amazon.nova-pro-v1:0"}],
        }
        lines.append(json.dumps(line).encode())
    return lines


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's HTTP server in a subprocess; yields its endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still busy with a request: the figures are taken
            process.kill()
            process.wait(timeout=10)


def runs_table(endpoint: str) -> Any:
    """The runs table's key schema on moto; returns the boto3 Table resource."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    dynamodb = boto3.session.Session(region_name="us-east-1").resource("dynamodb", endpoint_url=endpoint)
    return dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def resource_batch_writer(table: Any, run_id: str, records: list[Any]) -> None:
    """What `put_records` did before: the resource's batch writer (TypeSerializer, validation)."""
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for record in records:
            batch.put_item(Item=record_item(run_id, record))


def cpu(function: Callable[[], object]) -> float:
    """Median process CPU seconds of ``REPEATS`` runs."""
    times = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times)


def count_calls(client: Any, operation: str) -> list[int]:
    calls: list[int] = []
    client.meta.events.register(f"before-call.dynamodb.{operation}", lambda **_: calls.append(1))
    return calls


def streamed_peak(runs: RunsTable, lines: list[bytes], run_id: str) -> int:
    """Peak traced memory of parsing and storing ``lines`` streamed (what the parse step does)."""
    gc.collect()
    tracemalloc.start()
    try:
        runs.put_records(run_id, iter_output_records(iter(lines)))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def scratch_footprint(records: int) -> dict[str, Any]:
    """What the review of a run of ``records`` records x 25 metrics against a baseline of as many
    (every score changed) puts on disk (`evalpipe.scratch`: both runs' score tables and their
    matching), and the Python memory of building them (tracemalloc; SQLite's own, its page cache,
    is not traced)."""
    names = [f"Builtin.Metric{m}" for m in range(METRICS)]

    def table(shift: int) -> ScoreTable:
        scores = ScoreTable(lambda indices: {})
        for i in range(records):
            scores.add_stored(
                {
                    "index": i,
                    "record_key": f"h:{i:032x}",
                    "category": ("billing", "login", "shipping")[i % 3],
                    "scores": {
                        name: {"score": (i * 7 + m + shift) % 100 / 100} for m, name in enumerate(names)
                    },
                }
            )
        scores.ready()
        return scores

    with scratch.session():
        gc.collect()
        tracemalloc.start()
        try:
            current, baseline = table(0), table(3)
            pairs = Matching(current, baseline).pair_count
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        db = scratch.connection()
        pages, free, size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
    assert pairs == records, pairs
    return {"disk_bytes": (pages - free) * size, "python_peak_bytes": peak}


def measure() -> dict[str, Any]:
    lines = output_lines(RECORDS)
    with moto_server() as endpoint:
        table = runs_table(endpoint)
        runs = RunsTable(table)
        records = list(iter_output_records(lines))
        runs.put_records("warm-up", records[:50])  # the client, the service model, connections
        resource_batch_writer(table, "warm-up", records[:50])

        run = iter(range(1_000_000))
        baseline = cpu(lambda: [json.loads(line) for line in lines])
        parse = cpu(lambda: list(iter_output_records(lines)))
        put = cpu(lambda: runs.put_records(f"put-{next(run)}", records))
        before = cpu(lambda: resource_batch_writer(table, f"before-{next(run)}", records))

        calls = count_calls(runs._client, "BatchWriteItem")
        runs.put_records("counted", records)
        write_calls = len(calls)
        pages = runs._client.get_paginator("query").paginate(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "RUN#counted"}},
            Select="COUNT",
        )
        stored = sum(page["Count"] for page in pages)
        assert stored == RECORDS, stored

        # The review reads a baseline's scores: what it reads now, and whole record items.
        read_scores = cpu(lambda: sum(1 for _ in runs.iter_record_scores("counted")))
        read_items = cpu(lambda: sum(1 for _ in runs.iter_records("counted")))

        peaks = {n: streamed_peak(runs, output_lines(n, seed=n), f"memory-{n}") for n in MEMORY_RECORDS}
    scratch_sizes = {n: scratch_footprint(n) for n in SCRATCH_RECORDS}
    per = 1_000 / RECORDS
    return {
        "records": RECORDS,
        "metrics_per_record": METRICS,
        "line_bytes_mean": sum(map(len, lines)) // len(lines),
        "repeats": REPEATS,
        "timing": "median process CPU seconds of this process (moto's server runs in another)",
        "cpu_seconds_per_1000": {
            "json_loads_baseline": round(baseline * per, 4),
            "parse_output_lines": round(parse * per, 4),
            "put_records": round(put * per, 4),
            "resource_batch_writer_before": round(before * per, 4),
            "read_baseline_scores": round(read_scores * per, 4),
            "read_record_items_before": round(read_items * per, 4),
        },
        "vs_json_loads": {
            "parse_output_lines": round(parse / baseline, 2),
            "put_records": round(put / baseline, 2),
            "resource_batch_writer_before": round(before / baseline, 2),
            "read_baseline_scores": round(read_scores / baseline, 2),
            "read_record_items_before": round(read_items / baseline, 2),
        },
        "read_baseline_speedup_vs_before": round(read_items / read_scores, 2),
        "put_records_speedup_vs_before": round(before / put, 2),
        "batch_write_calls_per_1000_records": round(write_calls * per, 1),
        "parse_and_store_peak_bytes": {str(n): peak for n, peak in peaks.items()},
        "parse_and_store_peak_growth_1k_to_10k": round(
            peaks[MEMORY_RECORDS[1]] / peaks[MEMORY_RECORDS[0]], 2
        ),
        "review_scratch": {str(n): figures for n, figures in scratch_sizes.items()},
    }


def print_table(results: dict[str, Any]) -> None:
    cpu_ = results["cpu_seconds_per_1000"]
    ratio = results["vs_json_loads"]
    print(
        f"\nparse + store, {results['records']:,} records x {results['metrics_per_record']} metrics "
        f"({results['line_bytes_mean']:,} B a line; real boto3 client -> moto server; CPU, median of "
        f"{results['repeats']})"
    )
    header = f"{'':<44} {'CPU s/1,000':>11} {'x json.loads':>12}"
    print(header)
    print("-" * len(header))
    print(f"{'json.loads per line (baseline)':<44} {cpu_['json_loads_baseline']:>11.3f} {1:>12.2f}")
    for key, name in (
        ("parse_output_lines", "parse output lines (iter_output_records)"),
        ("put_records", "RunsTable.put_records"),
        ("resource_batch_writer_before", "resource batch_writer (before issue 14)"),
        ("read_baseline_scores", "read a baseline: RunsTable.iter_record_scores"),
        ("read_record_items_before", "read a baseline: iter_records (before)"),
    ):
        print(f"{name:<44} {cpu_[key]:>11.3f} {ratio[key]:>12.2f}")
    peaks = results["parse_and_store_peak_bytes"]
    print(
        f"put_records {results['put_records_speedup_vs_before']}x faster than the batch writer; "
        f"BatchWriteItem calls per 1,000 records: {results['batch_write_calls_per_1000_records']:g}; "
        f"a baseline's scores read {results['read_baseline_speedup_vs_before']}x faster than its items; "
        f"peak memory parse+store streamed: "
        + ", ".join(f"{int(n):,} records {b / (1 << 20):.2f} MiB" for n, b in peaks.items())
        + f" ({results['parse_and_store_peak_growth_1k_to_10k']}x)"
    )
    print(
        "the review's scratch tables (both runs' scores and their matching; SQLite on disk), a run "
        "against a baseline of as many records: "
        + ", ".join(
            f"{int(n):,} records {f['disk_bytes'] / (1 << 20):.1f} MiB on disk, Python peak "
            f"{f['python_peak_bytes'] / (1 << 20):.2f} MiB"
            for n, f in results["review_scratch"].items()
        )
    )
