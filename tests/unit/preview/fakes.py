"""In-memory fakes of the preview's port."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class FakeConverse:
    """Answers ``answer(prompt_text)`` with fixed usage; thread-safe; records every request."""

    def __init__(self, answer: Callable[[str], str], usage: tuple[int, int] = (100, 20)) -> None:
        self.answer = answer
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def converse(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.requests.append(request)
        text = self.answer(request["messages"][0]["content"][0]["text"])
        inputs, outputs = self.usage
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs},
            "metrics": {"latencyMs": 5},
        }
