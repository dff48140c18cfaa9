"""The example GitHub Actions workflow (examples/ci/): it parses, and its gate step is a command line
the real `evalpipe` parser accepts, with the flags examples/ci/README.md documents."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from evalpipe.cli import build_parser
from evalpipe.run.status import Verdict

WORKFLOW = Path(__file__).resolve().parents[3] / "examples" / "ci" / "evalpipe-gate.yml"


def load() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps() -> list[dict[str, Any]]:
    return load()["jobs"]["gate"]["steps"]


def gate_command() -> list[str]:
    [step] = [s for s in steps() if "evalpipe gate" in s.get("run", "")]
    # Shell variables stand for the repository's values; any word does for the parser.
    env = load()["jobs"]["gate"]["env"]
    text = step["run"]
    for name in env:
        text = text.replace(f'"${name}"', name.lower())
    return shlex.split(text)


def test_it_runs_on_pull_requests_with_oidc_and_may_comment() -> None:
    workflow = load()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    assert workflow["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "write"}
    [credentials] = [
        s for s in steps() if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert "role-to-assume" in credentials["with"]
    assert "aws-access-key-id" not in credentials["with"]


def test_it_calls_the_gate_with_the_documented_flags() -> None:
    command = gate_command()
    assert command[:2] == ["evalpipe", "gate"]
    args = build_parser().parse_args(command[1:])
    assert args.run.__module__ == "evalpipe.cli.gate"
    assert (args.suite, args.dataset, args.stack) == ("suite", "dataset", "evalpipe_stack")
    assert args.timeout == 3600
    assert args.fail_on == (Verdict.REGRESSED, Verdict.INCOMPLETE)
    assert args.markdown == "evalpipe-gate.md"


def test_it_posts_the_markdown_even_when_the_gate_fails() -> None:
    command = gate_command()
    markdown = command[command.index("--markdown") + 1]
    [comment] = [s for s in steps() if "gh pr comment" in s.get("run", "")]
    assert comment["if"].startswith("always()")
    assert f"--body-file {markdown}" in comment["run"]
