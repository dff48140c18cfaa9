"""`evalpipe collect` end to end, through each target type:

- HTTP: the local app (local/target_app.py) on a free loopback port, throttling and failing its
  first requests, with a bearer token from the environment;
- Lambda: moto's Lambda, the handler run in this process by local/inprocess_lambda.py (the
  same app as a function, called through an alias);
- Bedrock: Converse served by the emulator's stand-in (local/bedrock_emulator/runtime.py), with
  a tool loop and throttling.

Each collected dataset is then accepted by ``evalpipe validate --suite
examples/suites/support-assistant.json``; an interrupted run leaves complete lines that
``--resume`` completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest

from evalpipe.cli import collect as collect_command
from evalpipe.cli import main
from evalpipe.collect import load_scenarios
from local.inprocess_lambda import directory_resolver, inprocess_lambdas
from local.sfn_harness import create_function, create_lambda_role
from local.target_app import TargetApp

ROOT = Path(__file__).resolve().parents[3]
SUITE = str(ROOT / "examples" / "suites" / "support-assistant.json")
SCENARIOS = str(ROOT / "examples" / "scenarios" / "support-assistant.json")
TARGETS = ROOT / "examples" / "scenarios" / "targets"
EXAMPLE_IDS = sorted(s.id for s in load_scenarios(Path(SCENARIOS).read_bytes(), SCENARIOS))
APP = "bookstore-assistant-v3"
TOKEN = "local-test-token"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[TargetApp]:
    """The HTTP app requiring the token the example target reads from BOOKSTORE_APP_TOKEN."""
    monkeypatch.setenv("BOOKSTORE_APP_TOKEN", TOKEN)
    monkeypatch.setattr(collect_command, "HTTP_BACKOFF_SECONDS", 0.01)  # urllib3's waits, kept short
    with TargetApp(token=TOKEN) as running:
        yield running


@pytest.fixture
def http_target(app: TargetApp, tmp_path: Path) -> str:
    """examples/scenarios/targets/local-http.json pointed at the app's port."""
    config = json.loads((TARGETS / "local-http.json").read_text(encoding="utf-8"))
    config["url"] = app.url
    path = tmp_path / "target.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


@pytest.fixture
def no_boto_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry waits, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_accepted_by_validate(capsys: pytest.CaptureFixture[str], dataset: Path) -> None:
    code, out, _ = cli(capsys, "validate", "--suite", SUITE, str(dataset))
    assert code == 0, out
    assert f"{dataset}: valid: 0 errors" in out


# --- HTTP ---------------------------------------------------------------------------------


def test_http_collects_the_example_scenarios_through_throttling_into_a_valid_dataset(
    app: TargetApp, http_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an app that throttles the first request and fails the second
    app.fail_next(1, 429)
    app.fail_next(1, 500)
    output = tmp_path / "collected.jsonl"

    # When the example scenarios are collected against the suite
    code, out, err = cli(
        capsys,
        "collect",
        SCENARIOS,
        "--target",
        http_target,
        "--suite",
        SUITE,
        "-o",
        str(output),
        "--concurrency",
        "2",
    )

    # Then every scenario is in the dataset once, after two retried requests
    assert code == 0, out + err
    collected = records(output)
    assert sorted(r["id"] for r in collected) == EXAMPLE_IDS
    assert [r.status for r in app.requests[:2]] == [429, 500]
    assert {r.status for r in app.requests[2:]} == {200}
    assert {r.headers["authorization"] for r in app.requests} == {f"Bearer {TOKEN}"}
    assert f"collected {len(EXAMPLE_IDS)} of {len(EXAMPLE_IDS)} scenarios" in out

    # And the records are what the suite grades: its identifier, reasoning stripped, history as prompt
    by_id = {r["id"]: r for r in collected}
    assert {r["modelResponses"][0]["modelIdentifier"] for r in collected} == {APP}
    assert not any("<thinking" in r["modelResponses"][0]["response"] for r in collected)
    cancel = by_id["cancel-order-confirmed"]
    assert cancel["prompt"] == (
        "User: I want to cancel my order BK-10517.\n"
        "Assistant: Order BK-10517 is still processing, so it can be cancelled. "
        "Shall I go ahead and cancel it?\n"
        "User: Yes, please cancel it."
    )
    assert cancel["modelResponses"][0]["response"].startswith("Done: order BK-10517 is cancelled")
    assert cancel["category"] == "orders" and cancel["referenceResponse"].startswith("Done: order BK-10517")
    assert by_id["address-change"]["prompt"].startswith("User: I moved.")
    assert (
        "Assistant: Hi Dana!" in by_id["address-change"]["prompt"]
    )  # the scenario's context reached the app

    # And the body was the template: the conversation so far, the context, the session id
    late = [
        r.body
        for r in app.requests
        if r.status == 200 and r.body["sessionId"] == "evalpipe-late-order-complaint"
    ]
    assert [len(body["messages"]) for body in late] == [1, 3, 5]

    # And latency and tokens sit beside the dataset, one line per record
    meta = records(tmp_path / "collected.meta.jsonl")
    assert sorted(m["id"] for m in meta) == EXAMPLE_IDS
    assert all(m["status"] == "collected" and m["latencyMs"] >= 0 and m["outputTokens"] > 0 for m in meta)
    assert {m["id"]: m["turns"] for m in meta}["late-order-complaint"] == 3

    # And `evalpipe validate` accepts the dataset
    assert_accepted_by_validate(capsys, output)


def test_an_interrupted_run_leaves_a_valid_partial_file_and_resume_collects_the_rest(
    app: TargetApp,
    http_target: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a Ctrl-C once three scenarios are written (raised where it lands: the waiting thread)
    output = tmp_path / "collected.jsonl"
    original = collect_command._PlainProgress.advance

    def advance(self: Any, outcome: Any) -> None:
        original(self, outcome)
        if self.done == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(collect_command._PlainProgress, "advance", advance)
    argv = [
        "collect",
        SCENARIOS,
        "--target",
        http_target,
        "--suite",
        SUITE,
        "-o",
        str(output),
        "--concurrency",
        "1",
    ]

    # When collected
    code, out, _ = cli(capsys, *argv)

    # Then the command exits 130 and says how to go on; the file holds three complete records
    assert code == 130
    assert "interrupted: 3 records of 3 scenarios written" in out and "--resume" in out
    first = records(output)
    assert len(first) == 3 and output.read_bytes().endswith(b"\n")
    assert_accepted_by_validate(capsys, output)

    # When the same command runs again with --resume (no interruption this time)
    monkeypatch.setattr(collect_command._PlainProgress, "advance", original)
    asked_before = len(app.requests)
    code, out, err = cli(capsys, *argv, "--resume")

    # Then only the remaining scenarios are played, and the dataset is complete without duplicates
    assert code == 0, out + err
    assert "3 of 7 scenarios already collected (--resume)" in err
    replayed = {r.body["sessionId"].removeprefix("evalpipe-") for r in app.requests[asked_before:]}
    assert replayed == set(EXAMPLE_IDS) - {r["id"] for r in first}
    assert sorted(r["id"] for r in records(output)) == EXAMPLE_IDS
    assert records(output)[:3] == first
    assert_accepted_by_validate(capsys, output)


def test_a_scenario_failing_for_good_is_reported_left_out_and_collected_on_resume(
    app: TargetApp, http_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two attempts per call and an app failing the first two requests (the first scenario's)
    app.fail_next(2, 500)
    output = tmp_path / "collected.jsonl"
    argv = ["collect", SCENARIOS, "--target", http_target, "--suite", SUITE, "-o", str(output)]

    # When collected one at a time
    code, out, err = cli(capsys, *argv, "--concurrency", "1", "--max-attempts", "2")

    # Then it exits 1, names the scenario with the error, and leaves it out of the dataset
    assert code == 1
    assert "1 scenarios failed and are left out" in out
    assert "  order-status: TargetFailed: HTTP 500 from http://127.0.0.1:" in out
    assert "FAILED order-status: TargetFailed: HTTP 500" in err
    assert "order-status" not in {r["id"] for r in records(output)}
    failed = [m for m in records(tmp_path / "collected.meta.jsonl") if m["status"] == "failed"]
    assert [m["id"] for m in failed] == ["order-status"]

    # When resumed / Then only the failed scenario is collected
    code, out, _ = cli(capsys, *argv, "--resume")
    assert code == 0, out
    assert sorted(r["id"] for r in records(output)) == EXAMPLE_IDS


# --- Lambda (moto, handler run in process) ------------------------------------------------


@pytest.fixture
def bookstore_function(mocked_aws: None) -> Iterator[str]:
    """The app as the Lambda function of examples/scenarios/targets/lambda.json, alias ``live``."""
    client = boto3.client("lambda", region_name="us-east-1")
    role = create_lambda_role(boto3.client("iam", region_name="us-east-1"))
    with inprocess_lambdas(directory_resolver(ROOT)) as runner:
        create_function(client, "bookstore-assistant", "local.target_app.lambda_handler", {}, role)
        version = client.publish_version(FunctionName="bookstore-assistant")["Version"]
        client.create_alias(FunctionName="bookstore-assistant", Name="live", FunctionVersion=version)
        yield runner


def test_lambda_collects_one_record_per_turn_through_the_function(
    bookstore_function: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the example Lambda target, unchanged
    output = tmp_path / "per-turn.jsonl"

    # When collected one record per turn
    code, out, err = cli(
        capsys,
        "collect",
        SCENARIOS,
        "--target",
        str(TARGETS / "lambda.json"),
        "--suite",
        SUITE,
        "-o",
        str(output),
        "--each-turn",
        "--region",
        "us-east-1",
    )

    # Then every turn is a record, the function got the conversation so far each time
    assert code == 0, out + err
    collected = {r["id"]: r for r in records(output)}
    scenarios = load_scenarios(Path(SCENARIOS).read_bytes(), SCENARIOS)
    assert sorted(collected) == sorted(f"{s.id}#{n}" for s in scenarios for n in range(1, len(s.turns) + 1))
    assert collected["cancel-order-confirmed#1"]["prompt"] == "I want to cancel my order BK-10517."
    assert collected["cancel-order-confirmed#1"]["modelResponses"][0]["response"].endswith(
        "Shall I go ahead and cancel it?"
    )
    assert collected["cancel-order-confirmed#2"]["prompt"].startswith(
        "User: I want to cancel my order BK-10517.\nAssistant: "
    )
    assert "referenceResponse" not in collected["cancel-order-confirmed#1"]
    invocations = bookstore_function.invocations
    assert {i.function_name for i in invocations} == {"bookstore-assistant"}
    expected = sorted(2 * n - 1 for s in scenarios for n in range(1, len(s.turns) + 1))
    assert sorted(len(i.event["messages"]) for i in invocations) == expected
    assert [i.event["context"] for i in invocations if i.event["context"]] == [
        {"customerName": "Dana", "customerId": "C-2231"}
    ] * 2
    assert_accepted_by_validate(capsys, output)


# --- Bedrock Converse (the emulator's stand-in) -------------------------------------------

TOOL_SCENARIOS = [
    {
        "id": "order-status-tool",
        "category": "orders",
        "turns": ["Where is my order BK-10482?"],
        "referenceResponse": "Order BK-10482 shipped on May 3 and should arrive by May 8.",
        "toolResults": {"lookup_order": {"orderId": "BK-10482", "status": "shipped", "expectedBy": "May 8"}},
    },
    {
        "id": "cancel-two-turns",
        "category": "orders",
        "turns": ["I want to cancel my order BK-10517.", "Yes, please cancel it."],
        "referenceResponse": "Done: order BK-10517 is cancelled.",
        "toolResults": {
            "lookup_order": {"orderId": "BK-10517", "status": "processing"},
            "cancel_order": {"orderId": "BK-10517", "cancelled": True},
        },
    },
    {"id": "no-canned-result", "category": "returns", "turns": ["What's your return policy?"]},
]


@pytest.fixture
def converse_emulator(mocked_aws: None) -> Iterator[Any]:
    from local import bedrock_emulator

    bedrock_emulator.install()
    bedrock_emulator.reset()
    yield bedrock_emulator.controls
    bedrock_emulator.reset()


def test_bedrock_collects_through_the_emulators_converse_with_the_tool_loop(
    converse_emulator: Any, no_boto_sleep: list[float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given scenarios with canned tool results (one lacks them), the example Bedrock target, and
    # a Converse that throttles twice first
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(json.dumps({"scenarios": TOOL_SCENARIOS}), encoding="utf-8")
    converse_emulator.throttle_next_converse(2)
    output = tmp_path / "bedrock.jsonl"

    # When collected one scenario at a time
    code, out, err = cli(
        capsys,
        "collect",
        str(scenarios),
        "--target",
        str(TARGETS / "bookstore-nova-lite.json"),
        "--suite",
        SUITE,
        "-o",
        str(output),
        "--concurrency",
        "1",
        "--region",
        "us-east-1",
    )

    # Then the throttled calls were retried by botocore (two waits), the tool loop fed the canned
    # results back, and the scenario without them failed naming the tool
    assert code == 1, out + err
    assert len(no_boto_sleep) == 2
    collected = {r["id"]: r for r in records(output)}
    assert sorted(collected) == ["cancel-two-turns", "order-status-tool"]
    answer = collected["order-status-tool"]["modelResponses"][0]["response"]
    assert answer.startswith("Here is what lookup_order returned: ") and '"expectedBy":"May 8"' in answer
    assert collected["cancel-two-turns"]["prompt"].startswith(
        "User: I want to cancel my order BK-10517.\nAssistant: Here is what lookup_order returned: "
    )
    assert collected["cancel-two-turns"]["modelResponses"][0]["response"] == (
        'Here is what cancel_order returned: {"cancelled":true,"orderId":"BK-10517"}'
    )
    assert "no-canned-result: MissingToolResult: the model called tool 'get_return_policy'" in out
    meta = {m["id"]: m for m in records(tmp_path / "bedrock.meta.jsonl")}
    assert meta["order-status-tool"]["toolCalls"] == 1 and meta["cancel-two-turns"]["toolCalls"] == 2
    assert meta["order-status-tool"]["inputTokens"] > 0
    # 2 throttled + 2 calls per tool round: 2 (one turn) + 4 (two turns) + 1 (the failing one)
    assert converse_emulator.converse_calls == 2 + 2 + 4 + 1
    assert_accepted_by_validate(capsys, output)


def test_a_real_ctrl_c_exits_130_with_complete_lines_and_resume_finishes(
    app: TargetApp, http_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a slow app and `evalpipe collect` running in its own process
    app.delay_seconds = 0.15
    output = tmp_path / "collected.jsonl"
    argv = [sys.executable, "-m", "evalpipe.cli", "collect", SCENARIOS, "--target", http_target]
    argv += ["--suite", SUITE, "-o", str(output), "--concurrency", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)])}
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    # When SIGINT arrives once a first record is written
    deadline = time.monotonic() + 30
    while not (output.exists() and output.read_bytes().count(b"\n") >= 1):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    # Then it exits 130 at once, the file holds complete records only, and validate accepts them
    assert process.returncode == 130, out + err
    assert "interrupted:" in out and "Traceback" not in err
    partial = records(output)
    assert 1 <= len(partial) < len(EXAMPLE_IDS)
    assert output.read_bytes().endswith(b"\n")
    assert_accepted_by_validate(capsys, output)

    # And --resume collects exactly the rest
    app.delay_seconds = 0
    code, out, _ = cli(capsys, *argv[3:], "--resume")
    assert code == 0, out
    assert sorted(r["id"] for r in records(output)) == EXAMPLE_IDS
