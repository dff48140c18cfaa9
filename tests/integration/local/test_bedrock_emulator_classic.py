"""Classic automated jobs through the emulated Bedrock API (boto3 under ``mock_aws()``): built-in
datasets without a location, one output file per ``datasetMetricConfigs`` entry, and the parser
reading them back."""

from __future__ import annotations

from typing import Any

from bedrock_emulator_support import ROLE_ARN

from evalpipe.dataset import iter_raw_lines
from evalpipe.history.keys import key_of_record
from evalpipe.results import Aggregator, iter_output_records
from evalpipe.suite import Suite
from local.bedrock_emulator.builtin_datasets import builtin_records

MODEL = "amazon.nova-lite-v1:0"
QNA_METRICS = ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"]
ENTRIES = [
    {"taskType": "QuestionAndAnswer", "dataset": {"name": "Builtin.BoolQ"}, "metricNames": QNA_METRICS},
    {"taskType": "QuestionAndAnswer", "dataset": {"name": "Builtin.TriviaQA"}, "metricNames": QNA_METRICS},
    {
        "taskType": "Generation",
        "dataset": {"name": "Builtin.RealToxicityPrompts"},
        "metricNames": ["Builtin.Toxicity"],
    },
]


def builtin_job(bucket: str, name: str = "classic-builtin-1") -> dict[str, Any]:
    return {
        "jobName": name,
        "roleArn": ROLE_ARN,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {"automated": {"datasetMetricConfigs": ENTRIES}},
        "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": MODEL}}]},
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/results/qa/{name}/"},
    }


def suite() -> Suite:
    return Suite.from_document(
        "qa",
        {
            "evaluationConfig": {"automated": {"datasetMetricConfigs": ENTRIES}},
            "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": MODEL}}]},
        },
    )


def test_a_builtin_dataset_job_writes_one_output_file_per_entry(bedrock, bucket, s3_results) -> None:
    # Given a CreateEvaluationJob naming three built-in datasets and no location
    arn = bedrock.create_evaluation_job(**builtin_job(bucket))["jobArn"]

    # When the job is read after its delay
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it completed without an evaluator, and wrote one file per entry in the classic layout
    assert job["status"] == "Completed", job.get("failureMessages")
    assert "evaluatorModelConfig" not in job["evaluationConfig"]["automated"]
    outputs = s3_results.outputs("results/qa/")
    assert len(outputs) == len(ENTRIES)
    for entry in ENTRIES:
        name, task = entry["dataset"]["name"], entry["taskType"]
        [key] = [k for k in outputs if f"/datasets/{name}/" in k]
        assert f"/models/{MODEL}/taskTypes/{task}/datasets/{name}/" in key
        lines = s3_results.lines(key)
        assert len(lines) == len(builtin_records(name))
        # And each line carries bare metric names and the generated response beside the input
        assert [s["metricName"] for s in lines[0]["automatedEvaluationResult"]["scores"]] == [
            m.removeprefix("Builtin.") for m in entry["metricNames"]
        ]
        assert lines[0]["modelResponses"][0]["modelIdentifier"] == MODEL
        assert lines[0]["inputRecord"] == builtin_records(name)[0]


def test_the_parser_reads_the_files_back_per_dataset(bedrock, bucket, s3_results, s3_client) -> None:
    # Given a completed built-in dataset job
    arn = bedrock.create_evaluation_job(**builtin_job(bucket, "classic-builtin-2"))["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    the_suite = suite()

    # When every output file is parsed as the parse step does (listed, in key order, one index)
    aggregator = Aggregator(the_suite.low_rule)
    records = []
    for key in s3_results.outputs("results/qa/"):
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks()
        parsed = iter_output_records(
            iter_raw_lines(body),
            start_index=len(records),
            source=key,
            metric_names=the_suite.listed_metric_names,
        )
        for record in parsed:
            aggregator.add(record)
            records.append(record)
    summary = aggregator.summary()

    # Then names are the suite's, every record knows its dataset, keys never collide across datasets
    assert set(summary.metrics) == {"Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"}
    assert {r.dataset for r in records} == {e["dataset"]["name"] for e in ENTRIES}
    assert len({key_of_record(r) for r in records}) == len(records)
    # And the summary keeps each dataset's averages, Toxicity only where it was measured
    assert set(summary.datasets) == {"Builtin.BoolQ", "Builtin.TriviaQA", "Builtin.RealToxicityPrompts"}
    assert set(summary.datasets["Builtin.RealToxicityPrompts"]) == {"Builtin.Toxicity"}
    # And the provocative synthetic prompt is flagged as toxic (lower is better)
    assert any(low.metric == "Builtin.Toxicity" for low in summary.low_records)
    assert summary.metrics["Builtin.Robustness"].rule == "> 20"


def test_a_repeated_job_scores_the_same(bedrock, bucket, s3_results) -> None:
    # Given the same built-in job run twice under two names
    for name in ("classic-repeat-a", "classic-repeat-b"):
        arn = bedrock.create_evaluation_job(**builtin_job(bucket, name))["jobArn"]
        assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"

    # When their outputs are compared dataset by dataset / Then the lines are identical
    def lines_of(name: str) -> dict[str, list[dict[str, Any]]]:
        keys = s3_results.outputs(f"results/qa/{name}/")
        return {key.split("/datasets/")[1].split("/")[0]: s3_results.lines(key) for key in keys}

    assert lines_of("classic-repeat-a") == lines_of("classic-repeat-b")
