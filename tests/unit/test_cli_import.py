"""`evalpipe import`: which jobs match a suite (the end-to-end run is tests/e2e/test_import.py)."""

from __future__ import annotations

import json
from pathlib import Path

from evalpipe.cli.import_ import config_mismatch
from evalpipe.suite import Suite

ROOT = Path(__file__).resolve().parents[2]


def suite(name: str) -> tuple[Suite, dict]:
    document = json.loads((ROOT / "examples/suites" / f"{name}.json").read_text(encoding="utf-8"))
    return Suite.from_document(name, document), document


def test_a_job_with_the_suites_configuration_matches() -> None:
    judge, document = suite("support-assistant")
    assert config_mismatch({"evaluationConfig": document["evaluationConfig"]}, judge) == ""


def test_a_job_of_another_kind_or_other_metrics_is_named_as_such() -> None:
    judge, document = suite("support-assistant")
    human, _ = suite("support-assistant-human")
    job = {"evaluationConfig": document["evaluationConfig"]}
    # Another kind of job
    assert config_mismatch(job, human) == "the job is an automated evaluation, the suite a human one"
    # A metric missing from the job, one the suite does not have
    edited = json.loads(json.dumps(document["evaluationConfig"]))
    names = edited["automated"]["datasetMetricConfigs"][0]["metricNames"]
    names.remove("Builtin.Helpfulness")
    names.append("Builtin.Harmfulness")
    assert config_mismatch({"evaluationConfig": edited}, judge) == (
        "the job has no Builtin.Helpfulness; the suite has no Builtin.Harmfulness"
    )
