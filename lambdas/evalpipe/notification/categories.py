"""The category table: the average score per category (and, for a run over several datasets, per
dataset), categories as rows, transposed or split into blocks of columns when it would be wider
than the message allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from evalpipe.notification.formatting import _fmt_score, _plural
from evalpipe.notification.layout import (
    BUILTIN_PREFIX,
    CATEGORY_LABEL_CHARS,
    TABLE_MAX_WIDTH,
    _one_line,
    _short_metric_names,
    _table,
    _width,
)
from evalpipe.notification.run_item import _mapping

MAX_CATEGORY_ROWS = 30


def _categories_table(
    categories: Mapping,
    metric_names: list[str],
    *,
    title_text: str = "Average score by category",
    label: str = "Category",
) -> list[str]:
    """Category averages (or per-dataset averages, with ``title_text`` / ``label``); categories as
    rows, or transposed / split when the table gets wide."""
    names = sorted(categories, key=str)
    hidden = max(len(names) - MAX_CATEGORY_ROWS, 0)
    names = names[:MAX_CATEGORY_ROWS]
    metric_names = metric_names or sorted({m for c in names for m in _mapping(categories[c])})
    headers = _short_metric_names(metric_names)
    labels = [_one_line(str(name), CATEGORY_LABEL_CHARS) or "(none)" for name in names]

    def cell(category: object, metric: str) -> str:
        values = _mapping(categories[category])
        return _fmt_score(values[metric], 3) if metric in values else "-"

    by_category = [
        [label] + [cell(c, m) for m in metric_names] for c, label in zip(names, labels, strict=True)
    ]
    title = [title_text]
    notes = []
    if headers != metric_names:
        notes.append(f"  (metric names shown without the {BUILTIN_PREFIX} prefix)")
    if hidden:
        notes.append(f"  ... and {_plural(hidden, 'more category', 'more categories')}")

    wide = _table([label, *headers], by_category, "l" + "r" * len(headers))
    if _width(wide) <= TABLE_MAX_WIDTH:
        return title + wide + notes
    # Few categories, many metrics: metrics as rows reads better than a split table.
    by_metric = [[h] + [row[i + 1] for row in by_category] for i, h in enumerate(headers)]
    transposed = _table(["Metric", *labels], by_metric, "l" + "r" * len(labels))
    if _width(transposed) <= TABLE_MAX_WIDTH:
        return title + transposed + notes
    # Still too wide both ways: split the metric columns into blocks that fit.
    lines = list(title)
    for chunk_headers, chunk_rows in _column_chunks(by_category, [label, *headers]):
        if len(lines) > 1:
            lines.append("")
        lines.extend(_table(chunk_headers, chunk_rows, "l" + "r" * (len(chunk_headers) - 1)))
    return lines + notes


def _column_chunks(rows: list[list[str]], headers: list[str]) -> Iterable[tuple[list[str], list[list[str]]]]:
    """Split columns 1.. into groups whose table fits TABLE_MAX_WIDTH, repeating column 0."""
    first = max(len(headers[0]), *(len(r[0]) for r in rows)) if rows else len(headers[0])
    group: list[int] = []
    used = 2 + first
    for i in range(1, len(headers)):
        col = max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
        if group and used + 2 + col > TABLE_MAX_WIDTH:
            yield [headers[0]] + [headers[j] for j in group], [[r[0]] + [r[j] for j in group] for r in rows]
            group, used = [], 2 + first
        group.append(i)
        used += 2 + col
    if group:
        yield [headers[0]] + [headers[j] for j in group], [[r[0]] + [r[j] for j in group] for r in rows]
