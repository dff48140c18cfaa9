"""Benchmark of the local mode, end to end: the synthesized stack in the emulator, datasets dropped into it.

``python bench/run.py local``. The stack is the one ``make demo``, ``make local`` and the e2e tests
run (`local.demo`: ``synthesize`` with ``localMode=true``, ``start_and_deploy`` into
`local.server.LocalEmulator`, `LocalDeployment` as the user's view of it) with the local mode's
own settings, read from `local`, never changed here: emulated jobs of ``job_seconds`` and polls
every ``poll_interval`` second (`local.demo.run_demo`'s defaults, what ``make demo`` runs), the
emulator's quota of `LOCAL_JOB_QUOTA` concurrent jobs and the deployment's pool of
`LOCAL_JOB_SLOTS`. The emulator runs in this process (the e2e tests start the same code in a
``python -m local serve`` subprocess), so its request handling can be counted.

In order (the runs share one table, and what a run reads depends on what it holds):

1. a warm-up run of the example (``sample.jsonl``, 18 records): every function's cold start;
2. the baseline run, the same 18 records: the "one run" of every ratio below;
3. 20 copies of the example dropped at once: all must complete; total time against the ideal
   20 x (the baseline run's time) / quota, and the emulator's peak of concurrent jobs;
4. runs of 1,000 and 10,000 records (the example's lines cycled, each prompt numbered), then
   the 1,000 again;
5. the parse step's peak memory at 10,000 records (its baseline: the 1,000-record run) and at
   1,000 (the second run: its baseline is the 10,000-record run), below.

For each run: time from the upload to the notification in the subscriber's queue; state
transitions (the ``*StateEntered`` events of the execution's history: one per state entered,
the states of the Map's iterations included); Lambda invocations per function (the in-process
runner's record, from the upload until no function ran for `QUIET_SECONDS` after the
notification); DynamoDB calls per operation and function (moto's DynamoDB handler wrapped in
this process: every HTTP request, retries included, with the items of every BatchWriteItem and
the time moto took to serve it).

The parse step's peak memory: moto keeps every stored item in this process, so a tracemalloc
peak around the in-process handler would count DynamoDB's storage of the records it writes.
The handler is therefore invoked again, on the event the state machine gave it, in a child
process with the function's own environment against the same emulator (a re-parse stores the
same items: `evalpipe.steps.parse`), and tracemalloc's peak is taken there around the handler
only (imports and clients built before), split at the call of ``review`` (parse and store, then
review). The child's peak RSS (VmHWM; what Lambda reports as "Max Memory Used") is reported beside
it, against the function's memory size. Both measured runs have a baseline of at least 1,000
records: the review reads a baseline a Query page (1 MB) at a time, so an 18-record baseline would
make the smaller run look cheaper for a reason that has nothing to do with its size. The
1,000-record run measured is the second (after the 10,000), so each run is compared with the
other's size: the memory must not grow with the run nor with its baseline.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
for _entry in (str(REPO / "lambdas"), str(REPO)):  # also runs without `make install`
    if _entry not in sys.path:
        sys.path.insert(0, _entry)

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = "support-assistant"
SAMPLE_FILE = REPO / "examples" / "datasets" / SUITE / "sample.jsonl"
SIZES = (1_000, 10_000)
BURST = 20
AGAIN = f"{SIZES[0]}-again"  # the smaller run made again after the larger: its baseline is the larger
RUN_TIMEOUT = 900  # seconds one dropped dataset (or the burst) may take before it counts as failed
POLL_SECONDS = 0.25  # how often the bench reads the subscriber's queue (each read is served in-process)
QUIET_SECONDS = 2.0  # after a run's notification: no function invoked for this long = the run is over
BATCH_ITEMS = 25  # DynamoDB's maximum per BatchWriteItem call: the floor of write calls
WRITE_OPERATIONS = frozenset({"BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})


def local_mode_settings() -> dict[str, Any]:
    """The local mode's own settings (what ``make demo`` runs with), read from `local`."""
    from local import demo  # noqa: PLC0415 -- boto3, moto, rich: only for this section
    from local.server import LOCAL_JOB_QUOTA, LOCAL_JOB_SLOTS  # noqa: PLC0415

    parameters = inspect.signature(demo.run_demo).parameters
    return {
        "job_seconds": parameters["job_seconds"].default,
        "poll_interval_seconds": parameters["poll_interval"].default,
        "emulator_quota": LOCAL_JOB_QUOTA,
        "pipeline_pool": LOCAL_JOB_SLOTS,
    }


def dataset(records: int | None = None) -> bytes:
    """The example's ``sample.jsonl`` (``None``), or ``records`` lines of it cycled, prompts numbered."""
    text = SAMPLE_FILE.read_text(encoding="utf-8")
    if records is None:
        return text.encode("utf-8")
    samples = [json.loads(line) for line in text.splitlines() if line.strip()]
    lines = []
    for i in range(records):
        record = dict(samples[i % len(samples)])
        record["prompt"] = f"[{i + 1}] {record['prompt']}"
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode("utf-8")


# ====================================================================== counting DynamoDB calls
@dataclass(frozen=True)
class DynamoCall:
    operation: str
    function: str  # the Lambda function running when the request arrived ("" = none)
    items: int  # BatchWriteItem: its put and delete requests; otherwise 1
    seconds: float  # moto's time to serve it (in this process: GIL contention included)


@dataclass
class DynamoCounter:
    """Every request moto's DynamoDB handler serves, with the function that sent it.

    The in-process runner runs one handler at a time and applies its environment to the process,
    so ``AWS_LAMBDA_FUNCTION_NAME`` when the server receives a request names the sender.
    """

    calls: list[DynamoCall] = field(default_factory=list)
    _original: Any = None

    def install(self) -> DynamoCounter:
        from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

        original = DynamoHandler.call_action
        calls = self.calls

        def counted(handler: Any) -> Any:
            operation = handler._get_action()
            items = 1
            if operation == "BatchWriteItem":
                with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                    body = json.loads(handler.body)
                    items = sum(len(requests) for requests in body["RequestItems"].values())
            function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
            started = time.perf_counter()
            try:
                return original(handler)
            finally:
                calls.append(DynamoCall(operation, function, items, time.perf_counter() - started))

        self._original = original
        DynamoHandler.call_action = counted  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        if self._original is not None:
            from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

            DynamoHandler.call_action = self._original  # type: ignore[method-assign]
            self._original = None


# ====================================================================== the stack
@dataclass
class Stack:
    """The deployed local stack, its in-process Lambda runner and the DynamoDB counter."""

    deployment: Any  # local.demo.LocalDeployment
    emulator: Any  # local.server.LocalEmulator
    runner: Any  # local.inprocess_lambda.InProcessLambdaRunner
    counter: DynamoCounter
    function_names: dict[str, str]  # physical name -> logical id
    log_file: Path

    def logical(self, physical: str) -> str:
        return self.function_names.get(physical, physical or "(no function)").removesuffix("Function")


@contextlib.contextmanager
def local_stack(work: Path, settings: dict[str, Any]) -> Iterator[Stack]:
    """``make demo``'s stack: synthesized for this host, deployed into the emulator in this process."""
    from local import demo  # noqa: PLC0415
    from local.inprocess_lambda import current_runner  # noqa: PLC0415

    outdir = work / "cdk.out"
    captured = io.StringIO()  # CDK's "Bundling asset ..." lines: shown only if the synthesis fails
    try:
        with contextlib.redirect_stderr(captured):
            demo.synthesize(outdir, demo.local_timing(settings["poll_interval_seconds"]))
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    log_file = work / "functions.log"
    counter = DynamoCounter().install()
    try:
        # The functions log JSON to stdout, as in Lambda: to a file, as `make demo` does.
        with demo.function_output_to(log_file):
            emulator, deployed = demo.start_and_deploy(outdir, job_seconds=settings["job_seconds"])
            deployment = demo.LocalDeployment(emulator.url, emulator.region, deployed.outputs)
            try:
                deployment.subscribe_queue()
                names = {
                    physical: logical
                    for logical, physical in deployed.resources.items()
                    if deployed.resource_types.get(logical) == "AWS::Lambda::Function"
                }
                stack = Stack(deployment, emulator, current_runner(), counter, names, log_file)
                deployment.upload(demo.SUITE_FILE, demo.SUITE_KEY)
                # The upload syncs the suite's schedule (SyncSchedules, asynchronously): not a run's.
                _wait_for_invocation(stack, "SyncSchedules")
                wait_until_quiet(stack)
                yield stack
            finally:
                _stop_executions(deployment)
                emulator.stop()
    finally:
        counter.uninstall()


def _wait_for_invocation(stack: Stack, function: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(stack.logical(i.function_name) == function for i in stack.runner.invocations):
            return
        time.sleep(0.1)


def _stop_executions(deployment: Any) -> None:
    with contextlib.suppress(Exception):
        sfn = deployment.client("stepfunctions")
        for execution in deployment.executions():
            if execution["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution["executionArn"])


def wait_until_quiet(stack: Stack) -> None:
    """Until no function was invoked for `QUIET_SECONDS`."""
    seen, since = len(stack.runner.invocations), time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < QUIET_SECONDS and time.monotonic() < deadline:
        time.sleep(0.1)
        if len(stack.runner.invocations) != seen:
            seen, since = len(stack.runner.invocations), time.monotonic()


def wait_for_notifications(stack: Stack, count: int, started: float) -> dict[str, float]:
    """Read the subscriber's queue until ``count`` runs were notified (or `RUN_TIMEOUT`).

    Returns run id -> seconds from ``started`` to the message's arrival.
    """
    arrived: dict[str, float] = {}
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(arrived) < count and time.monotonic() < deadline:
        for message in stack.deployment.messages():
            arrived.setdefault(message["attributes"].get("run_id", "?"), time.perf_counter() - started)
        time.sleep(POLL_SECONDS)
    return arrived


# ====================================================================== what a run did
@dataclass(frozen=True)
class Mark:
    """Where the runner's and the counter's records stood at a moment."""

    invocations: int
    calls: int

    @classmethod
    def now(cls, stack: Stack) -> Mark:
        return cls(len(stack.runner.invocations), len(stack.counter.calls))


def execution_figures(stack: Stack, arn: str) -> dict[str, Any]:
    """State transitions and where the time went, from the execution's history."""
    from local import demo  # noqa: PLC0415

    history = stack.deployment.history(arn)
    entered = Counter(
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    )
    seconds: defaultdict[str, float] = defaultdict(float)
    for row in demo.state_rows(history):
        seconds[row["name"]] += row["seconds"] or 0.0
    return {
        "state_transitions": sum(entered.values()),
        "history_events": len(history),
        "states_entered": dict(sorted(entered.items())),
        "state_seconds": {name: round(value, 2) for name, value in sorted(seconds.items())},
        "execution_seconds": round((history[-1]["timestamp"] - history[0]["timestamp"]).total_seconds(), 2),
        "task_errors": [
            (e.get("taskFailedEventDetails") or e.get("lambdaFunctionFailedEventDetails") or {}).get("error")
            for e in history
            if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
        ],
    }


def activity(stack: Stack, since: Mark, until: Mark) -> dict[str, Any]:
    """Lambda invocations and DynamoDB calls between two marks."""
    invocations = stack.runner.invocations[since.invocations : until.invocations]
    calls = stack.counter.calls[since.calls : until.calls]
    invoked = Counter(stack.logical(i.function_name) for i in invocations)
    busy: defaultdict[str, float] = defaultdict(float)
    for invocation in invocations:
        busy[stack.logical(invocation.function_name)] += invocation.duration_ms / 1000
    operations = Counter(c.operation for c in calls)
    by_function = Counter(f"{stack.logical(c.function)} {c.operation}" for c in calls)
    served: defaultdict[str, float] = defaultdict(float)
    for call in calls:
        served[f"{stack.logical(call.function)} {call.operation}"] += call.seconds
    batches = [c.items for c in calls if c.operation == "BatchWriteItem"]
    return {
        "lambda_invocations": sum(invoked.values()),
        "lambda_invocations_per_function": dict(sorted(invoked.items())),
        "lambda_errors": sum(1 for i in invocations if i.error_type),
        "lambda_seconds": round(sum(busy.values()), 2),
        "lambda_seconds_per_function": {name: round(s, 2) for name, s in sorted(busy.items())},
        "dynamodb_calls_per_operation": dict(sorted(operations.items())),
        "dynamodb_calls_per_function": dict(sorted(by_function.items())),
        "dynamodb_write_calls": sum(n for op, n in operations.items() if op in WRITE_OPERATIONS),
        "dynamodb_read_calls": sum(n for op, n in operations.items() if op not in WRITE_OPERATIONS),
        "dynamodb_server_seconds_per_function": {
            name: round(s, 2) for name, s in sorted(served.items(), key=lambda kv: -kv[1]) if s >= 0.01
        },
        "batch_write_items": sum(batches),
        "batch_write_items_per_call_max": max(batches, default=0),
    }


def one_run(stack: Stack, name: str, body: bytes) -> dict[str, Any]:
    """Drop one dataset and wait for its notification; the run's figures."""
    deployment = stack.deployment
    key = f"datasets/{SUITE}/{name}"
    deployment.messages()  # nothing left from before
    before = Mark.now(stack)
    started = time.perf_counter()
    deployment.client("s3").put_object(Bucket=deployment.bucket, Key=key, Body=body)
    uploaded = time.perf_counter() - started
    arn = deployment.execution_for(key, timeout=60)
    notified = wait_for_notifications(stack, 1, started)
    description = deployment.wait_for_execution(arn, timeout=RUN_TIMEOUT)
    wait_until_quiet(stack)
    after = Mark.now(stack)
    output = json.loads(description.get("output") or "{}")
    run_id = (output.get("run") or {}).get("run_id") or next(iter(notified), None)
    run = deployment.run(run_id) if run_id else None
    parses = [
        i
        for i in stack.runner.invocations[before.invocations : after.invocations]
        if stack.logical(i.function_name) == "Parse"
    ]
    return {
        "records": body.count(b"\n"),
        "dataset_bytes": len(body),
        "run_id": run_id,
        "execution_status": description["status"],
        "run_status": _status(run),
        "record_count": getattr(run, "record_count", None),
        "jobs": len(run.all_shards()) if run is not None else None,
        "upload_seconds": round(uploaded, 2),
        "upload_to_notification_seconds": round(next(iter(notified.values()), float("nan")), 2),
        "parse_seconds": round(sum(i.duration_ms for i in parses) / 1000, 2),
        **execution_figures(stack, arn),
        **activity(stack, before, after),
        "_parse_event": parses[-1].event if parses else None,
    }


def _status(run: Any) -> str | None:
    status = getattr(run, "status", None)
    return getattr(status, "value", status)


# ====================================================================== 20 at once
def burst(stack: Stack, count: int) -> dict[str, Any]:
    """``count`` copies of the example dataset dropped at once; every run must complete."""
    from local.server import LOCAL_JOB_QUOTA, emulator_control  # noqa: PLC0415

    deployment = stack.deployment
    # The emulator's peak counts since its last reset: reset it, then set the local stack's quota
    # again (what the e2e fixture does before every test); the job time stays the local mode's.
    emulator_control(deployment.endpoint, "reset")
    emulator_control(deployment.endpoint, "config", {"maxConcurrentJobs": LOCAL_JOB_QUOTA})
    deployment.messages()
    body = dataset()
    keys = [f"datasets/{SUITE}/bench-burst-{n:02d}.jsonl" for n in range(count)]
    s3 = deployment.client("s3")
    before = Mark.now(stack)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=deployment.bucket, Key=key, Body=body), keys))
    uploaded = time.perf_counter() - started
    notified = wait_for_notifications(stack, count, started)
    arns: dict[str, str] = {}
    for key in keys:
        with contextlib.suppress(TimeoutError):
            arns[key] = deployment.execution_for(key, timeout=30)
    descriptions = {key: deployment.wait_for_execution(arn, timeout=60) for key, arn in arns.items()}
    wait_until_quiet(stack)
    after = Mark.now(stack)
    state = emulator_control(deployment.endpoint, "state")
    failures: list[dict[str, Any]] = [
        {"key": key, "problem": "no execution started"} for key in keys if key not in arns
    ]
    entered: Counter[str] = Counter()
    task_errors: Counter[str] = Counter()
    slot_wait_seconds = 0.0
    for key, description in descriptions.items():
        output = json.loads(description.get("output") or "{}")
        run_id = (output.get("run") or {}).get("run_id")
        run_status = _status(deployment.run(run_id)) if run_id else None
        if description["status"] != "SUCCEEDED" or run_status != "COMPLETED" or run_id not in notified:
            failures.append(
                {
                    "key": key,
                    "execution_status": description["status"],
                    "run_status": run_status,
                    "notified": run_id in notified,
                    "cause": (description.get("cause") or "")[:500],
                }
            )
        figures = execution_figures(stack, arns[key])
        entered.update(figures["states_entered"])
        task_errors.update(figures["task_errors"])
        slot_wait_seconds += figures["state_seconds"].get("WaitForSlot", 0.0)
    total = max(notified.values(), default=float("nan"))
    done = activity(stack, before, after)
    times = sorted(notified.values())
    return {
        "datasets": count,
        "records_each": body.count(b"\n"),
        "completed": count - len(failures),
        "failures": failures,
        "upload_seconds": round(uploaded, 2),
        "total_seconds": round(total, 2),
        "notification_seconds_first_median_last": [
            round(times[0], 2) if times else None,
            round(statistics.median(times), 2) if times else None,
            round(times[-1], 2) if times else None,
        ],
        "emulator_quota": state.get("maxConcurrentJobs"),
        "emulator_job_seconds": state.get("jobSeconds"),
        "emulator_peak_concurrent_jobs": state.get("peakRunningJobs"),
        "state_transitions": sum(entered.values()),
        "states_entered": dict(sorted(entered.items())),
        "task_errors": dict(sorted(task_errors.items())),
        "wait_for_slot_seconds_summed": round(slot_wait_seconds, 1),
        **done,
        "lambda_share_of_total": round(done["lambda_seconds"] / total, 2) if times else None,
    }


# ====================================================================== the parse step's memory
def parse_peaks(stack: Stack, events: dict[str, dict[str, Any]], work: Path) -> dict[str, dict[str, Any]]:
    """The parse handler invoked again on each event, each in a child process of its own (at once:
    a peak does not depend on what else runs); tracemalloc peaks and the child's peak RSS."""
    deployment = stack.deployment
    [physical] = [p for p, logical in stack.function_names.items() if logical == "ParseFunction"]
    config = deployment.client("lambda").get_function_configuration(FunctionName=physical)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(stack.emulator.environment())
    env.update(config.get("Environment", {}).get("Variables", {}))
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=physical,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(config["MemorySize"]),
        _HANDLER=config["Handler"],
    )
    children = {}
    with stack.log_file.open("a") as log:
        for name, event in events.items():
            request, answer = work / f"parse-{name}-request.json", work / f"parse-{name}-answer.json"
            request.write_text(
                json.dumps(
                    {
                        "event": event,
                        "handler": config["Handler"],
                        "memory": config["MemorySize"],
                        "arn": config["FunctionArn"],
                        "timeout": config["Timeout"],
                    }
                )
            )
            command = [sys.executable, __file__, "parse-peak", str(request), str(answer)]
            process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)
            children[name] = (process, answer)
        peaks = {}
        for name, (process, answer) in children.items():
            if process.wait(timeout=RUN_TIMEOUT) != 0:
                raise RuntimeError(f"the parse handler's child for {name} failed: see {stack.log_file}")
            peaks[name] = json.loads(answer.read_text()) | {"memory_size_mib": config["MemorySize"]}
    return peaks


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: Linux carries the parent's peak
    over fork and exec into it, and the parent here holds the whole emulator."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _child_parse_peak(request_file: str, answer_file: str) -> None:
    """In the child: import the handler, build its clients, then trace one invocation."""
    import gc  # noqa: PLC0415
    import importlib  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415

    from local.inprocess_lambda import FakeLambdaContext  # noqa: PLC0415

    request = json.loads(Path(request_file).read_text())
    module_name, _, attribute = request["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    from evalpipe.steps import parse as parse_step  # noqa: PLC0415
    from handlers._runtime import ports  # noqa: PLC0415

    ports()  # the clients a warm function already holds
    store: dict[str, int] = {}
    review = parse_step.review

    def traced_review(*args: Any, **kwargs: Any) -> Any:
        # Parsing and storing end where the review starts: the peak so far is theirs.
        store["current_bytes"], store["peak_bytes"] = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reviewed = review(*args, **kwargs)
        baseline = reviewed.comparison and reviewed.comparison.baseline_run_id
        if baseline:
            store["baseline_records"] = ports().runs.get(baseline).record_count
        return reviewed

    parse_step.review = traced_review
    context = FakeLambdaContext(
        function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        function_version="$LATEST",
        invoked_function_arn=request["arn"],
        memory_limit_in_mb=str(request["memory"]),
        aws_request_id="bench-parse-peak",
        log_group_name="/aws/lambda/bench",
        log_stream_name="bench",
        timeout_seconds=float(request["timeout"]),
    )
    gc.collect()
    rss_before = _peak_rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    result = handler(request["event"], context)
    seconds = time.perf_counter() - started
    review_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    Path(answer_file).write_text(
        json.dumps(
            {
                "record_count": result.get("record_count"),
                "baseline_record_count": store.get("baseline_records"),
                "peak_bytes": max(review_peak, store.get("peak_bytes", 0)),
                "store_peak_bytes": store.get("peak_bytes"),
                "held_when_review_starts_bytes": store.get("current_bytes"),
                "review_peak_bytes": review_peak,
                "review_adds_bytes": review_peak - store.get("current_bytes", 0),
                "seconds_traced": round(seconds, 2),
                "peak_rss_mib_before": rss_before,
                "peak_rss_mib": _peak_rss_mib(),
            }
        )
    )


# ====================================================================== the section
def measure() -> dict[str, Any]:
    settings = local_mode_settings()
    started = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        work = Path(tmp)
        _progress("synthesize (localMode) and deploy into the emulator")
        with local_stack(work, settings) as stack:
            setup = time.perf_counter() - started
            runs: dict[str, dict[str, Any]] = {}
            _progress("warm-up run, 18 records (every function's cold start)")
            runs["cold"] = one_run(stack, "bench-warm-up.jsonl", dataset())
            _progress("baseline run, 18 records")
            runs["18"] = one_run(stack, "bench-sample.jsonl", dataset())
            _progress(f"{BURST} datasets of 18 records at once")
            burst_figures = burst(stack, BURST)
            for records in SIZES:
                _progress(f"run of {records:,} records")
                runs[str(records)] = one_run(stack, f"bench-{records}.jsonl", dataset(records))
            _progress(f"run of {SIZES[0]:,} records again (its baseline: the {SIZES[-1]:,})")
            runs[AGAIN] = one_run(stack, f"bench-{SIZES[0]}-again.jsonl", dataset(SIZES[0]))
            _progress("the parse step's peak memory (the handler again, in child processes)")
            events = {
                str(SIZES[0]): runs[AGAIN]["_parse_event"],
                str(SIZES[-1]): runs[str(SIZES[-1])]["_parse_event"],
            }
            peaks = parse_peaks(stack, events, work)
    for figures in runs.values():
        figures.pop("_parse_event", None)
    return summarize(settings, runs, burst_figures, peaks) | {
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "setup_seconds": round(setup, 1),
        "section_seconds": round(time.perf_counter() - started, 1),
    }


def summarize(
    settings: dict[str, Any],
    runs: dict[str, dict[str, Any]],
    burst_figures: dict[str, Any],
    peaks: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    one = runs["18"]["upload_to_notification_seconds"]
    small, big = runs[str(SIZES[0])], runs[str(SIZES[-1])]
    for figures in runs.values():
        per_1000 = 1000 / figures["records"]
        batch_calls = figures["dynamodb_calls_per_operation"].get("BatchWriteItem", 0)
        floor = -(-figures["records"] // BATCH_ITEMS)
        figures["vs_baseline_run"] = round(figures["upload_to_notification_seconds"] / one, 2)
        figures["dynamodb_write_calls_per_1000_records"] = round(
            figures["dynamodb_write_calls"] * per_1000, 1
        )
        figures["batch_write_calls_per_1000_records"] = round(batch_calls * per_1000, 1)
        figures["batch_write_floor"] = floor
        figures["write_calls_vs_floor"] = round(figures["dynamodb_write_calls"] / floor, 2)
        figures["batch_write_calls_vs_floor"] = round(batch_calls / floor, 2)
    quota, pool = settings["emulator_quota"], settings["pipeline_pool"]
    total = burst_figures["total_seconds"]
    return {
        "settings": settings,
        "runs": runs,
        "big_vs_1000_record_run": round(
            big["upload_to_notification_seconds"] / small["upload_to_notification_seconds"], 2
        ),
        "parse_peak": peaks,
        "parse_peak_growth_1k_to_10k": round(
            peaks[str(SIZES[-1])]["peak_bytes"] / peaks[str(SIZES[0])]["peak_bytes"], 2
        ),
        "parse_store_peak_growth_1k_to_10k": round(
            peaks[str(SIZES[-1])]["store_peak_bytes"] / peaks[str(SIZES[0])]["store_peak_bytes"], 2
        ),
        "burst": {
            **burst_figures,
            "one_run_seconds": one,
            "ideal_seconds_quota": round(BURST * one / quota, 1),
            "ideal_seconds_pool": round(BURST * one / pool, 1),
            "total_vs_ideal_quota": round(total / (BURST * one / quota), 2),
            "total_vs_ideal_pool": round(total / (BURST * one / pool), 2),
            "total_vs_one_after_another": round(total / (BURST * one), 2),
        },
    }


def _progress(text: str) -> None:
    print(f"[local] {text} ...", file=sys.stderr, flush=True)


# ====================================================================== the table
def print_table(results: dict[str, Any]) -> None:
    s, runs, b = results["settings"], results["runs"], results["burst"]
    mib = 1 << 20
    print(
        f"\nlocal mode, end to end (the stack of `make demo` in the emulator, in-process; emulated jobs "
        f"{s['job_seconds']:g} s, polls every {s['poll_interval_seconds']} s, emulator quota "
        f"{s['emulator_quota']}, pipeline pool {s['pipeline_pool']}; load average "
        f"{results['load_average_before'][0]} -> {results['load_average_after'][0]}; section "
        f"{results['section_seconds']:.0f} s, of which setup {results['setup_seconds']:.0f} s)"
    )
    header = (
        f"{'run':<22} {'jobs':>4} {'upload->notified':>16} {'x 18-rec':>8} {'parse s':>8} "
        f"{'transitions':>11} {'Lambda inv.':>11} {'DDB writes':>10} {'/1,000 rec':>10} {'x floor':>7} "
        f"{'DDB reads':>9}"
    )
    print(header)
    print("-" * len(header))
    names = {"cold": "18 (warm-up, cold)", "18": "18 (baseline)", AGAIN: f"{SIZES[0]:,} again"}
    for key, run in runs.items():
        name = names[key] if key in names else f"{int(key):,} records"
        print(
            f"{name:<22} {run['jobs']!s:>4} "
            f"{run['upload_to_notification_seconds']:>15.1f}s {run['vs_baseline_run']:>8.2f} "
            f"{run['parse_seconds']:>8.1f} {run['state_transitions']:>11} {run['lambda_invocations']:>11} "
            f"{run['dynamodb_write_calls']:>10} {run['dynamodb_write_calls_per_1000_records']:>10.1f} "
            f"{run['write_calls_vs_floor']:>7.2f} {run['dynamodb_read_calls']:>9}"
        )
    big = runs[str(SIZES[-1])]
    print(
        f"{int(SIZES[-1]):,} records: {results['big_vs_1000_record_run']}x the 1,000-record run; "
        f"Lambda invocations {big['lambda_invocations_per_function']}; states entered "
        f"{big['states_entered']}"
    )
    print(
        f"  time by state (s): {big['state_seconds']}; moto's DynamoDB time by caller (s): "
        f"{dict(list(big['dynamodb_server_seconds_per_function'].items())[:4])}"
    )
    peaks = results["parse_peak"]
    print(
        "parse step's peak memory (the handler again in a child process; tracemalloc around it, "
        "split where review starts; the child's peak RSS against the function's memory size):"
    )
    for n, p in peaks.items():
        print(
            f"  {int(n):,} records (baseline {p.get('baseline_record_count') or 0:,}): "
            f"peak {p['peak_bytes'] / mib:.1f} MiB; parse + store "
            f"{p['store_peak_bytes'] / mib:.1f} MiB; review adds {p['review_adds_bytes'] / mib:.1f} MiB; "
            f"peak RSS {p['peak_rss_mib']:.0f} of {p['memory_size_mib']} MiB"
        )
    print(
        f"  growth 1k -> 10k: {results['parse_peak_growth_1k_to_10k']}x "
        f"(parse + store alone {results['parse_store_peak_growth_1k_to_10k']}x)"
    )
    first, median, last = b["notification_seconds_first_median_last"]
    print(
        f"{b['datasets']} datasets of {b['records_each']} records at once: {b['completed']}/{b['datasets']} "
        f"completed; total {b['total_seconds']:.1f} s = {b['total_vs_ideal_quota']}x the ideal "
        f"{b['datasets']} x {b['one_run_seconds']:.1f} s / {s['emulator_quota']} (quota) = "
        f"{b['ideal_seconds_quota']:.0f} s, {b['total_vs_ideal_pool']}x {b['datasets']} x one run / "
        f"{s['pipeline_pool']} (pool), {b['total_vs_one_after_another']}x one after another; notified "
        f"first/median/last {first}/{median}/{last} s; emulator peak concurrent jobs "
        f"{b['emulator_peak_concurrent_jobs']}; WaitForSlot entered "
        f"{b['states_entered'].get('WaitForSlot', 0)}x; "
        f"functions busy {b['lambda_share_of_total']:.0%} of the total (they run one at a time)"
    )
    for failure in b["failures"]:
        print(f"  FAILED {failure}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["parse-peak"]:
        _child_parse_peak(*sys.argv[2:4])
    else:
        # Alone: the figures go to a file first (a table that fails to print loses nothing).
        saved = Path(
            os.environ.get("BENCH_LOCAL_JSON", Path(tempfile.gettempdir()) / "bench-local-mode.json")
        )
        figures = measure()
        saved.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures: {saved}", file=sys.stderr)
        print_table(figures)
