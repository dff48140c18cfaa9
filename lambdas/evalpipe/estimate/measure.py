"""Measuring a dataset for the estimate while it streams past validation (one read serves both)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.dataset import LineSplitter
from evalpipe.suite.facts import dig

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# --- measuring the dataset --------------------------------------------------------------------


@dataclass
class DatasetMeasure:
    """Character counts of a dataset's records, gathered while streaming (memory stays flat).

    Attributes
    ----------
    records : int
        Lines holding a JSON object.
    skipped : int
        Non-blank lines that are not a JSON object (left out of the estimate).
    prompt_chars, response_chars, reference_chars : int
        Characters of ``prompt``, ``modelResponses[0].response`` and ``referenceResponse``.
    with_reference : int
        Records with a non-blank ``referenceResponse``.
    text_chars : int
        Characters of every string in the records' ``conversationTurns`` (what a RAG judge reads).

    Examples
    --------
    >>> measure = DatasetMeasure.of([b'{"prompt": "hi", "referenceResponse": "hello"}\\n', b"[1]\\n"])
    >>> measure.records, measure.skipped, measure.prompt_chars, measure.reference_chars
    (1, 1, 2, 5)
    """

    records: int = 0
    skipped: int = 0
    prompt_chars: int = 0
    response_chars: int = 0
    reference_chars: int = 0
    with_reference: int = 0
    text_chars: int = 0

    @classmethod
    def of(cls, chunks: Iterable[bytes]) -> DatasetMeasure:
        """Measure a whole dataset given as byte chunks of any size."""
        measure = cls()
        for _ in measure.tap(chunks):
            pass
        return measure

    def tap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through unchanged, measuring the lines as they go by.

        Lets one read of the dataset serve both validation and the estimate.
        """
        splitter = LineSplitter()
        for chunk in chunks:
            if not chunk:
                continue
            for line in splitter.feed(chunk):
                self.add_line(line)
            yield chunk
        rest = splitter.rest()
        if rest is not None:
            self.add_line(rest)

    def add_line(self, data: bytes) -> None:
        """Measure one line (blank lines are ignored, undecodable ones skipped)."""
        if not data.strip():
            return
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            record = None
        if isinstance(record, dict):
            self.add_record(record)
        else:
            self.skipped += 1

    def add_record(self, record: dict) -> None:
        """Measure one parsed record."""
        self.records += 1
        self.prompt_chars += _chars(record.get("prompt"))
        self.response_chars += _chars(dig(record, "modelResponses", 0, "response"))
        reference = _chars(record.get("referenceResponse"))
        self.reference_chars += reference
        if isinstance(record.get("referenceResponse"), str) and record["referenceResponse"].strip():
            self.with_reference += 1
        if "conversationTurns" in record:
            self.text_chars += _all_text(record["conversationTurns"])


def _chars(value: object) -> int:
    return len(value) if isinstance(value, str) else 0


def _all_text(value: object) -> int:
    """Characters of every string value (not keys) in a JSON value, without recursion."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


# --- the estimate -----------------------------------------------------------------------------
