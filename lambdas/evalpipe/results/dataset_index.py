"""The dataset beside the results: `DatasetIndex` reads the dataset once and matches every output
record with its line, so `resolve_category` gives each record its own category, else its line's
(Bedrock does not always copy ``category``), else `UNCATEGORIZED`, and the run learns which records
of the dataset the results lack, or which results no line explains (`DatasetIndex.coverage`).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalpipe.results.fields import (
    _category_of,
    _content_text,
    _numbered,
    _prompt_of,
    _response_of,
    _turns,
)
from evalpipe.results.text import excerpt
from evalpipe.run.model import UNCATEGORIZED, Coverage, UncoveredRecord
from evalpipe.suite.datasets import is_builtin_dataset

# Missing and surplus records a run item lists (the counts are exact).
MAX_LISTED = 20

if TYPE_CHECKING:
    from collections.abc import Iterable

    from evalpipe.dataset import RawLine
    from evalpipe.results.records import RecordResult


@dataclass
class _Expected:
    """A record the dataset asks for: a line (RAG: one turn of it)."""

    line: int
    turn: int | None
    category: str | None
    prompt: str
    taken: bool = False


class DatasetIndex:
    """The dataset's records, matched with the records of the job's output as they are parsed.

    Bedrock copies the input line into the output, but not always every field, so the parse step
    reads the dataset once and looks each output record up by (prompt, response), else by prompt
    alone (live inference: the dataset has no response). The same pair may occur several times:
    each key holds a queue consumed in dataset order (the output preserves it).

    Two things come of the match. A record gets the category of its line when the output dropped
    it (`resolve_category`). And the run learns whether the results cover exactly the dataset
    (`coverage`): a line no output record matched is *missing*; an output record no line is left
    for is *surplus* (it keeps the category of the last line with its key). Records of Bedrock's
    built-in datasets are not the dataset's and are not counted.
    """

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str | None], deque[_Expected]] = {}
        self._by_prompt: dict[str, deque[_Expected]] = {}
        self._last: dict[str, str | None] = {}
        self._expected: list[_Expected] = []
        self._matched = 0
        self._surplus: list[UncoveredRecord] = []
        self._surplus_count = 0

    @classmethod
    def from_dataset_lines(cls, lines: Iterable[bytes | str | RawLine]) -> DatasetIndex:
        """Index the dataset's lines; unreadable lines are skipped (validation reports them).

        Parameters
        ----------
        lines
            The dataset's lines: bytes (or str), or numbered `RawLine`s.

        Returns
        -------
        DatasetIndex
            The index (empty if no line parses).
        """
        index = cls()
        for position, line in enumerate(lines, start=1):
            number, data = _numbered(line, position)
            if not data.strip():
                continue
            try:
                obj = json.loads(data.decode("utf-8-sig"))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                continue
            if isinstance(obj, dict) and _turns(obj):
                # RAG: output records are per turn, so every turn is a record of the line.
                for turn_number, turn in enumerate(_turns(obj), start=1):
                    prompt = _content_text(turn.get("prompt")) or ""
                    index.add(
                        prompt, _content_text(turn.get("output")), _category_of(obj), number, turn_number
                    )
            elif isinstance(obj, dict):
                response, _ = _response_of(obj, obj)
                index.add(_prompt_of(obj), response, _category_of(obj), number)
        return index

    def add(
        self, prompt: str, response: str | None, category: str | None, line: int = 0, turn: int | None = None
    ) -> None:
        """Remember one record of the dataset (a None category is kept so duplicates stay aligned)."""
        expected = _Expected(line, turn, category, prompt)
        self._expected.append(expected)
        self._by_pair.setdefault((prompt, response), deque()).append(expected)
        self._by_prompt.setdefault(prompt, deque()).append(expected)

    def category_for(self, prompt: str, response: str | None) -> str | None:
        """The category of the next dataset record with this prompt (and response), or None.

        Consumes that record: the match `resolve_category` counts for `coverage`.
        """
        pair = self._by_pair.get((prompt, response))
        # By prompt alone only when no line has this response (live inference writes its own):
        # a surplus duplicate must not take the line of another response to the same prompt.
        found = _take(pair) if pair is not None else _take(self._by_prompt.get(prompt))
        if found is None:
            return self._last.get(prompt)
        self._matched += 1
        self._last[prompt] = found.category
        return found.category

    def match(self, record: RecordResult) -> str | None:
        """The category of the dataset record ``record`` stands for; a record no line is left for is
        counted as surplus. Records of built-in datasets are left alone (None)."""
        if is_builtin_dataset(record.dataset):
            return None
        matched = self._matched
        category = self.category_for(record.prompt, record.response)
        if self._matched == matched:
            self._surplus_count += 1
            if len(self._surplus) < MAX_LISTED:
                self._surplus.append(
                    UncoveredRecord(index=record.index, prompt_excerpt=excerpt(record.prompt, 160))
                )
        return category

    def coverage(self) -> Coverage:
        """Whether the output records matched the dataset's one for one (after every `match`)."""
        missing = [e for e in self._expected if not e.taken]
        return Coverage(
            expected=len(self._expected),
            parsed=self._matched + self._surplus_count,
            missing_count=len(missing),
            surplus_count=self._surplus_count,
            missing=[
                UncoveredRecord(line=e.line, turn=e.turn, prompt_excerpt=excerpt(e.prompt, 160))
                for e in missing[:MAX_LISTED]
            ],
            surplus=list(self._surplus),
        )

    def __len__(self) -> int:
        return len(self._expected)


def _take(queue: deque[_Expected] | None) -> _Expected | None:
    """The first record of ``queue`` not matched yet (taken ones are dropped on the way)."""
    while queue:
        head = queue.popleft()
        if not head.taken:
            head.taken = True
            return head
    return None


def resolve_category(record: RecordResult, index: DatasetIndex | None = None) -> str:
    """Fill in `record.category`: its own, else the dataset's, else `uncategorized`.

    Parameters
    ----------
    record
        The record; its `category` is set in place.
    index
        The dataset, if the parse step read it: the record is matched with its line (which counts
        for `DatasetIndex.coverage`).

    Returns
    -------
    str
        The category now on the record.
    """
    found = index.match(record) if index is not None else None
    if not record.category:
        record.category = found or UNCATEGORIZED
    return record.category
