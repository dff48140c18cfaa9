"""Fixtures of the preview's unit tests: the domain runs on in-memory fakes, with sockets blocked.

- `no_network` (autouse): any socket connection fails the test, so nothing reaches AWS.
- `scale`: the example suite's confirmation scale (N/A -1, Poor 0, Good 1).
(The Converse fake is `tests.unit.preview.fakes.FakeConverse`.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from evalpipe.preview import Rating


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a unit test of the preview tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


@pytest.fixture
def scale() -> tuple[Rating, ...]:
    return (Rating("N/A", -1.0), Rating("Poor", 0.0), Rating("Good", 1.0))
