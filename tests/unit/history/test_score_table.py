"""A run's scores held compactly: the comparison and the report read the texts of shown records only."""

from __future__ import annotations

import gc
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from evalpipe import scratch
from evalpipe.history.keys import key_of_item
from evalpipe.history.records import compare_records, match_records, score_samples
from evalpipe.history.report import REPORT_MAX_LOW_RECORDS, render_report
from evalpipe.history.score_table import ScoreTable
from evalpipe.run.model import RecordItem, Run
from tests.unit.history.builders import CORRECTNESS, CUSTOM, HELPFULNESS, make_suite, metric, record, run_item

SUITE = make_suite()


def streamed(items: list[RecordItem], asked: list[set[int]]) -> ScoreTable:
    """A table read as the review reads DynamoDB: items streamed, texts fetched by index."""
    by_index = {item.index: item for item in items}

    def fetch(indices):
        asked.append(set(indices))
        return {i: by_index[i] for i in indices if i in by_index}

    return ScoreTable.read(iter(items), fetch)


def test_a_row_keeps_scores_na_and_absent_metrics_apart() -> None:
    table = ScoreTable.of(
        [
            record(0, "a", {HELPFULNESS: 0.5, CUSTOM: None}),
            record(1, "b", {CORRECTNESS: 1.0}),
            record(2, "c", {}),
        ]
    )
    assert table.scores(0) == {HELPFULNESS: 0.5, CUSTOM: None}
    assert table.scores(1) == {CORRECTNESS: 1.0}  # a metric first seen on row 1 is absent on row 0
    assert table.scores(2) == {}
    assert list(table.column(HELPFULNESS)) == [(0, 0, 0.5)]  # (row, index, score)
    assert table.category_counts() == {"general": 3}


def test_a_bounded_comparison_reads_the_texts_of_the_kept_changes_only() -> None:
    # Given 500 records that all got worse
    baseline = [record(i, f"p{i}", {HELPFULNESS: 1.0}) for i in range(500)]
    current = [record(i, f"p{i}", {HELPFULNESS: 1.0 - (i % 97 + 1) / 100}) for i in range(500)]
    asked: list[set[int]] = []
    # When compared from streamed tables, keeping 20
    changes = compare_records(streamed(current, asked), streamed(baseline, []), SUITE, limit=20)
    # Then one read of 20 records' texts, and the same changes as from the items in memory
    assert [len(indices) for indices in asked] == [20]
    assert changes.worsened_count == 500
    assert changes.worsened == compare_records(current, baseline, SUITE).worsened[:20]
    assert all(change.explanation for change in changes.worsened)


def test_the_report_reads_the_texts_of_the_flagged_records_it_shows_only() -> None:
    # Given a run of 300 records, every one flagged (< 0.5)
    items = [record(i, f"p{i}", {HELPFULNESS: (i % 40) / 100}) for i in range(300)]
    run = Run.model_validate(run_item("r", {HELPFULNESS: metric(0.2, scored=300, low=300)}))
    asked: list[set[int]] = []
    # When its report is drawn from a streamed table
    html = render_report(run, streamed(items, asked), [], None)
    # Then only the shown records' texts were read, and the page says how many there are
    assert [len(indices) for indices in asked] == [REPORT_MAX_LOW_RECORDS]
    assert f"worst {REPORT_MAX_LOW_RECORDS} of 300" in html
    assert html == render_report(run, items, [], None)


scores = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
runs = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]), st.dictionaries(st.sampled_from([HELPFULNESS, CUSTOM]), scores)
    ),
    max_size=12,
)


@given(runs, runs, st.integers(min_value=1, max_value=5))
@settings(max_examples=150, deadline=None)
def test_streamed_tables_compare_exactly_as_items_in_memory(current_rows, baseline_rows, limit) -> None:
    current = [record(i, prompt, s) for i, (prompt, s) in enumerate(current_rows)]
    baseline = [record(i, prompt, s) for i, (prompt, s) in enumerate(baseline_rows)]
    full = compare_records(current, baseline, SUITE)
    bounded = compare_records(streamed(current, []), streamed(baseline, []), SUITE, limit=limit)
    assert bounded.worsened == full.worsened[:limit]
    assert bounded.transitions == full.transitions[:limit]
    assert (bounded.worsened_count, bounded.transition_count) == (len(full.worsened), len(full.transitions))
    samples, again = (
        score_samples(current, baseline),
        score_samples(streamed(current, []), streamed(baseline, [])),
    )
    assert {m: list(s.differences.values) for m, s in samples.metrics.items()} == {
        m: list(s.differences.values) for m, s in again.metrics.items()
    }


def _traced_table(records: int) -> tuple[ScoreTable, int, int]:
    """A table of ``records`` records x 25 metrics, built while traced: (table, held, peak)."""
    names = [f"Builtin.M{m}" for m in range(25)]
    # As the review reads a baseline (`RunsTable.iter_record_scores`), made as they are read
    items = (
        {
            "index": i,
            "record_key": f"k{i}",
            "category": f"c{i % 7}",
            "scores": {name: {"score": i % 5 / 4} for name in names},
        }
        for i in range(records)
    )
    tracemalloc.start()
    table = ScoreTable.read_stored(items, lambda indices: {})
    table.ready()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return table, held, peak


def _used_bytes(db) -> int:
    """The database's pages in use (its free pages, left by dropped tables, not counted)."""
    pages, free, size = (
        db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
    )
    return (pages - free) * size


def test_a_tables_memory_does_not_grow_with_its_records() -> None:
    # Given tables of 1,000 and 10,000 records x 25 metrics, built while traced
    small, small_held, small_peak = _traced_table(1_000)
    used_before = _used_bytes(small.db)
    big, big_held, big_peak = _traced_table(10_000)
    assert (len(small), len(big)) == (1_000, 10_000)
    # Then what Python holds and its peak do not grow with the records (250,000 scores are on disk)
    assert big_held - small_held < 20_000, (small_held, big_held)
    assert big_peak < 1.2 * small_peak, (small_peak, big_peak)
    # SQLite's own memory, which tracemalloc does not see, is its page cache: bounded, and the
    # table is larger than it, so the rows beyond it are on disk, not in memory
    db = big.db
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -scratch.CACHE_KIB
    assert _used_bytes(db) - used_before > scratch.CACHE_KIB * 1024
    assert big.scores(9_999) == dict.fromkeys([f"Builtin.M{m}" for m in range(25)], 1.0)


def test_a_closed_or_dropped_table_leaves_nothing_in_the_scratch_database() -> None:
    def tables() -> set[str]:
        return {name for (name,) in scratch.connection().execute("SELECT name FROM sqlite_master")}

    before = tables()
    # Given a comparison's tables: two runs and their matching
    current, baseline = ScoreTable.of([record(0, "a", {HELPFULNESS: 1.0})]), ScoreTable.of([])
    matching = match_records(current, baseline)
    created = tables() - before
    assert len(created) > 4
    # When the matching is collected and the tables closed
    del matching
    gc.collect()
    current.close()
    baseline.close()
    # Then none of their tables (nor indexes) is left
    assert not tables() & created


def _reference_matching(current: list[RecordItem], baseline: list[RecordItem]):
    """The matching rule written plainly (the module docstring): the n-th occurrence of a key in
    this run (index order) pairs with the n-th in the baseline."""
    by_key: dict[str, list[int]] = {}
    for row in sorted(range(len(baseline)), key=lambda r: baseline[r].index):
        by_key.setdefault(key_of_item(baseline[row]), []).append(row)
    seen: dict[str, int] = {}
    pairs, only_current, paired_baseline = [], [], set()
    for row in sorted(range(len(current)), key=lambda r: current[r].index):
        key = key_of_item(current[row])
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        partners = by_key.get(key, [])
        if occurrence < len(partners):
            pairs.append((row, partners[occurrence], occurrence))
            paired_baseline.add(partners[occurrence])
        else:
            only_current.append(row)
    only_baseline = [
        r for r in sorted(range(len(baseline)), key=lambda r: baseline[r].index) if r not in paired_baseline
    ]
    return pairs, only_current, only_baseline


@given(runs, runs, st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_records_pair_by_key_and_occurrence_in_index_order(current_rows, baseline_rows, shuffle) -> None:
    # Given two runs whose records arrive in any order, with repeated prompts
    current = [record(i, prompt, s) for i, (prompt, s) in enumerate(current_rows)]
    baseline = [record(i, prompt, s) for i, (prompt, s) in enumerate(baseline_rows)]
    shuffle.shuffle(current)
    shuffle.shuffle(baseline)
    # When matched
    matching = match_records(current, baseline)
    # Then exactly as the rule written plainly, in this run's index order
    pairs, only_current, only_baseline = _reference_matching(current, baseline)
    assert [(p.row, p.partner, p.occurrence) for p in matching.pairs()] == pairs
    assert list(matching.only_current()) == only_current
    assert list(matching.only_baseline()) == only_baseline
    assert (matching.only_current_count, matching.only_baseline_count) == (
        len(only_current),
        len(only_baseline),
    )
    assert list(matching.only_current(limit=2)) == only_current[:2]
    for pair in matching.pairs():
        assert (pair.current_index, pair.key) == (current[pair.row].index, key_of_item(current[pair.row]))
        assert pair.baseline_index == baseline[pair.partner].index


def test_flagged_scores_are_selected_without_holding_every_flagged_score() -> None:
    from evalpipe.history.charts import parse_rule
    from evalpipe.history.report_data import flagged_scores

    # Given 20,000 records, every one flagged (a run that went badly)
    table = ScoreTable.read(
        (record(i, f"p{i}", {HELPFULNESS: (i % 40) / 100}) for i in range(20_000)), lambda indices: {}
    )
    run = Run.model_validate(run_item("r", {HELPFULNESS: metric(0.2, scored=20_000, low=20_000)}))
    rules = {HELPFULNESS: parse_rule("< 0.5")}
    # When the worst 50 are selected, traced
    tracemalloc.start()
    shown, total = flagged_scores(run, table, rules, limit=50)
    _held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Then every one is counted, the worst are kept, and the selection held a few kilobytes, not MBs
    assert total == 20_000 and len(shown) == 50
    assert {flagged.score for flagged in shown} == {0.0}
    assert peak < 200_000, peak
