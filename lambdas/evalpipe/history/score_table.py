"""A run's per-record scores held compactly: what the comparison and the report's charts rest on.

The review reads every record of a run and of its baseline. As `RecordItem`s (texts, explanations,
a dict per record) a record costs about 8 KB, so a 50,000-record run beside its baseline would need
most of the parse function's memory. A `ScoreTable` keeps, per record, its index, key and category
and, per metric, one column of doubles and one of states: about 10 bytes a score. Texts are read
back only for the few records a notification or report shows (`ScoreTable.items`).
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from typing import TYPE_CHECKING, Any

from evalpipe.history.keys import key_of_item

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

    from evalpipe.run.model import RecordItem

    Fetch = Callable[[Collection[int]], Mapping[int, RecordItem]]

# A column's state per row: the record has no such score, scored it N/A, or has a number.
_ABSENT, _NA, _SCORED = 0, 1, 2


class ScoreTable:
    """One run's records as rows (index order of arrival) and its metrics as columns.

    Parameters
    ----------
    fetch
        Reads whole record items by index, for the texts of the records shown (`items`); None
        when the table keeps the items it was built from (`of`).
    """

    def __init__(self, fetch: Fetch | None = None) -> None:
        self._fetch = fetch
        self._kept: dict[int, RecordItem] | None = None if fetch is not None else {}
        self.indices = array("q")
        self.keys: list[str | None] = []
        self.categories: list[str] = []
        self._values: dict[str, array[float]] = {}
        self._states: dict[str, bytearray] = {}

    @classmethod
    def of(cls, items: Iterable[RecordItem]) -> ScoreTable:
        """A table of items already in memory; it keeps them for `items` (the CLI, tests)."""
        table = cls()
        for item in items:
            table.add(item)
        return table

    @classmethod
    def read(cls, items: Iterable[RecordItem], fetch: Fetch) -> ScoreTable:
        """A table of streamed items (`RunsTable.iter_records`): only the scores are kept."""
        table = cls(fetch)
        for item in items:
            table.add(item)
        return table

    def add(self, item: RecordItem) -> None:
        """Append one record's row."""
        if self._kept is not None:
            self._kept[item.index] = item
        scores = {metric: entry.score for metric, entry in item.scores.items()}
        self._append(item.index, key_of_item(item), item.category, scores)

    def add_stored(self, item: Mapping[str, Any]) -> None:
        """Append the row of a record item as `RunsTable.put_records` writes it (plain values,
        Decimal scores): the parse step builds the table while it stores, without reading back."""
        scores = {
            metric: None if entry["score"] is None else float(entry["score"])
            for metric, entry in item["scores"].items()
        }
        self._append(item["index"], item["record_key"], item["category"], scores)

    def _append(self, index: int, key: str | None, category: str, scores: Mapping[str, float | None]) -> None:
        row = len(self.indices)
        self.indices.append(index)
        self.keys.append(key)
        self.categories.append(sys.intern(category))
        for metric, values in self._values.items():
            _put(values, self._states[metric], scores.get(metric), present=metric in scores)
        for metric, score in scores.items():
            if metric not in self._values:
                values = self._values[metric] = array("d", bytes(8 * row))
                states = self._states[metric] = bytearray(row)
                _put(values, states, score, present=True)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def metrics(self) -> list[str]:
        """Every metric name a record has, as stored (a RAG turn's repeat keeps its ``#2``)."""
        return list(self._values)

    def scores(self, row: int) -> dict[str, float | None]:
        """The row's scores by metric (None: N/A); metrics the record lacks are left out."""
        return {
            metric: (values[row] if states[row] == _SCORED else None)
            for metric, values in self._values.items()
            if (states := self._states[metric])[row] != _ABSENT
        }

    def column(self, metric: str) -> Iterator[tuple[int, float | None]]:
        """``(row, score)`` of every record that has ``metric`` (None: N/A)."""
        values, states = self._values.get(metric), self._states.get(metric)
        if values is None or states is None:
            return
        for row, state in enumerate(states):
            if state != _ABSENT:
                yield row, (values[row] if state == _SCORED else None)

    def category_counts(self) -> Counter[str]:
        """Records per category."""
        return Counter(self.categories)

    def rows_by_index(self) -> list[int]:
        """Row numbers in record-index order."""
        return sorted(range(len(self.indices)), key=self.indices.__getitem__)

    def items(self, indices: Collection[int]) -> dict[int, RecordItem]:
        """Whole record items (texts included) of the records with these indices, by index."""
        if not indices:
            return {}
        if self._kept is not None:
            return {index: self._kept[index] for index in indices if index in self._kept}
        assert self._fetch is not None
        return dict(self._fetch(indices))


def as_table(records: ScoreTable | Iterable[RecordItem]) -> ScoreTable:
    """``records`` as a table: a table is used as it is, items are held in memory (`ScoreTable.of`)."""
    return records if isinstance(records, ScoreTable) else ScoreTable.of(records)


def _put(values: array[float], states: bytearray, score: float | None, present: bool) -> None:
    if not present:
        values.append(0.0)
        states.append(_ABSENT)
    elif score is None:
        values.append(0.0)
        states.append(_NA)
    else:
        values.append(score)
        states.append(_SCORED)
