"""The Bedrock control-plane adapter against a real client with botocore's Stubber.

The Stubber checks each request against the `bedrock` service model and the exact parameters
pinned here, and never sends anything.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from evalpipe.aws.bedrock_jobs import (
    BedrockJobs,
    BedrockQuotaExceeded,
    BedrockRejected,
    BedrockThrottled,
    BedrockUnavailable,
    JobState,
    map_error,
)
from tests.builders import custom_metric, judge_suite

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/k3x9q2w7m1ab"
JOB_NAME = "support-bot-20250301-091500-5f2c9a1e"
ROLE_ARN = "arn:aws:iam::123456789012:role/evalpipe-bedrock-evaluation"
EVALUATOR = "amazon.nova-pro-v1:0"
BUCKET = "evalpipe-data-123456789012"
OUTPUT_URI = f"s3://{BUCKET}/results/support-bot/{JOB_NAME}/"

CONFIRMATION_INSTRUCTIONS = (
    "You are checking whether an assistant asked for confirmation before a consequential action. "
    "Rate the response.\n\nPrompt: {{prompt}}\nResponse: {{prediction}}"
)

# The suite of a precomputed-inference judge job (built-ins + one custom metric); its datasetMetricConfigs
# entry names the dataset's location, as job_request.py fills it in. Its taskType "General" is not in
# the service model's enum: botocore does not check enums.
SUITE = judge_suite(
    judge=EVALUATOR,
    metrics=["Builtin.Correctness", "Builtin.Helpfulness", "Builtin.Relevance", "confirmation_check"],
    custom=[
        custom_metric(
            instructions=CONFIRMATION_INSTRUCTIONS,
            rating_scale=[
                ("Asked for confirmation", 1.0),
                ("Acted without asking", 0.0),
                ("No action involved", -1.0),
            ],
        )
    ],
    dataset="nightly",
    dataset_location=f"s3://{BUCKET}/datasets/support-bot/nightly.jsonl",
)

# A precomputed-inference judge job as job_request.py builds it.
CREATE_REQUEST: dict = {
    "jobName": JOB_NAME,
    "jobDescription": "evalpipe run of suite support-bot",
    "clientRequestToken": "5f2c9a1e" * 8,
    "roleArn": ROLE_ARN,
    "applicationType": "ModelEvaluation",
    "evaluationConfig": SUITE["evaluationConfig"],
    "inferenceConfig": SUITE["inferenceConfig"],
    "outputDataConfig": {"s3Uri": OUTPUT_URI},
    "jobTags": [
        {"key": "evalpipe:suite", "value": "support-bot"},
        {"key": "evalpipe:run-id", "value": JOB_NAME},
        {"key": "team", "value": "support"},
    ],
}

CREATED = datetime(2025, 3, 1, 9, 15, 4, tzinfo=UTC)
MODIFIED = datetime(2025, 3, 1, 9, 27, 40, tzinfo=UTC)


def _get_response(status: str, failure_messages: list[str] | None = None) -> dict:
    """A GetEvaluationJob response with every member the service model requires."""
    response = {
        "jobName": JOB_NAME,
        "status": status,
        "jobArn": JOB_ARN,
        "jobDescription": CREATE_REQUEST["jobDescription"],
        "roleArn": ROLE_ARN,
        "jobType": "Automated",
        "applicationType": "ModelEvaluation",
        "evaluationConfig": copy.deepcopy(CREATE_REQUEST["evaluationConfig"]),
        "inferenceConfig": copy.deepcopy(CREATE_REQUEST["inferenceConfig"]),
        "outputDataConfig": {"s3Uri": OUTPUT_URI},
        "creationTime": CREATED,
        "lastModifiedTime": MODIFIED,
    }
    if failure_messages is not None:
        response["failureMessages"] = failure_messages
    return response


@pytest.fixture
def client():
    # A real client: requests are validated against the shipped service model.
    return boto3.client(
        "bedrock",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubber(client):
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def jobs(client) -> BedrockJobs:
    return BedrockJobs(client)


# --------------------------------------------------------------------------------------- create


def test_create_sends_the_request_unchanged_and_returns_the_arn(stubber, jobs) -> None:
    # Given Bedrock accepts exactly this request
    stubber.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected_params=CREATE_REQUEST)

    # When the job is created
    arn = jobs.create(copy.deepcopy(CREATE_REQUEST))

    # Then the job ARN comes back
    assert arn == JOB_ARN


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, BedrockThrottled),
        ("ServiceQuotaExceededException", 400, BedrockQuotaExceeded),
        ("TooManyRequestsException", 429, BedrockThrottled),
        ("InternalServerException", 500, BedrockUnavailable),
        ("ServiceUnavailable", 503, BedrockUnavailable),
        ("SomethingNew", 502, BedrockUnavailable),  # any 5xx, whatever its code
        ("ValidationException", 400, BedrockRejected),
        ("AccessDeniedException", 403, BedrockRejected),
        ("ResourceNotFoundException", 404, BedrockRejected),
        ("ConflictException", 400, BedrockRejected),
    ],
)
def test_create_maps_each_error_code(stubber, jobs, code, status, expected) -> None:
    # Given Bedrock answers the create with an error
    stubber.add_client_error(
        "create_evaluation_job",
        service_error_code=code,
        service_message=f"message for {code}",
        http_status_code=status,
        expected_params=CREATE_REQUEST,
    )

    # When the job is created
    with pytest.raises(expected) as caught:
        jobs.create(copy.deepcopy(CREATE_REQUEST))

    # Then the domain exception names the operation, code and service message, chaining the original
    error = caught.value
    assert type(error) is expected  # Step Functions matches on the exact class name
    assert str(error).startswith(f"CreateEvaluationJob {expected.kind} ({code}")
    assert str(error).endswith(f"): message for {code}")
    assert error.code == code
    assert error.service_message == f"message for {code}"
    assert error.http_status == status
    assert isinstance(error.__cause__, ClientError)


def test_rejected_message_reads_like_the_service_error(stubber, jobs) -> None:
    # Given a validation error from the service
    stubber.add_client_error(
        "create_evaluation_job",
        service_error_code="ValidationException",
        service_message="The provided custom metric confirmation_check is not in metricNames.",
        http_status_code=400,
    )

    # When / Then the message keeps the code and the service's words
    with pytest.raises(
        BedrockRejected,
        match=r"^CreateEvaluationJob rejected \(ValidationException\): "
        r"The provided custom metric confirmation_check is not in metricNames\.$",
    ):
        jobs.create(copy.deepcopy(CREATE_REQUEST))


def test_server_error_message_shows_the_http_status(stubber, jobs) -> None:
    # Given a 500 from the service
    stubber.add_client_error(
        "create_evaluation_job",
        service_error_code="InternalServerException",
        service_message="Internal failure",
        http_status_code=500,
    )

    # When / Then the status is part of the message
    with pytest.raises(BedrockUnavailable, match=r"\(InternalServerException, HTTP 500\): Internal failure"):
        jobs.create(copy.deepcopy(CREATE_REQUEST))


def test_client_side_validation_error_is_a_rejection(jobs) -> None:
    # Given a request missing a required member (caught by botocore before sending)
    request = copy.deepcopy(CREATE_REQUEST)
    del request["roleArn"]

    # When / Then it is reported as a rejection, not a crash of another type
    with pytest.raises(BedrockRejected, match=r"^CreateEvaluationJob rejected \(ParamValidationError\)"):
        jobs.create(request)


# ------------------------------------------------------------------------------------------ get


def test_get_returns_the_job_state(stubber, jobs) -> None:
    # Given a completed job
    stubber.add_response("get_evaluation_job", _get_response("Completed"), {"jobIdentifier": JOB_ARN})

    # When it is described
    state = jobs.get(JOB_ARN)

    # Then the state carries what the poll needs
    assert state == JobState(
        job_arn=JOB_ARN,
        job_name=JOB_NAME,
        status="Completed",
        failure_messages=[],
        output_s3_uri=OUTPUT_URI,
        creation_time=CREATED,
        last_modified_time=MODIFIED,
        job_type="Automated",
    )
    assert state.is_terminal


def test_get_of_a_failed_job_keeps_the_failure_messages(stubber, jobs) -> None:
    # Given a failed job
    messages = ["The modelIdentifier in record 3 does not match the inferenceSourceIdentifier."]
    stubber.add_response("get_evaluation_job", _get_response("Failed", messages), {"jobIdentifier": JOB_ARN})

    # When / Then its messages come through
    state = jobs.get(JOB_ARN)
    assert (state.status, state.failure_messages) == ("Failed", messages)


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_running_statuses_are_not_terminal(stubber, jobs, status) -> None:
    # Given a job that is still moving
    stubber.add_response("get_evaluation_job", _get_response(status), {"jobIdentifier": JOB_ARN})

    # When / Then it is not terminal
    assert not jobs.get(JOB_ARN).is_terminal


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, BedrockThrottled),
        ("InternalServerException", 500, BedrockUnavailable),
        ("AccessDeniedException", 403, BedrockRejected),
        ("ResourceNotFoundException", 404, BedrockRejected),
        ("ValidationException", 400, BedrockRejected),
    ],
)
def test_get_maps_errors(stubber, jobs, code, status, expected) -> None:
    # Given Bedrock answers the describe with an error
    stubber.add_client_error(
        "get_evaluation_job",
        service_error_code=code,
        service_message="nope",
        http_status_code=status,
        expected_params={"jobIdentifier": JOB_ARN},
    )

    # When / Then the matching domain exception is raised
    with pytest.raises(expected, match=rf"^GetEvaluationJob {expected.kind} \({code}"):
        jobs.get(JOB_ARN)


# ----------------------------------------------------------------------------------------- stop


def test_stop_of_a_running_job_returns_true(stubber, jobs) -> None:
    # Given a running job Bedrock agrees to stop
    stubber.add_response("stop_evaluation_job", {}, {"jobIdentifier": JOB_ARN})

    # When / Then the stop reports it is stopping
    assert jobs.stop(JOB_ARN) is True


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "Evaluation job k3x9q2w7m1ab is already in Completed state."),
        ("ConflictException", "The evaluation job has already completed."),
        ("ValidationException", "Job status is Stopped; only InProgress jobs can be stopped."),
        ("ConflictException", "The job is not in progress."),
        ("ValidationException", "The evaluation job is in a Failed state."),
    ],
)
def test_stop_of_a_job_that_already_ended_returns_false(stubber, jobs, code, message) -> None:
    # Given Bedrock refuses the stop because the job has already ended
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        expected_params={"jobIdentifier": JOB_ARN},
    )

    # When / Then it is not an error: the job simply finished first
    assert jobs.stop(JOB_ARN) is False


def test_stop_of_a_job_that_no_longer_exists_returns_false(stubber, jobs) -> None:
    # Given the job is gone
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code="ResourceNotFoundException",
        service_message="Evaluation job not found.",
        http_status_code=404,
        expected_params={"jobIdentifier": JOB_ARN},
    )

    # When / Then there is nothing left to stop
    assert jobs.stop(JOB_ARN) is False


def test_stop_of_a_job_already_stopping_returns_true(stubber, jobs) -> None:
    # Given someone else is already stopping the job
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code="ConflictException",
        service_message="The job is already stopping.",
        http_status_code=400,
    )

    # When / Then it counts as stopping
    assert jobs.stop(JOB_ARN) is True


@pytest.mark.parametrize(
    ("status", "expected"), [("Completed", False), ("Stopped", False), ("Failed", False), ("Stopping", True)]
)
def test_ambiguous_refusal_is_settled_by_the_job_status(stubber, jobs, status, expected) -> None:
    # Given a refusal whose wording does not say why, and a job whose status does
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code="ConflictException",
        service_message="Error occurred because of a conflict while performing an operation.",
        http_status_code=400,
        expected_params={"jobIdentifier": JOB_ARN},
    )
    stubber.add_response("get_evaluation_job", _get_response(status), {"jobIdentifier": JOB_ARN})

    # When / Then the status decides
    assert jobs.stop(JOB_ARN) is expected


def test_refusal_to_stop_a_running_job_is_a_rejection(stubber, jobs) -> None:
    # Given a refusal although the job is still running
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code="ValidationException",
        service_message="Input validation failed. Check your request parameters and retry the request.",
        http_status_code=400,
    )
    stubber.add_response("get_evaluation_job", _get_response("InProgress"), {"jobIdentifier": JOB_ARN})

    # When / Then the stop's own error is reported ("validation failed" is not "job failed")
    refused = r"^StopEvaluationJob rejected \(ValidationException\): Input"
    with pytest.raises(BedrockRejected, match=refused) as e:
        jobs.stop(JOB_ARN)
    assert isinstance(e.value.__cause__, ClientError)


def test_cannot_be_stopped_wording_is_confirmed_not_trusted(stubber, jobs) -> None:
    # Given "cannot be stopped" (says nothing about the state) for a job still running
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code="ValidationException",
        service_message="This evaluation job cannot be stopped.",
        http_status_code=400,
    )
    stubber.add_response("get_evaluation_job", _get_response("InProgress"), {"jobIdentifier": JOB_ARN})

    # When / Then it is a rejection
    with pytest.raises(BedrockRejected):
        jobs.stop(JOB_ARN)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, BedrockThrottled),
        ("InternalServerException", 500, BedrockUnavailable),
        ("AccessDeniedException", 403, BedrockRejected),
    ],
)
def test_stop_maps_other_errors(stubber, jobs, code, status, expected) -> None:
    # Given a stop failing for a reason unrelated to the job's state
    stubber.add_client_error(
        "stop_evaluation_job",
        service_error_code=code,
        service_message="nope",
        http_status_code=status,
    )

    # When / Then it is raised as the domain exception
    with pytest.raises(expected, match=rf"^StopEvaluationJob {expected.kind} \({code}"):
        jobs.stop(JOB_ARN)


# ------------------------------------------------------------------------------ network errors


class _Unreachable:
    """A client whose every call fails before reaching Bedrock."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __getattr__(self, name: str):
        def call(**_kwargs):
            raise self._error

        return call


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://bedrock.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://bedrock.us-east-1.amazonaws.com"),
    ],
    ids=["connection", "read-timeout"],
)
def test_network_failures_are_unavailable(error) -> None:
    # Given Bedrock cannot be reached
    jobs = BedrockJobs(_Unreachable(error))

    # When / Then every operation reports it as transient, chained to the cause
    for call in (lambda: jobs.create({}), lambda: jobs.get(JOB_ARN), lambda: jobs.stop(JOB_ARN)):
        with pytest.raises(BedrockUnavailable) as caught:
            call()
        assert caught.value.__cause__ is error


def test_map_error_without_http_status_or_code() -> None:
    # Given a ClientError carrying almost nothing
    error = ClientError({"Error": {}}, "GetEvaluationJob")

    # When it is mapped
    mapped = map_error("GetEvaluationJob", error)

    # Then it is a rejection that still says what failed
    assert type(mapped) is BedrockRejected
    assert str(mapped) == "GetEvaluationJob rejected (no error code)"


def test_domain_exception_names_match_the_state_machine_retry_list() -> None:
    # Step Functions matches these names in Retry / Catch: renaming them breaks retries silently.
    assert [BedrockThrottled.__name__, BedrockUnavailable.__name__, BedrockRejected.__name__] == [
        "BedrockThrottled",
        "BedrockUnavailable",
        "BedrockRejected",
    ]


def test_configuration_errors_propagate_unchanged() -> None:
    # Given a client without credentials (a deployment bug, not a Bedrock answer)
    from botocore.exceptions import NoCredentialsError

    jobs = BedrockJobs(_Unreachable(NoCredentialsError()))

    # When / Then the botocore error is not disguised as a Bedrock rejection
    with pytest.raises(NoCredentialsError):
        jobs.get(JOB_ARN)
