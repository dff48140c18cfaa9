"""Strict JSON parsing: what Python's ``json`` tolerates but a strict reader (Bedrock's) may not.

``json.loads`` accepts ``NaN``/``Infinity`` and silently keeps the last of duplicated keys;
it raises RecursionError on deep nesting and ValueError on huge integers. Here every one of
those becomes a message, so validation never raises and never passes a file the service reads
differently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from evalpipe.suite.facts import index_path, key_path

# json.loads turns "\ud800" into a lone surrogate: not Unicode text, and unencodable on the way
# to the service. Only text that holds such an escape is walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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
    lone_surrogate_at : str or None
        The JSON path of a string holding an escaped lone surrogate (``""``: the value itself);
        the value is parsed, but it is not Unicode text and the service cannot read it.
    line : int or None
        The 1-based line of a syntax error.
    """

    value: object = None
    error: str | None = None
    duplicate_keys: tuple[str, ...] = ()
    lone_surrogate_at: str | None = None
    line: int | None = None


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
        return ParseResult(error=f"{exc.msg} at {where}", line=exc.lineno)
    except _NotStrictJson as exc:
        return ParseResult(error=str(exc))
    except RecursionError:
        return ParseResult(error="nested too deeply to read")
    except ValueError as exc:  # integers beyond Python's digit limit
        return ParseResult(error=f"unreadable number ({exc})")
    surrogate = lone_surrogate_path(value) if _SURROGATE_ESCAPE.search(text) else None
    return ParseResult(value=value, duplicate_keys=tuple(duplicates), lone_surrogate_at=surrogate)


# How every reader of a file reports `ParseResult.lone_surrogate_at` (field = the path).
LONE_SURROGATE = (
    "holds an escaped lone surrogate (a \\ud800-\\udfff escape without its pair): that is not "
    "Unicode text and the service cannot read it; write the character itself or a complete pair"
)


def lone_surrogate_path(value: object) -> str | None:
    """The JSON path of the first string (value or key) holding a lone surrogate, or None.

    Walks without recursion, so a deeply nested value cannot raise.

    Examples
    --------
    >>> lone_surrogate_path({"a": ["ok", "\ud800"]}), lone_surrogate_path({"a": "\U0001f600"})
    ('a[1]', None)
    """
    stack: list[tuple[object, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                return path
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                child_path = key_path(path, str(key))
                if isinstance(key, str) and _has_lone_surrogate(key):
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, index_path(path, i)) for i, child in reversed(list(enumerate(item))))
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
