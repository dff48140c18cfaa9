"""`evalpipe collect` offline: arguments, refusals before any call, and a Bedrock target whose
client is stubbed (botocore Stubber)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from evalpipe.cli import collect as collect_command
from evalpipe.cli import main
from evalpipe.collect import ConverseTarget, Outcome, boto_config

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "examples" / "suites" / "support-assistant.json"
LIVE_SUITE = ROOT / "examples" / "suites" / "support-assistant-live.json"
MODEL = "amazon.nova-lite-v1:0"


@pytest.fixture
def scenarios(tmp_path: Path) -> str:
    path = tmp_path / "scenarios.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "hello",
                    "category": "greeting",
                    "turns": ["hello"],
                    "referenceResponse": "Hi! How can I help?",
                },
                {
                    "id": "two",
                    "category": "orders",
                    "turns": ["Cancel BK-1", "Yes"],
                    "referenceResponse": "Done.",
                },
            ]
        ),
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def converse(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """The CLI's Bedrock target on a stubbed bedrock-runtime client (responses in call order)."""
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=boto_config(1, 1),
    )
    stub = Stubber(client)

    def build(config: Any, args: Any) -> ConverseTarget:
        assert args.max_attempts == 5  # the default handed to the client's retry configuration
        return ConverseTarget(config, client)

    monkeypatch.setattr(collect_command, "build_target", build)
    with stub:
        yield stub


def _text(text: str) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
        "metrics": {"latencyMs": 1},
    }


def test_a_bedrock_shorthand_target_collects_with_the_given_identifier(
    converse: Stubber, scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a model answering three turns (one at a time: --concurrency 1 keeps the order)
    for text in ("<thinking>greet</thinking>Hi! How can I help?", "Shall I cancel BK-1?", "Done."):
        converse.add_response("converse", _text(text))
    output = tmp_path / "out.jsonl"

    # When collected without a suite
    code = main(
        [
            "collect",
            scenarios,
            "--target",
            f"bedrock:{MODEL}",
            "-o",
            str(output),
            "--identifier",
            "my-app",
            "--concurrency",
            "1",
        ]
    )

    # Then both records are written with the identifier, and the output says where it came from
    out = capsys.readouterr().out
    assert code == 0, out
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["modelResponses"][0]) for r in records] == [
        ("hello", {"response": "Hi! How can I help?", "modelIdentifier": "my-app"}),
        ("two", {"response": "Done.", "modelIdentifier": "my-app"}),
    ]
    assert records[1]["prompt"] == "User: Cancel BK-1\nAssistant: Shall I cancel BK-1?\nUser: Yes"
    assert "records carry modelIdentifier 'my-app' (--identifier; without --suite)" in out
    assert f"{output}: valid: 0 errors, 0 warnings" in out
    meta = [json.loads(line) for line in (tmp_path / "out.meta.jsonl").read_text().splitlines()]
    assert [(m["id"], m["turns"], m["inputTokens"], m["outputTokens"]) for m in meta] == [
        ("hello", 1, 3, 2),
        ("two", 2, 6, 4),
    ]


def test_without_suite_or_identifier_the_model_id_labels_the_records(
    converse: Stubber, scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for text in ("Hi", "Shall I?", "Done."):
        converse.add_response("converse", _text(text))
    code = main(
        [
            "collect",
            scenarios,
            "--target",
            f"bedrock:{MODEL}",
            "-o",
            str(tmp_path / "o.jsonl"),
            "--concurrency",
            "1",
        ]
    )
    assert code == 0
    assert (
        f"records carry modelIdentifier '{MODEL}' (from the target; without --suite"
        in capsys.readouterr().out
    )


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["collect", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_an_existing_output_needs_resume_or_overwrite(
    converse: Stubber, scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text('{"id": "old"}\n', encoding="utf-8")
    err = _refused(capsys, scenarios, "--target", f"bedrock:{MODEL}", "-o", str(output))
    assert "exists: --resume to skip the scenarios it has, or --overwrite" in err
    assert output.read_text(encoding="utf-8") == '{"id": "old"}\n'

    # With --overwrite it is replaced
    for text in ("Hi", "Shall I?", "Done."):
        converse.add_response("converse", _text(text))
    assert (
        main(
            [
                "collect",
                scenarios,
                "--target",
                f"bedrock:{MODEL}",
                "-o",
                str(output),
                "--overwrite",
                "--concurrency",
                "1",
            ]
        )
        == 0
    )
    assert "old" not in output.read_text(encoding="utf-8")


def test_refusals_before_any_call(scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o.jsonl")
    # A suite whose model runs live takes no responses
    err = _refused(capsys, scenarios, "--target", f"bedrock:{MODEL}", "-o", out, "--suite", str(LIVE_SUITE))
    assert "collect writes precomputed model responses" in err
    # An identifier contradicting the suite's
    err = _refused(
        capsys,
        scenarios,
        "--target",
        f"bedrock:{MODEL}",
        "-o",
        out,
        "--suite",
        str(SUITE),
        "--identifier",
        "x",
    )
    assert "'x' differs from the suite's 'bookstore-assistant-v3'" in err
    # A scenarios file with a problem names its path
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "a", "category": "c", "turns": []}]', encoding="utf-8")
    err = _refused(capsys, str(bad), "--target", f"bedrock:{MODEL}", "-o", out)
    assert f"{bad}: scenarios[0].turns: List should have at least 1 item" in err
    # A target with a problem, inline
    err = _refused(capsys, scenarios, "--target", '{"type": "http", "url": "https://x.example"}', "-o", out)
    assert "--target: http.answerPath: Field required" in err
    # A header whose environment variable is unset (its name, never a value)
    target = json.dumps(
        {
            "type": "http",
            "url": "https://x.example",
            "answerPath": "$.a",
            "headers": {"X-Key": {"env": "EVALPIPE_TEST_UNSET"}},
        }
    )
    err = _refused(capsys, scenarios, "--target", target, "-o", out)
    assert "set the environment variable of header(s) X-Key ($EVALPIPE_TEST_UNSET)" in err
    # Unreadable scenarios
    err = _refused(capsys, str(tmp_path / "missing.json"), "--target", f"bedrock:{MODEL}", "-o", out)
    assert "cannot read" in err
    assert not Path(out).exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_is_a_rich_bar_and_failures_print_as_plain_text() -> None:
    # Given a terminal
    stream = _Terminal()

    # When a collection of two scenarios reports one success and one failure with brackets
    with collect_command.progress_display(stream) as progress:
        assert isinstance(progress, collect_command._RichProgress)
        progress.start(2, 0)
        progress.advance(Outcome("ok-1"))
        progress.advance(Outcome("bad-1", error="TargetFailed: [red]HTTP 500[/red]"))
        task = progress.progress.tasks[0]

    # Then the bar counted both, one failed, and the error was printed as it is
    assert (task.completed, task.total, task.fields["failed"]) == (2, 2, 1)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "failed bad-1: TargetFailed: [red]HTTP 500[/red]" in shown


def test_off_a_terminal_the_progress_is_one_line_per_scenario() -> None:
    stream = io.StringIO()
    with collect_command.progress_display(stream) as progress:
        progress.start(3, 1)
        progress.advance(Outcome("bad-1", error="boom"))
    assert stream.getvalue().splitlines() == [
        "1 of 3 scenarios already collected (--resume)",
        "[2/3] FAILED bad-1: boom",
    ]


def test_paths_that_cannot_be_used(
    scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A target file that does not exist is named as such (not parsed as JSON)
    err = _refused(
        capsys, scenarios, "--target", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o.jsonl")
    )
    assert f"cannot read {tmp_path / 'nope.json'}: no such file" in err
    # An output in a folder that does not exist
    err = _refused(
        capsys,
        scenarios,
        "--target",
        f"bedrock:{MODEL}",
        "-o",
        str(tmp_path / "no" / "o.jsonl"),
        "--region",
        "us-east-1",
    )
    assert f"cannot write {tmp_path / 'no' / 'o.jsonl'}: No such file or directory" in err


def test_a_bedrock_target_without_a_region_is_refused(
    scenarios: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    err = _refused(capsys, scenarios, "--target", f"bedrock:{MODEL}", "-o", str(tmp_path / "o.jsonl"))
    assert "no AWS region for the target's client: give --region or set AWS_REGION" in err
