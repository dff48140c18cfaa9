"""`evalpipe parse s3://bucket/prefix`: a job's output prefix read in the bucket as a synced folder
is (moto S3; the folder cases are in tests/unit/test_cli_parse.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

from evalpipe.cli import main
from tests.unit.test_cli_parse import example, job_outputs

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_an_s3_prefix_is_read_like_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # Given a human job's output prefix in a bucket (the permission check object included)
    lines = job_outputs("support-assistant-human", tmp_path)
    suite_file, _, _ = example("support-assistant-human")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="outputs")
        for path in tmp_path.rglob("*"):
            if path.is_file():
                key = f"jobs/{path.relative_to(tmp_path).as_posix()}"
                s3.put_object(Bucket="outputs", Key=key, Body=path.read_bytes())
        # When parsed from s3://outputs/jobs
        code = main(["parse", "s3://outputs/jobs", "--suite", str(suite_file), "--json"])
        result = json.loads(capsys.readouterr().out)
        # And a prefix with nothing below it
        empty = main(["parse", "s3://outputs/nothing-here", "--suite", str(suite_file)])
    # Then it reads as the folder does; an empty prefix cannot be read
    assert code == 0 and result["record_count"] == lines and set(result["metrics"]) == {"resolved", "tone"}
    assert empty == 1 and "no *_output.jsonl below s3://outputs/nothing-here" in capsys.readouterr().err
