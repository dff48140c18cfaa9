"""How a run ended, from its shards: every job completed, or which did not and why.

The parse step runs once every shard's job has ended (the state machine maps over the shards
first). Completed shards are parsed whatever the others did, so their scores are stored and shown;
a shard that did not complete decides the run's status: TIMED_OUT over STOPPED over FAILED (the
pipeline stopped a job that ran too long; someone stopped one; Bedrock failed one, twice for a shard
of a sharded run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.run.model import ErrorInfo, ShardStatus
from evalpipe.run.status import RunStatus, Verdict

if TYPE_CHECKING:
    from datetime import datetime

    from evalpipe.run.model import Run, Shard

_PRECEDENCE = (
    (ShardStatus.TIMED_OUT, RunStatus.TIMED_OUT),
    (ShardStatus.STOPPED, RunStatus.STOPPED),
    (ShardStatus.FAILED, RunStatus.FAILED),
)


@dataclass(frozen=True)
class ShardOutcome:
    """The shards that completed, and those that did not."""

    completed: list[Shard]
    unfinished: list[Shard]

    @classmethod
    def of(cls, run: Run) -> ShardOutcome:
        if not run.shards:  # validated before runs had shards: parse ran because its job completed
            return cls([run.shard(1)], [])
        shards = run.all_shards()
        done = [shard for shard in shards if shard.status is ShardStatus.COMPLETED]
        return cls(done, [shard for shard in shards if shard.status is not ShardStatus.COMPLETED])

    @property
    def status(self) -> RunStatus:
        for shard_status, run_status in _PRECEDENCE:
            if any(shard.status is shard_status for shard in self.unfinished):
                return run_status
        return RunStatus.FAILED if self.unfinished else RunStatus.COMPLETED

    def record_on(self, run: Run, now: datetime) -> None:
        """Mark ``run`` as ended by its unfinished shards, naming each (and its lines when sharded)."""
        status, sharded = self.status, run.sharded
        run.status = status
        run.verdict = Verdict(status.value)
        messages: list[str] = []
        for shard in self.unfinished:
            said = shard.failure_messages or [f"the job ended {shard.status.value}"]
            if sharded:
                tried = f", after {shard.attempt} attempts" if shard.attempt > 1 else ""
                messages.extend(f"{shard.label}{tried}: {message}" for message in said)
            else:
                messages.extend(said)
        run.failure_messages = messages
        if status is RunStatus.TIMED_OUT:
            late = [shard for shard in self.unfinished if shard.status is ShardStatus.TIMED_OUT]
            said = [
                f"{shard.label}: {message}" if sharded else message
                for shard in late
                for message in shard.failure_messages
            ]
            run.error = ErrorInfo(
                type="JobTimeout",
                message="; ".join(said) or "a job ran past its deadline",
                job_stopped=any(shard.stop_sent for shard in late),
            )
        run.finished_at = now
