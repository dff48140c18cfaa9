"""The HTML run report, parsed with html.parser: sections, real SVG charts, escaping, no external assets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evalpipe.history.charts import Point, bin_scores, histogram_svg, line_chart_svg, parse_rule
from evalpipe.history.compare import compare_runs
from evalpipe.history.report import SECTION_IDS, render_report
from evalpipe.run.model import Run
from tests.unit.history.builders import (
    CORRECTNESS,
    CUSTOM,
    HARMFULNESS,
    HELPFULNESS,
    make_suite,
    metric,
    run_item,
)
from tests.unit.history.html_tree import Node, parse
from tests.unit.history.report_fixture import BASELINE_ID, EVIL_PROMPT, METRICS, RUN_ID, ReportInputs, build


@pytest.fixture(scope="module")
def inputs() -> ReportInputs:
    return build()


@pytest.fixture(scope="module")
def html(inputs: ReportInputs) -> str:
    return render_report(inputs.run, inputs.records, inputs.history, inputs.comparison)


@pytest.fixture(scope="module")
def doc(html: str) -> Node:
    return parse(html)


def section(doc: Node, name: str) -> Node:
    return doc.find("section", id=name)


def elements(node: Node) -> list[Node]:
    return [c for c in node.children if isinstance(c, Node)]


def changed(run: Run, **fields: Any) -> Run:
    """A copy of ``run`` with ``fields`` assigned (and validated), the fixture's run untouched."""
    copy = run.model_copy(deep=True)
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


# -- structure --------------------------------------------------------------------------------


def test_the_sections_come_in_order(doc: Node) -> None:
    assert [s.attrs["id"] for s in doc.find_all("section")] == list(SECTION_IDS)
    assert doc.find("html").attrs["lang"] == "en"
    assert doc.find("meta", charset="utf-8")


def test_the_summary_leads_with_the_verdict(doc: Node, inputs: ReportInputs) -> None:
    summary = section(doc, "summary")
    first, second = elements(summary)[1:3]  # after the heading
    assert first.tag == "p"
    assert "verdict-REGRESSED" in first.classes
    assert first.text() == "REGRESSED"
    assert second.text() == (f"2 metrics regressed against {BASELINE_ID}: {HELPFULNESS}, {CUSTOM}")
    # The page title leads with it too
    assert doc.find("title").text().startswith("REGRESSED - support-bot - ")
    # Facts, warnings (N/A rate included) and the metric table follow
    facts = summary.find("table", cls="facts").text()
    assert RUN_ID in facts
    assert "s3://evalpipe-data-123/datasets/support-bot/nightly.jsonl" in facts
    warnings = summary.find("ul", cls="warnings").text()
    assert "confirmation_check is N/A for 75% of the records" in warnings
    rows = summary.find("table", cls="metrics").find_all("tr")[1:]
    assert [r.find("td").text() for r in rows] == METRICS
    helpfulness = [td.text() for td in rows[1].find_all("td")]
    assert helpfulness[1] == "0.625"
    assert helpfulness[-1] == "REGRESSED"


# -- charts -----------------------------------------------------------------------------------


def test_one_histogram_per_metric_with_one_bar_per_bin(doc: Node, inputs: ReportInputs) -> None:
    figures = section(doc, "distributions").find_all("figure", cls="histogram")
    assert [f.attrs["data-metric"] for f in figures] == METRICS
    for figure in figures:
        svg = figure.find("svg")
        assert svg.attrs["xmlns"] == "http://www.w3.org/2000/svg"
        bins = int(svg.attrs["data-bins"])
        bars = svg.find_all("rect", cls="bar")
        assert bins == 10
        assert len(bars) == bins
        # The bars count every scored record of the metric, none twice
        scored = inputs.run.metrics[figure.attrs["data-metric"]].scored
        assert sum(int(b.attrs["data-count"]) for b in bars) == scored
        # The tallest bar is the fullest bin
        tallest = max(bars, key=lambda b: float(b.attrs["height"]))
        assert int(tallest.attrs["data-count"]) == max(int(b.attrs["data-count"]) for b in bars)
        assert svg.find("title").text().startswith("Distribution of ")
        assert svg.find_all("line", cls="threshold")


def test_flagged_bins_are_drawn_in_the_flagged_colour(doc: Node) -> None:
    figures = {f.attrs["data-metric"]: f for f in section(doc, "distributions").find_all("figure")}
    harmful = figures[HARMFULNESS].find_all("rect", cls="bar")
    # Harmfulness flags high scores: the last bin (the 1s) is flagged, the first (the 0s) not
    assert harmful[-1].attrs["data-flagged"] == harmful[-1].attrs["data-count"] == "2"
    assert harmful[-1].attrs["fill"] != harmful[0].attrs["fill"]
    custom = figures[CUSTOM].find_all("rect", cls="bar")
    # "<= 0" flags the 0s although the bin [0, 0.1) reaches past the bound
    assert custom[0].attrs["data-flagged"] == "2"


def test_one_trend_per_metric_with_one_point_per_completed_run(doc: Node, inputs: ReportInputs) -> None:
    completed = [r for r in inputs.history if r.status == "COMPLETED"]
    figures = section(doc, "trends").find_all("figure", cls="trend")
    assert [f.attrs["data-metric"] for f in figures] == METRICS
    for figure in figures:
        svg = figure.find("svg")
        points = svg.find("polyline", cls="trend").attrs["points"].split()
        assert len(points) == len(completed) == int(svg.attrs["data-runs"]) == 8
        assert all(re.fullmatch(r"-?\d+(\.\d+)?,-?\d+(\.\d+)?", p) for p in points)
        circles = svg.find_all("circle", cls="point")
        assert len(circles) == len(points)
        # Oldest left, the current run last and filled, its baseline ringed
        xs = [float(p.split(",")[0]) for p in points]
        assert xs == sorted(xs)
        assert [c for c in circles if "current" in c.classes] == [circles[-1]]
        assert [c for c in circles if "baseline" in c.classes] == [circles[-2]]
        assert RUN_ID in circles[-1].find("title").text()


def test_the_trend_follows_the_history(doc: Node, inputs: ReportInputs) -> None:
    # Helpfulness rose over the older runs and fell in this one: y grows downwards in SVG
    figure = next(
        f for f in section(doc, "trends").find_all("figure") if f.attrs["data-metric"] == HELPFULNESS
    )
    ys = [float(p.split(",")[1]) for p in figure.find("polyline").attrs["points"].split()]
    assert ys[-1] > ys[-2]  # this run is lower than its baseline
    assert ys[0] > ys[5]  # the first run is lower than the sixth


@pytest.mark.parametrize("runs", [1, 3])
def test_the_trend_has_as_many_points_as_runs(runs: int) -> None:
    # Given the current run and runs - 1 earlier completed runs (plus a failed one, not drawn)
    inputs = build()
    earlier = [r for r in inputs.history if r.run_id != RUN_ID and r.status == "COMPLETED"]
    history = [run_item("failed", status="FAILED", verdict=None), *earlier[: runs - 1]]
    doc = parse(render_report(inputs.run, inputs.records, history, inputs.comparison))
    for polyline in section(doc, "trends").find_all("polyline", cls="trend"):
        assert len(polyline.attrs["points"].split()) == runs


def test_the_current_run_is_drawn_even_when_the_history_does_not_have_it_yet(inputs: ReportInputs) -> None:
    older = [r for r in inputs.history if r.run_id != RUN_ID]
    doc = parse(render_report(inputs.run, inputs.records, older, inputs.comparison))
    svg = section(doc, "trends").find("svg")
    assert svg.attrs["data-runs"] == "8"
    assert "current" in svg.find_all("circle")[-1].classes


# -- category table ---------------------------------------------------------------------------


def hue(cell: Node) -> int:
    match = re.search(r"background:hsl\((\d+),", cell.attrs["style"])
    assert match, cell.attrs["style"]
    return int(match.group(1))


def test_the_category_table_is_heat_coloured_by_direction(doc: Node) -> None:
    table = section(doc, "categories").find("table", cls="heat")
    header = [th.text() for th in table.find("thead").find_all("th")]
    assert header == ["Category", "Records", *METRICS]
    rows = {r.find("td").text(): r.find_all("td") for r in table.find("tbody").find_all("tr")}
    assert list(rows) == ["greeting", "order-status", "refund"]
    assert rows["refund"][1].text() == "8"
    column = {name: i + 2 for i, name in enumerate(METRICS)}
    # Higher is better: 0.875 is greener than 0.25
    assert hue(rows["greeting"][column[HELPFULNESS]]) > hue(rows["refund"][column[HELPFULNESS]])
    assert hue(rows["refund"][column[HELPFULNESS]]) == 30  # 0.25 of the way from red (0) to green (120)
    # Lower is better (a detector): 0.0 is fully green, 0.25 less so
    assert hue(rows["greeting"][column[HARMFULNESS]]) == 120
    assert hue(rows["refund"][column[HARMFULNESS]]) == 90
    # All N/A: grey and says so
    na_cell = rows["greeting"][column[CUSTOM]]
    assert na_cell.text() == "N/A"
    assert "#eeeeee" in na_cell.attrs["style"]


# -- regressions and low scores ---------------------------------------------------------------


def test_the_regressions_section_lists_metrics_and_worse_prompts(doc: Node, inputs: ReportInputs) -> None:
    regressions = section(doc, "regressions")
    rows = regressions.find("table", cls="comparison").find_all("tr")[1:]
    results = {r.find("td").text(): r.find_all("td")[-1].text() for r in rows}
    assert results[HELPFULNESS].startswith("REGRESSED: dropped by 0.188 (limit 0.1)")
    assert results[CORRECTNESS] == "ok: unchanged"
    assert results[f"{HARMFULNESS} (lower is better)"].startswith("ok: within limits (rose by 0.083")
    changes = regressions.find("table", cls="changes").find_all("tr")[1:]
    assert len(changes) == inputs.comparison.worsened_count == 12
    first = [td.text() for td in changes[0].find_all("td")]
    assert first[:2] == [HARMFULNESS, "How do I get into my neighbour's wifi?"]
    assert first[-3:] == ["0.00", "1.00", "1.000"]


def test_the_low_scores_show_prompt_response_and_explanation_worst_first(
    doc: Node, inputs: ReportInputs
) -> None:
    articles = section(doc, "low-scores").find_all("article", cls="record")
    assert len(articles) == inputs.run.low_count == 10
    headers = [a.find("header").text() for a in articles]
    assert headers[0].startswith(f"{HARMFULNESS}: score 1.00 (flagged: > 0.5)")
    assert headers[2].startswith(f"{CUSTOM}: score 0.00 (flagged: <= 0)")
    labels = [dt.text() for dt in articles[0].find_all("dt")]
    assert labels == ["Prompt", "Response", "Judge"]
    texts = [dd.text() for dd in articles[0].find_all("dd")]
    assert texts == [
        "How do I get into my neighbour's wifi?",
        "Response 11 to <How do I get into my>",
        f"Judge on 11: the reply <b>is</b> weak ({HARMFULNESS})",
    ]


# -- safety -----------------------------------------------------------------------------------


def test_data_is_escaped_so_a_script_prompt_stays_text(html: str, doc: Node) -> None:
    # Given a prompt carrying <script>, an <img onerror> and quotes (and judge text with <b>)
    # Then the document has no script, img or b element and no event-handler attribute
    tags = {n.tag for n in doc.walk()}
    assert not tags & {"script", "img", "b", "iframe", "object", "embed", "link"}
    assert not any(name.startswith("on") for n in doc.walk() for name in n.attrs)
    assert "<script" not in html.lower()
    # And the prompt reads exactly as written, in the low scores and in the regressions
    prompts = [dd.text() for dd in section(doc, "low-scores").find_all("dd")]
    assert EVIL_PROMPT in prompts
    assert EVIL_PROMPT in section(doc, "regressions").text()


def test_markup_in_categories_and_run_fields_is_escaped() -> None:
    inputs = build(history_runs=1)
    run = changed(
        inputs.run,
        suite="<i>suite</i>",
        job_name="<script>x</script>",
        categories={'<b onmouseover="x">cat</b>': inputs.run.categories["refund"]},
    )
    doc = parse(render_report(run, [], [], None))
    assert not {n.tag for n in doc.walk()} & {"script", "i", "b"}
    assert "<script>x</script>" in section(doc, "summary").find("table", cls="facts").text()
    assert '<b onmouseover="x">cat</b>' in section(doc, "categories").text()
    assert doc.find("h1").text() == "Evaluation report: <i>suite</i>"


def test_the_page_is_self_contained(html: str, doc: Node) -> None:
    for node in doc.walk():
        assert "src" not in node.attrs
        href = node.attrs.get("href")
        assert href is None or href.startswith("#"), href
    style = doc.find("style").text()
    assert "url(" not in style
    assert "@import" not in style
    csp = doc.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


# -- sparse runs ------------------------------------------------------------------------------


def test_a_run_without_records_history_or_comparison_still_renders(inputs: ReportInputs) -> None:
    run = changed(inputs.run, verdict="LOW_SCORES")
    doc = parse(render_report(run, [], [], None))
    assert [s.attrs["id"] for s in doc.find_all("section")] == list(SECTION_IDS)
    assert section(doc, "summary").find("p", cls="verdict").text() == "LOW SCORES"
    assert "No per-record scores" in section(doc, "distributions").text()
    assert section(doc, "trends").find_all("polyline")[0].attrs["points"].count(",") == 1
    assert "not compared with a baseline" in section(doc, "regressions").text()
    # The flagged scores come from the run item's low_records (no response without records)
    articles = section(doc, "low-scores").find_all("article")
    assert len(articles) == len(run.low_records)
    assert "(no response recorded)" in articles[0].text()


def test_a_comparison_without_baseline_says_why() -> None:
    suite = make_suite(regression={"baselineRunId": "gone-run"})
    run = run_item("this-run", {HELPFULNESS: metric(0.9)}, verdict="PASSED")
    comparison = compare_runs(run, None, suite)
    doc = parse(render_report(run, [], [run], comparison))
    assert "Not compared: the pinned baseline gone-run" in section(doc, "regressions").text()
    assert section(doc, "summary").find("p", cls="verdict").text() == "PASSED"


def test_a_failed_run_renders_its_verdict() -> None:
    run = run_item("r", None, status="FAILED", verdict=None, failure_messages=["boom"])
    doc = parse(render_report(run, [], [], None))
    assert section(doc, "summary").find("p", cls="verdict").text() == "FAILED"
    assert "No metric results" in section(doc, "summary").text()


# -- chart helpers ----------------------------------------------------------------------------


def test_bins_put_judge_scale_values_in_their_own_bins() -> None:
    bins = bin_scores([0.0, 0.25, 0.3, 0.5, 0.75, 1.0, 1.0])
    assert [b.count for b in bins] == [1, 0, 1, 1, 0, 1, 0, 1, 0, 2]
    assert (bins[0].low, bins[-1].high) == (0.0, 1.0)


def test_bins_follow_a_custom_scale_outside_0_to_1() -> None:
    bins = bin_scores([1, 2, 3, 4, 5], bins=4, rule=parse_rule("<= 2"))
    assert (bins[0].low, bins[-1].high) == (1, 5)
    assert [b.count for b in bins] == [1, 1, 1, 2]
    assert [b.flagged for b in bins] == [1, 1, 0, 0]


def test_an_empty_histogram_still_has_its_bins() -> None:
    doc = parse(histogram_svg([], title="x"))
    bars = doc.find_all("rect", cls="bar")
    assert len(bars) == 10
    assert {b.attrs["height"] for b in bars} == {"0.0"}


def test_a_split_bin_stacks_its_flagged_part() -> None:
    doc = parse(histogram_svg([0.5, 0.52, 0.58], title="x", rule=parse_rule("< 0.55")))
    bar = doc.find_all("rect", cls="bar")[5]
    part = doc.find("rect", cls="bar-flagged")
    assert (bar.attrs["data-count"], bar.attrs["data-flagged"]) == ("3", "2")
    assert float(part.attrs["height"]) == pytest.approx(float(bar.attrs["height"]) * 2 / 3, abs=0.1)


def test_chart_titles_and_tooltips_are_escaped() -> None:
    svg = line_chart_svg([Point("d", 0.5, "<script>")], title="<b>t</b>")
    doc = parse(svg)
    assert not {n.tag for n in doc.walk()} & {"script", "b"}
    assert doc.find("svg").find("title").text() == "<b>t</b>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("< 0.5", ("<", 0.5)),
        ("<= 0", ("<=", 0.0)),
        ("> 0.5", (">", 0.5)),
        (">= 1", (">=", 1.0)),
        ("<-1e-3", ("<", -0.001)),
    ],
)
def test_rules_are_read_back_from_their_text(text: str, expected: tuple) -> None:
    rule = parse_rule(text)
    assert (rule.operator, rule.bound) == expected


@pytest.mark.parametrize("text", ["", "below 0.5", "< nan", "< inf", None, 0.5, "= 1"])
def test_unreadable_rules_are_none(text: object) -> None:
    assert parse_rule(text) is None
