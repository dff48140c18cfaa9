"""End to end in the local mode: `evalpipe gate` passes a dataset that holds up and fails one that regresses.

The gate runs as CI would run it: the CLI against the deployed stack (the local endpoint), the suite
named as deployed, the dataset a local file. Its run goes through the whole pipeline; its exit code and
its Markdown summary are what a pull request sees.
"""

from __future__ import annotations

import pytest

from evalpipe.cli import main
from tests.e2e.scenario import SUPPORT_ASSISTANT, given_cli_for, given_suite
from tests.e2e.test_regression import degraded

pytestmark = pytest.mark.slow

# A suite of its own, so runs of the other e2e tests are never this one's baseline.
SUITE = "support-assistant-gate"


def gate(stack_name: str, dataset, markdown, *extra: str) -> int:
    waiting = ["--timeout", "180", "--interval", "0.5"]
    return main(
        [
            "gate",
            "--suite",
            SUITE,
            str(dataset),
            "--stack",
            stack_name,
            *waiting,
            "--markdown",
            str(markdown),
            *extra,
        ]
    )


def test_the_gate_passes_a_dataset_that_holds_up_and_fails_one_that_regresses(
    stack, monkeypatch, capsys, tmp_path
):
    # Given the example suite deployed under its own name, and the CLI pointed at the stack
    suite = given_suite(stack, SUPPORT_ASSISTANT.example, as_name=SUITE)
    stack_name = given_cli_for(stack, monkeypatch)
    dataset = tmp_path / "sample.jsonl"
    dataset.write_bytes(suite.dataset())

    # When the gate runs the example dataset twice (the first run is the second's baseline)
    first = gate(stack_name, dataset, tmp_path / "first.md")
    assert first == 0, capsys.readouterr().err
    code = gate(stack_name, dataset, tmp_path / "passing.md")
    out, err = capsys.readouterr()

    # Then the second passes: the same answers did not regress, and the Markdown shows the intervals
    assert code == 0, err
    passing = (tmp_path / "passing.md").read_text()
    assert passing.startswith(("## evalpipe gate: PASSED", "## evalpipe gate: LOW_SCORES"))
    assert "| Metric | Baseline | This run | Change [95% CI] | Pairs | Detectable drop | Outcome |" in passing
    assert "REGRESSED" not in passing
    assert "Uploaded" in err and f"datasets/{SUITE}/gate-" in err

    # When the gate runs a dataset whose answers all got worse
    worse = tmp_path / "worse.jsonl"
    worse.write_bytes(degraded(suite.dataset()))
    code = gate(stack_name, worse, tmp_path / "regressed.md")
    out, err = capsys.readouterr()

    # Then it fails, and the Markdown names each regressed metric with its interval
    assert code == 1
    assert "REGRESSED fails the gate" in err
    assert out.startswith("Verdict: REGRESSED")
    regressed = (tmp_path / "regressed.md").read_text()
    assert regressed.startswith(f"## evalpipe gate: REGRESSED — suite `{SUITE}`")
    lines = [line for line in regressed.splitlines() if line.startswith("- **Regressed: ")]
    assert lines, regressed
    for line in lines:
        assert "95% CI" in line and "pairs" in line
    assert "| **REGRESSED** |" in regressed


def test_the_gate_rejects_an_invalid_dataset_before_uploading_it(stack, monkeypatch, capsys, tmp_path):
    given_suite(stack, SUPPORT_ASSISTANT.example, as_name=SUITE)
    stack_name = given_cli_for(stack, monkeypatch)
    dataset = tmp_path / "broken.jsonl"
    dataset.write_text('{"prompt": 3}\n')
    code = gate(stack_name, dataset, tmp_path / "invalid.md")
    out, _ = capsys.readouterr()
    assert code == 1
    assert f"{dataset}:1:" in out  # the problem names the file and line
    assert (tmp_path / "invalid.md").read_text().startswith(f"## evalpipe gate: invalid — suite `{SUITE}`")


def test_a_suite_that_is_not_deployed_is_an_error_naming_it(stack, monkeypatch, capsys, tmp_path):
    stack_name = given_cli_for(stack, monkeypatch)
    dataset = tmp_path / "sample.jsonl"
    dataset.write_bytes(SUPPORT_ASSISTANT.dataset())
    code = main(["gate", "--suite", "never-deployed", str(dataset), "--stack", stack_name])
    assert code == 1
    assert "suite never-deployed is not deployed" in capsys.readouterr().err
