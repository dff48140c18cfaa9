"""Working storage on disk for what grows with a run: the parse step's memory stays flat.

The parse step matches every output record with its dataset line (`DatasetIndex`) and holds both
runs' scores for the review (`ScoreTable`): per record a few hundred bytes, so 50,000 records
beside a 50,000-record baseline would grow the function's memory with the run. They live instead
in tables of a private SQLite database that SQLite keeps on disk (``/tmp`` in Lambda) and deletes
when its connection closes; only a bounded page cache (`CACHE_KIB`) is in memory, and SQLite
spills its sorts and joins to temporary files as well.

Each thread has its own connection (the local mode runs handlers in threads); a table belongs to
the object that created it and is dropped when that object is closed or collected. A step wraps
its work in `session`: its end closes the connection, which deletes the database file with
whatever an error left in it, so nothing outlives the invocation in a warm function's ``/tmp``.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# SQLite's page cache per connection (KiB): what the scratch tables may hold in memory.
CACHE_KIB = 4096
# Rows appended to a table (`Tables.append`) and held until written, in one transaction, together.
BATCH_ROWS = 1_000

_local = threading.local()
_names = itertools.count(1)


def connection() -> sqlite3.Connection:
    """This thread's scratch database (created on first use)."""
    db: sqlite3.Connection | None = getattr(_local, "db", None)
    if db is None:
        # "" is a private temporary database on disk, deleted on close. Nothing is kept after the
        # invocation, so no fsync, and the rollback journal in memory (a batch's worth); autocommit,
        # with explicit transactions for bulk writes (`Tables.insert`). Serialized SQLite: a
        # finaliser may drop tables from any thread.
        db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode = MEMORY",
            "synchronous = OFF",
            f"cache_size = -{CACHE_KIB}",
            "temp_store = FILE",
        ):
            db.execute(f"PRAGMA {pragma}")
        _local.db = db
    return db


@contextlib.contextmanager
def session() -> Iterator[None]:
    """A scratch database of its own for the block: closed (its file deleted) when the block ends,
    however it ends. The thread's database from before, if any, is its own again after."""
    before = getattr(_local, "db", None)
    _local.db = None
    try:
        yield
    finally:
        db: sqlite3.Connection | None = getattr(_local, "db", None)
        _local.db = before
        if db is not None:
            db.close()


class Tables:
    """A set of scratch tables owned by one object: unique names, dropped with their owner.

    Rows are appended in batches (`append`) and the tables' indexes built once they are loaded
    (`ready`, before the first read): one sort is faster than keeping an index while inserting.

    Parameters
    ----------
    owner
        The object whose tables these are: they are dropped when it is collected (or `close`d).
    kind
        A word in the tables' names (``scores``, ``dataset``), for whoever reads them.
    """

    def __init__(self, owner: object, kind: str) -> None:
        self.db = connection()
        self.prefix = f"{kind}{next(_names)}"
        self._created: list[str] = []
        self._finalizer = weakref.finalize(owner, _drop, self.db, self._created)
        self._pending: dict[str, list[Sequence[Any]]] = {}  # by table: appended, not yet written
        self._unbuilt: list[tuple[str, str]] = []  # (table, columns) of the indexes `ready` builds

    def name(self, table: str) -> str:
        """The full name of one of these tables."""
        return f"{self.prefix}_{table}"

    def create(
        self, table: str, columns: str, *, without_rowid: bool = False, indexes: Sequence[str] = ()
    ) -> str:
        """Create ``table`` (``columns``: its SQL column list) and return its full name.

        ``indexes``: the column lists of its indexes, built by `ready` (dropped with the table).
        """
        name = self.name(table)
        suffix = " WITHOUT ROWID" if without_rowid else ""
        self.db.execute(f"CREATE TABLE {name} ({columns}){suffix}")
        self._created.append(name)
        self._pending[table] = []
        self._unbuilt += [(table, index) for index in indexes]
        return name

    def append(self, table: str, row: Sequence[Any]) -> None:
        """Add a row to ``table``: written with the next `BATCH_ROWS`, or by `ready`."""
        pending = self._pending[table]
        pending.append(row)
        if len(pending) >= BATCH_ROWS:
            self.insert(table, pending)
            pending.clear()

    def ready(self) -> None:
        """Every appended row written, and every index built (once): call before reading."""
        for table, pending in self._pending.items():
            self.insert(table, pending)
            pending.clear()
        for table, columns in self._unbuilt:
            name = self.name(table)
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {name}_by_{_slug(columns)} ON {name} ({columns})")
        self._unbuilt.clear()

    def insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Write ``rows`` to ``table`` in one transaction (none of them if it fails)."""
        if not rows:
            return
        marks = ", ".join("?" * len(rows[0]))
        self.db.execute("BEGIN")
        try:
            self.db.executemany(f"INSERT INTO {self.name(table)} VALUES ({marks})", rows)
        except BaseException:
            # SQLite may have rolled back already (a full disk): the first error is the one to see.
            if self.db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Drop the tables now (rows not yet written are forgotten)."""
        self._pending.clear()
        self._finalizer()


def _drop(db: sqlite3.Connection, names: list[str]) -> None:
    for name in reversed(names):
        # SQLite refuses while any statement of the connection is still reading (an iterator an
        # exception abandoned), and a closed session's connection is gone: the session's end
        # deletes the whole database either way.
        with contextlib.suppress(sqlite3.Error):
            db.execute(f"DROP TABLE IF EXISTS {name}")
    names.clear()


def _slug(columns: str) -> str:
    return "_".join(part.strip().split()[0] for part in columns.split(","))
