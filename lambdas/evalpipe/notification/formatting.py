"""How numbers and rules read in the message: scores and deltas to fixed decimals (``N/A``, or
``-`` when there is nothing to show), N/A rates as percentages, low-score rules as ``< 0.5`` or
``>= 1``, and counted nouns (``3 records``).
"""

from __future__ import annotations

from collections.abc import Mapping

from evalpipe.notification.layout import _one_line
from evalpipe.notification.run_item import _num, _text


def _fmt_score(value: object, decimals: int) -> str:
    number = _num(value)
    return "N/A" if number is None else f"{number:.{decimals}f}"


def _fmt_delta(value: object, decimals: int) -> str:
    """Signed (``+0.050``, ``-0.150``), ``0.000`` unchanged, ``-`` when there is nothing to subtract."""
    number = _num(value)
    if number is None:
        return "-"
    text = f"{number:+.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text  # no "+0.000" / "-0.000"


def _fmt_rate(rate: object, scored: int, na: int) -> str:
    """`na_rate` is a fraction of the records (0..1); fall back to na / (scored + na)."""
    fraction = _num(rate)
    if fraction is None:
        fraction = na / (scored + na) if scored + na else None
    return "N/A" if fraction is None else f"{fraction * 100:.1f}%"


def _fmt_rule(rule: object) -> str:
    """`{"below": 0.5}` -> `< 0.5`, `{"atOrAbove": 1}` -> `>= 1`; strings pass through."""
    if isinstance(rule, Mapping):
        for key, op in (("below", "<"), ("atOrBelow", "<="), ("above", ">"), ("atOrAbove", ">=")):
            if rule.get(key) is not None:
                return f"{op} {_fmt_plain(rule[key])}"
        return ", ".join(f"{k} {_fmt_plain(v)}" for k, v in rule.items())
    return _one_line(_text(rule), 30) or "-"


def _fmt_plain(value: object) -> str:
    number = _num(value)
    if number is None:
        return _text(value)
    return f"{number:g}"


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
