"""Tolerant readers of the run item a notification renders: the item comes from DynamoDB and may
lack attributes or carry `Decimal` numbers, so these coerce values (`_num`, `_int`, `_text`,
`_mapping`, `_sequence`), count the flagged scores and the problems, find the run request, the
bucket and the job type, and rebuild the stored comparison with the baseline (`comparison_of`).
Every section of the message reads the item through them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalpipe.history.compare import Comparison


def comparison_of(run: Mapping) -> Comparison | None:
    """The run's stored comparison with its baseline (``comparison`` attribute), or None.

    Parameters
    ----------
    run : Mapping
        The run item; the attribute is `Comparison.as_item()` as the parse step stored it.
    """
    item = run.get("comparison")
    if not isinstance(item, Mapping):
        return None
    # Imported here: evalpipe.history.report imports this package (derive_verdict).
    from evalpipe.history.compare import Comparison  # noqa: PLC0415

    return Comparison.from_item(item)


def _is_human(run: Mapping) -> bool:
    """A human evaluation job (the submit step records ``job_type``)."""
    return _text(run.get("job_type")) == "Human"


def _request(run: Mapping) -> Mapping:
    """The run request of a run no dataset drop started (``request``), else empty."""
    return _mapping(run.get("request"))


def _bucket(run: Mapping) -> str:
    """The product bucket: the dropped dataset's, else the one a run request recorded."""
    return _text(_mapping(run.get("dataset")).get("bucket")) or _text(_request(run).get("bucket"))


def _low_count(run: Mapping) -> int:
    if run.get("low_count") is not None:
        return _int(run.get("low_count"))
    by_metric = sum(_int(_mapping(m).get("low_count")) for m in _mapping(run.get("metrics")).values())
    return by_metric or len(_sequence(run.get("low_records")))


def _problem_count(run: Mapping) -> int:
    if run.get("problem_count") is not None:
        return _int(run.get("problem_count"))
    return len(_sequence(run.get("problems")))


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: object, default: int = 0) -> int:
    number = _num(value)
    return default if number is None else int(number)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence:
    return value if isinstance(value, list | tuple) else []
