"""Small text helpers for the excerpts a run stores: `excerpt` (one line, cut with an ellipsis) and
`truncate`. The aggregation and the runs table (prompt, response and explanation excerpts) share
them.
"""

from __future__ import annotations

ELLIPSIS = "…"


def excerpt(text: str | None, limit: int) -> str:
    """`text` on one line (whitespace runs collapsed), cut to `limit` characters with an ellipsis."""
    return truncate(" ".join((text or "").split()), limit)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1] + ELLIPSIS
