"""A judge that asks any OpenAI-compatible server (``POST {base_url}/chat/completions``).

Works with local servers (llama.cpp, Ollama, vLLM, LM Studio) as well as hosted ones. The
prompt and the parsing are the Converse judge's (:func:`render_prompt`, :func:`parse_answer`);
the request is ``{"model", "messages": [{"role": "user", "content": prompt}], "temperature": 0}``
sent with :mod:`urllib` (no extra dependency), with ``Authorization: Bearer <api_key>`` when a
key is configured. ``evaluatorDetails[].modelIdentifier`` is ``openai-compatible/<model>``.

Environment (read by :func:`local.bedrock_emulator.judges.judge_from_env`):
``EVALPIPE_OPENAI_BASE_URL`` (e.g. ``http://127.0.0.1:8080/v1``), ``EVALPIPE_OPENAI_MODEL``,
optional ``EVALPIPE_OPENAI_API_KEY`` and ``EVALPIPE_JUDGE_TIMEOUT`` (seconds, default 60).
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

from local.bedrock_emulator.judges.base import MetricSpec, parse_answer, render_prompt

if TYPE_CHECKING:
    from collections.abc import Mapping


class OpenAICompatibleJudge:
    """Score through an OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    base_url : str
        The API root, without the trailing ``/chat/completions``.
    model : str
        The model name the server knows.
    api_key : str, optional
        Sent as a bearer token.
    timeout : float
        Seconds per request.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"EVALPIPE_OPENAI_BASE_URL must be an http(s) URL, got {base_url!r}")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._api_key = api_key
        self._timeout = timeout

    def evaluator_identifier(self, metric: MetricSpec) -> str:
        return f"openai-compatible/{self._model}"

    def score(self, metric: MetricSpec, record: Mapping[str, Any]) -> tuple[float | None, str]:
        body = {
            "model": self._model,
            "messages": [{"role": "user", "content": render_prompt(metric, record)}],
            "temperature": 0,
        }
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self._url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
        text = answer["choices"][0]["message"]["content"] or ""
        return parse_answer(metric, text)
