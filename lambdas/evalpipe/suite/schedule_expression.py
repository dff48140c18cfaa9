"""EventBridge Scheduler schedule expressions and time zones, checked before a schedule is created.

The scheduler accepts three forms (Scheduler user guide, "Schedule types"):

- ``rate(value unit)``: a positive whole ``value`` and ``minute(s)`` / ``hour(s)`` / ``day(s)``;
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields; exactly one of
  day-of-month and day-of-week is ``?``;
- ``at(yyyy-mm-ddThh:mm:ss)``: one run at that time, in the schedule's time zone.

Every check returns a sentence saying what is wrong and how it should look (``None`` when the
text is fine), so the suite model and the suite rules give the same message. Pure: no I/O except
the time zone database (``zoneinfo``; the functions ship the ``tzdata`` package, since the Lambda
runtime's operating system may carry none).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

RATE_UNITS = ("minute", "hour", "day")
_RATE = re.compile(r"^rate\((?P<value>[^ ()]+) (?P<unit>[a-z]+)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
_AT = re.compile(r"^at\((?P<when>[^()]*)\)$")
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
EXAMPLES = "'rate(7 days)', 'cron(0 6 ? * MON *)' or 'at(2026-12-31T23:00:00)'"


class _Field:
    """One cron field: its name, range, names (month / weekday) and the wildcards it allows."""

    def __init__(
        self, name: str, low: int, high: int, special: str = "", names: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.low = low
        self.high = high
        self.special = special  # which of ? L W # the field allows
        self.names = names

    def value(self, text: str) -> int | None:
        """``text`` as a number of this field (a name counts from ``low``), or None."""
        if text.isdigit():
            number = int(text)
            return number if self.low <= number <= self.high else None
        if text.upper() in self.names:
            return self.names.index(text.upper()) + self.low
        return None


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, special="?LW"),
    _Field("month", 1, 12, names=MONTHS),
    _Field("day-of-week", 1, 7, special="?L#", names=WEEKDAYS),
    _Field("year", 1970, 2199),
)


def check_expression(expression: object) -> str | None:
    """Why ``expression`` is not a schedule expression EventBridge Scheduler accepts, or None.

    Examples
    --------
    >>> check_expression("rate(7 days)") is None, check_expression("cron(0 6 ? * MON *)") is None
    (True, True)
    >>> check_expression("rate(1 days)")
    "rate(1 days): with the value 1 the unit is singular: 'rate(1 day)'"
    >>> check_expression("cron(0 6 * * MON *)")
    "cron(0 6 * * MON *): one of day-of-month ('*') and day-of-week ('MON') must be '?'"
    """
    if not isinstance(expression, str) or not expression:
        return f"must be a schedule expression such as {EXAMPLES}"
    text = expression.strip()
    if text != expression:
        return f"{expression!r}: remove the spaces around the expression"
    if match := _RATE.match(text):
        return _check_rate(text, match.group("value"), match.group("unit"))
    if match := _CRON.match(text):
        return _check_cron(text, match.group("fields"))
    if match := _AT.match(text):
        try:
            datetime.strptime(match.group("when"), _AT_FORMAT)
        except ValueError:
            return f"{text}: a one-time schedule is at(yyyy-mm-ddThh:mm:ss), e.g. 'at(2026-12-31T23:00:00)'"
        return None
    return f"{text!r} is not a schedule expression; use {EXAMPLES}"


def check_timezone(name: object) -> str | None:
    """Why ``name`` is not an IANA time zone (``UTC``, ``Europe/Paris``), or None.

    Examples
    --------
    >>> check_timezone("Europe/Paris") is None
    True
    >>> check_timezone("CEST")
    "'CEST' is not an IANA time zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
    """
    what = f"{name!r} is not an IANA time zone name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return what
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return what
    return None


def _check_rate(text: str, value: str, unit: str) -> str | None:
    if not value.isdigit() or int(value) < 1:
        return f"{text}: the value must be a whole number of at least 1, e.g. 'rate(7 days)'"
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        return f"{text}: the unit must be minute(s), hour(s) or day(s)"
    number = int(value)
    expected = singular if number == 1 else singular + "s"
    if unit != expected:
        grammar = "singular" if number == 1 else "plural"
        return f"{text}: with the value {number} the unit is {grammar}: 'rate({number} {expected})'"
    return None


def _check_cron(text: str, fields_text: str) -> str | None:
    fields = fields_text.split()
    if len(fields) != len(_FIELDS):
        return (
            f"{text}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week "
            f"year), found {len(fields)}; e.g. 'cron(0 6 ? * MON *)'"
        )
    for field, value in zip(_FIELDS, fields, strict=True):
        problem = _check_field(field, value)
        if problem:
            return f"{text}: {field.name} {value!r}: {problem}"
    day_of_month, day_of_week = fields[2], fields[4]
    if day_of_month == "?" and day_of_week == "?":
        return f"{text}: only one of day-of-month and day-of-week may be '?'"
    if day_of_month != "?" and day_of_week != "?":
        return f"{text}: one of day-of-month ({day_of_month!r}) and day-of-week ({day_of_week!r}) must be '?'"
    return None


def _check_field(field: _Field, text: str) -> str | None:
    if text == "?":
        return None if "?" in field.special else "'?' is only allowed in day-of-month and day-of-week"
    for item in text.split(","):
        problem = _check_item(field, item)
        if problem:
            return problem
    return None


def _check_item(field: _Field, item: str) -> str | None:
    if not item:
        return "an empty list entry"
    allowed = f"{field.low}-{field.high}" + (f" or {field.names[0]}-{field.names[-1]}" if field.names else "")
    check = _special_form(field, item) or _check_values
    return check(field, item, allowed)


def _special_form(field: _Field, item: str) -> Callable[[_Field, str, str], str | None] | None:
    """The check of an item written with L, W or # that ``field`` allows, or None for plain values.

    The order matters: ``LW`` also ends with W.
    """
    upper = item.upper()
    if "L" in field.special and upper in ("L", "LW"):
        return _check_last
    if "W" in field.special and upper.endswith("W"):
        return _check_nearest_weekday
    if "L" in field.special and upper.endswith("L") and field.name == "day-of-week":
        return _check_last_weekday
    if "#" in item:
        return _check_nth_weekday
    return None


def _check_last(field: _Field, item: str, allowed: str) -> str | None:
    """``L`` (the last day) or ``LW`` (the month's last weekday, day-of-month only)."""
    if item.upper() == "LW" and "W" not in field.special:
        return "'LW' is only allowed in day-of-month"
    return None


def _check_nearest_weekday(field: _Field, item: str, allowed: str) -> str | None:
    """``nW``: the weekday nearest to day n."""
    return None if field.value(item[:-1]) is not None else f"'nW' needs a day {allowed}"


def _check_last_weekday(field: _Field, item: str, allowed: str) -> str | None:
    """``nL``: the month's last weekday n."""
    return None if field.value(item[:-1]) is not None else f"'nL' needs a weekday {allowed}"


def _check_nth_weekday(field: _Field, item: str, allowed: str) -> str | None:
    """``day#n``: the month's n-th weekday ``day``."""
    if "#" not in field.special:
        return "'#' is only allowed in day-of-week"
    day, _, nth = item.partition("#")
    if field.value(day) is None or not nth.isdigit() or not 1 <= int(nth) <= 5:
        return f"'day#n' needs a weekday {allowed} and n from 1 to 5, e.g. 'MON#1'"
    return None


def _check_values(field: _Field, item: str, allowed: str) -> str | None:
    """A value, a range ``a-b`` or ``*``, each with an optional increment ``/n``."""
    base, slash, step = item.partition("/")
    if slash and (not step.isdigit() or int(step) < 1):
        return "the increment after '/' must be a whole number of at least 1"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    if field.value(start) is None or (dash and field.value(end) is None):
        return f"values must be {allowed}, '*'" + (", '?'" if "?" in field.special else "")
    return None
