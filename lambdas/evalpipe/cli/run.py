"""`evalpipe run --suite S [--wait]`: run a suite now, as its schedule would (a suite of built-in
datasets, or one that collects its dataset from ``pipeline.collect.scenarios``).

Starts an execution of the deployed state machine with a ``Run Requested`` event
(``requestedBy: cli``, a fresh UUID as its ``id``: every invocation is a run of its own), after
checking that ``suites/S.json`` is in the bucket. The execution is named after the run id, so
the Step Functions console and ``evalpipe show`` name the same thing. The pipeline validates the
run like a scheduled one: a suite that names a custom dataset, and does not collect it, is rejected
("drop a dataset into datasets/S/") and notified.

``--wait`` then follows the run like ``evalpipe show RUN --wait``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from evalpipe.cli._common import EXIT_OK, fail
from evalpipe.cli._stack import Deployment, StackError, add_stack_arguments, aws_command, connect
from evalpipe.cli.runs import (
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    _non_negative,
    _positive_float,
    show_run,
)
from evalpipe.run.triggers import SUITE_NAME_PATTERN, RunRequest, TriggerKind, run_request_event, suite_key

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a suite now (what its schedule does): built-in datasets, or collected from scenarios",
        description=(
            "Start a run of --suite on the deployed pipeline, as its schedule would: for suites whose "
            "datasets are all built in (Builtin.BoolQ, ...), or that collect their dataset from "
            "pipeline.collect.scenarios. Prints the run id and the execution; "
            "--wait follows the run like `evalpipe show RUN --wait`. Exit 0: started (with --wait: "
            "finished); 1: suite file missing, still running at --timeout, or an AWS error; 2: usage "
            "error."
        ),
    )
    run.add_argument("--suite", required=True, metavar="SUITE", help="the suite (suites/SUITE.json)")
    run.add_argument("--wait", action="store_true", help="follow the run until it has finished")
    run.add_argument(
        "--timeout",
        type=_non_negative,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"with --wait: give up after this long ({DEFAULT_TIMEOUT_SECONDS})",
    )
    run.add_argument(
        "--interval",
        type=_positive_float,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="SECONDS",
        help=f"with --wait: seconds between polls ({DEFAULT_INTERVAL_SECONDS})",
    )
    run.add_argument(
        "--json", action="store_true", help="print the started run (and with --wait the run item) as JSON"
    )
    add_stack_arguments(run)
    run.set_defaults(run=run_run)


def run_run(args: argparse.Namespace) -> int:
    if not SUITE_NAME_PATTERN.match(args.suite):
        return fail(f"--suite {args.suite!r} must be a suite name matching {SUITE_NAME_PATTERN.pattern}")
    return _run(args)


@aws_command
def _run(args: argparse.Namespace) -> int:
    deployment = connect(args)
    started = start_run(deployment, args.suite)
    if args.json and not args.wait:
        print(json.dumps(started, indent=2))
    elif not args.json:
        print(f"Started run {started['run_id']} of suite {args.suite} (manual run by evalpipe run)")
        print(f"  Execution: {started['execution_arn']}")
        if not args.wait:
            print(f"  Follow it: evalpipe show {started['run_id']} --wait")
    if not args.wait:
        return EXIT_OK
    return show_run(
        deployment,
        started["run_id"],
        wait=True,
        timeout=args.timeout,
        interval=args.interval,
        as_json=args.json,
    )


def start_run(
    deployment: Deployment,
    suite: str,
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Start one run of ``suite``: check its suite file, then StartExecution with a run request.

    Parameters
    ----------
    deployment
        The deployed stack (its bucket and state machine outputs).
    suite
        The suite name.
    new_id, now
        The request's id and time (injected by tests).

    Returns
    -------
    dict
        ``{run_id, suite, execution_arn, start_date}``.

    Raises
    ------
    StackError
        The stack has no state machine output, or ``suites/<suite>.json`` is not in the bucket.
    """
    machine = deployment.outputs.state_machine_arn
    if not machine:
        raise StackError(f"stack {deployment.outputs.stack_name} has no output StateMachineArn")
    key = suite_key(suite)
    try:
        deployment.s3.head_object(Bucket=deployment.bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            raise StackError(
                f"suite file not found: upload s3://{deployment.bucket}/{key} before running suite {suite}"
            ) from exc
        raise
    event = run_request_event(
        suite, TriggerKind.CLI, request_id=new_id(), time=now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    run_id = RunRequest.from_event(event).run_id
    # Named after the run: the console, `evalpipe show` and the notification say the same id.
    response = deployment.stepfunctions.start_execution(
        stateMachineArn=machine, name=run_id, input=json.dumps(event)
    )
    return {
        "run_id": run_id,
        "suite": suite,
        "execution_arn": response["executionArn"],
        "start_date": str(response.get("startDate") or ""),
    }
