"""Plain text for an e-mail client: the widths every block keeps to, fixed-width tables with
two-space gutters, wrapped bullets, stored text cleaned onto one line (control characters
collapsed; ASCII folding for the SNS subject), and how numbers and rules read (scores and deltas
to fixed decimals, ``N/A`` or ``-`` when there is nothing to show, N/A rates as percentages,
counted nouns).
"""

from __future__ import annotations

import math
import re
import textwrap
import unicodedata
from typing import TYPE_CHECKING

from evalpipe.suite.metrics import BUILTIN_PREFIX

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

TABLE_MAX_WIDTH = 100
WRAP_WIDTH = 100
PROMPT_EXCERPT_CHARS = 80
CATEGORY_LABEL_CHARS = 40

# -- layout -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Fixed-width table, two-space indent and gutters, dashed rule under the header.

    ``align`` has one letter per column: ``r`` right-aligns it, anything else left-aligns it.
    """
    widths = [
        max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def width(lines: Iterable[str]) -> int:
    """The widest of ``lines`` (0 for none)."""
    return max((len(line) for line in lines), default=0)


def short_metric_names(names: list[str]) -> list[str]:
    """Drop `Builtin.` in narrow columns, unless that would make two headers equal."""
    short = [n.removeprefix(BUILTIN_PREFIX) for n in names]
    return short if len(set(short)) == len(short) else list(names)


def bullet(text: str, marker: str = "- ") -> list[str]:
    """``text`` wrapped to `WRAP_WIDTH` behind a two-space indent and ``marker``."""
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


def one_line(text: str | None, limit: int) -> str:
    """Whitespace and control characters collapsed to single spaces, cut at `limit` with '...'."""
    flat = " ".join(_CONTROL.sub(" ", text or "").split())
    return flat if len(flat) <= limit else flat[: max(limit - 3, 1)].rstrip() + "..."


def ascii_one_line(text: str) -> str:
    """ASCII for the SNS subject: accents folded (é -> e), other characters become '?'."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    ascii_text = "".join(c if c.isascii() else "?" for c in folded)
    ascii_text = re.sub(r"\?{2,}", "?", ascii_text)
    return " ".join(_CONTROL.sub(" ", ascii_text).split())


# -- numbers and rules --------------------------------------------------------------------------


def fmt_score(value: float | None, decimals: int) -> str:
    """``0.750`` to ``decimals`` places; ``N/A`` for a missing (or non-finite) score, never 0."""
    return "N/A" if value is None or not math.isfinite(value) else f"{value:.{decimals}f}"


def fmt_delta(value: float | None, decimals: int) -> str:
    """Signed (``+0.050``, ``-0.150``), ``0.000`` unchanged, ``-`` when there is nothing to subtract."""
    if value is None or not math.isfinite(value):
        return "-"
    text = f"{value:+.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text  # no "+0.000" / "-0.000"


def fmt_rate(rate: float | None) -> str:
    """An N/A rate, a fraction of the records (0..1), as a percentage: ``77.8%``."""
    return "N/A" if rate is None or not math.isfinite(rate) else f"{rate * 100:.1f}%"


def fmt_rule(rule: str | None) -> str:
    """A low-score rule as stored (``< 0.5``, ``> 20``) on one short line; ``-`` for none."""
    return one_line(rule, 30) or "-"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 record``, ``3 records`` (``plural_form`` for irregular nouns)."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"
