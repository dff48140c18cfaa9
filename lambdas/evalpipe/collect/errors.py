"""What goes wrong while collecting, and how pydantic's findings in an input file read.

A bad input file (scenarios, target) is an :class:`InputError` before anything is called. A
scenario whose call fails for good raises one of the others (or a botocore / urllib3 error) in
its worker; the collector reports it with the scenario's id and goes on with the rest.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "CollectError",
    "InputError",
    "MissingToolResult",
    "TargetFailed",
    "ToolRoundsExceeded",
    "describe_validation_error",
]

# The labels pydantic puts in an error's location for the member of a plain union it tried.
# (and the tags of the header sources' union, evalpipe.collect.targets.HeaderSource).
_UNION_BRANCH = re.compile(
    r"^(str|int|float|bool|none|dict\[.*\]|list\[.*\]|function-\w+\[.*\]|HeaderFrom\w+)$"
)


class InputError(ValueError):
    """A scenarios file or target configuration that cannot be used.

    Parameters
    ----------
    source : str
        The file (or command-line value) as the user named it.
    problems : list[str]
        One ``"<json path>: <what is wrong>"`` entry per problem; with ``whole_file``, what is
        wrong with the file as a whole (not JSON, not UTF-8), at ``line`` when known.
    """

    def __init__(
        self, source: str, problems: list[str], *, whole_file: bool = False, line: int | None = None
    ) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems
        self.whole_file = whole_file
        self.line = line


class CollectError(Exception):
    """A scenario that cannot be collected (the message says why, without secrets)."""


class TargetFailed(CollectError):
    """The app answered with an error (HTTP status, Lambda function error, unreadable body)."""


class MissingToolResult(CollectError):
    """The model called a tool the scenario has no canned result for."""

    def __init__(self, tool: str, available: list[str]) -> None:
        have = f"it has results for {', '.join(sorted(available))}" if available else "it has none"
        super().__init__(f"the model called tool {tool!r}, which the scenario's toolResults lacks ({have})")
        self.tool = tool


class ToolRoundsExceeded(CollectError):
    """The model still asked for tools after the target's ``maxToolRounds`` Converse calls."""


def describe_validation_error(error: ValidationError) -> list[str]:
    """pydantic's error details as ``"<json path>: <message>"`` lines, paths as in the file."""
    problems = []
    for detail in error.errors():
        path = ""
        for part in detail["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part == "[key]":
                path += " (the key)"
            elif not _UNION_BRANCH.match(str(part)):
                path += f".{part}" if path else str(part)
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against docs/collect.md)"
        problems.append(f"{path or '(document)'}: {message}")
    return problems
