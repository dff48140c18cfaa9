"""The record_error step against moto: a crashed execution leaves a run with status ERROR."""

from __future__ import annotations

import json

from evalpipe.run.model import ErrorInfo
from evalpipe.steps.record_error import record_error
from tests.integration.steps.flow import validated


def test_record_error_after_validate_failed_creates_the_run(ports, dropped):
    # Given an execution whose Validate step crashed (no $.run yet)
    event = dropped()
    state = {
        **event,
        "error": {
            "Error": "KeyError",
            "Cause": json.dumps({"errorMessage": "'detail'", "errorType": "KeyError", "stackTrace": ["x"]}),
        },
    }
    # When the error is recorded
    result = record_error(state, ports)
    # Then the run exists with status ERROR and the message without the stack trace
    run = ports.runs.get(result["run_id"])
    assert result["outcome"] == "ERROR"
    assert (run.status, run.error) == ("ERROR", ErrorInfo(type="KeyError", message="'detail'"))


def test_record_error_keeps_an_existing_run(ports, dropped):
    event = dropped()
    run_id = validated(ports, event)
    state = {
        **event,
        "run": {"run_id": run_id, "suite": "smoke", "outcome": "VALID"},
        "error": {"Error": "BedrockRejected", "Cause": "no access"},
    }
    record_error(state, ports)
    run = ports.runs.get(run_id)
    assert (run.status, run.verdict, run.error.message) == ("ERROR", "ERROR", "no access")
    assert run.suite_document is not None
