"""The stored items are a contract: every kind of run leaves exactly the items recorded in golden/.

Each scenario runs the synthesized state machine in moto (handlers in-process, Bedrock emulated)
and reads the runs table with the low-level client, so the golden files hold the wire format
(``S`` / ``N`` / ``M`` / ``L`` / ``NULL``): a refactoring that renamed an attribute, dropped one or
stored a number as a string fails here. Values that differ between two runs of the same scenario
(times, ids, ARNs) are masked by attribute name; everything else is compared exactly.

Re-record after a deliberate change of the stored items (and say so in docs/design.md):
``EVALPIPE_RECORD_GOLDEN=1 pytest tests/integration/workflow/test_stored_items.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
import pytest

from evalpipe.run.triggers import TriggerKind, run_request_event
from infra.application import synthesize
from local import bedrock_emulator
from local.bedrock_emulator.knowledge_bases import Document, KnowledgeBase, read_folder
from local.demo import KNOWLEDGE_BASES_DIR, LOCAL_INFERENCE_MODELS, LOCAL_KNOWLEDGE_BASES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).parent / "golden"
RECORD = os.environ.get("EVALPIPE_RECORD_GOLDEN") == "1"

MASKED = {
    "created_at", "updated_at", "submitted_at", "deadline", "finished_at", "notified_at", "polled_at",
    "job_finished_at", "event_time", "time", "baseline_created_at", "notification_id", "job_arn",
    "version_id", "etag", "request_id", "gsi1sk", "client_token",
}  # fmt: skip
RUN_ID = re.compile(r"[a-z0-9-]+-\d{8}-\d{6}-[0-9a-f]{8}")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The template with the local mode's live models and knowledge bases (every job kind runs)."""
    context = {
        "aws:cdk:bundling-stacks": [],
        "inferenceModels": LOCAL_INFERENCE_MODELS,
        "knowledgeBases": LOCAL_KNOWLEDGE_BASES,
    }
    return synthesize(context, outdir=str(tmp_path_factory.mktemp("cdk")))


def _suite(name: str) -> dict:
    return json.loads((ROOT / "examples" / "suites" / f"{name}.json").read_text())


def _dataset(name: str) -> bytes:
    return (ROOT / "examples" / "datasets" / name / "sample.jsonl").read_bytes()


def _mask(value: object, key: str = "") -> object:
    """The wire-format value with run-dependent parts replaced by placeholders."""
    if isinstance(value, dict):
        if key in MASKED and len(value) == 1:
            [(kind, _)] = value.items()
            return {kind: f"<{key}>"}
        return {
            k: _mask(v, k if len(value) > 1 or k not in ("S", "N", "M", "L") else key)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str):
        return RUN_ID.sub("<run_id>", value)
    return value


def _skeleton(value: object) -> object:
    """The wire-format value with its structure kept and its leaves replaced by their type."""
    if isinstance(value, dict):
        if len(value) == 1:
            [(kind, inner)] = value.items()
            if kind == "M":
                return {"M": {k: _skeleton(v) for k, v in inner.items()}}
            if kind == "L":
                return {"L": "<list>"}
            return {kind: f"<{kind}>"}
        return {k: _skeleton(v) for k, v in value.items()}
    return value


def _stored_items(pipeline, varying: frozenset[str] = frozenset()) -> list[dict]:
    client = boto3.client("dynamodb", region_name=pipeline.region)
    items = []
    for page in client.get_paginator("scan").paginate(TableName=pipeline.table_name):
        items.extend(page["Items"])
    items.sort(
        key=lambda item: (item["gsi1pk"]["S"] if "gsi1pk" in item else "", item["pk"]["S"], item["sk"]["S"])
    )
    masked = [_mask(item) for item in items]
    return [{k: _skeleton(v) if k in varying else v for k, v in item.items()} for item in masked]


def _check(name: str, pipeline, varying: frozenset[str] = frozenset()) -> None:
    items = _stored_items(pipeline, varying)
    path = GOLDEN / f"{name}.json"
    if RECORD:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(items, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    differences = list(_differences(expected, items))
    assert not differences, f"the stored items of {name} changed (module docstring):\n" + "\n".join(
        differences[:20]
    )


def _differences(expected: object, actual: object, path: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}.{k}: missing" for k in expected.keys() - actual.keys()]
        found += [f"{path}.{k}: unexpected" for k in actual.keys() - expected.keys()]
        for key in sorted(expected.keys() & actual.keys()):
            found += _differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in _differences(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"[:300]]


def _drop(pipeline, suite: str, dataset: bytes, key: str | None = None):
    pipeline.upload_suite(suite, _suite(suite))
    result = pipeline.run(pipeline.drop_dataset(key or f"datasets/{suite}/sample.jsonl", dataset))
    return result


def test_a_completed_run_then_a_compared_one(deploy):
    # Given the example suite, a first run, then a second where two answers got worse
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    dataset = _dataset("support-assistant")
    assert _drop(pipeline, "support-assistant", dataset).status == "SUCCEEDED"
    lines = [json.loads(line) for line in dataset.splitlines()]
    for line in lines[:2]:
        line["modelResponses"][0]["response"] = "I cannot help with that."
    worse = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    assert (
        _drop(pipeline, "support-assistant", worse, "datasets/support-assistant/second.jsonl").status
        == "SUCCEEDED"
    )
    # Then both runs and their records are stored exactly as recorded
    _check("judge_completed_and_compared", pipeline)


def test_a_rejected_run(deploy):
    pipeline = deploy()
    lines = _dataset("support-assistant").splitlines()
    broken = json.loads(lines[1])
    del broken["modelResponses"]
    dataset = b"\n".join([lines[0], json.dumps(broken).encode(), *lines[2:]]) + b"\n"
    assert _drop(pipeline, "support-assistant", dataset).status == "SUCCEEDED"
    _check("rejected", pipeline)


def test_a_failed_job(deploy):
    pipeline = deploy()
    # Seen running at the first poll, failed at the second, however loaded the machine is
    bedrock_emulator.controls.finish_jobs_on_read(2)
    bedrock_emulator.controls.fail_next_job(["Model mapping error: identifier mismatch on line 3"])
    assert _drop(pipeline, "support-assistant", _dataset("support-assistant")).status == "SUCCEEDED"
    _check("failed", pipeline)


def test_a_timed_out_job(deploy):
    pipeline = deploy(JOB_TIMEOUT_SECONDS="1")
    bedrock_emulator.controls.set_delays(job_seconds=60, stop_seconds=1)
    assert _drop(pipeline, "support-assistant", _dataset("support-assistant")).status == "SUCCEEDED"
    _check("timed_out", pipeline)


def test_a_pipeline_error(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.inject_error("CreateEvaluationJob", "AccessDeniedException", count=1)
    assert _drop(pipeline, "support-assistant", _dataset("support-assistant")).status == "FAILED"
    _check("error", pipeline)


def test_a_human_job(deploy):
    pipeline = deploy(HUMAN_POLL_MIN_SECONDS="1", HUMAN_POLL_MAX_SECONDS="1")
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    result = _drop(pipeline, "support-assistant-human", _dataset("support-assistant-human"))
    assert result.status == "SUCCEEDED", result.describe()
    # The emulator's fake ratings hash the job name, which hashes the object's version id: the
    # scores and what derives from them differ between runs, their structure does not.
    _check(
        "human",
        pipeline,
        frozenset({"scores", "metrics", "low_records", "categories", "verdict", "comparison"}),
    )


def test_a_precomputed_rag_job(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    result = _drop(pipeline, "kb-assistant-rag", _dataset("kb-assistant-rag"))
    assert result.status == "SUCCEEDED", result.describe()
    _check("rag_precomputed", pipeline)


def test_a_classic_job(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    result = _drop(pipeline, "support-assistant-classic", _dataset("support-assistant-classic"))
    assert result.status == "SUCCEEDED", result.describe()
    _check("classic", pipeline)


def test_a_requested_run_of_builtin_datasets(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    pipeline.upload_suite("qa-builtin-weekly", _suite("qa-builtin-weekly"))
    event = run_request_event(
        "qa-builtin-weekly", TriggerKind.SCHEDULE, request_id="golden-1", time="2026-03-02T06:00:00Z"
    )
    result = pipeline.run(event)
    assert result.status == "SUCCEEDED", result.describe()
    _check("requested_builtin", pipeline)


def test_a_live_inference_job(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    result = _drop(pipeline, "support-assistant-live", _dataset("support-assistant-live"))
    assert result.status == "SUCCEEDED", result.describe()
    _check("live_inference", pipeline)


def test_a_live_knowledge_base_job(deploy):
    pipeline = deploy()
    bedrock_emulator.controls.set_delays(job_seconds=0, stop_seconds=0)
    for kb in LOCAL_KNOWLEDGE_BASES:
        documents: list[Document] = read_folder(KNOWLEDGE_BASES_DIR / kb)
        registry = bedrock_emulator.knowledge_bases_for("123456789012", pipeline.region)
        registry.register(KnowledgeBase.from_documents(kb, documents))
    result = _drop(pipeline, "kb-assistant-live", _dataset("kb-assistant-live"))
    assert result.status == "SUCCEEDED", result.describe()
    _check("rag_live", pipeline)
