"""Toy handlers: each exercises one behaviour of the in-process runner or the ASL engine."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any


class ToyThrottled(Exception):
    """Stands in for the product's BedrockThrottled: a retryable domain error."""


def classify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route on the size of ``n``."""
    n = int(event["n"])
    return {"n": n, "kind": "big" if n > 10 else "small"}


def finish(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Greet with this function's own GREETING."""
    return {"message": f"{os.environ['GREETING']} {event['kind']}", "function": context.function_name}


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Raise ToyThrottled until called more than FAIL_TIMES times (counter kept in COUNTER_FILE)."""
    counter = Path(os.environ["COUNTER_FILE"])
    attempt = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= int(os.environ["FAIL_TIMES"]):
        raise ToyThrottled(f"attempt {attempt}: slow down")
    return {"attempts": attempt}


def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Always fails with a non-retryable error."""
    raise ValueError(f"bad input {event.get('value')!r}")


def recover(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Report the error the Catch stored at $.error."""
    return {"recovered_from": event["error"]["Error"], "cause": json.loads(event["error"]["Cause"])}


def timer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """How long the next Wait state should wait (from this function's WAIT_SECONDS)."""
    return {"seconds": int(os.environ["WAIT_SECONDS"])}


def env_probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The values (or None) of the environment variables named in ``event["names"]``."""
    return {
        "env": {name: os.environ.get(name) for name in event["names"]},
        "function": context.function_name,
    }


def context_probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the context object and the runtime variables say."""
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "AWS_LAMBDA_FUNCTION_NAME": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "_HANDLER": os.environ.get("_HANDLER"),
    }


def echo(event: Any, context: Any) -> Any:
    """Return the event; mutating it must not reach the caller."""
    if isinstance(event, dict):
        event["touched"] = True
    return event


def mutate_env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Set and delete environment variables; the runner must undo both."""
    os.environ["SET_BY_HANDLER"] = "yes"
    os.environ.pop(event["delete"], None)
    return {"ok": True}


def unserializable(event: dict[str, Any], context: Any) -> Any:
    """Return what JSON cannot encode (the runtime reports Runtime.MarshalError)."""
    return {"when": object()}


def decimals(event: dict[str, Any], context: Any) -> Any:
    """Return Decimals, as items read with boto3's DynamoDB resource contain."""
    return {"count": Decimal("3"), "ratio": Decimal("0.5")}


def settings_probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read the product's cached settings (evalpipe.settings) inside this function's environment."""
    from evalpipe.settings import settings

    return {"runs_table_name": settings().runs_table_name}


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record when this call started and ended (to prove calls never overlap)."""
    started = time.monotonic()
    time.sleep(float(event.get("sleep", 0.05)))
    return {"started": started, "ended": time.monotonic(), "tag": os.environ.get("TAG")}


def call_other(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Synchronously invoke another function (nested in-process invocation)."""
    import boto3

    response = boto3.client("lambda").invoke(
        FunctionName=event["other"], Payload=json.dumps(event["payload"])
    )
    return {
        "inner": json.loads(response["Payload"].read()),
        "tag_after_inner_call": os.environ.get("TAG"),
    }


def call_other_from_threads(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoke another function from worker threads (as the collect function's workers invoke a
    Lambda target), waiting at most ``wait`` seconds for them: how many calls finished in time."""
    import threading

    import boto3

    answers: list[Any] = []

    def call() -> None:
        response = boto3.client("lambda").invoke(FunctionName=event["other"], Payload=b"{}")
        answers.append(json.loads(response["Payload"].read()))

    workers = [threading.Thread(target=call, daemon=True) for _ in range(int(event.get("threads", 2)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(float(event.get("wait", 5)))
    return {"finished": len(answers), "answers": answers}


def exits(event: dict[str, Any], context: Any) -> Any:
    """Call sys.exit (the runtime reports Runtime.ExitError; the test process must survive)."""
    raise SystemExit(3)
