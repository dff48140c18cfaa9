"""Strict JSON parsing: what Python's ``json`` tolerates but a strict reader (Bedrock's) may not.

``json.loads`` accepts ``NaN``/``Infinity`` and silently keeps the last of duplicated keys;
it raises RecursionError on deep nesting and ValueError on huge integers. Here every one of
those becomes a message, so validation never raises and never passes a file the service reads
differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ParseResult:
    """The parsed value, or why the text is not strict JSON.

    Attributes
    ----------
    value : object
        The parsed value (``None`` when ``error`` is set).
    error : str or None
        What is wrong, with the column when known.
    duplicate_keys : tuple[str, ...]
        Keys that occur twice in one object (the value is still parsed).
    """

    value: object = None
    error: str | None = None
    duplicate_keys: tuple[str, ...] = ()


class _NotStrictJson(ValueError):
    pass


def parse_strict(text: str) -> ParseResult:
    """Parse one JSON document strictly.

    Parameters
    ----------
    text : str
        Decoded text.

    Returns
    -------
    ParseResult
        Never raises.
    """
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result and key not in duplicates:
                duplicates.append(key)
            result[key] = value
        return result

    def reject_constant(name: str) -> object:
        raise _NotStrictJson(f"{name} is not a JSON value (write a number or a string)")

    if text.startswith("\ufeff"):
        return ParseResult(error="starts with a byte-order mark (BOM): save the file as UTF-8 without BOM")
    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if "\n" in text else f"column {exc.colno}"
        return ParseResult(error=f"{exc.msg} at {where}")
    except _NotStrictJson as exc:
        return ParseResult(error=str(exc))
    except RecursionError:
        return ParseResult(error="nested too deeply to read")
    except ValueError as exc:  # integers beyond Python's digit limit
        return ParseResult(error=f"unreadable number ({exc})")
    return ParseResult(value=value, duplicate_keys=tuple(duplicates))
