"""The dataset beside the results: `DatasetIndex` reads the dataset once and matches every output
record with its line, so `resolve_category` gives each record its own category, else its line's
(Bedrock does not always copy ``category``), else `UNCATEGORIZED`, and the run learns which records
of the dataset the results lack, or which results no line explains (`DatasetIndex.coverage`).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from evalpipe import scratch
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

    The parse function holds the index of a dataset of up to 50,000 records, and its memory must
    not grow with the dataset. So the index keeps no text (keys are 128-bit digests of the texts),
    and every record of the dataset (a line; RAG: a turn) is a row of a scratch table
    (`evalpipe.scratch`: SQLite on disk, only its bounded page cache in memory): its position,
    line, turn, category, whether it is taken, and its two keys. Python holds only counters, the
    few surplus records listed and a buffer of rows not yet written. The tables are dropped by
    `close`, else when the index is collected.
    """

    def __init__(self, reread: Callable[[], Iterable[bytes | str | RawLine]] | None = None) -> None:
        self._tables = scratch.Tables(self, "dataset")
        self._db = self._tables.db
        # A record of the dataset by position (dataset order); turn NULL: not a RAG turn. The keys
        # are 16-byte digests; a record is taken once an output record matched it.
        table = self._tables.create(
            "lines",
            "pos INTEGER PRIMARY KEY, line INTEGER NOT NULL, turn INTEGER, category TEXT, "
            "taken INTEGER NOT NULL, pair BLOB NOT NULL, prompt BLOB NOT NULL",
            indexes=["pair, taken, pos", "prompt, taken, pos"],
        )
        # Per key column: its first untaken record (an index seek however often the key repeats:
        # ``ORDER BY taken, pos`` is the index's order), else its last record, all being taken.
        self._first = {
            column: f"SELECT pos, category, taken FROM {table} WHERE {column} = ? ORDER BY taken, pos LIMIT 1"
            for column in ("pair", "prompt")
        }
        self._last = {
            column: f"SELECT category FROM {table} WHERE {column} = ? AND taken = 1 ORDER BY pos DESC LIMIT 1"
            for column in ("pair", "prompt")
        }
        self._take = f"UPDATE {table} SET taken = 1 WHERE pos = ?"
        self._untaken = f"SELECT COUNT(*) FROM {table} WHERE taken = 0"
        self._listed = f"SELECT line, turn FROM {table} WHERE taken = 0 ORDER BY pos LIMIT {MAX_LISTED}"
        self._count = 0
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
        row = (self._count, line, turn or None, category, 0, _pair_digest(prompt, response), _digest(prompt))
        self._tables.append("lines", row)
        self._count += 1

    def category_for(self, prompt: str, response: str | None) -> str | None:
        """The category of the next dataset record with this prompt (and response), or None.

        Consumes that record: the match `resolve_category` counts for `coverage`. When every
        record with the key is taken, the category of the key's last record (a surplus result).
        """
        self._tables.ready()
        # By prompt alone only when no line has this response (live inference writes its own):
        # a surplus duplicate must not take the line of another response to the same prompt.
        column, key = "pair", _pair_digest(prompt, response)
        found = self._db.execute(self._first[column], (key,)).fetchone()
        if found is None:
            column, key = "prompt", _digest(prompt)
            found = self._db.execute(self._first[column], (key,)).fetchone()
            if found is None:
                return None
        position, category, taken = found
        if taken:  # the first record is taken only when all are
            last: str | None = self._db.execute(self._last[column], (key,)).fetchone()[0]
            return last
        self._db.execute(self._take, (position,))
        self._matched += 1
        return category

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
        self._tables.ready()
        missing_count: int = self._db.execute(self._untaken).fetchone()[0]
        listed: list[tuple[int, int | None]] = self._db.execute(self._listed).fetchall()
        prompts = self._prompts(set(listed))
        return Coverage(
            expected=self._count,
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
        return self._count

    def close(self) -> None:
        """Drop the index's tables now (else when the index is collected); it is not used after."""
        self._tables.close()


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


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _pair_digest(prompt: str, response: str | None) -> bytes:
    # The lengths keep ("ab", "c") and ("a", "bc") apart; None differs from "".
    tail = "\x00" if response is None else f"{len(prompt)}:{response}"
    return _digest(f"{prompt}\x1f{tail}")


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
