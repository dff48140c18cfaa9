"""How a suite document without the suite file's shape is reported: `SuiteError`, carrying one
``"<path>: <what is wrong>"`` entry per problem, and the translation of pydantic's error details
into those entries (with a pointed message for the request members the pipeline fills in itself).
"""

from __future__ import annotations

from typing import Any

# Request members the pipeline fills in: a suite that carries them gets a pointed message.
_PIPELINE_OWNED = {
    "jobName": "is derived from the dataset object by the pipeline; remove it",
    "clientRequestToken": "is derived from the dataset object by the pipeline; remove it",
    "roleArn": "comes from the deployment (the Bedrock service role); remove it",
    "customerEncryptionKeyId": "comes from the deployment (KMS_KEY_ARN); remove it",
    "outputDataConfig": "is set by the pipeline to results/<suite>/<run_id>/; remove it",
    "jobDescription": "use pipeline.description instead",
    "jobTags": "use pipeline.jobTags (a map of key to value) instead",
}


class SuiteError(ValueError):
    """A suite document that does not have the suite file's shape.

    Parameters
    ----------
    message
        One readable sentence naming the suite and every problem.
    problems
        One entry per problem, each ``"<path>: <what is wrong>"``.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [message])


def _describe_error(detail: Any) -> str:
    location = detail["loc"]
    message = str(detail["msg"]).removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        key = str(location[-1])
        hint = _PIPELINE_OWNED.get(key) if len(location) == 1 else None
        message = hint or "unknown key (check the spelling against docs/suite-file.md)"
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (key)"
        else:
            path += f".{part}" if path else str(part)
    return f"{path or '(document)'}: {message}"
