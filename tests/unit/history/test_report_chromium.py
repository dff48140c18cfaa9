"""The report in a real browser: headless Chromium renders the DOM and a screenshot, and measures
the layout at 1280 px (nothing past the right edge, trend labels apart).

Needs ``/usr/bin/chromium`` (Debian: ``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import itertools
import json
import re
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from evalpipe.history.report import SECTION_IDS, render_report
from tests.unit.history.html_tree import parse
from tests.unit.history.report_fixture import (
    EVIL_PROMPT,
    METRICS,
    WIDE_METRIC_COUNT,
    ReportInputs,
    build,
    build_wide,
)

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 3200
TIMEOUT_SECONDS = 120

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs /usr/bin/chromium (apt-get install -y chromium) to render the report",
    ),
]


def chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _html(inputs: ReportInputs) -> str:
    return render_report(inputs.run, inputs.records, inputs.history, inputs.comparison)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(_html(build()), encoding="utf-8")
    return path


# Measures the laid-out page and writes the result into the DOM, which --dump-dom then prints.
# An element's right edge counts as far as it can be seen: an ancestor that clips or scrolls
# sideways (overflow-x not visible) cuts it at its own right edge.
_PROBE = """
(function () {
  function right(element) {
    var edge = element.getBoundingClientRect().right;
    for (var up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") {
        edge = Math.min(edge, up.getBoundingClientRect().right);
      }
    }
    return edge;
  }
  function name(element) {
    var css = element.getAttribute("class");
    return element.tagName.toLowerCase() + (css ? "." + css.split(" ").join(".") : "");
  }
  var maxRight = 0, widest = "";
  var all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var box = all[i].getBoundingClientRect();
    if (!box.width && !box.height) continue;
    var edge = right(all[i]);
    if (edge > maxRight) { maxRight = edge; widest = name(all[i]); }
  }
  var trends = [];
  var svgs = document.querySelectorAll("svg.trend");
  for (var j = 0; j < svgs.length; j++) {
    var frame = svgs[j].getBoundingClientRect();
    var labels = [];
    var texts = svgs[j].querySelectorAll("text.x-label");
    for (var k = 0; k < texts.length; k++) {
      var b = texts[k].getBoundingClientRect();
      labels.push({text: texts[k].textContent, left: b.left - frame.left, right: b.right - frame.left});
    }
    var points = [];
    var circles = svgs[j].querySelectorAll("circle.point");
    for (var m = 0; m < circles.length; m++) points.push(circles[m].getAttribute("data-label"));
    trends.push({width: frame.width, labels: labels, points: points});
  }
  var body = document.body.getBoundingClientRect();
  var contentRight = body.right - parseFloat(getComputedStyle(document.body).paddingRight);
  var past = [];
  for (var n = 0; n < all.length; n++) {
    var size = all[n].getBoundingClientRect();
    if ((size.width || size.height) && right(all[n]) > contentRight + 0.5 && past.length < 10) {
      past.push(name(all[n]) + " " + right(all[n]));
    }
  }
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify({
    viewport: document.documentElement.clientWidth,
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    maxRight: maxRight,
    widest: widest,
    contentRight: contentRight,
    pastContent: past,
    trends: trends
  });
  document.body.appendChild(out);
})();
"""


def measure(tmp_path: Path, html: str) -> dict[str, Any]:
    """Lay the report out in a 1280 px wide window and return what `_PROBE` measured.

    The page's Content-Security-Policy forbids scripts, so the copy measured here drops it and
    runs the probe at the end of the body; the report itself stays script-free.
    """
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html, count=1)
    assert "Content-Security-Policy" not in page
    page = page.replace("</body>", f"<script>{_PROBE}</script></body>")
    path = tmp_path / "probed.html"
    path.write_text(page, encoding="utf-8")
    dom = parse(chromium(tmp_path, f"--window-size={WIDTH},{HEIGHT}", "--dump-dom", path.as_uri()).stdout)
    result: dict[str, Any] = json.loads(dom.find("pre", id="layout-probe").text())
    return result


def test_chromium_renders_the_sections_charts_and_records(report_file: Path, tmp_path: Path) -> None:
    # When Chromium loads the file and dumps the DOM it built
    dom = parse(chromium(tmp_path, "--dump-dom", report_file.as_uri()).stdout)

    # Then every section is there, in order, with the verdict first
    assert [s.attrs["id"] for s in dom.find_all("section")] == list(SECTION_IDS)
    assert dom.find("p", cls="verdict").text() == "REGRESSED"
    # The charts are SVG elements the browser parsed: a histogram and a trend per metric
    svgs = dom.find_all("svg")
    assert len(svgs) == 2 * len(METRICS)
    assert len(dom.find_all("rect", cls="bar")) == 10 * len(METRICS)
    for polyline in dom.find_all("polyline", cls="trend"):
        assert len(polyline.attrs["points"].split()) == 8
    # The flagged records, with the hostile prompt as plain text and no script element
    articles = dom.find_all("article", cls="record")
    assert len(articles) == 10
    assert EVIL_PROMPT in dom.text()
    assert not {n.tag for n in dom.walk()} & {"script", "img"}


def test_chromium_screenshot_is_a_full_page(report_file: Path, tmp_path: Path) -> None:
    # When Chromium takes a screenshot of the page
    shot = tmp_path / "report.png"
    chromium(
        tmp_path,
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        f"--screenshot={shot}",
        report_file.as_uri(),
    )
    # Then it is a PNG of the window's size with real content (a blank page compresses to a few KB)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 100_000, f"screenshot is only {len(data)} bytes"
    pixels = zlib.decompress(b"".join(_chunks(data, b"IDAT")))
    assert len(set(pixels)) > 100  # many distinct colour values: text, charts, heat cells


def _chunks(data: bytes, kind: bytes) -> list[bytes]:
    found, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == kind:
            found.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return found


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param(build, id="report"),
        pytest.param(lambda: build_wide(same_day=True), id="15-long-metrics-same-day"),
    ],
)
def test_nothing_runs_past_the_right_edge_at_1280_px(inputs: Any, tmp_path: Path) -> None:
    # Given a report (the wide one: 15 metrics with 57-character names, the runs all on one day)
    html = _html(inputs())
    # When Chromium lays it out in a 1280 px wide window
    layout = measure(tmp_path, html)
    # Then no element shows past the viewport's right edge, and the page does not scroll sideways
    assert 0 < layout["viewport"] <= WIDTH
    assert layout["maxRight"] <= layout["viewport"], layout
    assert layout["scrollWidth"] <= layout["viewport"], layout
    # nor past the page's own column (a long metric name in a caption, a table without a scrollbar)
    assert layout["pastContent"] == [], layout


def test_same_day_runs_get_distinct_trend_labels_that_do_not_overlap(tmp_path: Path) -> None:
    # Given eight runs of a suite on one day, every one of 15 metrics drawn over them
    layout = measure(tmp_path, _html(build_wide(same_day=True)))
    trends = layout["trends"]
    assert len(trends) == WIDE_METRIC_COUNT
    for trend in trends:
        # Then every run's point carries its own label, date and time
        assert len(trend["points"]) == 8
        assert len(set(trend["points"])) == 8
        assert all(re.fullmatch(r"2025-03-08 \d\d:\d\d", label) for label in trend["points"])
        # and the labels under the axis are distinct, apart and inside the chart, as drawn
        labels = trend["labels"]
        texts = [label["text"] for label in labels]
        assert len(texts) >= 2
        assert len(set(texts)) == len(texts)
        assert texts[0] == trend["points"][0] and texts[-1] == trend["points"][-1]
        for before, after in itertools.pairwise(labels):
            assert before["right"] <= after["left"], labels
        assert labels[0]["left"] >= 0 and labels[-1]["right"] <= trend["width"], labels
