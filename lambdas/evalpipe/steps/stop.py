"""Stop step: a shard's job outlived its deadline; stop it, give back its slot, record it TIMED_OUT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalpipe.aws.slots import pool_of
from evalpipe.run.model import ShardStatus
from evalpipe.run.timing import Timing

if TYPE_CHECKING:
    from evalpipe.ports import Ports


def stop(run_id: str, shard_number: int, job_arn: str, ports: Ports) -> dict:
    """Stop a job that outlived its deadline; the finish step records the run as TIMED_OUT."""
    stopped = ports.jobs.stop(job_arn)
    run = ports.runs.load(run_id)
    shard = run.shard(shard_number)
    pool, _ = pool_of(run.is_human, ports.settings)
    ports.slots.release(pool, shard.holder)
    timing = run.timing or Timing.of(ports.settings)
    shard.status = ShardStatus.TIMED_OUT
    shard.finished_at = ports.clock()
    shard.stop_sent = stopped
    shard.failure_messages = [
        f"the job was still running {timing.job_timeout(human=run.is_human)} s after submission; "
        + ("StopEvaluationJob was sent" if stopped else "it had already ended when stopped")
    ]
    ports.runs.save_shard(run_id, shard)
    return {"stopped": stopped}
