"""Inline SVG charts for the run report: a histogram and a line chart, no JavaScript.

Every text that comes from data is HTML-escaped here; the markup only uses SVG 1.1 elements
(``rect``, ``line``, ``polyline``, ``circle``, ``text``, ``title``) and inline presentation
attributes, so the charts render the same in a browser, in print and in an e-mail client that
shows HTML. Colours keep enough contrast in greyscale print (bars carry their counts as text).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

HISTOGRAM_BINS = 10
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\""
BAR_COLOUR = "#4c78a8"
FLAGGED_COLOUR = "#d6604d"
LINE_COLOUR = "#4c78a8"
CURRENT_COLOUR = "#1b1b1b"
BASELINE_COLOUR = "#f4a300"
THRESHOLD_COLOUR = "#b2182b"
AXIS_COLOUR = "#555"
GRID_COLOUR = "#ddd"
_RULE = re.compile(r"^\s*(<=|>=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Rule:
    """A low-score rule as run items describe it (``"< 0.5"``): operator and bound."""

    operator: str
    bound: float

    @property
    def flags_high_scores(self) -> bool:
        return self.operator in (">", ">=")

    def is_flagged(self, score: float) -> bool:
        match self.operator:
            case "<":
                return score < self.bound
            case "<=":
                return score <= self.bound
            case ">":
                return score > self.bound
            case _:
                return score >= self.bound

    def badness(self, score: float) -> float:
        """Larger = worse, as `evalpipe.suite.LowScoreRule.badness`."""
        return score if self.flags_high_scores else -score


def parse_rule(text: object) -> Rule | None:
    """``"< 0.5"`` -> ``Rule("<", 0.5)``; None for anything else."""
    if not isinstance(text, str):
        return None
    match = _RULE.match(text)
    if not match:
        return None
    bound = float(match.group(2))
    return Rule(match.group(1), bound) if math.isfinite(bound) else None


def score_domain(values: Sequence[float], scale: float = 1.0) -> tuple[float, float]:
    """``(0, scale)`` when every value lies there, else the values' range, padded.

    ``scale`` is the top of the metric's scale: 1 for judge scores, 100 for a percentage
    (``Builtin.Robustness``, `evalpipe.suite.metrics.metric_scale`), so its axis reads 0-100
    even when this run's values are all small.
    """
    if not values or all(0.0 <= v <= scale for v in values):
        return 0.0, scale
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return low - 0.5, high + 0.5
    return low, high


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    flagged: int = 0  # how many of the bin's scores the rule flags


def bin_scores(
    scores: Sequence[float], bins: int = HISTOGRAM_BINS, rule: Rule | None = None, scale: float = 1.0
) -> list[Bin]:
    """Equal-width bins over `score_domain`; the last bin includes its upper edge."""
    low, high = score_domain(scores, scale)
    width = (high - low) / bins
    counts = [0] * bins
    flagged = [0] * bins
    for score in scores:
        # The tiny nudge puts 0.3 (= 2.9999... widths) into the bin that starts at 0.3.
        position = min(max(math.floor((score - low) / width + 1e-9), 0), bins - 1)
        counts[position] += 1
        if rule is not None and rule.is_flagged(score):
            flagged[position] += 1
    return [Bin(low + i * width, low + (i + 1) * width, counts[i], flagged[i]) for i in range(bins)]


def histogram_svg(
    scores: Sequence[float],
    *,
    title: str,
    rule: Rule | None = None,
    bins: int = HISTOGRAM_BINS,
    width: int = 340,
    height: int = 200,
    scale: float = 1.0,
) -> str:
    """A histogram of ``scores`` with one ``<rect class="bar">`` per bin (empty bins have height 0).

    The scores the rule flags are drawn in the "flagged" colour (a ``<rect class="bar-flagged">``
    stacked at the bottom of a bin that holds both kinds), and the rule's bound is a dashed line
    when it lies inside the domain.
    """
    left, right, top, bottom = 34, 10, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    binned = bin_scores(scores, bins, rule, scale)
    low, high = binned[0].low, binned[-1].high
    peak = max((b.count for b in binned), default=0) or 1
    bar_w = plot_w / bins

    def x_of(value: float) -> float:
        return left + (value - low) / (high - low) * plot_w

    parts = [_svg_open(width, height, "histogram", title, bins=bins)]
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS_COLOUR}"/>')
    base_y = top + plot_h
    parts.append(
        f'<line x1="{left}" y1="{base_y}" x2="{left + plot_w}" y2="{base_y}" stroke="{AXIS_COLOUR}"/>'
    )
    parts.append(_text(left - 4, top + 4, str(peak), anchor="end", size=10))
    parts.append(_text(left - 4, top + plot_h, "0", anchor="end", size=10))
    for i, item in enumerate(binned):
        bar_h = item.count / peak * plot_h
        x = left + i * bar_w + 1
        y = top + plot_h - bar_h
        # A bin is drawn in the flagged colour as far as the rule flags its scores (stacked at the
        # bottom when a bound splits the bin).
        colour = FLAGGED_COLOUR if item.count and item.flagged == item.count else BAR_COLOUR
        label = f"{_num(item.low)} to {_num(item.high)}: {item.count} record{'' if item.count == 1 else 's'}"
        if item.flagged:
            label += f", {item.flagged} flagged"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
            f'fill="{colour}" data-count="{item.count}" data-flagged="{item.flagged}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if 0 < item.flagged < item.count:
            part_h = item.flagged / peak * plot_h
            part_y = top + plot_h - part_h
            parts.append(
                f'<rect class="bar-flagged" x="{x:.1f}" y="{part_y:.1f}" width="{bar_w - 2:.1f}" '
                f'height="{part_h:.1f}" fill="{FLAGGED_COLOUR}"><title>{escape(label)}</title></rect>'
            )
        if item.count:
            parts.append(_text(x + (bar_w - 2) / 2, y - 2, str(item.count), anchor="middle", size=9))
    for value in (low, (low + high) / 2, high):
        parts.append(_text(x_of(value), top + plot_h + 13, _num(value), anchor="middle", size=10))
    parts.append(_text(left + plot_w / 2, height - 4, "score", anchor="middle", size=10, fill=AXIS_COLOUR))
    if rule is not None and low <= rule.bound <= high:
        x = x_of(rule.bound)
        parts.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="4 3"><title>'
            f"{escape(f'flagged when score {rule.operator} {_num(rule.bound)}')}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Point:
    """One run on a trend chart."""

    label: str  # under the axis where there is room (always the first and last): date, or date and time
    value: float
    tooltip: str
    current: bool = False
    baseline: bool = False


def line_chart_svg(
    points: Sequence[Point],
    *,
    title: str,
    rule: Rule | None = None,
    width: int = 340,
    height: int = 200,
    scale: float = 1.0,
) -> str:
    """A line chart: one ``<polyline class="trend">`` whose points are the runs, oldest first,
    plus one ``<circle class="point">`` per run (the current run filled dark, the baseline ringed).

    Every circle carries its point's label (``data-label``); under the axis a ``<text class="x-label">``
    shows the labels of the first and the last point and of as many in between as fit without
    overlapping (`axis_label_indices`).
    """
    left, right, top, bottom = 34, 14, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = score_domain([p.value for p in points], scale)
    count = len(points)

    inset = 8  # keeps the first and last dots off the axis and its labels

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if count == 1 else inset + i / (count - 1) * (plot_w - 2 * inset))

    def y_of(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    parts = [_svg_open(width, height, "trend", title, runs=count)]
    for value in (low, (low + high) / 2, high):
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>'
        )
        parts.append(_text(left - 4, y + 3, _num(value), anchor="end", size=10))
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS_COLOUR}"/>')
    if rule is not None and low <= rule.bound <= high:
        y = y_of(rule.bound)
        parts.append(
            f'<line class="threshold" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="4 3"><title>'
            f"{escape(f'flagged when score {rule.operator} {_num(rule.bound)}')}</title></line>"
        )
    coordinates = " ".join(f"{x_of(i):.1f},{y_of(p.value):.1f}" for i, p in enumerate(points))
    parts.append(
        f'<polyline class="trend" points="{coordinates}" fill="none" stroke="{LINE_COLOUR}" '
        'stroke-width="2" stroke-linejoin="round"/>'
    )
    for i, point in enumerate(points):
        fill = CURRENT_COLOUR if point.current else "#fff"
        stroke = BASELINE_COLOUR if point.baseline else (CURRENT_COLOUR if point.current else LINE_COLOUR)
        radius = 5 if point.current or point.baseline else 3.5
        width_attr = 3 if point.baseline else 1.5
        classes = "point" + (" current" if point.current else "") + (" baseline" if point.baseline else "")
        parts.append(
            f'<circle class="{classes}" cx="{x_of(i):.1f}" cy="{y_of(point.value):.1f}" r="{radius}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width_attr}" data-label="{escape(point.label)}">'
            f"<title>{escape(point.tooltip)}</title></circle>"
        )
    xs = [x_of(i) for i in range(count)]
    for i in axis_label_indices(xs, [p.label for p in points], size=AXIS_LABEL_SIZE):
        anchor = "start" if i == 0 else ("end" if i == count - 1 else "middle")
        parts.append(
            _text(
                xs[i], top + plot_h + 14, points[i].label, anchor=anchor, size=AXIS_LABEL_SIZE, cls="x-label"
            )
        )
    parts.append(
        _text(
            left + plot_w / 2,
            height - 4,
            f"last {count} run{'' if count == 1 else 's'}",
            anchor="middle",
            size=10,
            fill=AXIS_COLOUR,
        )
    )
    parts.append("</svg>")
    return "".join(parts)


AXIS_LABEL_SIZE = 9  # the x labels: room for three "2025-03-08 09:15" under a 340 px chart
# A generous width per character of a label (digits are 0.55 em in most sans-serifs, 0.64 in DejaVu).
_CHAR_EM = 0.6
_LABEL_GAP = 6


def label_width(text: str, size: int = AXIS_LABEL_SIZE) -> float:
    """The width a label of ``size`` px is assumed to take (an overestimate, so labels never touch)."""
    return len(text) * size * _CHAR_EM


def axis_label_indices(
    xs: Sequence[float], labels: Sequence[str], *, size: int = AXIS_LABEL_SIZE
) -> list[int]:
    """Which points get their label under the axis: the first (anchored at its start), the last
    (anchored at its end) and, left to right, each one in between (centred) that keeps clear of
    the labels already placed and of the last one.
    """
    count = len(xs)
    if count == 0:
        return []
    if count == 1:
        return [0]

    def span(i: int) -> tuple[float, float]:
        width = label_width(labels[i], size)
        if i == 0:
            return xs[i], xs[i] + width
        if i == count - 1:
            return xs[i] - width, xs[i]
        return xs[i] - width / 2, xs[i] + width / 2

    chosen = [0]
    last_left = span(count - 1)[0]
    for i in range(1, count - 1):
        left, right = span(i)
        if left >= span(chosen[-1])[1] + _LABEL_GAP and right + _LABEL_GAP <= last_left:
            chosen.append(i)
    # When even the first and the last label would touch, only the last (the current run) is shown.
    if span(0)[1] + _LABEL_GAP > last_left:
        chosen = []
    return [*chosen, count - 1]


def heat_colour(goodness: float | None) -> str:
    """Background for a score cell: red (0 = bad) through yellow to green (1 = good); grey for N/A.

    Light tints keep black text readable, on screen and in print.
    """
    if goodness is None or not math.isfinite(goodness):
        return "#eeeeee"
    g = min(max(goodness, 0.0), 1.0)
    hue = 120 * g
    return f"hsl({hue:.0f}, 70%, 82%)"


def goodness_scale(
    values: Sequence[float], lower_is_better: bool, scale: float = 1.0
) -> Callable[[float], float]:
    """Map a metric's values to 0 (worst) .. 1 (best) over `score_domain`."""
    low, high = score_domain(values, scale)

    def goodness(value: float) -> float:
        share = (value - low) / (high - low)
        return 1 - share if lower_is_better else share

    return goodness


def _svg_open(width: int, height: int, kind: str, title: str, **data: int) -> str:
    attributes = " ".join(f'data-{name}="{value}"' for name, value in data.items())
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {attributes} {FONT}>'
        f"<title>{escape(title)}</title>"
    )


def _text(x: float, y: float, text: str, *, anchor: str, size: int, fill: str = "#222", cls: str = "") -> str:
    css = f' class="{cls}"' if cls else ""
    return (
        f'<text{css} x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}">'
        f"{escape(text)}</text>"
    )


def _num(value: float) -> str:
    """Compact axis number: 0, 0.5, 1, 12.5, 0.25."""
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class IntervalRow:
    """One metric of the interval chart: the change (this run - baseline) and its 95% interval."""

    label: str
    low: float
    mean: float
    high: float
    tolerance: float
    lower_is_better: bool
    status: str


INTERVAL_COLOURS = {
    "REGRESSED": THRESHOLD_COLOUR,
    "POSSIBLE_REGRESSION": BASELINE_COLOUR,
    "IMPROVED": "#2b8a3e",
}


def interval_chart_svg(rows: Sequence[IntervalRow], *, width: int = 640) -> str:
    """Each metric's change with its 95% interval, against zero and its tolerance (a forest plot).

    A whisker per metric from ``low`` to ``high`` with a dot at ``mean``; the shaded band is the
    tolerance on the worse side (left for higher-is-better metrics, right for lower-is-better ones):
    a whisker wholly inside or past it on that side is a regression. Values are in each metric's
    own units, so a percentage built-in shares the axis only when the others do.
    """
    label_width, row_height, top, bottom = 190, 26, 24, 26
    height = top + bottom + row_height * len(rows)
    extent = max([abs(v) for r in rows for v in (r.low, r.high, r.tolerance)] + [0.05]) * 1.1
    plot_left, plot_right = label_width + 10, width - 16

    def x_of(value: float) -> float:
        return plot_left + (value + extent) / (2 * extent) * (plot_right - plot_left)

    parts = [
        _svg_open(
            width, height, "intervals", "Change against the baseline with 95% intervals", rows=len(rows)
        )
    ]
    zero = x_of(0.0)
    axis_bottom = height - bottom + 4
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 6}" x2="{zero:.1f}" y2="{axis_bottom}" stroke="{AXIS_COLOUR}"/>'
    )
    for value in (-extent / 1.1, extent / 1.1):
        parts.append(
            _text(x_of(value), height - 8, f"{value:+.2f}", anchor="middle", size=11, fill=AXIS_COLOUR)
        )
    parts.append(_text(zero, height - 8, "0", anchor="middle", size=11, fill=AXIS_COLOUR))
    for i, row in enumerate(rows):
        y = top + row_height * i + row_height / 2
        worse = (row.tolerance, extent) if row.lower_is_better else (-extent, -row.tolerance)
        band_left, band_right = x_of(worse[0]), x_of(worse[1])
        band_top = y - row_height / 2 + 2
        parts.append(
            f'<rect x="{band_left:.1f}" y="{band_top:.1f}" width="{band_right - band_left:.1f}" '
            f'height="{row_height - 4}" fill="{FLAGGED_COLOUR}" fill-opacity="0.12"/>'
        )
        colour = INTERVAL_COLOURS.get(row.status, LINE_COLOUR)
        parts.append(_text(label_width, y + 4, row.label, anchor="end", size=12))
        parts.append(
            f'<line class="interval" x1="{x_of(row.low):.1f}" y1="{y:.1f}" x2="{x_of(row.high):.1f}" '
            f'y2="{y:.1f}" stroke="{colour}" stroke-width="3"><title>{escape(row.label)}: '
            f"{row.mean:+.3f} [{row.low:+.3f}, {row.high:+.3f}]</title></line>"
        )
        parts.append(f'<circle cx="{x_of(row.mean):.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)
