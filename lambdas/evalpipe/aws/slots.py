"""DynamoDB adapter: the account's pool of concurrent evaluation jobs, as a counting semaphore.

Bedrock limits how many evaluation jobs run at once in an account and Region (Service Quotas:
"Concurrent automatic model evaluation jobs", and a separate quota for human jobs). Every job the
pipeline submits first takes a slot of its pool; the slot is given back when the job ends, whatever
way it ends. The pattern is AWS's own Step Functions concurrency-control sample: one item per pool
in the runs table holding a count and the holders, changed only by conditional updates, so two
runs can never both take the last slot.

    pk=SLOTS#<pool>  sk=SLOTS  count=<slots taken>  holders={<holder>: <taken at ISO-8601>}

A holder is ``<run_id>#<shard>``, so everything a run holds can be found and given back when the run
ends abnormally (RecordError, Reconcile). The items carry no ``gsi1pk``: the by-suite index stays
runs only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from evalpipe.settings import Settings

SORT_KEY = "SLOTS"
# The two pools of concurrent jobs (Service Quotas counts human jobs apart).
AUTOMATED_POOL = "automated"
HUMAN_POOL = "human"
POOLS = (AUTOMATED_POOL, HUMAN_POOL)
# A holder takes a slot when it holds none yet and fewer than the limit are taken.
_FREE_SLOT = "attribute_not_exists(holders.#h) AND (attribute_not_exists(#c) OR #c < :limit)"


def pool_of(human: bool, settings: Settings) -> tuple[str, int]:
    """The pool a job takes its slot from, and the pool's size (the deployment's)."""
    if human:
        return HUMAN_POOL, settings.max_concurrent_human_jobs
    return AUTOMATED_POOL, settings.max_concurrent_jobs


class Slots:
    """The job pools.

    Parameters
    ----------
    table
        The boto3 DynamoDB ``Table`` resource of the runs table.
    clock
        Current UTC time (when a slot was taken, for the record).
    """

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock

    def acquire(self, pool: str, holder: str, limit: int) -> bool:
        """Take a slot of ``pool`` for ``holder`` unless ``limit`` are taken; True when held.

        Idempotent: a holder that already has its slot (a retried call) still has it.
        """
        for _ in range(2):
            try:
                self._table.update_item(
                    Key=self._key(pool),
                    UpdateExpression="SET holders.#h = :now ADD #c :one",
                    ConditionExpression=_FREE_SLOT,
                    ExpressionAttributeNames={"#h": holder, "#c": "count"},
                    ExpressionAttributeValues={":now": self._clock().isoformat(), ":one": 1, ":limit": limit},
                )
                return True
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ConditionalCheckFailedException":
                    return holder in self.holders(pool)
                if code != "ValidationException":  # the pool's item (its holders map) is missing
                    raise
                self._create(pool)
        return False

    def release(self, pool: str, holder: str) -> bool:
        """Give back ``holder``'s slot; False when it held none (already released)."""
        try:
            self._table.update_item(
                Key=self._key(pool),
                UpdateExpression="REMOVE holders.#h ADD #c :minus_one",
                ConditionExpression="attribute_exists(holders.#h)",
                ExpressionAttributeNames={"#h": holder, "#c": "count"},
                ExpressionAttributeValues={":minus_one": -1},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_run(self, run_id: str, pools: tuple[str, ...] = POOLS) -> int:
        """Give back every slot the run's shards hold; how many were held (a safety net for runs that
        ended abnormally: a slot must never leak)."""
        released = 0
        for pool in pools:
            for holder in self.holders(pool):
                if holder.rsplit("#", 1)[0] == run_id and self.release(pool, holder):
                    released += 1
        return released

    def holders(self, pool: str) -> dict[str, str]:
        """Who holds a slot of ``pool`` and since when."""
        item = self._table.get_item(Key=self._key(pool), ConsistentRead=True).get("Item") or {}
        holders = item.get("holders")
        return dict(holders) if isinstance(holders, dict) else {}

    def _create(self, pool: str) -> None:
        try:
            self._table.put_item(
                Item={**self._key(pool), "count": 0, "holders": {}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    @staticmethod
    def _key(pool: str) -> dict[str, str]:
        return {"pk": f"SLOTS#{pool}", "sk": SORT_KEY}
