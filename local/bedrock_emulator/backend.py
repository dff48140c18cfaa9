"""State of the emulated evaluation jobs and the test controls.

One :class:`EvaluationJobBackend` per account and region holds the jobs (the moto glue keeps
it on moto's own ``bedrock`` backend, so moto's resets clear it). Progress is *lazy*: nothing
runs in the background; a job's status is brought up to date whenever it is read, listed,
stopped or deleted:

- ``InProgress`` -> ``Completed`` / ``Failed`` once ``job_seconds`` have passed since creation
  (or, with :meth:`EmulatorControls.finish_jobs_on_read`, on the job's Nth GetEvaluationJob);
  that transition runs the job (reads the datasets, scores, writes the outputs) exactly once.
- ``Stopping`` -> ``Stopped`` ``stop_seconds`` after StopEvaluationJob.
- ``Deleting`` -> gone ``delete_seconds`` after BatchDeleteEvaluationJob.

:data:`controls` is process-wide (every account and region, in-process and server mode):
delays, injected errors, forced failures, a concurrency quota, a judge override. Its
:meth:`EmulatorControls.reset` (or the package's ``reset()``) puts everything back.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from local.bedrock_emulator.judges.base import Judge

IN_PROGRESS, COMPLETED, FAILED = "InProgress", "Completed", "Failed"
STOPPING, STOPPED, DELETING = "Stopping", "Stopped", "Deleting"
DELETABLE = frozenset({COMPLETED, FAILED, STOPPED})
RUNNING = frozenset({IN_PROGRESS, STOPPING})
MAX_FAILURE_MESSAGES = 20  # GetEvaluationJob's failureMessages: at most 20
DEFAULT_JOB_SECONDS = 2.0
JOB_SECONDS_ENV = "EVALPIPE_EMULATOR_JOB_SECONDS"
_ID_ALPHABET = string.ascii_lowercase + string.digits


class EmulatorError(Exception):
    """An error the service returns; ``code`` is the modeled exception's name."""

    code: ClassVar[str] = "InternalServerException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(EmulatorError):
    code = "ValidationException"


class ConflictError(EmulatorError):
    code = "ConflictException"


class ResourceNotFoundError(EmulatorError):
    code = "ResourceNotFoundException"


class ThrottlingError(EmulatorError):
    code = "ThrottlingException"


class ServiceQuotaExceededError(EmulatorError):
    code = "ServiceQuotaExceededException"


class AccessDeniedError(EmulatorError):
    code = "AccessDeniedException"


# Bedrock Runtime's own errors (Converse), for injection: 503, 408, 429 and 424 in its model.
class ServiceUnavailableError(EmulatorError):
    code = "ServiceUnavailableException"


class ModelTimeoutError(EmulatorError):
    code = "ModelTimeoutException"


class ModelNotReadyError(EmulatorError):
    code = "ModelNotReadyException"


class ModelFailedError(EmulatorError):
    code = "ModelErrorException"


ERRORS: dict[str, type[EmulatorError]] = {
    cls.code: cls
    for cls in (
        EmulatorError,
        ValidationError,
        ConflictError,
        ResourceNotFoundError,
        ThrottlingError,
        ServiceQuotaExceededError,
        AccessDeniedError,
        ServiceUnavailableError,
        ModelTimeoutError,
        ModelNotReadyError,
        ModelFailedError,
    )
}
CONVERSE = "Converse"  # the Bedrock Runtime operation the emulator serves (local/bedrock_emulator/runtime.py)


@dataclass
class InjectedError:
    """The next ``remaining`` calls of ``operation`` fail with ``code``."""

    operation: str
    code: str
    remaining: int
    message: str


@dataclass
class OutputFault:
    """The next completed job's first output file: ``drop`` lines fewer, its last ``repeat`` times more."""

    drop: int
    repeat: int


@dataclass
class FailureRule:
    """Jobs whose name matches ``name_pattern`` (``None``: any job) end ``Failed``."""

    name_pattern: str | None
    messages: list[str]
    remaining: int | None  # None: every matching job


def _env_job_seconds() -> float:
    raw = os.environ.get(JOB_SECONDS_ENV, "")
    try:
        return max(0.0, float(raw)) if raw.strip() else DEFAULT_JOB_SECONDS
    except ValueError:
        return DEFAULT_JOB_SECONDS


class EmulatorControls:
    """Process-wide knobs for tests and demos (Python API; also over HTTP in server mode).

    Attributes
    ----------
    job_seconds : float or None
        InProgress -> Completed delay; ``None`` = ``EVALPIPE_EMULATOR_JOB_SECONDS`` or 2 s.
    job_reads : int or None
        When set, a job created now finishes on its ``job_reads``-th GetEvaluationJob instead, whatever
        the clock says (see :meth:`finish_jobs_on_read`).
    stop_seconds, delete_seconds : float
        Stopping -> Stopped and Deleting -> gone delays (default 1 s).
    max_concurrent_jobs : int or None
        CreateEvaluationJob raises ServiceQuotaExceededException while this many jobs of the
        account and region are InProgress or Stopping (``None``: no limit).
    peak_running_jobs : int
        The most jobs of one account and region that were InProgress or Stopping at once (counted
        when a job is created, the only moment the number grows): what tests of the queue assert.
    judge : Judge or None
        Overrides ``EVALPIPE_JUDGE`` for every job run.
    converse_calls : int
        Converse requests received (every HTTP attempt, the throttled and failed ones included):
        what a test of a client's retries asserts.
    clock : callable
        Seconds since the epoch (tests may substitute a fake clock).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to defaults: no injected error or failure, default delays, offline clock."""
        with self._lock:
            self.job_seconds: float | None = None
            self.job_reads: int | None = None
            self.stop_seconds = 1.0
            self.delete_seconds = 1.0
            self.max_concurrent_jobs: int | None = None
            self.peak_running_jobs = 0
            self.judge: Judge | None = None
            self.converse_calls = 0
            self.clock: Callable[[], float] = time.time
            self.injected_errors: list[InjectedError] = []
            self.failure_rules: list[FailureRule] = []
            self.output_faults: list[OutputFault] = []

    def effective_job_seconds(self) -> float:
        """The delay a job created now gets."""
        return self.job_seconds if self.job_seconds is not None else _env_job_seconds()

    def set_delays(
        self,
        job_seconds: float | None = None,
        stop_seconds: float | None = None,
        delete_seconds: float | None = None,
    ) -> None:
        """Change the delays (arguments left ``None`` keep their value)."""
        with self._lock:
            if job_seconds is not None:
                self.job_seconds = max(0.0, float(job_seconds))
            if stop_seconds is not None:
                self.stop_seconds = max(0.0, float(stop_seconds))
            if delete_seconds is not None:
                self.delete_seconds = max(0.0, float(delete_seconds))

    def finish_jobs_on_read(self, reads: int | None) -> None:
        """Jobs created from now on finish on their ``reads``-th GetEvaluationJob (``None``: after
        ``job_seconds`` again).

        For tests that must see a job running at a given poll: a wall-clock delay races the poller
        on a loaded machine, a count of reads does not. Listing, stopping or deleting a job does not
        count as a read.

        Raises
        ------
        ValueError
            ``reads`` is below 1.
        """
        if reads is not None and reads < 1:
            raise ValueError(f"reads must be at least 1, not {reads}")
        with self._lock:
            self.job_reads = reads

    def inject_error(self, operation: str, code: str, count: int = 1, message: str | None = None) -> None:
        """Make the next ``count`` calls of ``operation`` (e.g. ``GetEvaluationJob``) fail.

        Every HTTP attempt counts, botocore's automatic retries included.

        Raises
        ------
        ValueError
            ``code`` is not one of the modeled errors the emulator knows.
        """
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}; one of {sorted(ERRORS)}")
        with self._lock:
            self.injected_errors.append(
                InjectedError(operation, code, max(0, int(count)), message or _default_message(code))
            )

    def throttle_next_creates(self, count: int = 1) -> None:
        """The next ``count`` CreateEvaluationJob calls raise ThrottlingException."""
        self.inject_error("CreateEvaluationJob", "ThrottlingException", count)

    def throttle_next_converse(self, count: int = 1) -> None:
        """The next ``count`` Converse calls raise ThrottlingException (HTTP 429)."""
        self.inject_error(CONVERSE, "ThrottlingException", count)

    def fail_next_converse(self, count: int = 1, code: str = "ServiceUnavailableException") -> None:
        """The next ``count`` Converse calls fail with ``code`` (default ServiceUnavailableException,
        HTTP 503; ``InternalServerException`` is the 500), which clients retry like throttling."""
        self.inject_error(CONVERSE, code, count)

    def count_converse_call(self) -> int:
        """Count one Converse request (before anything else happens to it); the count so far."""
        with self._lock:
            self.converse_calls += 1
            return self.converse_calls

    def fail_next_job(self, messages: Iterable[str] = ("Injected failure",)) -> None:
        """The next job created ends Failed with ``messages`` instead of running."""
        with self._lock:
            self.failure_rules.append(FailureRule(None, list(messages), 1))

    def fail_jobs_matching(
        self, name_pattern: str, messages: Iterable[str] = ("Injected failure",), count: int | None = None
    ) -> None:
        """Jobs whose name matches the regular expression (``re.search``) end Failed."""
        re.compile(name_pattern)  # fail here, not when a job is created
        with self._lock:
            self.failure_rules.append(FailureRule(name_pattern, list(messages), count))

    def shorten_next_outputs(self, drop: int = 0, repeat: int = 0) -> None:
        """The next automated job that completes writes ``drop`` output lines fewer (its last ones)
        and repeats its last line ``repeat`` times: a short or overlong output, as a fault to inject.

        The pipeline must notice (its run's coverage), whatever the cause in the service.
        """
        with self._lock:
            self.output_faults.append(OutputFault(max(0, int(drop)), max(0, int(repeat))))

    def take_output_fault(self) -> OutputFault | None:
        """Consume the first pending output fault, if any."""
        with self._lock:
            return self.output_faults.pop(0) if self.output_faults else None

    def take_injected_error(self, operation: str) -> EmulatorError | None:
        """Consume one injected error for ``operation``, if any is pending."""
        with self._lock:
            for injected in self.injected_errors:
                if injected.operation == operation and injected.remaining > 0:
                    injected.remaining -= 1
                    return ERRORS[injected.code](injected.message)
        return None

    def take_failure(self, job_name: str) -> list[str] | None:
        """Consume the first failure rule that matches ``job_name``."""
        with self._lock:
            for rule in self.failure_rules:
                if rule.remaining == 0:
                    continue
                if rule.name_pattern is None or re.search(rule.name_pattern, job_name):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return list(rule.messages) or ["Injected failure"]
        return None

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON-able data (the HTTP ``state`` answer)."""
        with self._lock:
            return {
                "jobSeconds": self.effective_job_seconds(),
                "jobReads": self.job_reads,
                "stopSeconds": self.stop_seconds,
                "deleteSeconds": self.delete_seconds,
                "maxConcurrentJobs": self.max_concurrent_jobs,
                "peakRunningJobs": self.peak_running_jobs,
                "judgeOverride": type(self.judge).__name__ if self.judge else None,
                "converseCalls": self.converse_calls,
                "injectedErrors": [vars(e) for e in self.injected_errors if e.remaining > 0],
                "failureRules": [vars(r) for r in self.failure_rules if r.remaining != 0],
                "outputFaults": [vars(f) for f in self.output_faults],
            }


def _default_message(code: str) -> str:
    return {
        "ThrottlingException": "Too many requests, please wait before trying again.",
        "ServiceQuotaExceededException": "The number of requests exceeds the service quota.",
        "InternalServerException": "An internal server error occurred. Retry your request.",
        "ServiceUnavailableException": "The service isn't currently available. Try again later.",
        "ModelNotReadyException": "The model is not ready to serve inference requests. Try again later.",
        "ModelTimeoutException": "The request took too long to process.",
        "AccessDeniedException": "You don't have access to this resource.",
    }.get(code, f"Injected {code}")


controls = EmulatorControls()


@dataclass
class RunResult:
    """What running a job produced: its final status and, when Failed, why."""

    status: str
    failure_messages: list[str] = field(default_factory=list)
    written_keys: list[str] = field(default_factory=list)


@dataclass
class EvaluationJob:
    """One evaluation job as the emulator keeps it."""

    arn: str
    name: str
    request: dict[str, Any]
    created_at: float
    due_at: float
    sequence: int
    status: str = IN_PROGRESS
    modified_at: float | None = None
    failure_messages: list[str] = field(default_factory=list)
    forced_failure: list[str] | None = None
    stop_due_at: float | None = None
    delete_due_at: float | None = None
    output_keys: list[str] = field(default_factory=list)
    runs: int = 0  # how many times the job ran (must end at most 1)
    finish_on_read: int | None = None  # controls.job_reads when created: due on that read, not at due_at
    reads: int = 0  # GetEvaluationJob calls so far

    def is_due(self, now: float) -> bool:
        """Whether an InProgress job has run its course (its read count or its delay)."""
        if self.finish_on_read is not None:
            return self.reads >= self.finish_on_read
        return now >= self.due_at

    @property
    def job_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def application_type(self) -> str:
        inference = self.request.get("inferenceConfig") or {}
        default = "RagEvaluation" if "ragConfigs" in inference else "ModelEvaluation"
        return self.request.get("applicationType") or default

    @property
    def job_type(self) -> str:
        return "Human" if "human" in (self.request.get("evaluationConfig") or {}) else "Automated"

    def describe(self) -> dict[str, Any]:
        """The GetEvaluationJob response body (timestamps as datetimes)."""
        body: dict[str, Any] = {
            "jobName": self.name,
            "status": self.status,
            "jobArn": self.arn,
            "roleArn": self.request["roleArn"],
            "jobType": self.job_type,
            "applicationType": self.application_type,
            "evaluationConfig": self.request["evaluationConfig"],
            "inferenceConfig": self.request["inferenceConfig"],
            "outputDataConfig": self.request["outputDataConfig"],
            "creationTime": _datetime(self.created_at),
            "lastModifiedTime": _datetime(self.modified_at or self.created_at),
        }
        for optional in ("jobDescription", "customerEncryptionKeyId"):
            if self.request.get(optional) is not None:
                body[optional] = self.request[optional]
        if self.failure_messages:
            body["failureMessages"] = self.failure_messages[:MAX_FAILURE_MESSAGES]
        return body

    def summary(self) -> dict[str, Any]:
        """One ListEvaluationJobs ``jobSummaries`` item."""
        evaluation = self.request.get("evaluationConfig") or {}
        config = evaluation.get("automated") or evaluation.get("human") or {}
        models = (self.request.get("inferenceConfig") or {}).get("models") or []
        rags = (self.request.get("inferenceConfig") or {}).get("ragConfigs") or []
        bedrock_models = [m["bedrockModel"]["modelIdentifier"] for m in models if "bedrockModel" in m]
        precomputed = [
            m["precomputedInferenceSource"]["inferenceSourceIdentifier"]
            for m in models
            if "precomputedInferenceSource" in m
        ]
        summary: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "status": self.status,
            "creationTime": _datetime(self.created_at),
            "jobType": self.job_type,
            "evaluationTaskTypes": sorted({c["taskType"] for c in config.get("datasetMetricConfigs", [])}),
            "modelIdentifiers": bedrock_models,
            "applicationType": self.application_type,
        }
        evaluators = _model_ids(config.get("evaluatorModelConfig"))
        if evaluators:
            summary["evaluatorModelIdentifiers"] = evaluators
        custom_evaluators = _model_ids((config.get("customMetricConfig") or {}).get("evaluatorModelConfig"))
        if custom_evaluators:
            summary["customMetricsEvaluatorModelIdentifiers"] = custom_evaluators
        if models:
            summary["inferenceConfigSummary"] = {
                "modelConfigSummary": {
                    "bedrockModelIdentifiers": bedrock_models,
                    "precomputedInferenceSourceIdentifiers": precomputed,
                }
            }
        elif rags:
            summary["ragIdentifiers"] = _knowledge_base_ids(rags)
        return summary


def _knowledge_base_ids(rags: list[dict[str, Any]]) -> list[str]:
    found = []
    for rag in rags:
        knowledge_base = rag.get("knowledgeBaseConfig") or {}
        retrieve = knowledge_base.get("retrieveConfig") or {}
        generate = (knowledge_base.get("retrieveAndGenerateConfig") or {}).get(
            "knowledgeBaseConfiguration"
        ) or {}
        found += [kb for kb in (retrieve.get("knowledgeBaseId"), generate.get("knowledgeBaseId")) if kb]
    return found


def _model_ids(config: dict[str, Any] | None) -> list[str]:
    return [m["modelIdentifier"] for m in (config or {}).get("bedrockEvaluatorModels", [])]


def _datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def canonical(request: dict[str, Any]) -> str:
    """A request as a comparable string (idempotency: same token must mean same request)."""
    return json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)


class EvaluationJobBackend:
    """The evaluation jobs of one account and region.

    Parameters
    ----------
    account_id, region : str
        Where the jobs live (part of their ARNs).
    runner : callable
        ``runner(job) -> RunResult``, called once when a job becomes due.
    settings : EmulatorControls
        Defaults to the process-wide :data:`controls`.
    """

    def __init__(
        self,
        account_id: str,
        region: str,
        runner: Callable[[EvaluationJob], RunResult],
        settings: EmulatorControls | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._runner = runner
        self._controls = settings or controls
        self._jobs: dict[str, EvaluationJob] = {}
        self._tokens: dict[str, str] = {}  # clientRequestToken -> job ARN
        self._sequence = 0
        # An RLock: a running job (slow with a real judge) holds it; other regions are not blocked.
        self._lock = threading.RLock()

    # -- operations ---------------------------------------------------------------------------

    def create_job(self, request: dict[str, Any]) -> str:
        """CreateEvaluationJob on an already validated request; returns the job ARN.

        Raises
        ------
        ConflictError
            The name is taken, or the token was used with a different request.
        ServiceQuotaExceededError
            ``max_concurrent_jobs`` jobs are running.
        """
        with self._lock:
            self._refresh_all()
            token = request.get("clientRequestToken")
            if token and token in self._tokens and self._tokens[token] in self._jobs:
                existing = self._jobs[self._tokens[token]]
                if canonical(existing.request) == canonical(request):
                    return existing.arn  # an idempotent replay: no second job
                raise ConflictError(
                    f"The client request token {token} was already used for a different request "
                    f"(job {existing.name}). Use a new token for a new request."
                )
            name = request["jobName"]
            if any(job.name == name for job in self._jobs.values()):
                raise ConflictError(
                    f"An evaluation job named {name} already exists in this account and Region."
                )
            limit = self._controls.max_concurrent_jobs
            if limit is not None and sum(job.status in RUNNING for job in self._jobs.values()) >= limit:
                raise ServiceQuotaExceededError(
                    f"You have reached the maximum number of concurrent evaluation jobs ({limit})."
                )
            now = self._controls.clock()
            self._sequence += 1
            job = EvaluationJob(
                arn=f"arn:{_partition(self.region)}:bedrock:{self.region}:{self.account_id}:evaluation-job/"
                + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12)),
                name=name,
                request=request,
                created_at=now,
                due_at=now + self._controls.effective_job_seconds(),
                sequence=self._sequence,
                modified_at=now,
                forced_failure=self._controls.take_failure(name),
                finish_on_read=self._controls.job_reads,
            )
            self._jobs[job.arn] = job
            if token:
                self._tokens[token] = job.arn
            running = sum(job.status in RUNNING for job in self._jobs.values())
            self._controls.peak_running_jobs = max(self._controls.peak_running_jobs, running)
            return job.arn

    def get_job(self, identifier: str) -> EvaluationJob:
        """GetEvaluationJob: the job, brought up to date."""
        with self._lock:
            job = self._find(identifier)
            job.reads += 1
            return self._refresh(job)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        application_type: str | None = None,
        name_contains: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        descending: bool = True,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[EvaluationJob], str | None]:
        """ListEvaluationJobs: filtered, sorted by creation time, one page.

        The token is opaque to callers (an offset bound to the filters); a token used with
        other filters, or a malformed one, raises :class:`ValidationError`.
        """
        filters = canonical(
            {
                "s": status,
                "a": application_type,
                "n": name_contains,
                "ca": created_after.isoformat() if created_after else None,
                "cb": created_before.isoformat() if created_before else None,
                "d": descending,
            }
        )
        offset = _read_token(next_token, filters) if next_token else 0
        with self._lock:
            self._refresh_all()
            jobs = [
                job
                for job in self._jobs.values()
                if (status is None or job.status == status)
                and (application_type is None or job.application_type == application_type)
                and (name_contains is None or name_contains in job.name)
                and (created_after is None or _datetime(job.created_at) > created_after)
                and (created_before is None or _datetime(job.created_at) < created_before)
            ]
        jobs.sort(key=lambda job: (job.created_at, job.sequence), reverse=descending)
        size = max_results or 100
        page = jobs[offset : offset + size]
        more = offset + size < len(jobs)
        return page, (_write_token(offset + size, filters) if more else None)

    def stop_job(self, identifier: str) -> None:
        """StopEvaluationJob: InProgress -> Stopping (a Stopping job: no-op)."""
        with self._lock:
            job = self._refresh(self._find(identifier))
            if job.status == STOPPING:
                return
            if job.status != IN_PROGRESS:
                raise ConflictError(
                    f"The evaluation job {job.name} is {job.status}; only a job in progress can be stopped."
                )
            now = self._controls.clock()
            job.status, job.modified_at = STOPPING, now
            job.stop_due_at = now + self._controls.stop_seconds

    def batch_delete(self, identifiers: list[str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """BatchDeleteEvaluationJob: ``(evaluationJobs, errors)`` of the response."""
        deleted: list[dict[str, str]] = []
        errors: list[dict[str, str]] = []
        with self._lock:
            self._refresh_all()
            now = self._controls.clock()
            for identifier in identifiers:
                job = self._jobs.get(identifier)
                if job is None:
                    errors.append(
                        {
                            "jobIdentifier": identifier,
                            "code": "404",
                            "message": "The evaluation job was not found.",
                        }
                    )
                elif job.status == DELETING:
                    deleted.append({"jobIdentifier": identifier, "jobStatus": DELETING})
                elif job.status not in DELETABLE:
                    errors.append(
                        {
                            "jobIdentifier": identifier,
                            "code": "400",
                            "message": f"The evaluation job is {job.status}; only Completed, Failed or "
                            "Stopped jobs can be deleted.",
                        }
                    )
                else:
                    job.status, job.modified_at = DELETING, now
                    job.delete_due_at = now + self._controls.delete_seconds
                    deleted.append({"jobIdentifier": identifier, "jobStatus": DELETING})
        return deleted, errors

    def jobs(self) -> list[EvaluationJob]:
        """Every job, up to date (for tests and the HTTP ``state`` view)."""
        with self._lock:
            self._refresh_all()
            return list(self._jobs.values())

    # -- progress -----------------------------------------------------------------------------

    def _find(self, identifier: str) -> EvaluationJob:
        job = self._jobs.get(identifier)
        if job is None:
            raise ResourceNotFoundError(f"The evaluation job {identifier} was not found.")
        return job

    def _refresh_all(self) -> None:
        for job in list(self._jobs.values()):
            self._advance(job)

    def _refresh(self, job: EvaluationJob) -> EvaluationJob:
        if not self._advance(job):
            raise ResourceNotFoundError(f"The evaluation job {job.arn} was not found.")
        return job

    def _advance(self, job: EvaluationJob) -> bool:
        """Apply the transitions that are due; False when the job is now gone (deleted)."""
        now = self._controls.clock()
        if job.status == IN_PROGRESS and job.is_due(now):
            self._finish(job)
        elif job.status == STOPPING and job.stop_due_at is not None and now >= job.stop_due_at:
            job.status, job.modified_at = STOPPED, now
        elif job.status == DELETING and job.delete_due_at is not None and now >= job.delete_due_at:
            self._jobs.pop(job.arn, None)
            self._tokens = {t: arn for t, arn in self._tokens.items() if arn != job.arn}
            return False
        return True

    def _finish(self, job: EvaluationJob) -> None:
        # Runs once: called under the lock, the runner's errors are caught, and the status
        # always leaves InProgress, so no later read can run the job (and write outputs) again.
        job.runs += 1
        if job.forced_failure is not None:
            result = RunResult(FAILED, job.forced_failure)
        else:
            try:
                result = self._runner(job)
            except Exception as error:  # a judge or store bug must fail the job, not the API call
                result = RunResult(FAILED, [f"Internal error while running the evaluation job: {error}"])
        job.status = result.status
        job.failure_messages = result.failure_messages[:MAX_FAILURE_MESSAGES]
        job.output_keys = result.written_keys
        job.modified_at = self._controls.clock()


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _write_token(offset: int, filters: str) -> str:
    raw = json.dumps({"o": offset, "f": filters}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, filters: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["f"] != filters or not isinstance(data["o"], int) or data["o"] < 0:
            raise ValueError("token of another query")
        return data["o"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError("The pagination token is invalid or does not belong to this query.") from error
