"""Judges of the emulated evaluation jobs, chosen per job run by ``EVALPIPE_JUDGE``.

============  ==============================================================================
``offline``   default: :class:`OfflineJudge`, deterministic heuristics, no network
``converse``  :class:`ConverseJudge`, Bedrock Runtime Converse (``EVALPIPE_JUDGE_MODEL``
              overrides the job's evaluator model)
``openai``    :class:`OpenAICompatibleJudge` (``EVALPIPE_OPENAI_BASE_URL``,
              ``EVALPIPE_OPENAI_MODEL``, optional ``EVALPIPE_OPENAI_API_KEY``)
============  ==============================================================================
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3

from local.bedrock_emulator.judges.base import Judge, MetricSpec, Rating
from local.bedrock_emulator.judges.converse import ConverseJudge
from local.bedrock_emulator.judges.offline import OFFLINE_JUDGE_ID, OfflineJudge
from local.bedrock_emulator.judges.openai_compat import OpenAICompatibleJudge

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "OFFLINE_JUDGE_ID",
    "ConverseJudge",
    "Judge",
    "MetricSpec",
    "OfflineJudge",
    "OpenAICompatibleJudge",
    "Rating",
    "judge_from_env",
]


def judge_from_env(region: str, environ: Mapping[str, str] | None = None) -> Judge:
    """The judge ``EVALPIPE_JUDGE`` selects (read when a job runs, not at import).

    Parameters
    ----------
    region : str
        The job's region (the Converse judge calls Bedrock Runtime there).
    environ : mapping, optional
        Defaults to ``os.environ``.

    Raises
    ------
    ValueError
        An unknown judge name or a missing setting; the job then fails with this message.
    """
    env = os.environ if environ is None else environ
    name = env.get("EVALPIPE_JUDGE", "offline").strip().lower() or "offline"
    if name == "offline":
        return OfflineJudge()
    if name == "converse":

        def client_factory():  # built lazily: only a job that really runs needs AWS
            return boto3.client("bedrock-runtime", region_name=region)

        return ConverseJudge(client_factory=client_factory, model_id=env.get("EVALPIPE_JUDGE_MODEL") or None)
    if name == "openai":
        base_url, model = env.get("EVALPIPE_OPENAI_BASE_URL"), env.get("EVALPIPE_OPENAI_MODEL")
        if not base_url or not model:
            raise ValueError("EVALPIPE_JUDGE=openai needs EVALPIPE_OPENAI_BASE_URL and EVALPIPE_OPENAI_MODEL")
        return OpenAICompatibleJudge(
            base_url,
            model,
            api_key=env.get("EVALPIPE_OPENAI_API_KEY") or None,
            timeout=float(env.get("EVALPIPE_JUDGE_TIMEOUT", "60")),
        )
    raise ValueError(f"EVALPIPE_JUDGE must be offline, converse or openai, not {name!r}")
