"""`make demo` and `make local`: the synthesized stack deployed into the local emulator.

``python -m local demo`` synthesizes the CDK app for this host (``-c localMode=true``), starts the
emulator (`local.server`), deploys the template through its CloudFormation
(`local.cloudformation`), uploads the example suite and dataset to the bucket as a user would,
lets S3 -> EventBridge -> Step Functions -> Lambda -> Bedrock (emulated) -> DynamoDB -> SNS run,
and prints the execution's path, the run summary and the alert as a subscriber receives it.

``python -m local serve`` does the same up to the deployment, then keeps the emulator running,
prints how to reach it (endpoint, bucket, table, topic, AWS CLI commands) and watches runs.

Everything the demo does after the deployment goes through the emulator's HTTP endpoint with
plain boto3 clients, like the AWS CLI would: nothing here reaches into moto.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evalpipe.aws.runs_table import RunsTable
from local.bedrock_emulator.knowledge_bases import CONTROL_ACTION, folder_payload
from local.cloudformation import DeployedStack, deploy_assembly
from local.scheduler import fire as scheduler_fire
from local.server import LOCAL_JOB_SLOTS, LocalEmulator, emulator_control
from local.targets import LOCAL_COLLECT_FUNCTIONS, LOCAL_COLLECT_SECRETS, LocalTargets

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from evalpipe.run.model import RecordItem, Run

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"
SUITE = "support-assistant"
SUITE_FILE = EXAMPLES / "suites" / f"{SUITE}.json"
DATASET_FILE = EXAMPLES / "datasets" / SUITE / "sample.jsonl"
SUITE_KEY = f"suites/{SUITE}.json"
DATASET_KEY = f"datasets/{SUITE}/sample.jsonl"
LOCAL_DIR = REPO_ROOT / ".cache" / "local"
DEFAULT_OUTDIR = LOCAL_DIR / "cdk.out"
FUNCTION_LOG = LOCAL_DIR / "functions.log"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
SUBSCRIBER_QUEUE = "evalpipe-local-subscriber"
# `make local`'s own subscription: the user's queue is theirs to read.
WATCHER_QUEUE = "evalpipe-local-watcher"
# Live-inference models the local stack allows (cdk.json's inferenceModels is [] for real
# deployments): the emulator answers offline, so the live example suite runs out of the box.
LOCAL_INFERENCE_MODELS = ["amazon.nova-lite-v1:0"]
# Models the local stack's collect function may call through Converse (the emulator answers
# offline; cdk.json's collectModels is [] for real deployments).
LOCAL_COLLECT_MODELS = ["amazon.nova-lite-v1:0"]
# Knowledge bases the local stack allows and the emulator serves: one folder of documents each,
# named by its id (cdk.json's knowledgeBases is [] for real deployments).
KNOWLEDGE_BASES_DIR = EXAMPLES / "knowledge-bases"
LOCAL_KNOWLEDGE_BASES = sorted(path.name for path in KNOWLEDGE_BASES_DIR.iterdir() if path.is_dir())

# The jsii runtime (CDK) warns on every start about Node versions it has not tested.
JSII_QUIET = {
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,19,20,21,22,23,24,25,26",
}


def terminal_console(stream: Any = None) -> Console:
    """The console `make demo` and `make local` print to: wrapped to the terminal when there is one;
    never wrapped when output goes to a file, a pipe or a CI log (S3 URIs and ARNs stay whole)."""
    stream = stream or sys.__stdout__
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, soft_wrap=True, width=NO_WRAP_WIDTH)


# Off a terminal rich would wrap at 80 columns. Text is soft-wrapped (never broken); tables and panels
# take the width their cells need, up to this.
NO_WRAP_WIDTH = 240


# ====================================================================== building blocks
def synthesize(outdir: Path, context: Mapping[str, Any] | None = None) -> Path:
    """``cdk synth -c localMode=true`` in this process; returns the cloud assembly directory.

    ``localMode`` bundles the Lambda asset for this host (the functions run in-process here);
    ``inferenceModels`` defaults to :data:`LOCAL_INFERENCE_MODELS`, ``knowledgeBases`` to
    :data:`LOCAL_KNOWLEDGE_BASES`, ``collectModels`` to :data:`LOCAL_COLLECT_MODELS`,
    ``collectSecrets`` and ``collectFunctions`` to the local app's secret and function
    (`local.targets`) and ``externalSources`` to true (``context`` may override them).
    """
    for name, value in JSII_QUIET.items():
        os.environ.setdefault(name, value)
    from infra.application import create_app  # noqa: PLC0415 - starts the jsii runtime (seconds)

    local = {
        "localMode": True,
        "inferenceModels": LOCAL_INFERENCE_MODELS,
        "knowledgeBases": LOCAL_KNOWLEDGE_BASES,
        "collectModels": LOCAL_COLLECT_MODELS,
        "collectSecrets": LOCAL_COLLECT_SECRETS,
        "collectFunctions": LOCAL_COLLECT_FUNCTIONS,
        "externalSources": True,
        # A small pool below the emulator's small quota: the local stack queues, as a busy account does.
        "maxConcurrentJobs": LOCAL_JOB_SLOTS,
        "maxConcurrentHumanJobs": LOCAL_JOB_SLOTS,
        "slotWaitSeconds": 2,
    }
    app, _ = create_app({**local, **(context or {})}, outdir=str(outdir))
    app.synth()
    return outdir


@dataclass
class LocalDeployment:
    """The deployed stack as a user sees it: its outputs, and boto3 clients on the endpoint.

    Only the public API is used (any endpoint would do: the emulator, or AWS itself).
    """

    endpoint: str
    region: str
    outputs: dict[str, str]
    subscriber_queue_url: str = ""
    # The apps under test `python -m local serve` runs (`local.targets.LocalTargets.as_dict`).
    targets: dict[str, str] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_ready_file(cls, path: Path) -> LocalDeployment:
        """What ``python -m local serve --ready-file`` wrote once the stack was up."""
        ready = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            ready["endpoint"],
            ready["region"],
            ready["outputs"],
            ready["subscriber_queue_url"],
            targets=ready.get("targets") or {},
        )

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    @property
    def table(self) -> str:
        return self.outputs["RunsTableName"]

    @property
    def topic_arn(self) -> str:
        return self.outputs["TopicArn"]

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    @property
    def schedule_group(self) -> str:
        return self.outputs["ScheduleGroupName"]

    def _session(self) -> boto3.Session:
        # The emulator's fake credentials, whatever this machine's profile says.
        return boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region
        )

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self._session().client(service, endpoint_url=self.endpoint)
        return self.clients[service]

    # --- what a user does -------------------------------------------------------------------
    def subscribe_queue(self, name: str = SUBSCRIBER_QUEUE) -> str:
        """The user's SQS queue subscribed to the stack's topic (what an e-mail subscriber would get)."""
        self.subscriber_queue_url = self.subscribed_queue(name)
        return self.subscriber_queue_url

    def subscribed_queue(self, name: str) -> str:
        """Another SQS queue subscribed to the topic: every subscription gets its own copy of each
        alert (`make local`'s watcher reads its own, and leaves the user's queue alone)."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def upload(self, path: Path, key: str) -> dict[str, Any]:
        self.client("s3").upload_file(str(path), self.bucket, key)
        return self.client("s3").head_object(Bucket=self.bucket, Key=key)

    # --- what a user watches ----------------------------------------------------------------
    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn)
        return [execution for page in pages for execution in page["executions"]]

    def execution_for(self, key: str, *, timeout: float = 30, exclude: set[str] | None = None) -> str:
        """The ARN of the (first new) execution started for the object ``key``."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        seen: set[str] = set(exclude or ())
        while time.monotonic() < deadline:
            for execution in self.executions():
                arn = execution["executionArn"]
                if arn in seen:
                    continue
                event = json.loads(sfn.describe_execution(executionArn=arn).get("input") or "{}")
                if event.get("detail", {}).get("object", {}).get("key") == key:
                    return arn
                seen.add(arn)
            time.sleep(0.2)
        raise TimeoutError(f"no execution started for {key} within {timeout:.0f}s")

    def wait_for_execution(self, arn: str, *, timeout: float = 120) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=arn)
            if description["status"] in TERMINAL or time.monotonic() > deadline:
                return description
            time.sleep(0.2)

    def history(self, arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return sorted((e for page in pages for e in page["events"]), key=lambda e: e["id"])

    # --- suite schedules (EventBridge Scheduler) ----------------------------------------------
    def schedule(self, suite: str) -> dict[str, Any] | None:
        """The suite's schedule as the scheduler API returns it, or None."""
        scheduler = self.client("scheduler")
        try:
            return scheduler.get_schedule(Name=suite, GroupName=self.schedule_group)
        except scheduler.exceptions.ResourceNotFoundException:
            return None

    def wait_for_schedule(
        self, suite: str, *, present: bool = True, timeout: float = 30
    ) -> dict[str, Any] | None:
        """Poll until the suite's schedule exists (or, ``present=False``, is gone).

        SyncSchedules runs asynchronously after a suite file is uploaded or deleted, as in AWS.
        """
        deadline = time.monotonic() + timeout
        while True:
            schedule = self.schedule(suite)
            if (schedule is not None) == present:
                return schedule
            if time.monotonic() > deadline:
                state = "no schedule" if present else "the schedule still exists"
                raise TimeoutError(f"{suite}: {state} after {timeout:.0f}s")
            time.sleep(0.2)

    def fire_schedule(self, suite: str, *, scheduled_time: datetime | str | None = None) -> dict[str, Any]:
        """Fire the suite's schedule now, as EventBridge Scheduler does when it is due.

        moto's scheduler stores schedules but never invokes them: this is its local stand-in
        (`local.scheduler.fire`), reading the schedule through the scheduler API and delivering its
        target input (context attributes replaced) to its target, a StartExecution of the state
        machine. Firing the same ``scheduled_time`` twice is a scheduler retry of one invocation.

        Returns
        -------
        dict
            What was fired (``input``, ``scheduled_time``, ``execution_arn``, ...).
        """
        schedule = self.schedule(suite)
        if schedule is None:
            raise LookupError(f"no schedule {suite} in group {self.schedule_group}")
        return scheduler_fire(schedule, self.client, scheduled_time=scheduled_time)

    def runs_table(self) -> RunsTable:
        """The stack's runs table through the product's own adapter (keys as docs/design.md)."""
        return RunsTable(self._session().resource("dynamodb", endpoint_url=self.endpoint).Table(self.table))

    def run(self, run_id: str) -> Run | None:
        return self.runs_table().get(run_id)

    def records(self, run_id: str) -> list[RecordItem]:
        """The run's record items, in index order."""
        return list(self.runs_table().iter_records(run_id))

    def messages(self, *, wait: float = 0.0, count: int = 1, queue_url: str = "") -> list[dict[str, Any]]:
        """Drain the subscriber queue (or ``queue_url``): SNS envelopes decoded to subject, attributes,
        body."""
        sqs = self.client("sqs")
        queue_url = queue_url or self.subscriber_queue_url
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in batch:
                envelope = json.loads(message["Body"])
                received.append(
                    {
                        "subject": envelope.get("Subject"),
                        "attributes": {
                            k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()
                        },
                        "body": envelope.get("Message", ""),
                        "message_id": envelope.get("MessageId"),
                    }
                )
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not batch and (len(received) >= count or time.monotonic() > deadline):
                return received
            if not batch:
                time.sleep(0.2)


def register_knowledge_bases(
    endpoint: str, region: str, root: Path = KNOWLEDGE_BASES_DIR
) -> list[dict[str, Any]]:
    """Register every ``<root>/<id>/`` folder of documents as knowledge base ``<id>`` of the emulator.

    Over the emulator's HTTP control (docs/local-bedrock-emulator.md, "Knowledge bases"), like
    creating a knowledge base and ingesting its S3 data source; returns the registered summaries.
    """
    return emulator_control(endpoint, CONTROL_ACTION, folder_payload(root, region))["knowledgeBases"]


def start_and_deploy(
    outdir: Path, *, job_seconds: float | None, port: int = 0
) -> tuple[LocalEmulator, DeployedStack]:
    """Start the emulator and deploy the assembly in ``outdir`` through its CloudFormation."""
    emulator = LocalEmulator(port=port, job_seconds=job_seconds).start()
    try:
        stack = deploy_assembly(outdir, session=boto3.Session(region_name=emulator.region))
        register_knowledge_bases(emulator.url, emulator.region)
    except BaseException:
        emulator.stop()
        raise
    return emulator, stack


# ====================================================================== rendering
def state_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per state entered: name, kind, start offset, duration, a short result."""
    if not events:
        return []
    started = events[0]["timestamp"]
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            row = {
                "name": name,
                "kind": kind.removesuffix("StateEntered"),
                "at": (event["timestamp"] - started).total_seconds(),
                "seconds": None,
                "result": "",
                "retries": 0,
            }
            rows.append(row)
            open_rows[name] = row
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            row = open_rows.pop(details["name"], None)
            if row is not None:
                row["seconds"] = (event["timestamp"] - started).total_seconds() - row["at"]
                row["result"] = _summarize(details["name"], details.get("output"))
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            detail = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
            detail = detail or {}
            for row in open_rows.values():
                row["retries"] += 1
                row["result"] = f"retried after {detail.get('error', 'an error')}"
    return rows


def _summarize(state: str, output: str | None) -> str:
    try:
        data = json.loads(output or "{}")
    except json.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    run, job = data.get("run") or {}, data.get("job") or {}
    if state == "Validate":
        return f"run {run.get('run_id', '?')}: {run.get('outcome', '?')}"
    if state in ("Submit", "Poll"):
        return f"job {job.get('status', '?')}"
    if state == "Parse":
        parsed = data.get("parse") or {}
        return f"{parsed.get('record_count', '?')} records, verdict {parsed.get('verdict', '?')}"
    if state in ("Notify", "NotifyError"):
        notified = data.get("notify") or {}
        return f"published {notified.get('verdict', '')}".rstrip()
    if state == "RecordError":
        return f"recorded {(data.get('error') or {}).get('Error', 'error')}"
    return ""


def path_line(rows: list[dict[str, Any]]) -> str:
    """``Validate -> ... -> Poll x2 -> ...``: consecutive repeats of a loop folded."""
    names = [row["name"] for row in rows]
    folded: list[str] = []
    i = 0
    while i < len(names):
        # Fold a repeated two-state loop (WaitForJob, Poll, CheckJobStatus, WaitForJob, ...).
        for width in (3, 2, 1):
            block = names[i : i + width]
            repeats = 1
            while names[i + repeats * width : i + (repeats + 1) * width] == block and len(block) == width:
                repeats += 1
            if repeats > 1:
                folded.append(f"({' → '.join(block)}) x{repeats}")
                i += repeats * width
                break
        else:
            folded.append(names[i])
            i += 1
    return " → ".join(folded)


def execution_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Execution path", title_justify="left", header_style="bold")
    table.add_column("#", justify="right", style="dim")
    table.add_column("state")
    table.add_column("type", style="dim")
    table.add_column("at", justify="right")
    table.add_column("took", justify="right")
    table.add_column("result")
    for index, row in enumerate(rows, 1):
        took = "" if row["seconds"] is None else f"{row['seconds']:.2f}s"
        table.add_row(str(index), row["name"], row["kind"], f"+{row['at']:.2f}s", took, row["result"])
    return table


def summary_tables(run: Run) -> list[Table]:
    """The run's per-metric summary and per-category averages, as the runs table holds them."""
    metrics = run.metrics
    table = Table(title="Run summary (the runs table)", title_justify="left", header_style="bold")
    for column, justify in (
        ("metric", "left"),
        ("average", "right"),
        ("scored", "right"),
        ("N/A rate", "right"),
        ("low", "right"),
        ("low if", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name in sorted(metrics):
        m = metrics[name]
        table.add_row(
            name,
            "N/A" if m.average is None else f"{m.average:.3f}",
            str(m.scored),
            f"{m.na_rate:.0%}",
            Text(str(m.low_count), style="bold red" if m.low_count else "green"),
            m.rule,
        )
    tables = [table]
    categories = run.categories
    if categories:
        by_category = Table(title="Average by category", title_justify="left", header_style="bold")
        by_category.add_column("metric")
        for category in sorted(categories):
            by_category.add_column(category, justify="right")
        for name in sorted({metric for values in categories.values() for metric in values}):
            cells = []
            for category in sorted(categories):
                value = categories[category].get(name)
                cells.append("N/A" if value is None else f"{value:.2f}")
            by_category.add_row(name.removeprefix("Builtin."), *cells)
        tables.append(by_category)
    return tables


def print_message(console: Console, message: Mapping[str, Any]) -> None:
    """An SNS notification as the subscriber got it: subject, attributes, then the body as is."""
    attributes = Table.grid(padding=(0, 2))
    attributes.add_column(style="cyan")
    attributes.add_column()
    for name, value in sorted(message["attributes"].items()):
        attributes.add_row(name, str(value))
    console.print(
        Panel(
            Group(Text.assemble(("Subject: ", "bold"), message.get("subject") or ""), attributes),
            title="Alert delivered to the topic's SQS subscriber",
            title_align="left",
            expand=False,
        )
    )
    # The body is laid out for an e-mail client: print it verbatim (the terminal wraps it).
    console.print(message["body"], markup=False, highlight=False, soft_wrap=True)
    console.rule(style="dim")


# ====================================================================== the two commands
@contextlib.contextmanager
def function_output_to(path: Path) -> Iterator[None]:
    """Send what the functions print (their JSON logs) to a file, keep the demo's own output.

    The functions run in this process (as in Lambda, they log to stdout): the demo's console
    writes to the original stdout, everything else printed to ``sys.stdout`` goes to ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as sink:
        saved = sys.stdout
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


@contextlib.contextmanager
def _step(console: Console, title: str) -> Iterator[dict[str, str]]:
    note: dict[str, str] = {"text": ""}
    started = time.monotonic()
    try:
        with console.status(title + " ..."):
            yield note
    except BaseException:
        console.print(f"[red]✗[/red] {title} [dim]({time.monotonic() - started:.1f}s)[/dim]")
        raise
    took = time.monotonic() - started
    console.print(f"[green]✓[/green] {title} [dim]({took:.1f}s)[/dim] {note['text']}")


def local_timing(poll_interval: int) -> dict[str, int]:
    """CDK context of the local mode: every poll, human jobs' long schedule included, every
    ``poll_interval`` seconds (a human job in the emulator ends after a short, fake delay)."""
    return {
        "pollIntervalSeconds": poll_interval,
        "humanPollMinSeconds": poll_interval,
        "humanPollMaxSeconds": poll_interval,
    }


def _synthesize_quietly(outdir: Path, poll_interval: int) -> None:
    # CDK prints "Bundling asset ..." on stderr; shown only if the synthesis fails.
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            synthesize(outdir, local_timing(poll_interval))
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise


def run_demo(
    *,
    outdir: Path = DEFAULT_OUTDIR,
    poll_interval: int = 1,
    job_seconds: float = 2,
    log_file: Path = FUNCTION_LOG,
    console: Console | None = None,
) -> int:
    """The whole loop once; returns the exit code (0 when the run succeeded and was notified)."""
    console = console or terminal_console()
    started = time.monotonic()
    console.rule("[bold]bedrock-evalpipe · local mode")
    title = "Synthesize the CDK app (-c localMode=true: the Lambda asset is built for this host)"
    with _step(console, title) as note:
        _synthesize_quietly(outdir, poll_interval)
        note["text"] = f"[dim]{_shown(outdir)}[/dim]"

    with function_output_to(log_file):
        title = "Start the AWS emulator and deploy the template through its CloudFormation"
        with _step(console, title) as note:
            emulator, stack = start_and_deploy(outdir, job_seconds=job_seconds)
            note["text"] = (
                f"[dim]{emulator.url} · stack {stack.name} {stack.status}, "
                f"{len(stack.resources)} resources[/dim]"
            )
        try:
            deployment = LocalDeployment(emulator.url, emulator.region, stack.outputs)
            code = _demo_run(console, deployment)
        finally:
            emulator.stop()
    console.print(
        f"\n[dim]Function logs: {_shown(log_file)} · whole demo {time.monotonic() - started:.1f}s · "
        "keep a stack running to explore it: [bold]make local[/bold][/dim]"
    )
    return code


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _demo_run(console: Console, deployment: LocalDeployment) -> int:
    outputs = Table.grid(padding=(0, 2))
    outputs.add_column(style="cyan", no_wrap=True)
    outputs.add_column(overflow="fold")
    for key, value in deployment.outputs.items():
        outputs.add_row(key, value)
    console.print(Panel(outputs, title="Stack outputs", title_align="left", expand=False))

    with _step(console, "Subscribe an SQS queue to the stack's alerts topic") as note:
        deployment.subscribe_queue()
        note["text"] = f"[dim]{deployment.topic_arn.rsplit(':', 1)[-1]}[/dim]"
    with _step(console, f"Upload s3://{deployment.bucket}/{SUITE_KEY}"):
        deployment.upload(SUITE_FILE, SUITE_KEY)
    with _step(console, f"Upload s3://{deployment.bucket}/{DATASET_KEY}") as note:
        head = deployment.upload(DATASET_FILE, DATASET_KEY)
        note["text"] = f"[dim]version {head.get('VersionId')}[/dim]"
    with _step(console, "S3 Object Created -> EventBridge rule -> StartExecution") as note:
        arn = deployment.execution_for(DATASET_KEY)
        note["text"] = f"[dim]{arn.rsplit(':', 1)[-1]}[/dim]"
    with _step(console, "Run the state machine (Lambdas in-process, Bedrock job emulated)") as note:
        description = deployment.wait_for_execution(arn)
        status = description["status"]
        note["text"] = f"[bold {'green' if status == 'SUCCEEDED' else 'red'}]{status}[/]"

    rows = state_rows(deployment.history(arn))
    console.print()
    console.print(Text.assemble(("Path: ", "bold"), path_line(rows)))
    console.print(execution_table(rows))
    output = json.loads(description.get("output") or "{}")
    run_id = (output.get("run") or {}).get("run_id")
    run = deployment.run(run_id) if run_id else None
    if run:
        job = run.job_arn
        if job:
            details = deployment.client("bedrock").get_evaluation_job(jobIdentifier=job)
            console.print(
                f"Bedrock evaluation job [bold]{details['jobName']}[/bold]: {details['status']} "
                f"[dim](emulated, offline judge; results under "
                f"{details['outputDataConfig']['s3Uri']})[/dim]"
            )
        console.print(
            f"Run [bold]{run.run_id}[/bold]: {run.status} / [bold]{run.verdict}[/bold], "
            f"{run.record_count or 0} records"
        )
        for table in summary_tables(run):
            console.print(table)
    messages = deployment.messages(wait=10, count=1)
    for message in messages:
        print_message(console, message)
    if status != "SUCCEEDED":
        console.print(f"[red]Execution {status}: {description.get('error')} {description.get('cause')}[/red]")
    return 0 if status == "SUCCEEDED" and messages else 1


def serve(
    *,
    outdir: Path = DEFAULT_OUTDIR,
    port: int = 0,
    poll_interval: int = 1,
    job_seconds: float = 2,
    ready_file: Path | None = None,
    watch: bool = True,
    log_file: Path = FUNCTION_LOG,
    console: Console | None = None,
) -> int:
    """Deploy, print how to use the stack, then watch runs until Ctrl-C (or SIGTERM)."""
    console = console or terminal_console()
    with function_output_to(log_file):
        return _serve(console, outdir, port, poll_interval, job_seconds, ready_file, watch, log_file)


def _serve(  # noqa: PLR0917 - private, called once
    console: Console,
    outdir: Path,
    port: int,
    poll_interval: int,
    job_seconds: float,
    ready_file: Path | None,
    watch: bool,
    log_file: Path,
) -> int:
    with _step(console, "Synthesize the CDK app (-c localMode=true)"):
        _synthesize_quietly(outdir, poll_interval)
    with _step(console, "Start the AWS emulator and deploy the template") as note:
        emulator, stack = start_and_deploy(outdir, job_seconds=job_seconds, port=port)
        note["text"] = f"[dim]{emulator.url}[/dim]"
    try:
        with _step(
            console, "Start the app under test (HTTP and Lambda targets for pipeline.collect)"
        ) as note:
            targets = LocalTargets.start(region=emulator.region)
            note["text"] = f"[dim]{targets.app.url}[/dim]"
    except BaseException:
        emulator.stop()
        raise
    deployment = LocalDeployment(emulator.url, emulator.region, stack.outputs, targets=targets.as_dict())
    deployment.subscribe_queue()
    print_usage(console, deployment)
    console.print(f"[dim]Function logs: tail -f {_shown(log_file)}[/dim]")
    if ready_file is not None:
        ready_file.write_text(
            json.dumps(
                {
                    "endpoint": emulator.url,
                    "region": emulator.region,
                    "outputs": stack.outputs,
                    "subscriber_queue_url": deployment.subscriber_queue_url,
                    "targets": deployment.targets,
                    "pid": os.getpid(),
                }
            ),
            encoding="utf-8",
        )
    try:
        if watch:
            _watch(console, deployment)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\n[dim]stopping the emulator[/dim]")
    finally:
        targets.stop()
        emulator.stop()
    return 0


def print_usage(console: Console, deployment: LocalDeployment) -> None:
    """Endpoint, resources and copy-pasteable AWS CLI commands for the running stack."""
    url, bucket = deployment.endpoint, deployment.bucket
    info = Table.grid(padding=(0, 2))
    info.add_column(style="cyan", no_wrap=True)
    info.add_column(overflow="fold")
    info.add_row("endpoint", url)
    info.add_row("bucket", bucket)
    info.add_row("table", deployment.table)
    info.add_row("topic", deployment.topic_arn)
    info.add_row("state machine", deployment.state_machine_arn)
    info.add_row("subscriber queue", deployment.subscriber_queue_url)
    if deployment.targets:
        # pipeline.collect's http and lambda targets (local.targets.collect_target builds them).
        info.add_row("app (http target)", deployment.targets["httpUrl"])
        info.add_row("app's token secret", deployment.targets["secretArn"])
        info.add_row(
            "app (lambda target)", f"{deployment.targets['functionName']}:{deployment.targets['qualifier']}"
        )
    console.print(Panel(info, title="Local stack running (Ctrl-C to stop)", title_align="left", expand=False))
    for line in usage_commands(deployment):
        console.print(
            line, markup=False, highlight=False, soft_wrap=True, style="dim" if line[:1] == "#" else "green"
        )


def usage_commands(deployment: LocalDeployment) -> list[str]:
    url, bucket = deployment.endpoint, deployment.bucket
    aws = f"aws --endpoint-url {url}"
    return [
        "# any AWS SDK or the AWS CLI: fake credentials, the emulator's endpoint",
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={deployment.region}",
        f"{aws} s3 cp examples/suites/{SUITE}.json s3://{bucket}/{SUITE_KEY}",
        f"{aws} s3 cp examples/datasets/{SUITE}/sample.jsonl s3://{bucket}/datasets/{SUITE}/mine.jsonl",
        "# watch runs (this terminal prints each execution and alert too)",
        f"{aws} stepfunctions list-executions --state-machine-arn {deployment.state_machine_arn}",
        f"{aws} stepfunctions get-execution-history --execution-arn <executionArn>",
        f"{aws} dynamodb scan --table-name {deployment.table}",
        f"{aws} sqs receive-message --queue-url {deployment.subscriber_queue_url}",
        f"{aws} bedrock list-evaluation-jobs",
        "# the knowledge bases the emulator serves (one per folder of examples/knowledge-bases/)",
        f"curl -X POST {url}/moto-api/evalpipe/bedrock-emulator/knowledge-bases "
        f'-d \'{{"region": "{deployment.region}"}}\'',
        "# make the next Bedrock job fail (the emulator's controls, docs/local-bedrock-emulator.md)",
        f'curl -X POST {url}/moto-api/evalpipe/bedrock-emulator/fail-jobs -d \'{{"messages": ["boom"]}}\'',
    ]


def _watch(console: Console, deployment: LocalDeployment) -> None:
    watcher = Watcher(console, deployment, deployment.subscribed_queue(WATCHER_QUEUE))
    while True:
        watcher.once()
        time.sleep(1)


@dataclass
class Watcher:
    """What `make local` prints as runs go: each execution started and ended, and each alert whole.

    It reads alerts from a queue of its own (``queue_url``, subscribed to the topic beside the
    user's): the ``aws sqs receive-message`` command it prints still finds every alert.
    """

    console: Console
    deployment: LocalDeployment
    queue_url: str
    started: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

    def once(self) -> None:
        deployment, console = self.deployment, self.console
        sfn = deployment.client("stepfunctions")
        for execution in sorted(deployment.executions(), key=lambda e: e["startDate"]):
            arn = execution["executionArn"]
            if arn not in self.started:
                self.started.add(arn)
                event = json.loads(sfn.describe_execution(executionArn=arn).get("input") or "{}")
                detail = event.get("detail", {})
                # A dataset drop names its object; a run request its suite and who asked.
                key = detail.get("object", {}).get("key") or (
                    f"suite {detail.get('suite', '?')} ({detail.get('requestedBy', '?')})"
                )
                console.print(f"[cyan]▶[/cyan] execution {arn.rsplit(':', 1)[-1]} started for {key}")
            if execution["status"] in TERMINAL and arn not in self.reported:
                self.reported.add(arn)
                rows = state_rows(deployment.history(arn))
                color = "green" if execution["status"] == "SUCCEEDED" else "red"
                console.print(f"[{color}]■ {execution['status']}[/{color}] {path_line(rows)}")
        for message in deployment.messages(queue_url=self.queue_url):
            print_message(console, message)
