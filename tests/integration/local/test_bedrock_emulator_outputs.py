"""What a completed (or failed) emulated job leaves in S3, read back through boto3 + moto."""

from __future__ import annotations

import json
import re

import pytest
from bedrock_emulator_support import RECORDS, SOURCE_ID, record

from local import bedrock_emulator

JOB = "demo-20250101-000000-abcdef12"
BASE = f"results/demo/{JOB}/{JOB}/{JOB}"
OUTPUT_KEY = re.compile(
    rf"{BASE}/(?P<run>[a-z0-9]{{12}})/models/{SOURCE_ID}/taskTypes/General/datasets/golden/"
    r"[0-9a-f-]{36}_output\.jsonl"
)
CUSTOM = {
    "name": "confirmation_check",
    "instructions": "Does the assistant ask before acting?\n\nPrompt: {{prompt}}\nResponse: {{prediction}}",
    "ratingScale": [
        {"definition": "N/A", "value": {"floatValue": -1}},
        {"definition": "Poor", "value": {"floatValue": 0}},
        {"definition": "Good", "value": {"floatValue": 1}},
    ],
}


def _complete(bedrock, job_request, **kwargs) -> dict:
    arn = bedrock.create_evaluation_job(**job_request(**kwargs))["jobArn"]
    return bedrock.get_evaluation_job(jobIdentifier=arn)


def test_completion_writes_the_documented_layout(bedrock, dataset, job_request, s3_results):
    # Given a dataset and a job with one custom metric
    dataset()

    # When the job completes
    job = _complete(
        bedrock, job_request, metrics=["Builtin.Helpfulness", "confirmation_check"], custom=[CUSTOM]
    )

    # Then the prefix holds the permission check, the custom metric definition and one output file
    assert job["status"] == "Completed"
    keys = s3_results.keys()
    (output,) = [k for k in keys if k.endswith("_output.jsonl")]
    run_id = OUTPUT_KEY.fullmatch(output).group("run")
    assert keys == sorted(
        [
            f"{BASE}/amazon-bedrock-evaluations-permission-check",
            f"{BASE}/{run_id}/custom_metrics/confirmation_check.json",
            output,
        ]
    )
    assert s3_results.body(f"{BASE}/amazon-bedrock-evaluations-permission-check") == b""
    definition = json.loads(s3_results.body(f"{BASE}/{run_id}/custom_metrics/confirmation_check.json"))
    assert definition == {"customMetricDefinition": CUSTOM}


def test_one_output_line_per_record_in_the_documented_format(bedrock, dataset, job_request, s3_results):
    # Given three records
    dataset()

    # When the job completes
    _complete(
        bedrock,
        job_request,
        metrics=["Builtin.Correctness", "Builtin.Refusal", "confirmation_check"],
        custom=[CUSTOM],
    )

    # Then each output line carries every metric's score and the input line unchanged
    (output,) = s3_results.outputs()
    lines = s3_results.lines(output)
    assert [line["inputRecord"] for line in lines] == RECORDS
    for line in lines:
        assert set(line) == {"automatedEvaluationResult", "inputRecord"}
        scores = line["automatedEvaluationResult"]["scores"]
        assert [s["metricName"] for s in scores] == [
            "Builtin.Correctness",
            "Builtin.Refusal",
            "confirmation_check",
        ]
        for score in scores:
            assert set(score) == {"metricName", "result", "evaluatorDetails"}
            assert score["result"] is None or isinstance(score["result"], int | float)
            ((detail),) = score["evaluatorDetails"]
            assert detail["modelIdentifier"] == "evalpipe-offline-judge"
            assert detail["explanation"]

    # And the offline judge's documented behaviour shows: reference overlap, N/A, refusal, and a
    # custom metric scored with a value of its own rating scale (N/A's -1 is never a score)
    by_metric = [
        {s["metricName"]: s["result"] for s in line["automatedEvaluationResult"]["scores"]} for line in lines
    ]
    assert (by_metric[0]["Builtin.Correctness"], by_metric[0]["Builtin.Refusal"]) == (1.0, 0.0)
    assert (by_metric[1]["Builtin.Correctness"], by_metric[1]["Builtin.Refusal"]) == (None, 1.0)
    assert all(scores["confirmation_check"] in (None, 0.0, 1.0) for scores in by_metric)
    assert by_metric[0]["confirmation_check"] == 1.0


def test_outputs_are_written_exactly_once(bedrock, dataset, job_request, s3_results):
    # Given a completed job
    dataset()
    arn = bedrock.create_evaluation_job(**job_request())["jobArn"]

    # When it is read and listed many times
    for _ in range(3):
        bedrock.get_evaluation_job(jobIdentifier=arn)
        bedrock.list_evaluation_jobs()

    # Then it ran once and wrote one output file
    (job,) = bedrock_emulator.backend_for("123456789012", "us-east-1").jobs()
    assert job.runs == 1
    assert len(s3_results.outputs()) == 1


def test_output_prefix_may_be_the_bucket_root(bedrock, dataset, job_request, s3_results):
    # Given an output URI without a prefix; When the job completes; Then the layout starts at the root
    dataset()
    _complete(bedrock, job_request, output_uri=f"s3://{s3_results.bucket}")
    assert f"{JOB}/{JOB}/amazon-bedrock-evaluations-permission-check" in s3_results.keys(prefix="")


def test_several_datasets_each_get_their_output_file(bedrock, dataset, job_request, s3_results):
    # Given two datasets in one job
    first = dataset()
    second = dataset(records=RECORDS[:1], key="datasets/demo/smoke.jsonl")
    request = job_request()
    configs = request["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    configs.append({**configs[0], "dataset": {"name": "smoke", "datasetLocation": {"s3Uri": second}}})
    assert configs[0]["dataset"]["datasetLocation"]["s3Uri"] == first

    # When it completes
    arn = bedrock.create_evaluation_job(**request)["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"

    # Then each dataset has its own folder and line count
    outputs = s3_results.outputs()
    counts = {k.split("/datasets/")[1].split("/")[0]: len(s3_results.lines(k)) for k in outputs}
    assert counts == {"golden": 3, "smoke": 1}


def _failure(bedrock, job_request, **kwargs) -> list[str]:
    job = _complete(bedrock, job_request, **kwargs)
    assert job["status"] == "Failed"
    return job["failureMessages"]


def test_missing_dataset_fails_the_job(bedrock, job_request, s3_results):
    # Given no dataset object; When the job runs; Then Failed, saying it could not read the dataset
    (message,) = _failure(
        bedrock, job_request, dataset_uri=f"s3://{s3_results.bucket}/datasets/demo/missing.jsonl"
    )
    assert "Unable to read the dataset golden" in message
    assert "NoSuchKey" in message
    assert not s3_results.outputs()


def test_missing_dataset_bucket_fails_the_job(bedrock, job_request):
    (message,) = _failure(bedrock, job_request, dataset_uri="s3://no-such-bucket-here/d.jsonl")
    assert "NoSuchBucket" in message


def test_missing_output_bucket_fails_the_job(bedrock, dataset, job_request):
    dataset()
    (message,) = _failure(bedrock, job_request, output_uri="s3://no-such-output-bucket/results/")
    assert "no-such-output-bucket does not exist" in message


def test_malformed_json_line_fails_the_job_with_its_line_number(bedrock, dataset, job_request):
    # Given a dataset whose second line is not JSON
    dataset(raw=json.dumps(RECORDS[0]) + "\n{not json\n")

    # When the job runs; Then Failed naming the line
    assert _failure(bedrock, job_request) == ["The dataset golden has a malformed JSON line at line 2."]


def test_identifier_mismatch_fails_the_job(bedrock, dataset, job_request):
    # Given a record whose modelIdentifier differs from the inferenceSourceIdentifier
    dataset(records=[RECORDS[0], record("hi", "hello", source_id="my-app-v2")])

    # When the job runs; Then Failed with a model mapping error
    (message,) = _failure(bedrock, job_request)
    assert message.startswith("Model mapping error in dataset golden line 2")
    assert "'my-app-v2'" in message
    assert f"'{SOURCE_ID}'" in message


def test_custom_metric_without_definition_fails_the_job(bedrock, dataset, job_request):
    # Given a metric name that is neither built-in nor defined (trap 2)
    dataset()

    # When the job runs; Then Failed naming the metric
    (message,) = _failure(bedrock, job_request, metrics=["Builtin.Helpfulness", "undefined_metric"])
    assert "undefined_metric" in message
    assert "customMetricConfig" in message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["evaluationConfig"]["automated"]["datasetMetricConfigs"][0].__setitem__(
                "metricNames", ["Builtin.Accuracy"]
            ),
            "must be a bedrockModel",  # classic metrics on precomputed responses
        ),
    ],
    ids=["classic-metric-precomputed"],
)
def test_jobs_the_emulator_cannot_run_fail_honestly(bedrock, dataset, job_request, mutate, expected):
    # Given a valid request of a kind the emulator does not emulate
    dataset()
    request = job_request()
    mutate(request)

    # When it runs; Then Failed saying so, rather than inventing results
    arn = bedrock.create_evaluation_job(**request)["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert expected in job["failureMessages"][0]


# -- live inference (inferenceConfig.models[0].bedrockModel) -----------------------------------

LIVE_MODEL = "amazon.nova-lite-v1:0"
PROVISIONED = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"


def _live(request: dict, model: str = LIVE_MODEL, params: str | None = None) -> dict:
    bedrock_model = {"modelIdentifier": model, **({"inferenceParams": params} if params is not None else {})}
    request["inferenceConfig"] = {"models": [{"bedrockModel": bedrock_model}]}
    return request


def _prompts() -> list[dict]:
    return [
        {
            "prompt": "Do you ship to Canada?",
            "referenceResponse": "Yes, in 5-8 business days.",
            "category": "shipping",
        },
        {"prompt": "User: hi\nAssistant: Hello!\nUser: How do I reset my password?"},
    ]


def test_a_live_job_generates_responses_and_writes_them_top_level(bedrock, dataset, job_request, s3_results):
    # Given prompt-only records and a job that runs a Bedrock model live
    records = _prompts()
    dataset(records)
    request = _live(
        job_request(metrics=["Builtin.Correctness", "Builtin.Helpfulness"]),
        params='{"inferenceConfig": {"maxTokens": 512}}',
    )

    # When the job runs
    arn = bedrock.create_evaluation_job(**request)["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)

    # Then it completes, under models/<model-id>/, with one line per record in input order
    assert job["status"] == "Completed"
    (output,) = s3_results.outputs()
    assert f"/models/{LIVE_MODEL}/taskTypes/General/datasets/golden/" in output
    lines = s3_results.lines(output)
    # And inputRecord is the input line unchanged; the generated response sits top-level beside it
    assert [line["inputRecord"] for line in lines] == records
    for line in lines:
        assert set(line) == {"automatedEvaluationResult", "inputRecord", "modelResponses"}
        ((response),) = line["modelResponses"]
        assert response["modelIdentifier"] == LIVE_MODEL
        for score in line["automatedEvaluationResult"]["scores"]:
            assert "offline emulator" in score["evaluatorDetails"][0]["explanation"]
    # And the offline model's answers are the documented templates
    assert lines[0]["modelResponses"][0]["response"] == "Thanks for reaching out. Yes, in 5-8 business days."
    assert lines[1]["modelResponses"][0]["response"].startswith(
        "Thanks for your question about 'How do I reset my password'."
    )


def test_a_live_model_arn_becomes_one_path_segment(bedrock, dataset, job_request, s3_results):
    # Given a provisioned model ARN (it holds a "/") / When the job runs
    dataset(_prompts())
    arn = bedrock.create_evaluation_job(**_live(job_request(), model=PROVISIONED))["jobArn"]
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Completed"
    # Then the model id is sanitized into a single key segment
    (output,) = s3_results.outputs()
    assert (
        "/models/arn:aws:bedrock:us-east-1:123456789012:provisioned-model_abcdef123456/taskTypes/" in output
    )


@pytest.mark.parametrize(
    ("records", "params", "expected"),
    [
        ([record("hi", "hello")], None, "remove modelResponses or use precomputedInferenceSource"),
        ([{"referenceResponse": "x"}], None, "'prompt' key is missing"),
        (_prompts(), "maxTokens=512", "inferenceParams"),
    ],
    ids=["responses-given", "no-prompt", "params-not-json"],
)
def test_live_jobs_the_service_would_reject_fail(bedrock, dataset, job_request, records, params, expected):
    # Given a live job with a dataset or parameters it cannot use / When it runs / Then Failed, saying why
    dataset(records)
    arn = bedrock.create_evaluation_job(**_live(job_request(), params=params))["jobArn"]
    job = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert expected in job["failureMessages"][0]
