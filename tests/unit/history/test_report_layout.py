"""Issue 16 item 8: wide tables stay on the page, and same-day runs get distinct trend labels.

The layout itself is measured in a browser by ``test_report_chromium.py``; these tests check the
markup that makes it so, without a browser.
"""

from __future__ import annotations

import itertools

import pytest

from evalpipe.history.charts import Point, axis_label_indices, label_width, line_chart_svg
from evalpipe.history.report import render_report
from evalpipe.history.report_data import trend_labels
from tests.unit.history.builders import HELPFULNESS, metric, run_item
from tests.unit.history.html_tree import Node, parse
from tests.unit.history.report_fixture import RUN_ID, WIDE_METRIC_COUNT, build, build_wide, wide_metric_names

SAME_DAY = ["2025-03-08T07:05:00+00:00", "2025-03-08T12:30:00+00:00", "2025-03-08T18:45:00+00:00"]


def runs_at(*times: str) -> list:
    return [run_item(f"run-{i}", {HELPFULNESS: metric(0.5)}, created_at=t) for i, t in enumerate(times)]


# -- trend labels -------------------------------------------------------------------------------


def test_runs_on_different_days_are_labelled_by_their_date() -> None:
    runs = runs_at("2025-03-06T09:15:00+00:00", "2025-03-07T09:15:00+00:00", "2025-03-08T09:15:00+00:00")
    assert list(trend_labels(runs).values()) == ["2025-03-06", "2025-03-07", "2025-03-08"]


def test_runs_on_the_same_day_are_labelled_by_date_and_time() -> None:
    runs = runs_at("2025-03-07T23:59:00+00:00", *SAME_DAY)
    assert list(trend_labels(runs).values()) == [
        "2025-03-07",  # alone on its day: the date is enough
        "2025-03-08 07:05",
        "2025-03-08 12:30",
        "2025-03-08 18:45",
    ]


def test_runs_in_the_same_minute_get_their_run_number() -> None:
    runs = runs_at("2025-03-08T07:05:10+00:00", "2025-03-08T07:05:40+00:00", "2025-03-08T08:00:00+00:00")
    labels = list(trend_labels(runs).values())
    assert labels == ["2025-03-08 07:05 #1", "2025-03-08 07:05 #2", "2025-03-08 08:00"]


def test_labels_are_in_utc() -> None:
    runs = runs_at("2025-03-08T01:00:00+02:00", "2025-03-07T23:30:00+00:00")
    assert list(trend_labels(runs).values()) == ["2025-03-07 23:00", "2025-03-07 23:30"]


def test_a_report_with_three_runs_on_one_day_shows_three_distinct_labels() -> None:
    # Given the current run and two earlier runs of the same day
    inputs = build()
    current = inputs.run.model_copy(deep=True)
    current.created_at = run_item("x", created_at=SAME_DAY[2]).created_at
    earlier = [r for r in inputs.history if r.run_id != RUN_ID and r.status == "COMPLETED"][:2]
    for row, time in zip(earlier, reversed(SAME_DAY[:2]), strict=True):  # history is newest first
        row.created_at = run_item("x", created_at=time).created_at
    # When the report is rendered
    doc = parse(render_report(current, inputs.records, [current, *earlier], inputs.comparison))
    trend_svgs = doc.find("section", id="trends").find_all("svg")
    assert trend_svgs
    for svg in trend_svgs:
        # Then each point and the axis below it carry the three runs' own labels
        expected = ["2025-03-08 07:05", "2025-03-08 12:30", "2025-03-08 18:45"]
        assert [c.attrs["data-label"] for c in svg.find_all("circle", cls="point")] == expected
        assert [t.text() for t in svg.find_all("text", cls="x-label")] == expected
        # and the tooltips name them too
        assert [c.find("title").text()[:16] for c in svg.find_all("circle", cls="point")] == expected


def test_chart_labels_are_escaped() -> None:
    doc = parse(line_chart_svg([Point("<b>x</b>", 0.5, "t"), Point("y", 0.6, "u")], title="t"))
    assert doc.find("circle").attrs["data-label"] == "<b>x</b>"
    assert doc.find("text", cls="x-label").text() == "<b>x</b>"
    assert not [n for n in doc.walk() if n.tag == "b"]


# -- which labels fit under the axis --------------------------------------------------------------


def spans(xs: list[float], labels: list[str], chosen: list[int]) -> list[tuple[float, float]]:
    result = []
    for i in chosen:
        width = label_width(labels[i])
        left = xs[i] if i == 0 else xs[i] - width if i == len(xs) - 1 else xs[i] - width / 2
        result.append((left, left + width))
    return result


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 30])
@pytest.mark.parametrize("label", ["2025-03-08", "2025-03-08 09:15", "2025-03-08 09:15 #12"])
def test_axis_labels_never_overlap_and_keep_the_first_and_last(count: int, label: str) -> None:
    xs = [42 + i * 276 / max(count - 1, 1) for i in range(count)]
    labels = [label] * count
    chosen = axis_label_indices(xs, labels)
    assert chosen == sorted(set(chosen))
    assert chosen[-1] == count - 1
    if count > 1:
        assert chosen[0] == 0
    placed = spans(xs, labels, chosen)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(placed))


def test_three_same_day_labels_all_fit_under_a_chart() -> None:
    svg = parse(line_chart_svg([Point(f"2025-03-08 {h}:00", 0.5, "t") for h in (10, 11, 12)], title="t"))
    assert len(svg.find_all("text", cls="x-label")) == 3


def test_no_points_no_labels() -> None:
    assert axis_label_indices([], []) == []


# -- wide tables ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide() -> Node:
    inputs = build_wide()
    return parse(render_report(inputs.run, inputs.records, inputs.history, inputs.comparison))


def test_every_data_table_scrolls_sideways_within_the_page(wide: Node) -> None:
    tables = wide.find_all("table")
    assert {t.attrs.get("class") for t in tables} >= {"facts", "metrics", "heat", "comparison", "changes"}
    scrolled = {id(t) for box in wide.find_all("div", cls="table-scroll") for t in box.find_all("table")}
    # The facts table wraps its values (break-all); every other table sits in a scrolling box
    assert [t.attrs.get("class") for t in tables if id(t) not in scrolled] == ["facts"]
    style = wide.find("style").text()
    assert ".table-scroll { max-width: 100%; overflow-x: auto;" in style


def test_the_category_table_names_every_metric_and_lets_long_names_wrap(wide: Node) -> None:
    table = wide.find("section", id="categories").find("table", cls="heat")
    headers = table.find_all("th", cls="metric")
    assert len(headers) == WIDE_METRIC_COUNT
    names = wide_metric_names(WIDE_METRIC_COUNT - 4)
    assert [h.text() for h in headers[4:]] == names
    assert [h.attrs["title"] for h in headers[4:]] == names
    # A break opportunity after each "." and "_" of a long name
    assert len(headers[-1].find_all("wbr")) == names[-1].count("_") + names[-1].count(".")
