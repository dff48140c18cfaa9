"""`evalpipe jobs list|get|stop|delete`: the Bedrock model evaluation jobs of the account.

These commands talk to Bedrock directly (``ListEvaluationJobs``, ``GetEvaluationJob``,
``StopEvaluationJob``, ``BatchDeleteEvaluationJob``), not to the deployed stack, so they see every
evaluation job of the account and region, the pipeline's and any other. boto3 reads credentials,
region and endpoint the usual way (``--region``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``), so they
work against the local mode's emulator as well.

JOB is a job ARN, a job name, or the 12-character job id (the end of the ARN). The API accepts
ARNs only; a name or id is resolved to its ARN with ``ListEvaluationJobs``.

Exit codes: 0 done; 1 not found, refused by the service (e.g. deleting a running job) or another
AWS error; 2 usage error (including a request the service model rejects before it is sent).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from evalpipe.aws.bedrock_jobs import MAPPED_ERRORS, BedrockRejected, map_error
from evalpipe.cli._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Printer, fail, short_time, text_table

STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting")
APPLICATION_TYPES = ("ModelEvaluation", "RagEvaluation")
SORT_ORDERS = ("Ascending", "Descending")
MAX_RESULTS = 1000
DELETE_BATCH = 25  # BatchDeleteEvaluationJob takes 1-25 identifiers
ARN_PATTERN = re.compile(r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:evaluation-job/[a-z0-9]{12}")
NAME_PATTERN = re.compile(r"[a-z0-9](-*[a-z0-9]){0,62}")
ID_PATTERN = re.compile(r"[a-z0-9]{12}")
_STATUS_STYLES = {
    "Completed": "green",
    "InProgress": "cyan",
    "Stopping": "yellow",
    "Stopped": "yellow",
    "Deleting": "yellow",
    "Failed": "red",
}
# BatchDeleteEvaluationJob reports per-job errors with an HTTP-like code.
_BATCH_CODES = {"404": "not found", "400": "refused", "403": "access denied", "409": "conflict"}


class JobNotFound(Exception):
    """JOB names no evaluation job of the account and region (exit status 1)."""


# ------------------------------------------------------------------------------------ parsers


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    jobs = subparsers.add_parser(
        "jobs",
        help="list, show, stop and delete Bedrock evaluation jobs",
        description=(
            "The Bedrock model evaluation jobs of the account and region (the pipeline's and any other). "
            "JOB is a job ARN, name or 12-character id. Exit 0: done; 1: not found, refused by the "
            "service or an AWS error; 2: usage error."
        ),
    )
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    jobs.set_defaults(run=lambda _args: _usage(jobs))

    listing = actions.add_parser(
        "list",
        help="list evaluation jobs (newest first)",
        description=(
            "List evaluation jobs, filtered and sorted by creation time. Without --all one page is "
            "printed, followed by its nextToken (pass it to --next-token for the next page)."
        ),
    )
    listing.add_argument("--status", choices=STATUSES, help="only jobs in this status")
    listing.add_argument("--application-type", choices=APPLICATION_TYPES, help="only jobs of this type")
    listing.add_argument(
        "--name-contains", metavar="TEXT", type=_name_text, help="only names containing TEXT"
    )
    listing.add_argument(
        "--created-after", metavar="ISO", type=_timestamp, help="created after this time (UTC if no offset)"
    )
    listing.add_argument(
        "--created-before", metavar="ISO", type=_timestamp, help="created before this time (UTC if no offset)"
    )
    listing.add_argument(
        "--sort-order", choices=SORT_ORDERS, default="Descending", help="by creation time (Descending)"
    )
    listing.add_argument(
        "--max-results", metavar="N", type=_max_results, help=f"page size, 1-{MAX_RESULTS} (service default)"
    )
    pages = listing.add_mutually_exclusive_group()
    pages.add_argument("--next-token", metavar="TOKEN", help="continue a previous listing")
    pages.add_argument("--all", action="store_true", help="follow nextToken until every job is listed")
    listing.add_argument("--json", action="store_true", help='print {"jobs": [...], "nextToken": ...}')
    _add_region(listing)
    listing.set_defaults(run=run_list)

    get = actions.add_parser(
        "get",
        help="show one job: status, failure messages, configuration",
        description="Show JOB: status, failure messages and a summary of its configuration.",
    )
    get.add_argument("job", metavar="JOB", help="job ARN, name or id")
    get.add_argument("--json", action="store_true", help="print the GetEvaluationJob response as JSON")
    _add_region(get)
    get.set_defaults(run=run_get)

    stop = actions.add_parser(
        "stop",
        help="stop a job in progress",
        description="Stop JOB. Exit 1 when it is not found or has already ended.",
    )
    stop.add_argument("job", metavar="JOB", help="job ARN, name or id")
    _add_region(stop)
    stop.set_defaults(run=run_stop)

    delete = actions.add_parser(
        "delete",
        help="delete finished jobs (Completed, Failed, Stopped)",
        description=(
            f"Delete the JOBs (in batches of {DELETE_BATCH}). Every job's outcome is reported; exit 1 "
            "if any could not be deleted (not found, or still running)."
        ),
    )
    delete.add_argument("jobs", metavar="JOB", nargs="+", help="job ARN, name or id")
    delete.add_argument("--json", action="store_true", help='print {"deleted": [...], "errors": [...]}')
    _add_region(delete)
    delete.set_defaults(run=run_delete)


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", metavar="REGION", help="AWS region (default: the AWS CLI's)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    return EXIT_USAGE


def _name_text(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: 1-63 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


def _timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time (e.g. 2025-03-08T09:15:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _max_results(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 1 <= number <= MAX_RESULTS:
        raise argparse.ArgumentTypeError(f"{number} is not between 1 and {MAX_RESULTS}")
    return number


# ------------------------------------------------------------------------------ shared plumbing


def bedrock_client(args: argparse.Namespace) -> Any:
    """A ``bedrock`` control-plane client for ``--region`` (standard retries, few attempts)."""
    session = boto3.session.Session(region_name=getattr(args, "region", None) or None)
    return session.client("bedrock", config=Config(retries={"mode": "standard", "max_attempts": 3}))


def bedrock_command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn service and lookup failures into one line on stderr and exit status 1 (2: bad request)."""

    @wraps(run)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except JobNotFound as exc:
            return _failed(str(exc))
        except ParamValidationError as exc:
            return fail(f"invalid request: {exc}")
        except MAPPED_ERRORS as exc:
            return _failed(describe_error(exc))
        except BotoCoreError as exc:  # no credentials, no region, ...
            return _failed(str(exc))

    return guarded


def describe_error(exc: Exception, job: str | None = None) -> str:
    """One line for a service error: not found, access denied, throttled, or the service's words."""
    error = map_error(_operation(exc), exc)
    code, message = error.code, error.service_message or str(exc)
    if code == "ResourceNotFoundException":
        return f"evaluation job {job} not found" if job else f"not found: {message}"
    if code == "AccessDeniedException":
        return f"access denied ({error.operation}): {message}"
    if error.kind == "throttled":
        return f"throttled by Bedrock ({code}); try again shortly: {message}"
    if error.kind == "unavailable":
        return f"Bedrock is unavailable ({code}); try again: {message}"
    return f"{error.operation} refused ({code}): {message}"


def _operation(exc: Exception) -> str:
    return str(getattr(exc, "operation_name", None) or "Bedrock")


def _failed(message: str) -> int:
    print(f"evalpipe: error: {message}", file=sys.stderr)
    return EXIT_INVALID


def resolve(client: Any, job: str) -> str:
    """The ARN of JOB (an ARN as is; a name or id looked up with ListEvaluationJobs).

    Raises
    ------
    JobNotFound
        No job has that name or id.
    ValueError
        JOB is neither an ARN, a job name nor a job id (a usage error).
    """
    if ARN_PATTERN.fullmatch(job):
        return job
    if not NAME_PATTERN.fullmatch(job):
        raise ValueError(f"{job!r} is not a job ARN, name or id")
    for summary in _paginate(client, {"nameContains": job}):
        if summary.get("jobName") == job or summary.get("jobArn", "").endswith(f"/{job}"):
            return summary["jobArn"]
    if ID_PATTERN.fullmatch(job):  # an id does not appear in the name: look at every ARN
        for summary in _paginate(client, {}):
            if summary.get("jobArn", "").endswith(f"/{job}"):
                return summary["jobArn"]
    raise JobNotFound(f"no evaluation job named {job} (or with that id) in {_region(client)}")


def _paginate(client: Any, params: Mapping[str, Any], page_size: int | None = None) -> Iterator[dict]:
    config = {"PageSize": page_size} if page_size else {}
    for page in client.get_paginator("list_evaluation_jobs").paginate(**params, PaginationConfig=config):
        yield from page.get("jobSummaries", [])


def _region(client: Any) -> str:
    return str(getattr(client.meta, "region_name", None) or "this region")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _dump(value: Any) -> None:
    print(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------------------- list


def list_params(args: argparse.Namespace) -> dict[str, Any]:
    """The ListEvaluationJobs keyword arguments of the filters (no paging)."""
    params: dict[str, Any] = {"sortBy": "CreationTime", "sortOrder": args.sort_order}
    for key, value in (
        ("statusEquals", args.status),
        ("applicationTypeEquals", args.application_type),
        ("nameContains", args.name_contains),
        ("creationTimeAfter", args.created_after),
        ("creationTimeBefore", args.created_before),
    ):
        if value is not None:
            params[key] = value
    return params


@bedrock_command
def run_list(args: argparse.Namespace) -> int:
    client = bedrock_client(args)
    params = list_params(args)
    next_token: str | None = None
    if args.all:
        jobs = list(_paginate(client, params, args.max_results))
    else:
        if args.max_results:
            params["maxResults"] = args.max_results
        if args.next_token:
            params["nextToken"] = args.next_token
        response = client.list_evaluation_jobs(**params)
        jobs = list(response.get("jobSummaries", []))
        next_token = response.get("nextToken")
    if args.json:
        _dump({"jobs": jobs, "nextToken": next_token})
        return EXIT_OK
    if jobs:
        print_jobs(jobs, Printer())
    else:
        print("no evaluation jobs match", file=sys.stderr)
    if next_token:
        print(f"nextToken: {next_token}")
    return EXIT_OK


def print_jobs(jobs: Iterable[Mapping[str, Any]], out: Printer) -> None:
    rows = [
        [
            str(job.get("jobName", "")),
            str(job.get("status", "")),
            str(job.get("applicationType", "")),
            short_time(_jsonable(job.get("creationTime"))),
            str(job.get("jobArn", "")),
        ]
        for job in jobs
    ]
    lines = text_table(["NAME", "STATUS", "TYPE", "CREATED (UTC)", "ARN"], rows, "lllll")
    for line in lines[:2]:
        out.line(line)
    for line, row in zip(lines[2:], rows, strict=True):
        out.line(line, style=_STATUS_STYLES.get(row[1]))


# ---------------------------------------------------------------------------------------- get


@bedrock_command
def run_get(args: argparse.Namespace) -> int:
    client = bedrock_client(args)
    arn = _resolve_or_usage(client, args.job)
    if arn is None:
        return EXIT_USAGE
    try:
        job = client.get_evaluation_job(jobIdentifier=arn)
    except ClientError as exc:
        return _failed(describe_error(exc, args.job))
    if args.json:
        _dump(job)
    else:
        print_job(job, Printer())
    return EXIT_OK


def _resolve_or_usage(client: Any, job: str) -> str | None:
    try:
        return resolve(client, job)
    except ValueError as exc:
        fail(str(exc))
        return None


def print_job(job: Mapping[str, Any], out: Printer) -> None:
    """The job as ``evalpipe jobs get`` shows it."""
    status = str(job.get("status", ""))
    out.line(f"{job.get('jobName')}  {status}", style=_STATUS_STYLES.get(status))
    for label, value in config_summary(job):
        out.line(f"  {label + ':':<18}{value}")
    messages = job.get("failureMessages") or []
    if messages:
        out.line("Failure messages:", style="red")
        for message in messages:
            out.line(f"  - {message}")


def config_summary(job: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines: identity, times, where it reads and writes, what it measures."""
    lines = [
        ("ARN", str(job.get("jobArn", ""))),
        ("Type", f"{job.get('jobType', '')} {job.get('applicationType', '')}".strip()),
        ("Created", short_time(_jsonable(job.get("creationTime")))),
        ("Last modified", short_time(_jsonable(job.get("lastModifiedTime")))),
    ]
    if job.get("jobDescription"):
        lines.append(("Description", str(job["jobDescription"])))
    lines.append(("Role", str(job.get("roleArn", ""))))
    inference = job.get("inferenceConfig") or {}
    for model in inference.get("models") or []:
        if "bedrockModel" in model:
            lines.append(("Model", str(model["bedrockModel"].get("modelIdentifier"))))
        elif "precomputedInferenceSource" in model:
            source = model["precomputedInferenceSource"].get("inferenceSourceIdentifier")
            lines.append(("Model", f"{source} (precomputed responses)"))
    if inference.get("ragConfigs"):
        lines.append(("RAG sources", str(len(inference["ragConfigs"]))))
    evaluation = job.get("evaluationConfig") or {}
    config = evaluation.get("automated") or evaluation.get("human") or {}
    for dataset_config in config.get("datasetMetricConfigs") or []:
        dataset = dataset_config.get("dataset") or {}
        location = (dataset.get("datasetLocation") or {}).get("s3Uri", "")
        lines.append(("Dataset", f"{dataset.get('name', '')} {location} ({dataset_config.get('taskType')})"))
        lines.append(("Metrics", ", ".join(dataset_config.get("metricNames") or [])))
    custom = [
        str((metric.get("customMetricDefinition") or {}).get("name"))
        for metric in (config.get("customMetricConfig") or {}).get("customMetrics") or []
    ]
    if custom:
        lines.append(("Custom metrics", ", ".join(custom)))
    judges = [
        str(model.get("modelIdentifier"))
        for model in (config.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
    ]
    if judges:
        lines.append(("Judge", ", ".join(judges)))
    lines.append(("Output", str((job.get("outputDataConfig") or {}).get("s3Uri", ""))))
    return lines


# --------------------------------------------------------------------------------------- stop


@bedrock_command
def run_stop(args: argparse.Namespace) -> int:
    client = bedrock_client(args)
    arn = _resolve_or_usage(client, args.job)
    if arn is None:
        return EXIT_USAGE
    try:
        client.stop_evaluation_job(jobIdentifier=arn)
    except ClientError as exc:
        error = map_error(_operation(exc), exc)
        if isinstance(error, BedrockRejected) and error.code in ("ConflictException", "ValidationException"):
            status = _status(client, arn)
            if status == "Stopping":
                print(f"{args.job}: already stopping")
                return EXIT_OK
            if status:
                return _failed(f"cannot stop {args.job}: it is {status} ({error.service_message})")
        return _failed(describe_error(exc, args.job))
    status = _status(client, arn) or "Stopping"
    print(f"{args.job}: {status}")
    return EXIT_OK


def _status(client: Any, arn: str) -> str | None:
    """The job's status now, or None when it cannot be read."""
    try:
        return str(client.get_evaluation_job(jobIdentifier=arn).get("status"))
    except MAPPED_ERRORS:
        return None


# ------------------------------------------------------------------------------------- delete


@bedrock_command
def run_delete(args: argparse.Namespace) -> int:
    client = bedrock_client(args)
    deleted: list[dict[str, str]] = []
    errors: list[dict[str, str]] = []
    arns: dict[str, str] = {}  # ARN -> the JOB as given
    for job in dict.fromkeys(args.jobs):
        try:
            arns.setdefault(resolve(client, job), job)
        except ValueError as exc:
            return fail(str(exc))
        except JobNotFound:
            errors.append({"job": job, "code": "404", "message": "not found"})
    batch_list = list(arns)
    for start in range(0, len(batch_list), DELETE_BATCH):
        batch = batch_list[start : start + DELETE_BATCH]
        response = client.batch_delete_evaluation_job(jobIdentifiers=batch)
        for item in response.get("evaluationJobs", []):
            ident = item.get("jobIdentifier", "")
            deleted.append(
                {"job": arns.get(ident, ident), "jobArn": ident, "status": item.get("jobStatus", "")}
            )
        for item in response.get("errors", []):
            ident = item.get("jobIdentifier", "")
            errors.append(
                {
                    "job": arns.get(ident, ident),
                    "jobArn": ident,
                    "code": str(item.get("code", "")),
                    "message": str(item.get("message", "")),
                }
            )
    if args.json:
        _dump({"deleted": deleted, "errors": errors})
    else:
        for item in deleted:
            print(f"{item['job']}: {item['status'] or 'deleted'}")
        for item in errors:
            reason = _BATCH_CODES.get(item["code"], item["code"] or "error")
            detail = f" ({item['message']})" if item["message"] and item["message"] != reason else ""
            print(f"evalpipe: error: {item['job']}: {reason}{detail}", file=sys.stderr)
    return EXIT_INVALID if errors else EXIT_OK
