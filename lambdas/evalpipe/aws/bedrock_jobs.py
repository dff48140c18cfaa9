"""Bedrock control-plane adapter: create, describe and stop model evaluation jobs.

CloudFormation has no resource for evaluation jobs and Bedrock emits no events for them, so the
pipeline drives them through these three calls and polls.

Errors are translated into three domain exceptions whose *class names* are the error names Step
Functions sees (a Lambda's `errorType` is the exception's class name):

- `BedrockThrottled` (ThrottlingException, ServiceQuotaExceededException, TooManyRequestsException,
  HTTP 429 and botocore's other throttling codes): the state machine retries with backoff.
- `BedrockUnavailable` (InternalServerException, ServiceUnavailable, any HTTP 5xx, connection
  failures and timeouts): retried with backoff as well.
- `BedrockRejected` (ValidationException, AccessDeniedException, ResourceNotFoundException,
  ConflictException and any other client error): not retried, the run ends as ERROR with the
  service's code and message.

Every domain exception chains the original botocore error (`raise ... from error`).

Retries: this module configures none. Whoever builds the client should use the standard retry
mode, e.g. ``boto3.client("bedrock", config=Config(retries={"mode": "standard", "max_attempts": 3}))``;
botocore then retries throttling and 5xx responses itself (with jitter) before an error reaches
this adapter, and Step Functions retries the whole task on top of that. Keep the client's
attempts low so a throttled Lambda does not spend its timeout sleeping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
from botocore.exceptions import ConnectionError as BotoConnectionError

if TYPE_CHECKING:
    from datetime import datetime

# What the adapter translates. Other botocore errors (missing credentials, a test stub mismatch)
# are configuration or programming errors and propagate unchanged.
MAPPED_ERRORS = (ClientError, BotoConnectionError, HTTPClientError, ParamValidationError)

CREATE = "CreateEvaluationJob"
GET = "GetEvaluationJob"
STOP = "StopEvaluationJob"

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped", "Deleting"})

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceQuotaExceededException",  # CreateEvaluationJob: too many jobs running; frees up
        "TooManyRequestsException",
        # botocore's standard retry mode treats these as throttling too.
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "BandwidthLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Stop on a job that already ended: the service answers Validation/Conflict. Its wording is not
# documented, so only unambiguous phrases decide here; anything else is confirmed with a Get.
_FINISHED_WORDING = re.compile(
    # "cannot be stopped" says nothing about the state, hence the look-behind.
    r"(?<!be\s)\b(completed|stopped|finished|deleted|deleting|terminal"
    r"|not\s+(?:in\s*progress|running))\b"
    r"|\b(?:is|has|in|already)\s+(?:a\s+)?failed\b|\bfailed\s+(?:state|status)\b",
    re.IGNORECASE,
)
_STOPPING_WORDING = re.compile(r"\b(already\s+)?stopping\b", re.IGNORECASE)


class BedrockError(Exception):
    """Base of the adapter's errors; carries what the service said.

    Parameters
    ----------
    message : str
        `"<Operation> <kind> (<Code>): <service message>"`.
    operation : str
        The API operation, e.g. `CreateEvaluationJob`.
    code : str, optional
        The service error code, e.g. `ValidationException`.
    service_message : str, optional
        The service's own message.
    http_status : int, optional
        The HTTP status of the failed response.
    """

    kind = "failed"

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        code: str | None = None,
        service_message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code
        self.service_message = service_message
        self.http_status = http_status


class BedrockThrottled(BedrockError):
    """Throttled or over a quota; Step Functions retries it with backoff."""

    kind = "throttled"


class BedrockQuotaExceeded(BedrockThrottled):
    """ServiceQuotaExceededException: the account runs as many jobs as its quota allows (jobs
    started outside the pipeline count too). The submit step sends the shard back to wait for a slot."""

    kind = "over quota"


class BedrockUnavailable(BedrockError):
    """Server-side or network failure; Step Functions retries it with backoff."""

    kind = "unavailable"


class BedrockRejected(BedrockError):
    """Bedrock refused the request; retrying would not help."""

    kind = "rejected"


@dataclass(frozen=True)
class JobState:
    """What GetEvaluationJob says about a job, reduced to what the pipeline uses.

    Attributes
    ----------
    job_arn, job_name : str
        Identity of the job.
    status : str
        `InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped` or `Deleting`.
    failure_messages : list[str]
        Bedrock's reasons for a failure (at most 20), empty otherwise.
    output_s3_uri : str or None
        `outputDataConfig.s3Uri`: the prefix under which the job writes its results.
    creation_time, last_modified_time : datetime or None
        As botocore parses them (timezone-aware).
    job_type : str or None
        `Automated` or `Human` (GetEvaluationJob's jobType).
    """

    job_arn: str
    job_name: str | None
    status: str
    failure_messages: list[str] = field(default_factory=list)
    output_s3_uri: str | None = None
    creation_time: datetime | None = None
    last_modified_time: datetime | None = None
    job_type: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change (Completed, Failed, Stopped, Deleting)."""
        return self.status in TERMINAL_STATUSES


class BedrockJobs:
    """Create, describe and stop evaluation jobs through an injected boto3 `bedrock` client.

    Parameters
    ----------
    client : botocore client
        A boto3 `bedrock` client (control plane, not `bedrock-runtime`).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, request: dict) -> str:
        """Submit a job.

        Parameters
        ----------
        request : dict
            The complete CreateEvaluationJob keyword arguments (see `evalpipe.suite.job_request`),
            including `clientRequestToken`: the same token returns the same job instead of a second.

        Returns
        -------
        str
            The job ARN.

        Raises
        ------
        BedrockThrottled, BedrockUnavailable, BedrockRejected
        """
        try:
            response = self._client.create_evaluation_job(**request)
        except MAPPED_ERRORS as error:
            _raise_mapped(CREATE, error)
        return response["jobArn"]

    def get(self, job_arn: str) -> JobState:
        """Describe a job.

        Parameters
        ----------
        job_arn : str
            The job's ARN (a job name is accepted by the service as well).

        Returns
        -------
        JobState

        Raises
        ------
        BedrockThrottled, BedrockUnavailable, BedrockRejected
        """
        try:
            response = self._client.get_evaluation_job(jobIdentifier=job_arn)
        except MAPPED_ERRORS as error:
            _raise_mapped(GET, error)
        return JobState(
            job_arn=response.get("jobArn", job_arn),
            job_name=response.get("jobName"),
            status=response["status"],
            failure_messages=list(response.get("failureMessages") or []),
            output_s3_uri=(response.get("outputDataConfig") or {}).get("s3Uri"),
            creation_time=response.get("creationTime"),
            last_modified_time=response.get("lastModifiedTime"),
            job_type=response.get("jobType"),
        )

    def stop(self, job_arn: str) -> bool:
        """Ask Bedrock to stop a job.

        Parameters
        ----------
        job_arn : str
            The job's ARN.

        Returns
        -------
        bool
            True if the job is now stopping (or was already stopping); False if it had already
            ended (Completed / Failed / Stopped) or no longer exists. Neither case is an error:
            the job raced us to the finish.

        Raises
        ------
        BedrockThrottled, BedrockUnavailable
            Transient; the state machine retries the stop.
        BedrockRejected
            The service refused to stop a job that is still running (e.g. access denied).

        Notes
        -----
        A stop on a finished job answers ValidationException or ConflictException with
        undocumented wording. Unambiguous wording decides directly; otherwise one
        GetEvaluationJob confirms the job's status before the refusal is reported.
        """
        try:
            self._client.stop_evaluation_job(jobIdentifier=job_arn)
        except ClientError as error:
            code = _code(error)
            if code == "ResourceNotFoundException":
                return False
            if code in ("ValidationException", "ConflictException"):
                return self._stop_refused(job_arn, error)
            _raise_mapped(STOP, error)
        except MAPPED_ERRORS as error:
            _raise_mapped(STOP, error)
        return True

    def _stop_refused(self, job_arn: str, error: ClientError) -> bool:
        message = _service_message(error)
        if _STOPPING_WORDING.search(message):
            return True
        if _FINISHED_WORDING.search(message):
            return False
        try:
            state = self.get(job_arn)
        except BedrockRejected as get_error:
            if get_error.code == "ResourceNotFoundException":
                return False
            _raise_mapped(STOP, error)  # report the stop's refusal, not the follow-up's
        if state.status == "Stopping":
            return True
        if state.is_terminal:
            return False
        _raise_mapped(STOP, error)


def _raise_mapped(operation: str, error: Exception) -> NoReturn:
    """Raise the domain exception for a botocore error, chained to it."""
    raise map_error(operation, error) from error


def map_error(operation: str, error: Exception) -> BedrockError:
    """Translate a botocore error into BedrockThrottled / BedrockUnavailable / BedrockRejected.

    Parameters
    ----------
    operation : str
        The API operation the error came from.
    error : Exception
        One of `MAPPED_ERRORS`.

    Returns
    -------
    BedrockError
        Not raised; the caller raises it `from error`.
    """
    if isinstance(error, ClientError):
        code = _code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        status = int(status) if status is not None else None
        service_message = _service_message(error)
        if code == "ServiceQuotaExceededException":
            cls: type[BedrockError] = BedrockQuotaExceeded
        elif code in THROTTLING_CODES or status == 429:
            cls = BedrockThrottled
        elif code in UNAVAILABLE_CODES or (status is not None and status >= 500):
            cls = BedrockUnavailable
        else:
            cls = BedrockRejected
        label = code or "no error code"
        if status is not None and status >= 500:
            label += f", HTTP {status}"
        text = f"{operation} {cls.kind} ({label})" + (f": {service_message}" if service_message else "")
        return cls(
            text,
            operation=operation,
            code=code or None,
            service_message=service_message,
            http_status=status,
        )
    if isinstance(error, BotoConnectionError | HTTPClientError):
        # Connection refused / reset, DNS, connect and read timeouts: transient by nature.
        name = type(error).__name__
        return BedrockUnavailable(
            f"{operation} unavailable ({name}): {error}", operation=operation, code=name
        )
    if isinstance(error, ParamValidationError):
        # The request we built does not fit the service model: a bug or a bad suite, never transient.
        return BedrockRejected(
            f"{operation} rejected (ParamValidationError): {error}",
            operation=operation,
            code="ParamValidationError",
            service_message=str(error),
        )
    name = type(error).__name__  # not reached through the adapter's own calls
    return BedrockRejected(f"{operation} rejected ({name}): {error}", operation=operation, code=name)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or "")


def _service_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or "")
