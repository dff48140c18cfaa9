"""Amazon Bedrock evaluation jobs, emulated on top of moto (which does not implement them).

Use it in-process::

    from moto import mock_aws
    from local import bedrock_emulator

    bedrock_emulator.install()          # once, before mock_aws() / ThreadedMotoServer.start()
    with mock_aws():
        bedrock_emulator.controls.set_delays(job_seconds=0)
        ...                             # boto3 "bedrock" clients now create/get/list/stop/delete jobs

or as a server: ``python -m local.bedrock_emulator -p 5000`` (moto's server plus the emulator).
See docs/local-bedrock-emulator.md for the behaviour, the controls and the judges.

Modules
-------
backend      job state, lazy progress, test controls (``controls``)
service      request validation from botocore's model, REST routing, responses
outputs      running a job: datasets from S3, scoring, the results layout in S3
knowledge_bases  registered knowledge bases: documents, passages, lexical retrieval, filters
live_rag     live knowledge-base RAG jobs: retrieval, extractive answers, per-turn scoring
judges       offline (default), Converse and OpenAI-compatible judges
runtime      bedrock-runtime Converse stand-in (collect targets, preview's judge): deterministic
             answers, tool calls, throttling and 5xx controls
moto_routes  the only module touching moto internals (``install``, ``backend_for``, ``reset``)
"""

from local.bedrock_emulator.backend import EmulatorControls, EvaluationJob, EvaluationJobBackend, controls
from local.bedrock_emulator.moto_routes import (
    backend_for,
    install,
    is_installed,
    knowledge_bases_for,
    reset,
    verify_routes,
)

__all__ = [
    "EmulatorControls",
    "EvaluationJob",
    "EvaluationJobBackend",
    "backend_for",
    "controls",
    "install",
    "is_installed",
    "knowledge_bases_for",
    "reset",
    "verify_routes",
]
