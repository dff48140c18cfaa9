"""The `make demo` transcripts in the README and docs/ are what `make demo` prints today.

A transcript is a fenced block right after the line ``<!-- transcript: make demo -->``. Each of
its lines must be a line of a real run (``python -m local demo``, output not a terminal), once
what changes from run to run is set aside: durations, run ids, execution ids, versions, ports,
the names CloudFormation generates, times, the number of polls, and the widths of table columns.
A line that is only ``…`` stands for lines left out. When the pipeline's output changes on
purpose, paste the new lines from ``make demo > demo.txt``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- transcript: make demo -->"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELIDED = "…"
VOLATILE = [
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<seconds>"),
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{8}\b"), "<run-id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"(?<=[-/])[A-Za-z0-9]{12}\b"), "<generated>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+Z][0-9:]*"), "<time>"),
    (re.compile(r"\d+m \d+s"), "<took>"),
    (
        re.compile(r"\(WaitForJob → Poll → CheckJobStatus\) x\d+|WaitForJob → Poll → CheckJobStatus"),
        "<polls>",
    ),
    (re.compile(r"([─━═┄])\1+"), r"\1"),
    (re.compile(r"\s+"), " "),
]


def normalized(line: str) -> str:
    for pattern, replacement in VOLATILE:
        line = pattern.sub(replacement, line)
    return line.strip()


def transcripts() -> list[tuple[str, list[str]]]:
    """(page, lines) of every transcript block of the README and docs/."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if line.strip() == MARKER:
                assert lines[index + 1].startswith("```"), f"{page.name}: the marker precedes a fenced block"
                end = lines.index("```", index + 2)
                found.append((page.name, lines[index + 2 : end]))
    return found


def test_the_pages_hold_transcripts() -> None:
    pages = {page for page, _ in transcripts()}
    assert {"README.md", "local-mode.md"} <= pages


def test_every_transcript_line_is_printed_by_make_demo(tmp_path: Path) -> None:
    # Given a real run of the demo, as `make demo > file` prints it
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MOTO_"))}
    env.update(
        JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1", JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1"
    )
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="18,20", PYTHONUNBUFFERED="1")
    command = [
        sys.executable, "-m", "local", "demo",
        "--outdir", str(tmp_path / "cdk.out"), "--log-file", str(tmp_path / "functions.log"),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # (the paths as `make demo` prints them: it writes into .cache/local/)
    stdout = run.stdout.replace(str(tmp_path / "cdk.out"), ".cache/local/cdk.out")
    stdout = stdout.replace(str(tmp_path / "functions.log"), ".cache/local/functions.log")
    printed = {normalized(line) for line in stdout.splitlines()}

    # Then every line the pages show is one of its lines
    missing = [
        f"{page}: {line}"
        for page, lines in transcripts()
        for line in lines
        if line.strip() != ELIDED and normalized(line) not in printed
    ]
    assert not missing, "\n".join(missing) + "\n\nmake demo printed:\n" + stdout
