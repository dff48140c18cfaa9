"""`evalpipe import JOB --suite S`: adopt a completed evaluation job started outside the pipeline.

A team's jobs run from the console or the CLI become runs of suite S: the job's configuration is
read with GetEvaluationJob, checked against the suite (same kind of job, same metric names), its
output files are read from its output location with the parse step's reader
(`evalpipe.results.OutputReader`), and the run is recorded in the runs table like a parsed one
(status COMPLETED, records, summary, comparison with an earlier baseline, HTML report), so it can
be the baseline of the runs that follow. The run id is the job's name; its ``created_at`` is the
job's creation time, so the history orders it where it ran. A job that is not Completed, whose
configuration does not match the suite, or that is already recorded is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from evalpipe.aws.objects import Objects
from evalpipe.cli._common import EXIT_OK, Printer, Unreadable, fail, read_bytes, verdict_style
from evalpipe.cli._stack import add_stack_arguments, aws_command, connect, failed
from evalpipe.cli.jobs import bedrock_client, bedrock_command, resolve
from evalpipe.dataset import iter_raw_lines
from evalpipe.history.review import review
from evalpipe.ports import Ports
from evalpipe.results import EmptyResultsError, OutputFormatError, OutputReader
from evalpipe.run.model import JobType, Run
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import TriggerKind, now_utc
from evalpipe.suite import Suite, SuiteError

if TYPE_CHECKING:
    import argparse

    from evalpipe.aws.bedrock_jobs import BedrockJobs
    from evalpipe.cli._stack import Deployment
    from evalpipe.settings import Settings


class ImportRefused(Exception):
    """The job cannot be adopted as a run of the suite (the message says why)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="record a completed job started outside the pipeline as a run of a suite",
        description=(
            "Read the completed evaluation JOB (ARN, name or id) with GetEvaluationJob, check it against "
            "suite S (suites/S.json in the bucket, or a local SUITE.json), read its output files and record "
            "it in the runs table as a run of S (records, summary, comparison, report), so it can be the "
            "baseline of later runs. Exit 0: recorded; 1: refused (not Completed, configuration does not "
            "match, already recorded, outputs unreadable) or an AWS error; 2: usage error."
        ),
    )
    parser.add_argument("job", metavar="JOB", help="the evaluation job: ARN, name or id")
    parser.add_argument(
        "--suite", required=True, metavar="S", help="suite name (suites/S.json) or SUITE.json"
    )
    add_stack_arguments(parser)
    parser.set_defaults(run=run)


@aws_command
@bedrock_command
def run(args: argparse.Namespace) -> int:
    deployment = connect(args)
    client = bedrock_client(args)
    try:
        arn = resolve(client, args.job)
    except ValueError as exc:
        return fail(str(exc))
    job = client.get_evaluation_job(jobIdentifier=arn)
    try:
        suite, document = _suite(deployment, args.suite)
        imported = import_job(job, suite, document, deployment)
    except (SuiteError, Unreadable) as exc:
        return fail(f"suite {args.suite}: {exc}")
    except ImportRefused as exc:
        return failed(str(exc))
    out = Printer()
    verdict = imported.final_verdict().value
    out.line(
        f"imported {job['jobName']} as run {imported.run_id} of suite {suite.name}: "
        f"{imported.record_count} records, verdict {verdict}",
        verdict_style(verdict),
    )
    if imported.comparison is not None and imported.comparison.baseline_run_id:
        out.line(f"compared with baseline {imported.comparison.baseline_run_id}")
    return EXIT_OK


def import_job(job: dict[str, Any], suite: Suite, document: dict[str, Any], deployment: Deployment) -> Run:
    """Record the completed ``job`` (a GetEvaluationJob response) as a run of ``suite`` (its file's
    ``document`` is kept on the run, as validation keeps it, for later comparisons).

    Raises
    ------
    ImportRefused
        The job is not Completed, does not match the suite, is already recorded, or its outputs
        cannot be read.
    """
    name = job["jobName"]
    if job.get("status") != "Completed":
        raise ImportRefused(f"job {name} is {job.get('status')}: only a Completed job can be imported")
    mismatch = config_mismatch(job, suite)
    if mismatch:
        raise ImportRefused(f"job {name} does not match suite {suite.name}: {mismatch}")
    out_bucket, _, out_prefix = job["outputDataConfig"]["s3Uri"].removeprefix("s3://").partition("/")
    outputs = Objects(deployment.s3, out_bucket)
    keys = outputs.list_output_files("/".join(p for p in (out_prefix.strip("/"), name, "") if p))
    if not keys:
        raise ImportRefused(
            f"job {name} left no *_output.jsonl under {job['outputDataConfig']['s3Uri']}/{name}/"
        )
    run = Run(
        run_id=name,
        suite=suite.name,
        status=RunStatus.COMPLETED,
        created_at=_utc(job.get("creationTime")) or now_utc(),
        trigger=TriggerKind.CLI,
        job_arn=job["jobArn"],
        job_name=name,
        job_type=JobType.HUMAN if suite.is_human else JobType.AUTOMATED,
        suite_document=json.dumps(document),
        submitted_at=_utc(job.get("creationTime")),
        job_finished_at=_utc(job.get("lastModifiedTime")),
    )
    if not deployment.runs.claim(run):
        raise ImportRefused(f"run {name} is already recorded in {deployment.outputs.runs_table_name}")
    reader = OutputReader(suite)
    try:
        deployment.runs.put_records(
            name, reader.records(keys, lambda key: iter_raw_lines(outputs.iter_chunks(key)))
        )
        reader.summary().record_on(run)
    except (OutputFormatError, EmptyResultsError) as exc:
        run.status = RunStatus.ERROR
        run.failure_messages = [str(exc)]
        deployment.runs.save(run)
        raise ImportRefused(f"job {name}: outputs cannot be read: {exc}") from exc
    run.output_files = len(keys)
    run.finished_at = now_utc()
    ports = Ports(
        objects=Objects(deployment.s3, deployment.bucket),
        runs=deployment.runs,
        # The review reads the table and writes the report: no Bedrock, SNS or function settings.
        jobs=cast("BedrockJobs", None),
        sns_client=None,
        settings=cast("Settings", None),
    )
    return review(deployment.runs.save(run), suite, ports)


def config_mismatch(job: dict[str, Any], suite: Suite) -> str:
    """What differs between the job's configuration and the suite ("" when they match)."""
    config = job.get("evaluationConfig") or {}
    kind = "human" if "human" in config else "automated"
    if (kind == "human") != suite.is_human:
        job_kind, suite_kind = ("a human", "an automated") if kind == "human" else ("an automated", "a human")
        return f"the job is {job_kind} evaluation, the suite {suite_kind} one"
    entries = (config.get(kind) or {}).get("datasetMetricConfigs") or []
    job_metrics = {m for entry in entries for m in entry.get("metricNames") or []}
    wanted = set(suite.listed_metric_names)
    if job_metrics == wanted:
        return ""
    parts = []
    if wanted - job_metrics:
        parts.append(f"the job has no {', '.join(sorted(wanted - job_metrics))}")
    if job_metrics - wanted:
        parts.append(f"the suite has no {', '.join(sorted(job_metrics - wanted))}")
    return "; ".join(parts)


def _suite(deployment: Deployment, name: str) -> tuple[Suite, dict[str, Any]]:
    """Suite ``name`` from the bucket (``suites/<name>.json``), or a local suite file."""
    if name.endswith(".json") and Path(name).is_file():
        body, name = read_bytes(name), Path(name).stem
    else:
        key = f"suites/{name}.json"
        try:
            body = deployment.s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise ImportRefused(f"suite {name}: s3://{deployment.bucket}/{key} cannot be read") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise Unreadable(f"not valid JSON ({exc})") from exc
    return Suite.from_document(name, document), document


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
