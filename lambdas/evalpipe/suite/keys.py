"""Names and key patterns the suite models share: the ``Builtin.`` prefix of built-in metric names,
the pattern a metric name must match where it is a key of a ``pipeline`` map, and the key check the
models' validators apply. Kept apart so that the low-score, regression and pipeline modules do not
import one another for them.
"""

from __future__ import annotations

import re
from typing import Any

BUILTIN_PREFIX = "Builtin."

METRIC_NAME_PATTERN = r"^[0-9a-zA-Z._-]{1,63}$"


def _check_keys(mapping: dict[str, Any], pattern: str, what: str) -> None:
    bad = [key for key in mapping if not re.fullmatch(pattern, key)]
    if bad:
        raise ValueError(f"{what}s {bad} must match {pattern}")
