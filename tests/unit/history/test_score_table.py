"""A run's scores held compactly: the comparison and the report read the texts of shown records only."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from evalpipe.history.records import compare_records, score_samples
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
    assert list(table.column(HELPFULNESS)) == [(0, 0.5)]
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


def test_a_score_costs_bytes_not_kilobytes() -> None:
    # 2,000 records x 25 metrics, built into a table while traced (the items themselves are not kept)
    names = [f"Builtin.M{m}" for m in range(25)]
    items = (record(i, f"prompt {i}", dict.fromkeys(names, 0.5), explanation="x" * 500) for i in range(2_000))
    tracemalloc.start()
    table = ScoreTable.read(items, lambda indices: {})
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(table) == 2_000
    # 50,000 scores: columns of doubles and states plus a key per record, well under 40 bytes a score
    assert held / 50_000 < 40


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
