"""Fixtures of the validation tests (inputs live in builders.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.validation.builders import make_suite


@pytest.fixture
def suite() -> dict[str, Any]:
    """A fresh valid suite the test may modify."""
    return make_suite()
