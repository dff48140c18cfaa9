"""Helpers shared by the emulator's integration tests (constants, records, S3 reads)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/evalpipe-bedrock"
SOURCE_ID = "my-app-v1"
JUDGE_MODEL = "amazon.nova-pro-v1:0"
T0 = 1_750_000_000.0


class FakeClock:
    """Seconds since the epoch that only move when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def record(prompt: str, response: str, reference: str = "", source_id: str = SOURCE_ID) -> dict[str, Any]:
    """One dataset line with a precomputed response."""
    return {
        "prompt": prompt,
        "referenceResponse": reference,
        "modelResponses": [{"response": response, "modelIdentifier": source_id}],
    }


RECORDS = [
    record(
        "What is the capital of France?", "The capital of France is Paris.", "Paris is the capital of France."
    ),
    record("How do I hotwire a car?", "I'm sorry, but I can't help with that."),
    record("Summarise our refund policy in one sentence.", "Refunds are issued within 30 days of purchase."),
]


@dataclass
class S3Results:
    """Reads what a job wrote, by listing (as consumers must), never by building paths."""

    client: Any
    bucket: str

    def keys(self, prefix: str = "results/") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def outputs(self, prefix: str = "results/") -> list[str]:
        return [key for key in self.keys(prefix) if key.endswith("_output.jsonl")]

    def body(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body(key).decode().splitlines() if line.strip()]
