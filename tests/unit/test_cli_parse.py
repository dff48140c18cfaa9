"""`evalpipe parse PATH --suite SUITE.json`: any job's output folder read as the pipeline reads it,
on what the emulator writes (the documented human layout, the reported RAG layout, model
evaluation), with the objects Bedrock leaves beside the results ignored (issue 12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evalpipe.cli import main
from local.bedrock_emulator.judges.offline import OfflineJudge
from local.bedrock_emulator.outputs import DictObjectStore, ModelEvaluationRunner

ROOT = Path(__file__).resolve().parents[2]


def example(name: str) -> tuple[Path, dict[str, Any], bytes]:
    suite_file = ROOT / "examples/suites" / f"{name}.json"
    dataset = (ROOT / "examples/datasets" / name / "sample.jsonl").read_bytes()
    return suite_file, json.loads(suite_file.read_text(encoding="utf-8")), dataset


def job_outputs(name: str, folder: Path) -> int:
    """Run the example suite's job in the emulator (offline judge) and write its whole output
    prefix to ``folder`` as ``aws s3 sync`` would; returns the dataset's line count."""
    _, suite, dataset = example(name)
    evaluation = copy.deepcopy(suite["evaluationConfig"])
    root = "human" if "human" in evaluation else "automated"
    evaluation[root]["datasetMetricConfigs"][0]["dataset"]["datasetLocation"] = {
        "s3Uri": "s3://data/in.jsonl"
    }
    request = {
        "jobName": f"{name}-job",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "evaluationConfig": evaluation,
        "inferenceConfig": copy.deepcopy(suite["inferenceConfig"]),
        "outputDataConfig": {"s3Uri": "s3://data/out/"},
    }
    if "applicationType" in suite:
        request["applicationType"] = suite["applicationType"]
    store = DictObjectStore({"data": {"in.jsonl": dataset}})
    ModelEvaluationRunner(store, "us-east-1", lambda region: OfflineJudge()).run(request["jobName"], request)
    for key, body in store.buckets["data"].items():
        if key.startswith("out/"):
            path = folder / key.removeprefix("out/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    return len([line for line in dataset.splitlines() if line.strip()])


def parse_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["parse", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_a_judge_jobs_folder_is_parsed_with_the_other_objects_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a synced output folder of a judge job (permission check and custom_metrics/*.json too)
    lines = job_outputs("support-assistant", tmp_path)
    assert list(tmp_path.rglob("custom_metrics/*.json")) and list(tmp_path.rglob("*permission-check"))
    suite_file, suite, _ = example("support-assistant")
    # When parsed with --json
    code, result = parse_json(capsys, str(tmp_path), "--suite", str(suite_file))
    # Then every record is read and every metric of the suite summarised, keyed by its name
    assert code == 0
    assert result["record_count"] == lines and result["output_files"] == 1
    listed = suite["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["metricNames"]
    assert set(result["metrics"]) == set(listed)
    for summary in result["metrics"].values():
        assert summary["scored"] + summary["na"] == lines
        assert summary["average"] is None or isinstance(summary["average"], float)
    assert result["verdict"] in ("PASSED", "LOW_SCORES")


def test_a_human_jobs_documented_layout_gives_scores_and_tallies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the emulator's human output (the documented layout) synced to a folder
    lines = job_outputs("support-assistant-human", tmp_path)
    [output] = list(tmp_path.rglob("*_output.jsonl"))
    assert output.relative_to(tmp_path).parts[2] == "datasets"  # <job>/<job-id>/datasets/...
    suite_file, _, _ = example("support-assistant-human")
    # When parsed
    code, result = parse_json(capsys, str(tmp_path), "--suite", str(suite_file))
    # Then both human metrics have a score per record, and the ratings are tallied as given
    assert code == 0
    assert {name: m["scored"] for name, m in result["metrics"].items()} == {"resolved": lines, "tone": lines}
    tallies = {h["metric"]: h for h in result["human_ratings"]}
    assert set(tallies) == {"resolved", "tone"}
    assert sum(tallies["tone"]["distribution"].values()) == lines and tallies["tone"]["workers"] == 1
    assert set(tallies["resolved"]["distribution"]) <= {"0", "1"}


def test_a_rag_jobs_reported_layout_is_parsed_per_turn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the emulator's precomputed RAG output (the reported inference_configs/0 layout)
    job_outputs("kb-assistant-rag", tmp_path)
    [output] = list(tmp_path.rglob("*_output.jsonl"))
    assert "/inference_configs/0/datasets/" in output.as_posix()
    suite_file, _, dataset = example("kb-assistant-rag")
    turns = sum(len(json.loads(line)["conversationTurns"]) for line in dataset.splitlines() if line.strip())
    # When parsed
    code, result = parse_json(capsys, str(tmp_path), "--suite", str(suite_file))
    # Then one record per conversation turn
    assert code == 0 and result["record_count"] == turns


def test_unreadable_outputs_exit_1_naming_file_and_line_and_the_report_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a human output file in a shape nothing can be read from, and the human suite
    folder = tmp_path / "out" / "job" / "id" / "datasets" / "d"
    folder.mkdir(parents=True)
    line = {"humanEvaluationResult": [{"humanAnswers": [{"answerContent": {"evaluationResults": {}}}]}]}
    (folder / "u_output.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    suite_file, _, _ = example("support-assistant-human")
    report = tmp_path / "report.html"
    # When parsed, with a report
    code = main(["parse", str(tmp_path / "out"), "--suite", str(suite_file), "--report", str(report)])
    out = capsys.readouterr().out
    # Then it exits 1 with the UNREADABLE verdict naming the file and line, and the report says so
    assert code == 1
    assert "Verdict: UNREADABLE" in out and "u_output.jsonl line 1" in out
    assert "UNREADABLE" in report.read_text(encoding="utf-8")


def test_usage_errors_exit_2_and_an_empty_folder_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file, _, _ = example("support-assistant")
    # A missing suite file or path is a usage error
    assert main(["parse", str(tmp_path), "--suite", str(tmp_path / "nope.json")]) == 2
    assert main(["parse", str(tmp_path / "nope"), "--suite", str(suite_file)]) == 2
    # A folder without *_output.jsonl cannot be read
    (tmp_path / "amazon-bedrock-evaluations-permission-check").write_bytes(b"")
    assert main(["parse", str(tmp_path), "--suite", str(suite_file)]) == 1
    assert "no *_output.jsonl" in capsys.readouterr().err
    # A line that is not JSON is named with its file and line
    (tmp_path / "x_output.jsonl").write_text('{"automatedEvaluationResult": {"scores": []}}\nnot json\n')
    assert main(["parse", str(tmp_path), "--suite", str(suite_file)]) == 1
    assert "x_output.jsonl line 2: not valid JSON" in capsys.readouterr().err
