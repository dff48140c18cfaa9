"""RecordError step: any step failed unexpectedly; record the run as ERROR so it can be notified."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evalpipe.run.triggers import RunStatus, Verdict, iso, trigger_from_event

if TYPE_CHECKING:
    from evalpipe.ports import Ports

MAX_ERROR_MESSAGE = 1000


def record_error(state: dict, ports: Ports) -> dict:
    """Record an unexpected failure of any step as status ERROR, so it can be notified.

    Parameters
    ----------
    state
        The whole execution state at the failing step: the original event (a dataset's S3
        event or a run request), `run` when the Validate step got that far, and `error`
        ({Error, Cause}) from the Catch.
    """
    error = state.get("error") or {}
    run_ref = state.get("run") or {}
    run_id = run_ref.get("run_id")
    if not run_id:
        # Validate itself failed: derive the run from the event so the failure is still recorded.
        trigger = trigger_from_event(state, bucket=ports.settings.bucket_name)
        run_id = trigger.run_id
        ports.runs.claim_run(
            {
                "run_id": run_id,
                "suite": trigger.suite,
                "status": RunStatus.ERROR.value,
                "created_at": iso(ports.clock()),
                "trigger": trigger.kind.value,
                trigger.item_key: trigger.as_item(),
            }
        )
    ports.runs.update_run(
        run_id,
        status=RunStatus.ERROR.value,
        verdict=Verdict.ERROR.value,
        error={"type": str(error.get("Error") or "Unknown"), "message": _error_message(error.get("Cause"))},
        finished_at=iso(ports.clock()),
    )
    run = ports.runs.get_run(run_id) or {}
    return {"run_id": run_id, "suite": run.get("suite"), "outcome": "ERROR"}


def _error_message(cause: object) -> str:
    """The message of a Lambda error cause (a JSON document), without its stack trace."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = parsed["errorMessage"]
    return str(cause or "no cause given")[:MAX_ERROR_MESSAGE]
