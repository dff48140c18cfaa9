"""Benchmark of the handlers' cold import: ``python -X importtime -c "import handlers.<name>"``.

Each figure is the cumulative import time of the handler module in a fresh interpreter (the
last line of ``-X importtime``), the minimum of ``REPEATS`` runs, from ``lambdas/`` (what the
Lambda package holds). The baseline in the same run is ``import boto3``, which every handler
needs; "X-Ray SDK on" imports the same handler with ``POWERTOOLS_TRACE_DISABLED=false``
(Powertools Tracer and the X-Ray SDK, off by default: docs/performance.md).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
HANDLERS = sorted(path.stem for path in (LAMBDAS / "handlers").glob("*.py") if not path.stem.startswith("_"))
REPEATS = 5
TARGET_MS = 300
_LAST = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)\s*$")


def import_ms(module: str, **env: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter, in ms."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA"))}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=LAMBDAS,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in reversed(result.stderr.splitlines()):
        match = _LAST.match(line)
        if match and match.group(2) == module:
            return int(match.group(1)) / 1000
    raise RuntimeError(f"no import time for {module}:\n{result.stderr[-2000:]}")


def best(module: str, **env: str) -> dict[str, float]:
    times = [import_ms(module, **env) for _ in range(REPEATS)]
    return {"min_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1)}


def measure() -> dict[str, Any]:
    baseline = best("boto3")
    rows = []
    for name in HANDLERS:
        off = best(f"handlers.{name}")
        on = best(f"handlers.{name}", POWERTOOLS_TRACE_DISABLED="false")
        rows.append(
            {
                "handler": name,
                **off,
                "vs_import_boto3": round(off["min_ms"] / baseline["min_ms"], 2),
                "xray_sdk_on_min_ms": on["min_ms"],
                "xray_sdk_adds_ms": round(on["min_ms"] - off["min_ms"], 1),
            }
        )
    return {
        "repeats": REPEATS,
        "timing": "python -X importtime, cumulative ms of the module, min (and median) of the repeats",
        "target_ms": TARGET_MS,
        "import_boto3_baseline": baseline,
        "handlers": rows,
    }


def print_table(results: dict[str, Any]) -> None:
    base = results["import_boto3_baseline"]
    print(
        f"\nhandler cold import (python -X importtime, min of {results['repeats']}; "
        f"baseline import boto3 = {base['min_ms']:.0f} ms)"
    )
    header = f"{'handler':<16} {'ms':>7} {'median':>7} {'x boto3':>8} {'X-Ray SDK on':>13} {'SDK adds':>9}"
    print(header)
    print("-" * len(header))
    for row in results["handlers"]:
        on, adds = row["xray_sdk_on_min_ms"], row["xray_sdk_adds_ms"]
        print(
            f"{row['handler']:<16} {row['min_ms']:>7.0f} {row['median_ms']:>7.0f} "
            f"{row['vs_import_boto3']:>8.2f} {on:>13.0f} {adds:>9.0f}"
        )
