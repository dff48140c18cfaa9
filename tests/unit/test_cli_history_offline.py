"""The history commands' offline parts: finding the stack name, waiting for a run, argument errors."""

from __future__ import annotations

import io
import json

import pytest

from evalpipe.cli import main
from evalpipe.cli._stack import DEFAULT_STACK, STACK_ENV, default_stack_name
from evalpipe.cli.runs import WaitDisplay, latest_per_suite, wait_for_run
from evalpipe.run.model import Run


def a_run(status: str, run_id: str = "r", suite: str = "s", **extra: object) -> Run:
    return Run.model_validate(
        {
            "run_id": run_id,
            "suite": suite,
            "status": status,
            "created_at": "2026-01-01T00:00:00+00:00",
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def no_stack_env(monkeypatch):
    monkeypatch.delenv(STACK_ENV, raising=False)


def test_stack_name_comes_from_the_nearest_cdk_json(tmp_path) -> None:
    # Given a project whose cdk.json names the stack, and a folder below it
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "x", "context": {"stackName": "MyEvals"}}))
    below = tmp_path / "examples" / "deep"
    below.mkdir(parents=True)

    # When / Then the name is found from there
    assert default_stack_name(below) == "MyEvals"


def test_stack_name_from_the_environment_wins(tmp_path, monkeypatch) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"stackName": "MyEvals"}}))
    monkeypatch.setenv(STACK_ENV, "FromEnv")
    assert default_stack_name(tmp_path) == "FromEnv"


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"context": {}}), json.dumps([1])])
def test_stack_name_defaults_without_a_usable_cdk_json(tmp_path, content) -> None:
    if content is not None:
        (tmp_path / "cdk.json").write_text(content)
    assert default_stack_name(tmp_path) == DEFAULT_STACK


def test_the_repository_cdk_json_names_the_default_stack() -> None:
    # Given the repository itself / Then its cdk.json and the CLI agree
    assert default_stack_name() == DEFAULT_STACK


@pytest.mark.parametrize(
    ("run", "settled"),
    [
        (a_run("IN_PROGRESS"), False),
        (a_run("SUBMITTED"), False),
        (a_run("COMPLETED"), False),  # parsed, not reviewed yet
        (a_run("COMPLETED", report_key="reports/s/r.html"), True),
        (a_run("COMPLETED", notified_at="2026-01-01T00:00:00+00:00"), True),
        (a_run("REJECTED"), True),
        (a_run("ERROR"), True),
    ],
)
def test_a_run_is_settled_once_nothing_changes_any_more(run, settled) -> None:
    assert run.settled is settled


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_until_the_run_settles() -> None:
    # Given a run that is recorded late and completes on the fourth read
    done = a_run("COMPLETED", report_key="k")
    states = iter([None, a_run("SUBMITTED"), a_run("IN_PROGRESS"), done])
    fake = FakeTime()
    seen = []

    # When waited for
    run, settled = wait_for_run(
        lambda _: next(states),
        "r",
        timeout=100,
        interval=10,
        report=lambda r, t: seen.append((r and r.status, t)),
        sleep=fake.sleep,
        clock=fake.clock,
    )

    # Then it returns the settled run after three intervals
    assert (run, settled) == (done, True)
    assert fake.sleeps == [10, 10, 10]
    assert seen == [(None, 0), ("SUBMITTED", 10), ("IN_PROGRESS", 20)]


def test_wait_gives_up_at_the_timeout_without_oversleeping() -> None:
    fake = FakeTime()
    running = a_run("IN_PROGRESS")
    run, settled = wait_for_run(
        lambda _: running, "r", timeout=25, interval=10, sleep=fake.sleep, clock=fake.clock
    )
    assert (run, settled) == (running, False)
    assert fake.sleeps == [10, 10, 5]


def test_wait_display_prints_status_changes_when_not_a_terminal() -> None:
    # Given a display on a plain stream
    stream = io.StringIO()
    with WaitDisplay("smoke-1", 60, stream=stream) as display:
        display.update(None, 0)
        display.update(a_run("IN_PROGRESS"), 5)
        display.update(a_run("IN_PROGRESS"), 10)
        display.update(a_run("COMPLETED"), 15)

    # Then one line per change
    assert stream.getvalue().splitlines() == [
        "waiting for smoke-1: not recorded yet (timeout 60s) (0s)",
        "waiting for smoke-1: IN_PROGRESS (timeout 60s) (5s)",
        "waiting for smoke-1: COMPLETED, reviewing against the baseline (timeout 60s) (15s)",
    ]


def test_wait_display_draws_a_rich_spinner_on_a_terminal(monkeypatch) -> None:
    # Given a stream that says it is a terminal
    stream = io.StringIO()
    monkeypatch.setattr("evalpipe.cli.runs._isatty", lambda _: True)

    # When the display runs
    with WaitDisplay("smoke-1", 60, stream=stream) as display:
        assert display._progress is not None
        display.update(a_run("IN_PROGRESS"), 5)

    # Then rich drew it (transient: nothing is left once it stops) and no plain line was printed
    assert "waiting for smoke-1: IN_PROGRESS (timeout 60s) (5s)" not in stream.getvalue()


def test_latest_per_suite_picks_the_newest_run_of_each_suite() -> None:
    rows = latest_per_suite(
        [
            a_run("REJECTED", "b-1", "b", created_at="2026-01-02T00:00:00+00:00"),
            a_run("COMPLETED", "a-1", "a", created_at="2026-01-01T00:00:00+00:00"),
            a_run("IN_PROGRESS", "a-2", "a", created_at="2026-01-03T00:00:00+00:00"),
        ]
    )
    assert [(r["suite"], r["run_id"], r["verdict"]) for r in rows] == [
        ("a", "a-2", None),
        ("b", "b-1", "REJECTED"),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "--limit", "0"],
        ["runs", "--limit", "x"],
        ["show"],
        ["show", "r", "--timeout", "-1"],
        ["show", "r", "--interval", "0"],
        ["compare", "only-one"],
        ["compare", "a", "b", "--limit", "-2"],
        ["report"],
    ],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    assert main(argv) == 2
    assert "usage: evalpipe" in capsys.readouterr().err


def test_compare_of_a_run_with_itself_is_a_usage_error(capsys) -> None:
    assert main(["compare", "r", "r"]) == 2
    assert "the same run" in capsys.readouterr().err


def test_report_to_stdout_cannot_be_opened(capsys) -> None:
    assert main(["report", "r", "--output", "-", "--open"]) == 2
    assert "--open needs a file" in capsys.readouterr().err
