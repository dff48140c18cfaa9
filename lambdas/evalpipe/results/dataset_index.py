"""The dataset beside the results: `DatasetIndex` reads the dataset once and matches every output
record with its line, so `resolve_category` gives each record its own category, else its line's
(Bedrock does not always copy ``category``), else `UNCATEGORIZED`, and the run learns which records
of the dataset the results lack, or which results no line explains (`DatasetIndex.coverage`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from array import array
from typing import TYPE_CHECKING, Any

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
    from collections.abc import Callable, Iterable, Iterator

    from evalpipe.dataset import RawLine
    from evalpipe.results.records import RecordResult


class DatasetIndex:
    """The dataset's records, matched with the records of the job's output as they are parsed.

    Bedrock copies the input line into the output, but not always every field, so the parse step
    reads the dataset once and looks each output record up by (prompt, response), else by prompt
    alone (live inference: the dataset has no response). The same pair may occur several times:
    each key's records are taken in dataset order (the output preserves it).

    Two things come of the match. A record gets the category of its line when the output dropped
    it (`resolve_category`). And the run learns whether the results cover exactly the dataset
    (`coverage`): a line no output record matched is *missing*; an output record no line is left
    for is *surplus* (it keeps the category of the last line with its key). Records of Bedrock's
    built-in datasets are not the dataset's and are not counted.

    The parse function holds the index of a dataset of up to 50,000 records, so it keeps no text:
    keys are 128-bit digests of the texts, and each record of the dataset (a line; RAG: a turn) is
    a position in a few flat columns, about 250 bytes a record whatever the texts' length.
    """

    def __init__(self, reread: Callable[[], Iterable[bytes | str | RawLine]] | None = None) -> None:
        # The dataset's records by position, in dataset order.
        self._lines = array("q")
        self._turns = array("q")  # 0: not a RAG turn
        self._categories: list[str | None] = []
        self._taken = bytearray()
        # Key digest -> its record's position, or the positions (dataset order) of a repeated key.
        self._by_pair: dict[int, int | list[int]] = {}
        self._by_prompt: dict[int, int | list[int]] = {}
        # Of a repeated key: how far its positions were taken.
        self._cursors: dict[tuple[bool, int], int] = {}
        self._matched = 0
        self._surplus: list[UncoveredRecord] = []
        self._surplus_count = 0
        self._reread = reread

    @classmethod
    def from_source(cls, open_lines: Callable[[], Iterable[bytes | str | RawLine]]) -> DatasetIndex:
        """Index the dataset that ``open_lines()`` reads; it is read again only to quote the lines
        `coverage` finds missing. Unreadable lines are skipped (validation reports them).

        Parameters
        ----------
        open_lines
            Opens the dataset's lines: bytes (or str), or numbered `RawLine`s.

        Returns
        -------
        DatasetIndex
            The index (empty if no line parses).
        """
        index = cls(open_lines)
        for number, obj in _records(open_lines()):
            turns = _turns(obj)
            if turns:
                # RAG: output records are per turn, so every turn is a record of the line.
                for turn_number, turn in enumerate(turns, start=1):
                    prompt = _content_text(turn.get("prompt")) or ""
                    index.add(
                        prompt, _content_text(turn.get("output")), _category_of(obj), number, turn_number
                    )
            else:
                response, _ = _response_of(obj, obj)
                index.add(_prompt_of(obj), response, _category_of(obj), number)
        return index

    @classmethod
    def from_dataset_lines(cls, lines: Iterable[bytes | str | RawLine]) -> DatasetIndex:
        """`from_source` of lines already in memory (kept, to quote missing lines)."""
        held = list(lines)
        return cls.from_source(lambda: held)

    def add(
        self, prompt: str, response: str | None, category: str | None, line: int = 0, turn: int | None = None
    ) -> None:
        """Remember one record of the dataset (a None category is kept so duplicates stay aligned)."""
        position = len(self._lines)
        self._lines.append(line)
        self._turns.append(turn or 0)
        self._categories.append(sys.intern(category) if category is not None else None)
        self._taken.append(0)
        _push(self._by_pair, _pair_digest(prompt, response), position)
        _push(self._by_prompt, _digest(prompt), position)

    def category_for(self, prompt: str, response: str | None) -> str | None:
        """The category of the next dataset record with this prompt (and response), or None.

        Consumes that record: the match `resolve_category` counts for `coverage`. When every
        record with the key is taken, the category of the key's last record (a surplus result).
        """
        # By prompt alone only when no line has this response (live inference writes its own):
        # a surplus duplicate must not take the line of another response to the same prompt.
        by_pair = True
        key = _pair_digest(prompt, response)
        entry = self._by_pair.get(key)
        if entry is None:
            by_pair, key = False, _digest(prompt)
            entry = self._by_prompt.get(key)
            if entry is None:
                return None
        found = self._take(entry, (by_pair, key))
        if found is None:
            return self._categories[entry if isinstance(entry, int) else entry[-1]]
        self._matched += 1
        return self._categories[found]

    def _take(self, entry: int | list[int], cursor: tuple[bool, int]) -> int | None:
        """The first position of ``entry`` not taken yet, now taken; None when all are."""
        if isinstance(entry, int):
            if self._taken[entry]:
                return None
            self._taken[entry] = 1
            return entry
        at = self._cursors.get(cursor, 0)
        while at < len(entry):
            position = entry[at]
            at += 1
            if not self._taken[position]:
                self._taken[position] = 1
                self._cursors[cursor] = at
                return position
        self._cursors[cursor] = at
        return None

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
        missing_count = len(self._taken) - sum(self._taken)
        listed = [
            (self._lines[position], self._turns[position] or None)
            for position in itertools.islice(
                (p for p, taken in enumerate(self._taken) if not taken), MAX_LISTED
            )
        ]
        prompts = self._prompts(set(listed))
        return Coverage(
            expected=len(self._lines),
            parsed=self._matched + self._surplus_count,
            missing_count=missing_count,
            surplus_count=self._surplus_count,
            missing=[
                UncoveredRecord(
                    line=line, turn=turn, prompt_excerpt=excerpt(prompts.get((line, turn), ""), 160)
                )
                for line, turn in listed
            ],
            surplus=list(self._surplus),
        )

    def _prompts(self, wanted: set[tuple[int, int | None]]) -> dict[tuple[int, int | None], str]:
        """The prompts of these (line, turn)s, read again from the dataset."""
        found: dict[tuple[int, int | None], str] = {}
        if not wanted or self._reread is None:
            return found
        lines = {line for line, _ in wanted}
        for number, obj in _records(self._reread(), only=lines):
            turns = _turns(obj)
            for turn_number, turn in enumerate(turns, start=1):
                if (number, turn_number) in wanted:
                    found[(number, turn_number)] = _content_text(turn.get("prompt")) or ""
            if not turns and (number, None) in wanted:
                found[(number, None)] = _prompt_of(obj)
        return found

    def __len__(self) -> int:
        return len(self._lines)


def _records(
    lines: Iterable[bytes | str | RawLine], only: set[int] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of every line that parses to a JSON object (of ``only`` those lines)."""
    for position, line in enumerate(lines, start=1):
        number, data = _numbered(line, position)
        if (only is not None and number not in only) or not data.strip():
            continue
        try:
            obj = json.loads(data.decode("utf-8-sig"))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            continue
        if isinstance(obj, dict):
            yield number, obj


def _digest(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest, "little")


def _pair_digest(prompt: str, response: str | None) -> int:
    # The lengths keep ("ab", "c") and ("a", "bc") apart; None differs from "".
    tail = "\x00" if response is None else f"{len(prompt)}:{response}"
    return _digest(f"{prompt}\x1f{tail}")


def _push(table: dict[int, int | list[int]], key: int, position: int) -> None:
    entry = table.get(key)
    if entry is None:
        table[key] = position
    elif isinstance(entry, int):
        table[key] = [entry, position]
    else:
        entry.append(position)


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
