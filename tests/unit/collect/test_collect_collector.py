"""The collector: bounded concurrency, failures left out and reported, resume, and Ctrl-C
leaving only complete lines."""

from __future__ import annotations

import io
import json
import threading

from evalpipe.collect import CollectOptions, JsonlSink, Outcome, RecordCheck, TargetFailed, collect
from tests.unit.collect.conftest import APP, ScriptedTarget, make_scenario

SCENARIOS = [make_scenario(id=f"s{n}", turns=[f"question {n}", "and then?"]) for n in range(1, 7)]


class Recorder:
    """A `Progress` keeping what it was told (in the calling thread)."""

    def __init__(
        self, interrupt_after: int | None = None, on_interrupt: threading.Event | None = None
    ) -> None:
        self.started: tuple[int, int] | None = None
        self.outcomes: list[Outcome] = []
        self.threads: set[str] = set()
        self.interrupt_after = interrupt_after

    def start(self, total: int, skipped: int) -> None:
        self.started = (total, skipped)

    def advance(self, outcome: Outcome) -> None:
        self.threads.add(threading.current_thread().name)
        self.outcomes.append(outcome)
        if self.interrupt_after is not None and len(self.outcomes) == self.interrupt_after:
            raise KeyboardInterrupt  # what Ctrl-C raises in the waiting thread


def _run(target: ScriptedTarget, *, concurrency: int = 3, skip: frozenset[str] = frozenset(), progress=None):
    dataset, meta = io.StringIO(), io.StringIO()
    options = CollectOptions(APP, ("thinking",), concurrency=concurrency)
    summary = collect(
        SCENARIOS,
        target,
        JsonlSink(dataset, meta),
        options,
        RecordCheck(None, "out.jsonl"),
        skip=skip,
        progress=progress,
    )
    return summary, dataset.getvalue(), meta.getvalue()


def _ids(text: str) -> list[str]:
    return [json.loads(line)["id"] for line in text.splitlines()]


def test_every_scenario_is_written_once_by_bounded_workers() -> None:
    # Given a target that holds each call until 3 calls are in flight at once
    barrier = threading.Barrier(3, timeout=5)

    def answer(conversation) -> str:
        if len(conversation.messages) == 1:  # first turns meet at the barrier
            barrier.wait()
        return "ok"

    target = ScriptedTarget(answer)
    progress = Recorder()

    # When 6 scenarios are collected 3 at a time
    summary, dataset, meta = _run(target, concurrency=3, progress=progress)

    # Then all are written (order of completion), the calls overlapped but never beyond the bound
    assert sorted(_ids(dataset)) == [s.id for s in SCENARIOS]
    assert target.most_active == 3
    assert (len(summary.written), summary.records, summary.failed, summary.interrupted) == (6, 6, [], False)
    assert progress.started == (6, 0) and progress.threads == {"MainThread"}
    assert sorted(json.loads(line)["id"] for line in meta.splitlines()) == [s.id for s in SCENARIOS]


def test_a_failing_scenario_is_reported_with_its_id_and_left_out() -> None:
    # Given a target that fails for good on the second turn of s2 only
    target = ScriptedTarget(fail={"s2": TargetFailed("HTTP 500 from http://app/chat: boom")})

    # When collected
    summary, dataset, meta = _run(target)

    # Then s2 is not in the dataset, is reported with the error, and its metadata says so
    assert sorted(_ids(dataset)) == ["s1", "s3", "s4", "s5", "s6"]
    assert [(o.scenario_id, o.error) for o in summary.failed] == [
        ("s2", "TargetFailed: HTTP 500 from http://app/chat: boom")
    ]
    failed_meta = [json.loads(line) for line in meta.splitlines() if json.loads(line)["status"] == "failed"]
    assert failed_meta == [
        {
            "id": "s2",
            "scenarioId": "s2",
            "status": "failed",
            "error": "TargetFailed: HTTP 500 from http://app/chat: boom",
        }
    ]
    assert summary.remaining == 1


def test_resume_skips_the_ids_already_collected() -> None:
    target = ScriptedTarget()
    summary, dataset, _ = _run(target, skip=frozenset({"s1", "s2", "s5"}))
    assert sorted(_ids(dataset)) == ["s3", "s4", "s6"]
    assert {c.scenario_id for c in target.asked} == {"s3", "s4", "s6"}
    assert (summary.total, summary.skipped, len(summary.written)) == (6, 3, 3)


def test_ctrl_c_stops_at_once_and_leaves_complete_lines_only() -> None:
    # Given a target whose calls wait for a release, and a Ctrl-C after the first outcome
    release = threading.Event()

    def answer(conversation) -> str:
        if conversation.scenario_id != "s1":
            release.wait(5)
        return "ok"

    target = ScriptedTarget(answer)
    progress = Recorder(interrupt_after=1)

    # When collected one scenario per worker (s1 answers, the others hang)
    summary, dataset, meta = _run(target, concurrency=3, progress=progress)
    release.set()  # the hanging calls now complete, after the interruption

    # Then collect returned interrupted with s1 written, and nothing is written after the seal
    assert summary.interrupted
    assert summary.written == ["s1"] and summary.remaining == 5
    lines = dataset.splitlines()
    assert _ids(dataset) == ["s1"] and dataset.endswith("\n")
    assert all(json.loads(line)["modelResponses"][0]["response"] for line in lines)
    for _ in range(50):  # the workers finish their calls; the sealed sink drops what they bring
        if all(not t.name.startswith("collect-") for t in threading.enumerate()):
            break
        threading.Event().wait(0.02)
    assert _ids(dataset) == ["s1"]
    assert [json.loads(line)["id"] for line in meta.splitlines()] == ["s1"]


def test_a_sealed_sink_refuses_writes() -> None:
    dataset, meta = io.StringIO(), io.StringIO()
    sink = JsonlSink(dataset, meta)
    sink.seal()
    assert sink.write(Outcome("s1", error="boom")) is False
    assert (dataset.getvalue(), meta.getvalue()) == ("", "")


def test_a_deadline_stops_the_collection_and_keeps_what_was_written() -> None:
    # Given a target that answers s1 at once and holds every other scenario past the deadline
    import time

    release = threading.Event()

    def answer(conversation) -> str:
        if conversation.scenario_id != "s1":
            release.wait(5)
        return "ok"

    dataset, meta = io.StringIO(), io.StringIO()
    # When collected with a deadline half a second away
    summary = collect(
        SCENARIOS,
        ScriptedTarget(answer),
        JsonlSink(dataset, meta),
        CollectOptions(APP, ("thinking",), concurrency=3),
        RecordCheck(None, "out.jsonl"),
        deadline=time.monotonic() + 0.5,
    )
    release.set()
    # Then it returned timed out (not interrupted) with s1 written and the rest still to collect
    assert summary.timed_out and not summary.interrupted
    assert summary.written == ["s1"] and summary.remaining == 5
    assert _ids(dataset.getvalue()) == ["s1"]


def test_a_deadline_already_past_plays_no_scenario() -> None:
    # Given a batch invoked with no time left (the function's last seconds went elsewhere)
    import time

    target = ScriptedTarget()
    dataset, meta = io.StringIO(), io.StringIO()
    # When collected
    summary = collect(
        SCENARIOS,
        target,
        JsonlSink(dataset, meta),
        CollectOptions(APP, ("thinking",), concurrency=3),
        RecordCheck(None, "out.jsonl"),
        deadline=time.monotonic() - 1,
    )
    # Then the app was never called and nothing was written: every scenario is left to collect
    assert target.asked == []
    assert summary.timed_out and summary.written == [] and summary.remaining == len(SCENARIOS)
    assert (dataset.getvalue(), meta.getvalue()) == ("", "")
