"""Step Functions adapter: what an ended execution of the pipeline did (its history), for reconcile.

The boto3 ``stepfunctions`` client is injected.
"""

from __future__ import annotations

import json
from typing import Any

# The states that publish a run's notification (docs/design.md, "The state machine").
NOTIFY_STATES = ("Notify", "NotifyError")


class Executions:
    """The pipeline's executions.

    Parameters
    ----------
    sfn_client
        A boto3 ``stepfunctions`` client.
    """

    def __init__(self, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def notification_sent(self, execution_arn: str) -> str | None:
        """The SNS message id a Notify or NotifyError state of the execution published, or None.

        Reads the history newest first: the notify states run at the end of an execution.
        """
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 100}
        while True:
            response = self._sfn.get_execution_history(**kwargs)
            for event in response.get("events", ()):
                details = event.get("stateExitedEventDetails")
                if details and details.get("name") in NOTIFY_STATES:
                    message_id = _message_id(details.get("output"))
                    if message_id:
                        return message_id
            token = response.get("nextToken")
            if not token:
                return None
            kwargs["nextToken"] = token


def _message_id(output: object) -> str | None:
    """``notify.message_id`` of a notify state's output when that call published."""
    try:
        state = json.loads(output) if isinstance(output, str) else None
    except ValueError:
        return None
    notify = state.get("notify") if isinstance(state, dict) else None
    if isinstance(notify, dict) and notify.get("published") and isinstance(notify.get("message_id"), str):
        return notify["message_id"]
    return None
