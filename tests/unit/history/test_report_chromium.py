"""The report in a real browser: headless Chromium renders the DOM and a screenshot.

Needs ``/usr/bin/chromium`` (Debian: ``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from evalpipe.history.report import SECTION_IDS, render_report
from tests.unit.history.html_tree import parse
from tests.unit.history.report_fixture import EVIL_PROMPT, METRICS, build

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


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = build()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(
        render_report(inputs.run, inputs.records, inputs.history, inputs.comparison), encoding="utf-8"
    )
    return path


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
