"""Benchmarks: the pre-flight validator, the parse step's per-record cost, the handlers' cold import,
the local mode end to end.

Sections (``python bench/run.py [validate] [parse] [imports] [local]``; all by default):

- validate: lines per second and peak memory on a 100,000-line dataset (below);
- parse: CPU to parse and store 1,000 records x 25 metrics with the real boto3 client against
  moto's server, against ``json.loads`` of the same lines (`bench/parse_cost.py`);
- imports: ``python -X importtime`` of every handler, against ``import boto3``
  (`bench/cold_import.py`);
- local: the local mode's stack (what ``make demo`` deploys) with runs of 18, 1,000 and 10,000
  records and 20 datasets dropped at once under the emulator's quota, against one run of the
  example in the same run (`bench/local_mode.py`; several minutes).

The validator's benchmark:

Absolute numbers depend on the machine, so every figure is reported as a RATIO against a baseline
measured in the same run on the same file: the plain ``json.loads`` of each line (the least any
JSONL reader does). Peak memory (tracemalloc) is reported against the file size, and at 10,000
and 100,000 lines, to show it stays flat instead of growing with the file.

Run with ``make bench``; prints a table and writes ``bench/results.json``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lambdas"))  # also runs without `make install`

import cold_import  # noqa: E402 -- bench/ is this script's directory
import local_mode  # noqa: E402
import parse_cost  # noqa: E402

from evalpipe.estimate.measure import DatasetMeasure  # noqa: E402
from evalpipe.validation import validate_run  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SUITE_FILE = REPO / "examples" / "suites" / "support-assistant.json"
SAMPLE_FILE = REPO / "examples" / "datasets" / "support-assistant" / "sample.jsonl"
RESULTS_FILE = Path(__file__).resolve().parent / "results.json"
LINES = 100_000
SMALL_LINES = 10_000
REPEATS = 3
CHUNK_BYTES = 1 << 20  # what the CLI reads at a time (S3 bodies arrive in similar chunks)


def write_dataset(path: Path, lines: int) -> None:
    """``lines`` records cycling through the example's 18, each made unique (prompt suffix)."""
    samples = [json.loads(line) for line in SAMPLE_FILE.read_text().splitlines() if line.strip()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            record = dict(samples[i % len(samples)])
            record["prompt"] = f"{record['prompt']} (#{i})"
            out.write(json.dumps(record) + "\n")


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def baseline(path: Path) -> int:
    """Plain ``json.loads`` of every line."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            count += 1
    return count


def validator(path: Path) -> int:
    """The pipeline's validation of suite + dataset, streamed (what ``evalpipe validate`` runs)."""
    report = validate_run(SUITE_FILE.read_bytes(), str(SUITE_FILE), chunks(path), str(path))
    # 100,000 records exceed the largest run (50,000 by default): one error, every line still
    # checked; 10,000 records are a run of 10 shards: none.
    assert report.error_count == (1 if LINES_IN[path] > 50_000 else 0), report.summary_line()
    return report.error_count


def validator_with_estimate(path: Path) -> int:
    """Validation with the estimate measuring the same read (what the pipeline's validate step runs)."""
    measure = DatasetMeasure()
    validate_run(SUITE_FILE.read_bytes(), str(SUITE_FILE), measure.tap(chunks(path)), str(path))
    assert measure.records == LINES_IN[path]
    return measure.records


LINES_IN: dict[Path, int] = {}


def seconds(function: Callable[[Path], int], path: Path) -> float:
    """Median wall time of ``REPEATS`` runs."""
    times = []
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        function(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_bytes(function: Callable[[Path], int], path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        function(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


SECTIONS = ("validate", "parse", "imports", "local")


def main(argv: list[str]) -> int:
    sections = [a for a in argv if a in SECTIONS] or list(SECTIONS)
    unknown = [a for a in argv if a not in SECTIONS]
    if unknown:
        print(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    previous = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    results: dict = {
        **previous,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if "validate" in sections:
        results.update(validator_results())
        print_table(results)
    if "parse" in sections:
        results["parse"] = parse_cost.measure()
        parse_cost.print_table(results["parse"])
    if "imports" in sections:
        results["imports"] = cold_import.measure()
        cold_import.print_table(results["imports"])
    if "local" in sections:  # last: it installs the local mode's moto patches in this process
        results["local"] = local_mode.measure()
        local_mode.print_table(results["local"])
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {RESULTS_FILE.relative_to(REPO)}")
    return 0


def validator_results() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.jsonl", Path(tmp) / "small.jsonl"
        write_dataset(big, LINES)
        write_dataset(small, SMALL_LINES)
        LINES_IN.update({big: LINES, small: SMALL_LINES})
        size, small_size = big.stat().st_size, small.stat().st_size
        validator(big)  # warm-up: imports, the service model, caches

        candidates = {
            "json.loads per line (baseline)": baseline,
            "validate (evalpipe validate)": validator,
            "validate + estimate measure (pipeline step)": validator_with_estimate,
        }
        rows = []
        base_rate = None
        for name, function in candidates.items():
            elapsed = seconds(function, big)
            rate = LINES / elapsed
            base_rate = base_rate or rate
            peak, small_peak = peak_bytes(function, big), peak_bytes(function, small)
            rows.append(
                {
                    "name": name,
                    "seconds": round(elapsed, 4),
                    "lines_per_second": round(rate),
                    "throughput_vs_baseline": round(rate / base_rate, 4),
                    "slowdown_vs_baseline": round(base_rate / rate, 2),
                    "peak_bytes": peak,
                    "peak_vs_file_size": round(peak / size, 5),
                    "peak_bytes_10k_lines": small_peak,
                    "peak_growth_10k_to_100k": round(peak / small_peak, 2),
                }
            )

    return {
        "lines": LINES,
        "file_bytes": size,
        "file_bytes_10k_lines": small_size,
        "chunk_bytes": CHUNK_BYTES,
        "repeats": REPEATS,
        "timing": "median wall time; peak memory by tracemalloc in a separate run",
        "rows": rows,
    }


def print_table(results: dict) -> None:
    mib = 1 << 20
    print(
        f"{results['lines']:,} lines, {results['file_bytes'] / mib:.1f} MiB "
        f"(Python {results['python']}, {results['machine']}, median of {results['repeats']})"
    )
    header = (
        f"{'':<44} {'lines/s':>10} {'x baseline':>10} {'peak MiB':>9} {'peak/file':>9} {'peak 10k->100k':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in results["rows"]:
        print(
            f"{row['name']:<44} {row['lines_per_second']:>10,} {row['throughput_vs_baseline']:>10.3f} "
            f"{row['peak_bytes'] / mib:>9.2f} {row['peak_vs_file_size']:>9.4f} "
            f"{row['peak_growth_10k_to_100k']:>13.2f}x"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
