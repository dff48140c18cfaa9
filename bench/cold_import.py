"""Benchmark of the handlers' cold import: ``python -X importtime -c "import handlers.<name>"``.

Each figure is the cumulative import time of the handler module in a fresh interpreter (the
last line of ``-X importtime``), the minimum of ``REPEATS`` runs, from ``lambdas/`` (what the
Lambda package holds). Baselines in the same run: ``import boto3``, and the floor every handler
pays for the libraries it must use (boto3, pydantic, Powertools Logger and Metrics). "X-Ray SDK
on" imports the same handler with ``POWERTOOLS_TRACE_DISABLED=false`` (Powertools Tracer and the
X-Ray SDK, off by default: docs/performance.md). "+ first load" adds what the first invocation
pays before any AWS call: validating one stored run item (the golden item of a judged, compared
run) and dumping it, which builds the pydantic models a lazy import would only have deferred.
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
FLOOR = "import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics"
GOLDEN_RUN = (
    Path(__file__).resolve().parents[1]
    / "tests/integration/workflow/golden/judge_completed_and_compared.json"
)
# The run item as the table returns it (placeholders of the golden file made real times).
_FIRST_LOAD = f"""
import json, re, time
started = time.perf_counter()
import {{module}}
from boto3.dynamodb.types import TypeDeserializer
from evalpipe.aws.runs_table import _plain
from evalpipe.run.model import Run
stored = json.load(open({str(GOLDEN_RUN)!r}))[-1]
raw = re.sub(r'"<[a-z_]+>"', '"2026-01-01T00:00:00+00:00"', json.dumps(stored))
item = {{{{key: TypeDeserializer().deserialize(value) for key, value in json.loads(raw).items()}}}}
Run.model_validate(_plain(item)).model_dump(mode="json")
print((time.perf_counter() - started) * 1000)
"""
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


def first_load_ms(module: str) -> float:
    """Wall time of importing ``module`` and loading one stored run, in a fresh interpreter, in ms."""
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_LOAD.format(module=module)],
        cwd=LAMBDAS,
        env={k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA"))},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def floor_ms() -> float:
    """Wall time of importing the libraries every handler needs, in a fresh interpreter, in ms."""
    code = (
        f"import time; started = time.perf_counter(); {FLOOR}; print((time.perf_counter() - started) * 1000)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=LAMBDAS, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def best(module: str, **env: str) -> dict[str, float]:
    times = [import_ms(module, **env) for _ in range(REPEATS)]
    return {"min_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1)}


def measure() -> dict[str, Any]:
    baseline = best("boto3")
    floor = round(min(floor_ms() for _ in range(REPEATS)), 1)
    rows = []
    for name in HANDLERS:
        off = best(f"handlers.{name}")
        on = best(f"handlers.{name}", POWERTOOLS_TRACE_DISABLED="false")
        first = round(min(first_load_ms(f"handlers.{name}") for _ in range(REPEATS)), 1)
        rows.append(
            {
                "handler": name,
                **off,
                "vs_import_boto3": round(off["min_ms"] / baseline["min_ms"], 2),
                "with_first_load_min_ms": first,
                "first_load_above_floor_ms": round(first - floor, 1),
                "xray_sdk_on_min_ms": on["min_ms"],
                "xray_sdk_adds_ms": round(on["min_ms"] - off["min_ms"], 1),
            }
        )
    return {
        "repeats": REPEATS,
        "timing": "python -X importtime, cumulative ms of the module, min (and median) of the repeats",
        "target_ms": TARGET_MS,
        "import_boto3_baseline": baseline,
        "library_floor_min_ms": floor,
        "library_floor": FLOOR,
        "handlers": rows,
    }


def print_table(results: dict[str, Any]) -> None:
    base = results["import_boto3_baseline"]
    print(
        f"\nhandler cold import (python -X importtime, min of {results['repeats']}; "
        f"baseline import boto3 = {base['min_ms']:.0f} ms)\n+1st load: wall ms of the import and loading one "
        f"stored run; library floor ({results['library_floor']}) {results['library_floor_min_ms']:.0f} ms"
    )
    header = (
        f"{'handler':<16} {'ms':>7} {'median':>7} {'x boto3':>8} {'+1st load':>10} {'> floor':>8} "
        f"{'X-Ray SDK on':>13} {'SDK adds':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in results["handlers"]:
        on, adds = row["xray_sdk_on_min_ms"], row["xray_sdk_adds_ms"]
        print(
            f"{row['handler']:<16} {row['min_ms']:>7.0f} {row['median_ms']:>7.0f} "
            f"{row['vs_import_boto3']:>8.2f} {row['with_first_load_min_ms']:>10.0f} "
            f"{row['first_load_above_floor_ms']:>8.0f} {on:>13.0f} {adds:>9.0f}"
        )
