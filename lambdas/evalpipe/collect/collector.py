"""Collect: play every scenario against the target, a few at a time, and write each record
the moment it is complete.

Workers are daemon threads (``concurrency`` of them) taking scenarios from a queue; each plays
its scenario's turns in order, builds and checks the lines, and hands them to the sink, which
writes and flushes them under a lock, all lines of a scenario in one piece. The calling thread
only waits and reports progress, so a ``KeyboardInterrupt`` lands there: the sink is sealed
(a write under way completes, none follows), the workers stop at their next turn, and
:func:`collect` returns with ``interrupted`` set. What is in the files then is complete lines
only; ``--resume`` collects the rest.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from evalpipe.collect.conversation import Conversation, Message, strip_reasoning
from evalpipe.collect.records import Exchange, RecordCheck, RecordLine, build_lines, failure_meta

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from evalpipe.collect.conversation import Target
    from evalpipe.collect.scenarios import Scenario

__all__ = ["CollectOptions", "JsonlSink", "Outcome", "Progress", "Sink", "Summary", "collect", "play"]

POLL_SECONDS = 0.1  # how often the waiting thread wakes (Ctrl-C is handled within this)


@dataclass(frozen=True)
class CollectOptions:
    """How records are made.

    Attributes
    ----------
    identifier : str
        ``modelResponses[0].modelIdentifier`` (the suite's ``inferenceSourceIdentifier``).
    strip_tags : tuple[str, ...]
        Reasoning tags removed from answers.
    each_turn : bool
        One record per turn instead of one per scenario.
    concurrency : int
        Scenarios played at once.
    """

    identifier: str
    strip_tags: tuple[str, ...]
    each_turn: bool = False
    concurrency: int = 4


@dataclass(frozen=True)
class Outcome:
    """A played scenario: its lines, or why it failed."""

    scenario_id: str
    lines: tuple[RecordLine, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def latency_ms(self) -> int:
        return sum(line.meta["latencyMs"] for line in self.lines)


@dataclass
class Summary:
    """What a collection did."""

    total: int  # scenarios in the file
    skipped: int  # already in the dataset (resume)
    written: list[str] = field(default_factory=list)  # scenario ids written
    records: int = 0  # dataset lines written
    failed: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    timed_out: bool = False  # the deadline came first: the scenarios not written were not played

    @property
    def remaining(self) -> int:
        """Scenarios neither skipped nor written: to collect again."""
        return self.total - self.skipped - len(self.written)


class Sink(Protocol):
    """Where outcomes go; ``write`` is called from the workers, ``seal`` from the caller."""

    def write(self, outcome: Outcome) -> bool: ...

    def seal(self) -> None: ...


class Progress(Protocol):
    """Told, in the calling thread, how the collection goes."""

    def start(self, total: int, skipped: int) -> None: ...

    def advance(self, outcome: Outcome) -> None: ...


class JsonlSink:
    """Writes each outcome's dataset lines and metadata lines whole, flushing both.

    Parameters
    ----------
    dataset, meta : text streams
        Opened for appending, UTF-8 (the caller owns and closes them).
    """

    def __init__(self, dataset: IO[str], meta: IO[str]) -> None:
        self.dataset = dataset
        self.meta = meta
        self._lock = threading.Lock()
        self._sealed = False

    def write(self, outcome: Outcome) -> bool:
        """False when sealed (the outcome is dropped and collected again on resume)."""
        with self._lock:
            if self._sealed:
                return False
            if outcome.lines:
                self.dataset.write("".join(line.text + "\n" for line in outcome.lines))
                self.dataset.flush()
            metas = [line.meta for line in outcome.lines] or [
                failure_meta(outcome.scenario_id, outcome.error or "failed")
            ]
            self.meta.write("".join(json.dumps(meta, ensure_ascii=False) + "\n" for meta in metas))
            self.meta.flush()
            return True

    def seal(self) -> None:
        with self._lock:
            self._sealed = True


class _Stopped(Exception):
    """The collection was interrupted while the scenario was being played."""


def play(
    scenario: Scenario,
    target: Target,
    options: CollectOptions,
    check: RecordCheck,
    stop: threading.Event | None = None,
) -> Outcome:
    """Play one scenario and build its checked lines; never raises (a failure is the outcome's
    ``error``: the exception's class and message)."""
    try:
        exchanges = _converse(scenario, target, options, stop or threading.Event())
        lines = build_lines(scenario, exchanges, options.identifier, each_turn=options.each_turn)
    except _Stopped:
        return Outcome(scenario.id, error="interrupted")
    except Exception as exc:  # one scenario failing must not stop the others
        return Outcome(scenario.id, error=_describe(exc))
    problems = [f"{line.record_id}: {error}" for line in lines for error in check.errors(line.text)]
    if problems:
        return Outcome(scenario.id, error="the record breaks the dataset rules: " + "; ".join(problems))
    return Outcome(scenario.id, tuple(lines))


def _converse(
    scenario: Scenario, target: Target, options: CollectOptions, stop: threading.Event
) -> list[Exchange]:
    messages: list[Message] = []
    exchanges = []
    for number, text in enumerate(scenario.turns, start=1):
        if stop.is_set():
            raise _Stopped
        messages.append(Message("user", text))
        conversation = Conversation(scenario.id, tuple(messages), scenario.tool_results, scenario.context)
        reply = target.respond(conversation)
        answer = strip_reasoning(reply.text, options.strip_tags)
        if not answer:
            where = f"turn {number}" if len(scenario.turns) > 1 else "the turn"
            raise ValueError(
                f"the answer to {where} is empty (after removing {', '.join(options.strip_tags)} tags)"
            )
        exchanges.append(Exchange(text, answer, reply))
        messages.append(Message("assistant", answer))
    return exchanges


def _describe(exc: Exception) -> str:
    message = str(exc).strip() or "(no message)"
    return f"{type(exc).__name__}: {message}"


def collect(
    scenarios: Iterable[Scenario],
    target: Target,
    sink: Sink,
    options: CollectOptions,
    check: RecordCheck,
    *,
    skip: frozenset[str] = frozenset(),
    progress: Progress | None = None,
    deadline: float | None = None,
) -> Summary:
    """Collect every scenario not in ``skip``; see the module docstring.

    Parameters
    ----------
    deadline
        A `time.monotonic` time: then the collection stops as on Ctrl-C (what is written stays,
        nothing more is), so a caller with a time limit (a Lambda function) keeps what it has.

    Returns
    -------
    Summary
        ``interrupted`` when the caller's thread got a KeyboardInterrupt (not re-raised);
        ``timed_out`` when the deadline came first.
    """
    scenarios = list(scenarios)
    todo = [scenario for scenario in scenarios if scenario.id not in skip]
    summary = Summary(total=len(scenarios), skipped=len(scenarios) - len(todo))
    if progress is not None:
        progress.start(summary.total, summary.skipped)
    run = _Workers(todo, lambda scenario, stop: play(scenario, target, options, check, stop), sink)
    if deadline is None or time.monotonic() < deadline:  # no time left: nothing is played at all
        run.start(options.concurrency)
    try:
        for outcome in run.outcomes(deadline):
            _count(summary, outcome)
            if progress is not None:
                progress.advance(outcome)
    except KeyboardInterrupt:
        summary.interrupted = True
        for outcome in run.interrupt():
            _count(summary, outcome)
        return summary
    if run.pending:  # the deadline came first
        summary.timed_out = True
        for outcome in run.interrupt():
            _count(summary, outcome)
    return summary


def _count(summary: Summary, outcome: Outcome) -> None:
    if outcome.ok:
        summary.written.append(outcome.scenario_id)
        summary.records += len(outcome.lines)
    else:
        summary.failed.append(outcome)


class _Workers:
    """Daemon threads playing queued scenarios; outcomes come back to the calling thread."""

    def __init__(
        self,
        scenarios: list[Scenario],
        play_one: Callable[[Scenario, threading.Event], Outcome],
        sink: Sink,
    ) -> None:
        self.todo: queue.SimpleQueue[Scenario] = queue.SimpleQueue()
        for scenario in scenarios:
            self.todo.put(scenario)
        self.pending = len(scenarios)
        self.play_one = play_one
        self.sink = sink
        self.done: queue.SimpleQueue[tuple[Outcome, bool]] = queue.SimpleQueue()
        self.stop = threading.Event()

    def start(self, concurrency: int) -> None:
        for number in range(min(concurrency, self.pending)):
            threading.Thread(target=self._work, name=f"collect-{number}", daemon=True).start()

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                scenario = self.todo.get_nowait()
            except queue.Empty:
                return
            outcome = self.play_one(scenario, self.stop)
            written = False if self.stop.is_set() else self.sink.write(outcome)
            self.done.put((outcome, written))

    def outcomes(self, deadline: float | None = None) -> Iterator[Outcome]:
        """The written outcomes as they complete, until all are or ``deadline`` (`time.monotonic`)
        passes (the wait wakes every POLL_SECONDS)."""
        while self.pending:
            if deadline is not None and time.monotonic() >= deadline:
                return
            try:
                outcome, written = self.done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            self.pending -= 1
            if written:
                yield outcome

    def interrupt(self) -> list[Outcome]:
        """Stop: seal the sink (a write under way completes first); the outcomes written before."""
        self.stop.set()
        self.sink.seal()
        written = []
        while not self.done.empty():
            outcome, was_written = self.done.get_nowait()
            if was_written:
                written.append(outcome)
        return written
