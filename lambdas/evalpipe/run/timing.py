"""How often a run's job is polled and when it times out: the deployment's defaults, per suite.

The deployment sets ``POLL_INTERVAL_SECONDS``, ``JOB_TIMEOUT_SECONDS``, ``HUMAN_POLL_MIN_SECONDS``,
``HUMAN_POLL_MAX_SECONDS`` and ``HUMAN_JOB_TIMEOUT_SECONDS`` (docs/design.md); a suite's
``pipeline.polling`` overrides any of them for its own runs. The submit step fixes a run's
effective `Timing` on the run item (``timing``), and the poll and stop steps read it from there,
so a later change of the suite file or the deployment does not move a running job's deadline.

Every job must end well before the state machine's own timeout (35 days, the backstop): the
poll step needs a couple of polls after the deadline to stop the job and notify, so a timeout
must leave two poll waits and an hour before it (the rule the CDK settings apply to the
deployment's defaults, ``infra/settings.py``).
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

# The state machine's timeout (infra/settings.py STATE_MACHINE_TIMEOUT_SECONDS; a test keeps them equal).
STATE_MACHINE_TIMEOUT_SECONDS = 35 * 86_400
# After the deadline: two poll waits to see it and stop the job, and an hour to stop and notify.
STOP_MARGIN_SECONDS = 3_600
# A human job's wait is this share of the time it has been running, between the min and the cap.
HUMAN_WAIT_SHARE = 0.25
# An automated job's wait grows the same way, from the poll interval up to ten intervals, at most
# 10 minutes: a Standard execution keeps at most 25,000 history events and every poll of every
# shard costs about ten, so a fixed interval would end a large run's execution (50 shards x 2 h at
# 60 s = 60,000 events).
AUTOMATED_WAIT_SHARE = 0.25
AUTOMATED_WAIT_CAP_SECONDS = 600
# A shard waiting for a job slot asks again after a tenth of the time its run has waited, from the
# deployment's slotWaitSeconds up to five of them, at most 5 minutes (an ask costs ~5 events).
QUEUE_WAIT_SHARE = 0.1
QUEUE_WAIT_CAP_SECONDS = 300
# The caps are this many times the configured wait (so a local run polling every second stays fast).
BACKOFF_CAP_FACTOR = {"poll": 10, "queue": 5}


def _capped(base: int, factor: int, cap: int) -> int:
    return max(base, min(cap, factor * base))


# pipeline.polling key -> Timing field.
POLLING_KEYS = {
    "intervalSeconds": "poll_interval_seconds",
    "jobTimeoutSeconds": "job_timeout_seconds",
    "humanPollMinSeconds": "human_poll_min_seconds",
    "humanPollMaxSeconds": "human_poll_max_seconds",
    "humanJobTimeoutSeconds": "human_job_timeout_seconds",
}


def queue_wait(slot_wait_seconds: int, queued_seconds: float) -> int:
    """Seconds before a shard that found no free job slot asks again.

    Examples
    --------
    >>> [queue_wait(60, queued) for queued in (0, 600, 1_500, 36_000)]
    [60, 60, 150, 300]
    >>> queue_wait(2, 3_600)  # local mode: five slot waits at most
    10
    """
    high = _capped(slot_wait_seconds, BACKOFF_CAP_FACTOR["queue"], QUEUE_WAIT_CAP_SECONDS)
    return int(min(high, max(slot_wait_seconds, queued_seconds * QUEUE_WAIT_SHARE)))


class TimingSource(Protocol):
    """What carries timing values: the function's `evalpipe.settings.Settings`, or a `Timing`."""

    @property
    def poll_interval_seconds(self) -> int: ...
    @property
    def job_timeout_seconds(self) -> int: ...
    @property
    def human_poll_min_seconds(self) -> int: ...
    @property
    def human_poll_max_seconds(self) -> int: ...
    @property
    def human_job_timeout_seconds(self) -> int: ...


class Timing(BaseModel):
    """The polling schedule and deadlines of one run.

    Examples
    --------
    >>> timing = Timing(poll_interval_seconds=60, job_timeout_seconds=86_400, human_poll_min_seconds=900,
    ...                 human_poll_max_seconds=21_600, human_job_timeout_seconds=30 * 86_400)
    >>> timing.with_overrides({"intervalSeconds": 300, "jobTimeoutSeconds": 7_200}).poll_interval_seconds
    300
    >>> timing.with_overrides({"jobTimeoutSeconds": 35 * 86_400}).problems()[0].split(":")[0]
    'jobTimeoutSeconds'
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    poll_interval_seconds: int
    job_timeout_seconds: int
    human_poll_min_seconds: int
    human_poll_max_seconds: int
    human_job_timeout_seconds: int

    @classmethod
    def of(cls, source: TimingSource) -> Timing:
        """The timing fields of ``source`` (the deployment's settings, typically)."""
        return cls(
            poll_interval_seconds=source.poll_interval_seconds,
            job_timeout_seconds=source.job_timeout_seconds,
            human_poll_min_seconds=source.human_poll_min_seconds,
            human_poll_max_seconds=source.human_poll_max_seconds,
            human_job_timeout_seconds=source.human_job_timeout_seconds,
        )

    def with_overrides(self, polling: dict[str, Any] | None) -> Timing:
        """These values with a suite's ``pipeline.polling`` (file spelling; None/absent keys keep ours)."""
        changes = {
            field: int(polling[key])
            for key, field in POLLING_KEYS.items()
            if polling and polling.get(key) is not None
        }
        return self.model_copy(update=changes)

    def job_timeout(self, *, human: bool) -> int:
        """Seconds a job may run before the pipeline stops it."""
        return self.human_job_timeout_seconds if human else self.job_timeout_seconds

    def first_wait(self, *, human: bool) -> int:
        """Seconds between submitting the job and its first poll."""
        return self.human_wait(0.0) if human else self.poll_interval_seconds

    def next_wait(self, *, human: bool, elapsed_seconds: float) -> int:
        """Seconds until the next poll of a job that has run for ``elapsed_seconds``."""
        return self.human_wait(elapsed_seconds) if human else self.automated_wait(elapsed_seconds)

    @property
    def automated_wait_cap(self) -> int:
        """The longest wait between two polls of an automated job: ten intervals, at most 10 minutes
        (the interval itself when it is longer)."""
        return _capped(self.poll_interval_seconds, BACKOFF_CAP_FACTOR["poll"], AUTOMATED_WAIT_CAP_SECONDS)

    def automated_wait(self, elapsed_seconds: float) -> int:
        """The wait before the next poll of an automated job that has run for ``elapsed_seconds``.

        A quarter of the time it has run, at least ``poll_interval_seconds``, at most
        `automated_wait_cap` (ten intervals, at most 10 minutes):
        with the defaults every minute for the first 4 minutes, 10 minutes from 40 minutes on, so
        a 2-hour job is polled about 22 times instead of 120 and is seen ending at most 10 minutes
        (or a quarter of its run time) late.

        Examples
        --------
        >>> timing = Timing(poll_interval_seconds=60, job_timeout_seconds=86_400, human_poll_min_seconds=900,
        ...                 human_poll_max_seconds=21_600, human_job_timeout_seconds=30 * 86_400)
        >>> [timing.automated_wait(elapsed) for elapsed in (0, 240, 1_200, 7_200)]
        [60, 60, 300, 600]
        """
        low, high = self.poll_interval_seconds, self.automated_wait_cap
        return int(min(high, max(low, elapsed_seconds * AUTOMATED_WAIT_SHARE)))

    def human_wait(self, elapsed_seconds: float) -> int:
        """The wait before the next poll of a human evaluation job.

        Human work takes days, so polling is long and cheap: a quarter of the time the job has
        run, at least ``human_poll_min_seconds`` (default 15 min), at most
        ``human_poll_max_seconds`` (default 6 h). With the defaults: 15 min during the first hour,
        1 h after 4 h, 6 h from a day on.
        """
        low = self.human_poll_min_seconds
        high = max(low, self.human_poll_max_seconds)
        return int(min(high, max(low, elapsed_seconds * HUMAN_WAIT_SHARE)))

    def problems(self) -> list[str]:
        """Why this timing cannot work inside the state machine's timeout (``"<key>: ..."``), or []."""
        days = STATE_MACHINE_TIMEOUT_SECONDS // 86_400
        found = []
        latest = STATE_MACHINE_TIMEOUT_SECONDS - 2 * self.automated_wait_cap - STOP_MARGIN_SECONDS
        if self.job_timeout_seconds > latest:
            found.append(
                f"jobTimeoutSeconds: {self.job_timeout_seconds} leaves no time to stop the job: with polls "
                f"up to every {self.automated_wait_cap} s it must be at most {latest} (the state machine "
                f"itself times out at {days} days)"
            )
        latest_human = STATE_MACHINE_TIMEOUT_SECONDS - 2 * self.human_poll_max_seconds - STOP_MARGIN_SECONDS
        if self.human_job_timeout_seconds > latest_human:
            found.append(
                f"humanJobTimeoutSeconds: {self.human_job_timeout_seconds} leaves no time to stop the job: "
                f"with polls up to every {self.human_poll_max_seconds} s it must be at most {latest_human} "
                f"(the state machine itself times out at {days} days)"
            )
        if self.human_poll_min_seconds > self.human_poll_max_seconds:
            found.append(
                f"humanPollMinSeconds: {self.human_poll_min_seconds} is above humanPollMaxSeconds "
                f"{self.human_poll_max_seconds}"
            )
        return found

    def as_item(self) -> dict[str, int]:
        return self.model_dump()

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Timing:
        return cls.model_validate(item)
