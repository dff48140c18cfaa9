"""Fixtures of the collect tests: scenarios, a scripted in-memory target, and record files.

- `scenario(**fields)`: a valid `Scenario` (id ``s1``, category ``orders``, one turn).
- `ScriptedTarget`: answers from a function of the conversation; records every conversation it
  was asked; can block until released, or raise for chosen scenarios.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from evalpipe.collect import Conversation, Reply, Scenario

APP = "bookstore-assistant-v3"


def make_scenario(**fields: Any) -> Scenario:
    data: dict[str, Any] = {"id": "s1", "category": "orders", "turns": ["Where is my order?"]}
    data.update(fields)
    return Scenario.model_validate(data)


@pytest.fixture
def scenario() -> Callable[..., Scenario]:
    return make_scenario


def echo(conversation: Conversation) -> str:
    """``answer <n>: <last user text>`` (n = user turns so far)."""
    turns = sum(1 for m in conversation.messages if m.role == "user")
    return f"answer {turns}: {conversation.last_user_text}"


class ScriptedTarget:
    """A `Target` for tests: thread-safe, deterministic."""

    def __init__(
        self,
        answer: Callable[[Conversation], str] = echo,
        *,
        fail: dict[str, Exception] | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.answer = answer
        self.fail = fail or {}
        self.gate = gate
        self.asked: list[Conversation] = []
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def respond(self, conversation: Conversation) -> Reply:
        with self.lock:
            self.asked.append(conversation)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if self.gate is not None:
                assert self.gate.wait(5), "the test never released the target"
            if conversation.scenario_id in self.fail:
                raise self.fail[conversation.scenario_id]
            return Reply(self.answer(conversation), input_tokens=10, output_tokens=5, latency_ms=7)
        finally:
            with self.lock:
                self.active -= 1
