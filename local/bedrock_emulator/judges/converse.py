"""A judge that asks a real model through the Bedrock Runtime ``Converse`` API.

For each record and metric it sends one user message, :func:`render_prompt` (the built-in
rubric or the custom metric's instructions with ``{{prompt}}`` / ``{{prediction}}`` /
``{{ground_truth}}`` substituted, then the rating list), with temperature 0, and reads the
answer with :func:`parse_answer` (rating label -> value; a ``floatValue`` of -1 -> N/A).

The model is ``EVALPIPE_JUDGE_MODEL`` when set, else the evaluator model the job names; the
``evaluatorDetails[].modelIdentifier`` is the model actually called. This reaches AWS (and
bills the account of the credentials in use): it is for a developer who wants real judgements
behind the local pipeline, never for the offline tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from local.bedrock_emulator.judges.base import MetricSpec, parse_answer, render_prompt

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

MAX_TOKENS = 1024


class ConverseJudge:
    """Score with ``bedrock-runtime`` ``Converse``.

    Parameters
    ----------
    client : botocore client, optional
        A ``bedrock-runtime`` client (tests pass one wrapped in a botocore ``Stubber``).
    client_factory : callable, optional
        Builds the client on first use when ``client`` is not given.
    model_id : str, optional
        Overrides the job's evaluator model (``EVALPIPE_JUDGE_MODEL``).
    """

    def __init__(
        self,
        client: Any | None = None,
        client_factory: Callable[[], Any] | None = None,
        model_id: str | None = None,
    ) -> None:
        if client is None and client_factory is None:
            raise ValueError("ConverseJudge needs a client or a client_factory")
        self._client = client
        self._client_factory = client_factory
        self._model_id = model_id

    def evaluator_identifier(self, metric: MetricSpec) -> str:
        return self._model_id or metric.evaluator_model

    def score(self, metric: MetricSpec, record: Mapping[str, Any]) -> tuple[float | None, str]:
        if self._client is None:
            assert self._client_factory is not None  # checked in __init__
            self._client = self._client_factory()
        response = self._client.converse(
            modelId=self.evaluator_identifier(metric),
            messages=[{"role": "user", "content": [{"text": render_prompt(metric, record)}]}],
            inferenceConfig={"maxTokens": MAX_TOKENS, "temperature": 0.0},
        )
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in blocks)
        return parse_answer(metric, text)
