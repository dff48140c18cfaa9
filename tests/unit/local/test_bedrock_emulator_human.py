"""The emulator on human jobs: completed after the job delay, FAKE deterministic worker ratings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from evalpipe.results import iter_output_records
from local.bedrock_emulator.backend import EmulatorControls, EvaluationJobBackend
from local.bedrock_emulator.human import FAKE_WORKER
from local.bedrock_emulator.outputs import DictObjectStore, ModelEvaluationRunner

ROOT = Path(__file__).resolve().parents[3]
SUITE = json.loads((ROOT / "examples/suites/support-assistant-human.json").read_text(encoding="utf-8"))
DATASET = (ROOT / "examples/datasets/support-assistant-human/sample.jsonl").read_bytes()


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def request(name: str = "human-job") -> dict[str, Any]:
    evaluation = copy.deepcopy(SUITE["evaluationConfig"])
    evaluation["human"]["datasetMetricConfigs"][0]["dataset"]["datasetLocation"] = {
        "s3Uri": "s3://data/h.jsonl"
    }
    return {
        "jobName": name,
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "evaluationConfig": evaluation,
        "inferenceConfig": copy.deepcopy(SUITE["inferenceConfig"]),
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }


def run(name: str = "human-job") -> tuple[DictObjectStore, str, str]:
    controls = EmulatorControls()
    controls.clock = clock = Clock()
    controls.set_delays(job_seconds=5, stop_seconds=1, delete_seconds=1)
    store = DictObjectStore({"data": {"h.jsonl": DATASET}})
    backend = EvaluationJobBackend(
        "123456789012", "us-east-1", ModelEvaluationRunner(store, "us-east-1"), controls
    )
    arn = backend.create_job(request(name))
    assert backend.get_job(arn).status == "InProgress"
    clock.now += 5
    job = backend.get_job(arn)
    (key,) = [k for k in store.buckets["data"] if k.endswith("_output.jsonl")]
    return store, job.status, key


def test_a_human_job_completes_after_the_delay_in_the_human_layout() -> None:
    _, status, key = run()
    assert status == "Completed"
    # the documented <prefix>/<job-name>/<job-id>/datasets/<dataset>/<uuid>_output.jsonl:
    # no models/ or taskTypes/ level, the job id being the ARN's last segment
    parts = key.split("/")
    assert parts[:2] == ["out", "human-job"] and parts[3:5] == ["datasets", "bookstore-support"]
    assert parts[2] != "human-job" and len(parts) == 6
    assert "/models/" not in key and "/taskTypes/" not in key


def test_the_fake_ratings_are_labelled_deterministic_and_parse_into_scores() -> None:
    store, _, key = run()
    body = store.buckets["data"][key]
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert len(lines) == len(DATASET.decode().splitlines())
    # the documented record: one human loop, its answers by worker, ratings by camelCase method
    (loop,) = lines[0]["humanEvaluationResult"]
    (answer,) = loop["humanAnswers"]
    assert answer["workerId"] == FAKE_WORKER and "fake" in loop["note"]
    results = answer["answerContent"]["evaluationResults"]
    assert set(results) == {"thumbsUpDown", "individualLikertScale"}
    assert isinstance(results["thumbsUpDown"][0]["result"], bool)
    assert results["thumbsUpDown"][0]["modelResponseId"] == "0" and "0" in loop["modelResponseIdMap"]
    # the same job name gives the same ratings
    again_store, _, again_key = run()
    assert again_store.buckets["data"][again_key] == body
    records = list(iter_output_records(body.splitlines()))
    for record in records:
        assert [s.metric for s in record.scores] == ["resolved", "tone"]
        assert all(s.score is not None and 0 <= s.score <= 1 for s in record.scores)
    assert {s.score for r in records for s in r.scores if s.metric == "resolved"} == {0.0, 1.0}
