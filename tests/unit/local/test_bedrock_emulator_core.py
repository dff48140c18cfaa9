"""The emulator without moto: request validation from botocore's model, the job lifecycle with a
fake clock and an in-memory S3, error responses in the REST-JSON format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.bedrock_emulator.backend import (
    ConflictError,
    EmulatorControls,
    EvaluationJobBackend,
    ResourceNotFoundError,
    ThrottlingError,
    ValidationError,
)
from local.bedrock_emulator.outputs import DictObjectStore, ModelEvaluationRunner, split_s3_uri
from local.bedrock_emulator.service import (
    ServiceRequest,
    check_create_rules,
    error_response,
    handle,
    validate_input,
)

ROLE = "arn:aws:iam::123456789012:role/r"
LINE = {
    "prompt": "Capital of France?",
    "referenceResponse": "Paris",
    "modelResponses": [{"response": "Paris.", "modelIdentifier": "app"}],
}


def request(name: str = "job-a", **extra: Any) -> dict[str, Any]:
    body = {
        "jobName": name,
        "roleArn": ROLE,
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {"name": "d", "datasetLocation": {"s3Uri": "s3://data-bucket/d.jsonl"}},
                        "metricNames": ["Builtin.Correctness"],
                    }
                ],
                "evaluatorModelConfig": {
                    "bedrockEvaluatorModels": [{"modelIdentifier": "amazon.nova-pro-v1:0"}]
                },
            }
        },
        "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "app"}}]},
        "outputDataConfig": {"s3Uri": "s3://data-bucket/out/"},
    }
    body.update(extra)
    return body


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup() -> tuple[EvaluationJobBackend, EmulatorControls, Clock, DictObjectStore]:
    controls = EmulatorControls()
    clock = Clock()
    controls.clock = clock
    controls.set_delays(job_seconds=5, stop_seconds=1, delete_seconds=1)
    store = DictObjectStore({"data-bucket": {"d.jsonl": (json.dumps(LINE) + "\n").encode()}})
    backend = EvaluationJobBackend(
        "123456789012", "us-east-1", ModelEvaluationRunner(store, "us-east-1"), controls
    )
    return backend, controls, clock, store


# -- validation -------------------------------------------------------------------------------


def test_a_valid_request_passes():
    validate_input("CreateEvaluationJob", request())
    check_create_rules(request())


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda r: r.update(jobName="x" * 64),
            "at 'jobName' failed to satisfy constraint: Member must have length less than or equal to 63",
        ),
        (
            lambda r: r.update(jobDescription=""),
            "at 'jobDescription' failed to satisfy constraint: Member must have length greater than or equal",
        ),
        (
            lambda r: r.update(clientRequestToken="-bad"),
            "at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression",
        ),
        (
            lambda r: r.update(roleArn="arn:aws:iam::123:user/x"),
            "Value 'arn:aws:iam::123:user/x' at 'roleArn'",
        ),
        (
            lambda r: r.update(applicationType="Chat"),
            "Member must satisfy enum value set: [ModelEvaluation, RagEvaluation]",
        ),
        (lambda r: r.update(jobTags=[{"key": "k", "value": "bad!value"}]), "at 'jobTags.1.member.value'"),
        (lambda r: r.update(outputDataConfig={"s3Uri": "https://bucket/x"}), "at 'outputDataConfig.s3Uri'"),
        (
            lambda r: r["inferenceConfig"].update(ragConfigs=[]),
            "Value at 'inferenceConfig' failed to satisfy constraint: "
            "Member must have exactly one member set "
            "(set: models, ragConfigs)",
        ),
        (
            lambda r: r["inferenceConfig"]["models"][0].update(
                bedrockModel={"modelIdentifier": "amazon.nova-lite-v1:0"}
            ),
            "exactly one member set (set: bedrockModel, precomputedInferenceSource)",
        ),
        (
            lambda r: r["evaluationConfig"].pop("automated"),
            "Value at 'evaluationConfig' failed to satisfy constraint: "
            "Member must have exactly one member set "
            "(set: none)",
        ),
        (lambda r: r.update(jobName=7), "Member must be a string"),
    ],
    ids=[
        "name-too-long",
        "empty-description",
        "token-pattern",
        "role-pattern",
        "enum",
        "tag-value",
        "s3-uri",
        "union-two",
        "nested-union",
        "union-none",
        "type",
    ],
)
def test_constraint_violations_are_reported(mutate, fragment):
    body = request()
    mutate(body)
    with pytest.raises(ValidationError) as error:
        validate_input("CreateEvaluationJob", body)
    assert fragment in error.value.message


def test_several_violations_are_counted_and_joined():
    body = request(jobName="Bad_Name")
    del body["roleArn"]
    with pytest.raises(ValidationError) as error:
        validate_input("CreateEvaluationJob", body)
    assert error.value.message.startswith("2 validation errors detected: ")
    assert (
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in error.value.message
    )


def test_evaluator_model_pattern_with_inner_anchors_accepts_real_ids():
    for model in ("amazon.nova-pro-v1:0", "us.anthropic.claude-3-5-sonnet-20241022-v2:0"):
        body = request()
        body["evaluationConfig"]["automated"]["evaluatorModelConfig"]["bedrockEvaluatorModels"][0][
            "modelIdentifier"
        ] = model
        validate_input("CreateEvaluationJob", body)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda r: r["inferenceConfig"]["models"].append(r["inferenceConfig"]["models"][0]),
            "exactly one model",
        ),
        (lambda r: r.update(applicationType="RagEvaluation"), "does not match inferenceConfig.models"),
    ],
)
def test_service_rules_beyond_the_shapes(mutate, fragment):
    body = request()
    mutate(body)
    with pytest.raises(ValidationError, match=fragment):
        check_create_rules(body)


# -- lifecycle --------------------------------------------------------------------------------


def test_job_completes_after_the_delay_and_writes_results(setup):
    backend, _, clock, store = setup
    arn = backend.create_job(request())
    assert backend.get_job(arn).status == "InProgress"
    clock.now += 5
    job = backend.get_job(arn)
    assert job.status == "Completed"
    outputs = [k for k in store.buckets["data-bucket"] if k.endswith("_output.jsonl")]
    assert len(outputs) == 1
    (line,) = [json.loads(x) for x in store.buckets["data-bucket"][outputs[0]].decode().splitlines()]
    assert line["inputRecord"] == LINE
    assert line["automatedEvaluationResult"]["scores"][0]["metricName"] == "Builtin.Correctness"


def test_a_job_can_finish_on_a_read_count_instead_of_the_clock(setup):
    # Given jobs that finish on their 2nd GetEvaluationJob, and a clock far past the delay
    backend, controls, clock, _ = setup
    controls.finish_jobs_on_read(2)
    arn = backend.create_job(request())
    clock.now += 3600
    # When it is listed (not a read) / Then it is still running
    assert [job.status for job in backend.list_jobs()[0]] == ["InProgress"]
    # When read once / Then still running; read twice / Then done, and it ran once
    assert backend.get_job(arn).status == "InProgress"
    job = backend.get_job(arn)
    assert (job.status, job.runs) == ("Completed", 1)
    # And a job created after the control is cleared follows the clock again
    controls.finish_jobs_on_read(None)
    later = backend.create_job(request("job-b"))
    clock.now += 5
    assert backend.get_job(later).status == "Completed"
    # And a read count below 1 is refused
    with pytest.raises(ValueError, match="at least 1"):
        controls.finish_jobs_on_read(0)


def test_stop_then_delete_lifecycle(setup):
    backend, _, clock, _ = setup
    arn = backend.create_job(request())
    backend.stop_job(arn)
    backend.stop_job(arn)  # stopping twice is a no-op
    assert backend.get_job(arn).status == "Stopping"
    deleted, errors = backend.batch_delete([arn])
    assert (deleted, errors[0]["code"]) == ([], "400")
    clock.now += 1
    assert backend.get_job(arn).status == "Stopped"
    assert backend.batch_delete([arn]) == ([{"jobIdentifier": arn, "jobStatus": "Deleting"}], [])
    clock.now += 1
    with pytest.raises(ResourceNotFoundError):
        backend.get_job(arn)
    assert backend.list_jobs() == ([], None)


def test_name_conflict_and_token_idempotency(setup):
    backend, *_ = setup
    arn = backend.create_job(request(clientRequestToken="tok-1"))
    assert backend.create_job(request(clientRequestToken="tok-1")) == arn
    with pytest.raises(ConflictError, match="already exists"):
        backend.create_job(request())
    with pytest.raises(ConflictError, match="client request token"):
        backend.create_job(request(name="job-b", clientRequestToken="tok-1"))


def test_failure_rules_and_injected_errors_are_consumed(setup):
    backend, controls, clock, _ = setup
    controls.fail_next_job(["nope"])
    failing = backend.create_job(request("job-x"))
    fine = backend.create_job(request("job-y"))
    clock.now += 5
    assert (backend.get_job(failing).status, backend.get_job(failing).failure_messages) == (
        "Failed",
        ["nope"],
    )
    assert backend.get_job(fine).status == "Completed"
    controls.throttle_next_creates(1)
    assert isinstance(controls.take_injected_error("CreateEvaluationJob"), ThrottlingError)
    assert controls.take_injected_error("CreateEvaluationJob") is None


def test_errors_leave_in_the_rest_json_format():
    response = error_response(ThrottlingError("slow down"))
    assert response.status == 429
    assert response.headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert json.loads(response.body) == {"message": "slow down"}
    assert error_response(ValidationError("x")).status == 400
    assert error_response(ResourceNotFoundError("x")).status == 404


def test_handle_parses_percent_encoded_identifiers(setup):
    backend, *_ = setup
    arn = backend.create_job(request())
    encoded = arn.replace(":", "%3A").replace("/", "%2F")
    answer = handle(
        ServiceRequest(
            "GetEvaluationJob", f"/evaluation-jobs/{encoded}", {}, None, "us-east-1", "123456789012"
        ),
        lambda account, region: backend,
    )
    assert answer.status == 200
    assert json.loads(answer.body)["jobArn"] == arn


def test_split_s3_uri():
    assert split_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert split_s3_uri("s3://bucket") == ("bucket", "")
