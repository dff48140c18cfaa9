"""Collect step: play one batch of a run's scenarios against the suite's ``pipeline.collect`` target.

Validate planned the batches (``run.collection``, `evalpipe.collect.plan`) and copied the scenarios
under the run's inputs; the state machine maps over the batches, a few at a time. A batch is played
with the same `evalpipe.collect.collect` and record check as ``evalpipe collect --suite``, and
written whole to
``inputs/<suite>/<run_id>/collected/batch-NNNN.jsonl`` (records in scenario order) beside its
metadata (``.meta.jsonl``: one line per record, one per failed scenario). Nothing is written to the
run item here (batches run in parallel): Validate's ``collected`` entry reads the batches back,
records the failures and validates the dataset. A rerun of a batch overwrites the same two objects.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

from evalpipe.collect import (
    BedrockTarget,
    CollectOptions,
    HttpTarget,
    LambdaTarget,
    Outcome,
    RecordCheck,
    adapter_for,
    collect,
    load_scenarios,
    secret_headers,
)
from evalpipe.collect.plan import batch_of
from evalpipe.collect.records import failure_meta
from evalpipe.collect.scenarios import MAX_SCENARIOS_BYTES

# Stop collecting this long before the function's timeout: time to write the batch's two objects.
WRITE_MARGIN_SECONDS = 30
OUT_OF_TIME = (
    "not collected: the batch ran out of time (the collect function's timeout); a smaller "
    "pipeline.collect.batchSize or a shorter target timeoutSeconds leaves each batch more room"
)

if TYPE_CHECKING:
    from evalpipe.collect import Target, TargetConfig
    from evalpipe.ports import CollectPorts


def collect_batch(run_id: str, batch: int, ports: CollectPorts, seconds_left: float | None = None) -> dict:
    """Collect batch ``batch`` (1-based) of run ``run_id``'s scenarios.

    Parameters
    ----------
    seconds_left
        The invocation's time left (the function's timeout). The collection stops
        `WRITE_MARGIN_SECONDS` before it (a tenth of it when that is less): the scenarios played
        are written, the others are failures that say why, so a slow target costs the scenarios it
        did not answer, not the batch.

    Returns
    -------
    dict
        ``{run_id, batch, scenarios, records, failed}``.
    """
    run = ports.runs.load(run_id)
    collection = run.collection
    if collection is None or not 1 <= batch <= collection.batches:
        raise LookupError(f"run {run_id} has no collection batch {batch}")
    suite = run.validated_suite()
    settings = suite.pipeline.collect
    if settings is None:
        raise LookupError(f"run {run_id}'s suite has no pipeline.collect")
    scenarios = load_scenarios(
        ports.objects.read_bytes(collection.input_key, max_bytes=MAX_SCENARIOS_BYTES), collection.input_key
    )
    chunk = batch_of(scenarios, collection, batch)
    dataset_key = f"{collection.prefix}{collection.dataset_name}.jsonl"
    options = CollectOptions(
        identifier=suite.inference_source_identifier or settings.target.identifier,
        strip_tags=settings.tags,
        each_turn=settings.each_turn,
        concurrency=ports.settings.collect_threads,
    )
    sink = _BatchSink()
    deadline = None
    if seconds_left is not None:  # (a tenth of a short timeout: a test's or a small function's)
        deadline = time.monotonic() + seconds_left - min(WRITE_MARGIN_SECONDS, seconds_left / 10)
    summary = collect(
        chunk,
        _target(settings.target, ports),
        sink,
        options,
        RecordCheck(json.loads(run.suite_document or "{}"), dataset_key),
        deadline=deadline,
    )
    unplayed = OUT_OF_TIME if summary.timed_out else "not played"
    lines, metas = sink.in_order([scenario.id for scenario in chunk], unplayed)
    ports.objects.put_bytes(collection.batch_key(batch), lines, content_type="application/jsonl")
    ports.objects.put_bytes(
        collection.batch_key(batch, ".meta.jsonl"), metas, content_type="application/jsonl"
    )
    return {
        "run_id": run_id,
        "batch": batch,
        "scenarios": len(chunk),
        "records": summary.records,
        "failed": len(chunk) - len(summary.written),  # failed, or not played before the deadline
    }


def _target(config: TargetConfig, ports: CollectPorts) -> Target:
    """The adapter of the suite's target, on the one client it needs."""
    if isinstance(config, BedrockTarget):
        return adapter_for(config, bedrock_runtime=ports.bedrock_runtime())
    if isinstance(config, HttpTarget):
        return adapter_for(config, http=ports.http(), headers=secret_headers(config, ports.secret_string))
    if isinstance(config, LambdaTarget):
        return adapter_for(config, lambda_client=ports.lambda_client())
    raise TypeError(f"not a collection target: {config!r}")


class _BatchSink:
    """Keeps each scenario's outcome; the batch is written whole, in scenario order, at the end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, Outcome] = {}

    def write(self, outcome: Outcome) -> bool:
        with self._lock:
            self._outcomes[outcome.scenario_id] = outcome
        return True

    def seal(self) -> None:
        """Nothing to seal: nothing is written before the end."""

    def in_order(self, scenario_ids: list[str], unplayed: str) -> tuple[bytes, bytes]:
        """The dataset lines and the metadata lines of the scenarios, in their order; a scenario
        without an outcome failed for ``unplayed``."""
        lines: list[str] = []
        metas: list[str] = []
        for scenario_id in scenario_ids:
            outcome = self._outcomes.get(scenario_id) or Outcome(scenario_id, error=unplayed)
            lines.extend(line.text for line in outcome.lines)
            entries = [line.meta for line in outcome.lines] or [
                failure_meta(scenario_id, outcome.error or "failed")
            ]
            metas.extend(json.dumps(meta, ensure_ascii=False) for meta in entries)
        return _text(lines), _text(metas)


def _text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")
