"""EventBridge Scheduler adapter: the schedules of one schedule group (one per suite).

The boto3 ``scheduler`` client is injected (never created here), so tests pass a moto-backed or
stubbed one. Only the stack's own group is touched: the SyncSchedules function's IAM policy
allows the schedule actions on ``schedule/<group>/*`` and nothing else.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

_NOT_FOUND = "ResourceNotFoundException"


class Schedules:
    """The schedules of one EventBridge Scheduler schedule group.

    Parameters
    ----------
    scheduler_client
        A boto3 ``scheduler`` client.
    group_name
        The schedule group (the stack's).

    Examples
    --------
    >>> schedules = Schedules(boto3.client("scheduler"), "evalpipe-BedrockEvalPipeline")  # doctest: +SKIP
    >>> schedules.get("qa-builtin-weekly")["ScheduleExpression"]  # doctest: +SKIP
    'cron(0 6 ? * MON *)'
    """

    def __init__(self, scheduler_client: Any, group_name: str) -> None:
        self._client = scheduler_client
        self.group_name = group_name

    def get(self, name: str) -> dict[str, Any] | None:
        """``GetSchedule`` of ``name`` in the group, or None when there is no such schedule."""
        try:
            response = self._client.get_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return None
            raise
        return {key: value for key, value in response.items() if key != "ResponseMetadata"}

    def create(self, request: dict[str, Any]) -> str:
        """``CreateSchedule`` with ``request`` (its ``GroupName`` is this group); the schedule's ARN."""
        return str(self._client.create_schedule(**self._in_group(request))["ScheduleArn"])

    def update(self, request: dict[str, Any]) -> str:
        """``UpdateSchedule``: replaces every setting of the schedule with ``request``'s; its ARN."""
        return str(self._client.update_schedule(**self._in_group(request))["ScheduleArn"])

    def delete(self, name: str) -> bool:
        """``DeleteSchedule``; False when there was no such schedule."""
        try:
            self._client.delete_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return False
            raise
        return True

    def _in_group(self, request: dict[str, Any]) -> dict[str, Any]:
        return {**request, "GroupName": self.group_name}
