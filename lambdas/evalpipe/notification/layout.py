"""Plain-text layout for an e-mail client: fixed-width tables with two-space gutters, wrapped
bullets, stored text cleaned onto one line (control characters collapsed; ASCII folding for the
SNS subject), and the widths and excerpt lengths every section keeps to.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence

TABLE_MAX_WIDTH = 100
WRAP_WIDTH = 100
PROMPT_EXCERPT_CHARS = 80

CATEGORY_LABEL_CHARS = 40

BUILTIN_PREFIX = "Builtin."


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Fixed-width table, two-space indent and gutters, dashed rule under the header."""
    widths = [
        max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _width(lines: Iterable[str]) -> int:
    return max((len(line) for line in lines), default=0)


def _short_metric_names(names: list[str]) -> list[str]:
    """Drop `Builtin.` in narrow columns, unless that would make two headers equal."""
    short = [n.removeprefix(BUILTIN_PREFIX) for n in names]
    return short if len(set(short)) == len(short) else list(names)


def _bullet(text: str, marker: str = "- ") -> list[str]:
    first = "  " + marker
    return textwrap.wrap(
        text,
        width=WRAP_WIDTH,
        initial_indent=first,
        subsequent_indent=" " * (len(first) + 2 if not marker else len(first)),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str, limit: int) -> str:
    """Whitespace and control characters collapsed to single spaces, cut at `limit` with '...'."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: max(limit - 3, 1)].rstrip() + "..."


def _ascii_one_line(text: str) -> str:
    """ASCII for the SNS subject: accents folded (é -> e), other characters become '?'."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    ascii_text = "".join(c if c.isascii() else "?" for c in folded)
    ascii_text = re.sub(r"\?{2,}", "?", ascii_text)
    return " ".join(_CONTROL.sub(" ", ascii_text).split())
