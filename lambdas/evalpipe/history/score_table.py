"""A run's per-record scores, held on disk: what the comparison and the report's charts rest on.

The review reads every record of a run and of its baseline. As `RecordItem`s (texts, explanations,
a dict per record) a record costs about 8 KB, so a 50,000-record run beside its baseline would need
most of the parse function's memory; even as flat columns of scores (about 300 bytes a record at 25
metrics) the memory would grow with the run. A `ScoreTable` keeps, per record, its index, key and
category, and per metric its score or N/A, in scratch tables (`evalpipe.scratch`: SQLite on disk,
a bounded cache in memory). Texts are read back only for the few records a notification or report
shows (`ScoreTable.items`).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from evalpipe import scratch
from evalpipe.history.keys import key_of_item

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

    from evalpipe.run.model import RecordItem

    Fetch = Callable[[Collection[int]], Mapping[int, RecordItem]]


class ScoreTable:
    """One run's records as rows (numbered in order of arrival) and its metrics as columns.

    A row's scores: a metric it has with a number, a metric it has scored N/A (None), or a metric
    it lacks (left out). Rows are numbered from 0; `ScoreTable.row` gives a row's record index,
    key and category.

    Parameters
    ----------
    fetch
        Reads whole record items by index, for the texts of the records shown (`items`); None
        when the table keeps the items it was built from (`of`).
    """

    def __init__(self, fetch: Fetch | None = None) -> None:
        self._fetch = fetch
        self._kept: dict[int, RecordItem] | None = None if fetch is not None else {}
        self.tables = scratch.Tables(self, "scores")
        self.db = self.tables.db
        # A record: its row, index, key (None: cannot be matched) and category.
        self.rows_table = self.tables.create(
            "rows",
            "row INTEGER PRIMARY KEY, idx INTEGER NOT NULL, key TEXT, category TEXT NOT NULL",
            indexes=["idx, row"],
        )
        # A score: NULL is N/A; a metric a record lacks has no row. Keyed for a row's scores; the
        # index serves a metric's column.
        self.scores_table = self.tables.create(
            "scores",
            "row INTEGER, metric INTEGER, score REAL, PRIMARY KEY (row, metric)",
            without_rowid=True,
            indexes=["metric, row"],
        )
        self._metrics: dict[str, int] = {}
        self._names: list[str] = []
        self._count = 0

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

    @classmethod
    def read_stored(cls, items: Iterable[Mapping[str, Any]], fetch: Fetch) -> ScoreTable:
        """A table of streamed stored scores (`RunsTable.iter_record_scores`; see `add_stored`)."""
        table = cls(fetch)
        for item in items:
            table.add_stored(item)
        return table

    def add(self, item: RecordItem) -> None:
        """Append one record's row."""
        if self._kept is not None:
            self._kept[item.index] = item
        scores = {metric: entry.score for metric, entry in item.scores.items()}
        self._append(item.index, key_of_item(item), item.category, scores)

    def add_stored(self, item: Mapping[str, Any]) -> None:
        """Append the row of a record item as `RunsTable.put_records` writes it (plain values,
        Decimal scores): the parse step builds the table while it stores, without reading back;
        the review reads a baseline's as `RunsTable.iter_record_scores` yields them."""
        scores = {
            metric: None if entry["score"] is None else float(entry["score"])
            for metric, entry in item["scores"].items()
        }
        self._append(item["index"], item["record_key"], item["category"], scores)

    def _append(self, index: int, key: str | None, category: str, scores: Mapping[str, float | None]) -> None:
        row = self._count
        self._count += 1
        self.tables.append("rows", (row, index, key, category))
        for metric, score in scores.items():
            self.tables.append("scores", (row, self._metric_id(metric), score))

    def _metric_id(self, metric: str) -> int:
        found = self._metrics.get(metric)
        if found is None:
            found = self._metrics[metric] = len(self._names)
            self._names.append(metric)
        return found

    def ready(self) -> None:
        """Everything added is written, and the reads' indexes exist (`scratch.Tables.ready`)."""
        self.tables.ready()

    def __len__(self) -> int:
        return self._count

    @property
    def metrics(self) -> list[str]:
        """Every metric name a record has, as stored (a RAG turn's repeat keeps its ``#2``)."""
        return list(self._names)

    def scores(self, row: int) -> dict[str, float | None]:
        """The row's scores by metric (None: N/A); metrics the record lacks are left out."""
        self.ready()
        names = self._names
        query = f"SELECT metric, score FROM {self.scores_table} WHERE row = ? ORDER BY metric"
        return {names[metric]: score for metric, score in self.db.execute(query, (row,))}

    def row(self, row: int) -> tuple[int, str | None, str]:
        """The row's record index, key and category."""
        self.ready()
        query = f"SELECT idx, key, category FROM {self.rows_table} WHERE row = ?"
        found = self.db.execute(query, (row,)).fetchone()
        if found is None:
            raise IndexError(row)
        return found[0], found[1], found[2]

    def column(self, metric: str) -> Iterator[tuple[int, int, float | None]]:
        """``(row, index, score)`` of every record that has ``metric`` (None: N/A), by row."""
        metric_id = self._metrics.get(metric)
        if metric_id is None:
            return iter(())
        self.ready()
        query = (
            f"SELECT s.row, r.idx, s.score FROM {self.scores_table} s "
            f"JOIN {self.rows_table} r ON r.row = s.row WHERE s.metric = ? ORDER BY s.row"
        )
        return iter(self.db.execute(query, (metric_id,)))

    def category_counts(self) -> Counter[str]:
        """Records per category."""
        self.ready()
        query = f"SELECT category, COUNT(*) FROM {self.rows_table} GROUP BY category"
        return Counter(dict(self.db.execute(query)))

    def items(self, indices: Collection[int]) -> dict[int, RecordItem]:
        """Whole record items (texts included) of the records with these indices, by index."""
        if not indices:
            return {}
        if self._kept is not None:
            return {index: self._kept[index] for index in indices if index in self._kept}
        assert self._fetch is not None
        return dict(self._fetch(indices))

    def close(self) -> None:
        """Drop the table's storage now (else when the table is collected)."""
        self.tables.close()


def as_table(records: ScoreTable | Iterable[RecordItem]) -> ScoreTable:
    """``records`` as a table: a table is used as it is, items are held in memory (`ScoreTable.of`)."""
    return records if isinstance(records, ScoreTable) else ScoreTable.of(records)
