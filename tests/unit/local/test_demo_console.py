"""`make demo` output off a terminal (nohup, CI logs, pipes): nothing is broken mid-token."""

from __future__ import annotations

import io

from local.demo import terminal_console

URI = "s3://evalpipe-local-bucket/results/support-assistant/support-assistant-20261203-074319-2fda633c/"
ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghijkl"


def test_off_a_terminal_long_uris_and_arns_are_never_wrapped() -> None:
    # Given a console writing to a pipe (not a terminal)
    stream = io.StringIO()
    console = terminal_console(stream)
    # When a line longer than 80 columns is printed
    console.print(f"Results: {URI} (job {ARN})")
    # Then it comes out on one line, whole
    assert stream.getvalue() == f"Results: {URI} (job {ARN})\n"
