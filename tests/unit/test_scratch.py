"""Scratch tables (`evalpipe.scratch`): a session leaves nothing behind, however it ends."""

from __future__ import annotations

import sqlite3

import pytest

from evalpipe import scratch


class Owner:
    """Any object that owns tables."""


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_session_deletes_its_database_and_gives_the_thread_its_own_back() -> None:
    # Given the thread's scratch database with a table of its own
    outside, owner = scratch.connection(), Owner()
    kept = scratch.Tables(owner, "kept").create("rows", "n INTEGER")
    # When a session creates tables and ends with a reader still open on one (an error mid-read)
    with pytest.raises(RuntimeError), scratch.session():
        inner = scratch.connection()
        tables = scratch.Tables(Owner(), "inner")
        name = tables.create("rows", "n INTEGER")
        tables.insert("rows", [(n,) for n in range(10)])
        reading = inner.execute(f"SELECT n FROM {name}")
        next(reading)
        tables.close()  # SQLite refuses the drop while a statement reads
        assert name in _tables(inner)
        raise RuntimeError("the step failed")
    # Then the session's database is closed (its file deleted with every table in it)
    assert inner is not outside
    with pytest.raises(sqlite3.ProgrammingError):
        inner.execute("SELECT 1")
    # And the thread's database is its own again, with its table
    assert scratch.connection() is outside and kept in _tables(outside)


def test_a_failed_insert_leaves_no_row_and_raises_its_own_error() -> None:
    # Given a table with a row
    tables = scratch.Tables(Owner(), "t")
    name = tables.create("rows", "n INTEGER NOT NULL")
    tables.insert("rows", [(1,)])
    # When a batch fails on its third row
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        tables.insert("rows", [(2,), (3,), (None,), (4,)])
    # Then none of the batch is kept, and the table takes the next batch
    tables.insert("rows", [(5,)])
    assert [n for (n,) in tables.db.execute(f"SELECT n FROM {name} ORDER BY n")] == [1, 5]
    assert not tables.db.in_transaction
