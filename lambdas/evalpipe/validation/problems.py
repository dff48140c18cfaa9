"""What validation reports: problems (one finding each) and a capped, exactly counted report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from evalpipe.suite.facts import index_path, key_path, path_of

__all__ = ["Problem", "Report", "Severity", "index_path", "json_type", "key_path", "path_of", "show"]


class Severity(StrEnum):
    """An error stops the run; a warning is reported and the run goes on."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding in a suite or dataset file.

    Attributes
    ----------
    severity : Severity
    file : str
        The file as the user knows it (an S3 key or a local path).
    message : str
        What is wrong and what to do about it.
    line : int or None
        1-based line number (datasets only).
    field : str or None
        JSON path of the offending value, e.g. ``modelResponses[0].modelIdentifier``.
    """

    severity: Severity
    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def render(self) -> str:
        """One line in compiler style.

        Returns
        -------
        str
            ``FILE:LINE: FIELD: error: message`` for dataset lines,
            ``FILE: json.path: error: message`` for suite values and
            ``FILE: error: message`` for the file as a whole.
        """
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [location, self.field, str(self.severity), self.message]
        return ": ".join(part for part in parts if part)

    def as_dict(self) -> dict:
        """Plain JSON-ready mapping (every key present, ``None`` where absent).

        Returns
        -------
        dict
            Keys ``severity``, ``file``, ``line``, ``field``, ``message``.
        """
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


class Report:
    """Problems of one validation: the first ``max_listed`` are kept, all are counted.

    Keeping only the first few bounds memory on a million-line dataset while the counts stay
    exact, so a summary never understates how much is wrong.

    Parameters
    ----------
    max_listed : int, default 50
        How many problems to keep.

    Examples
    --------
    >>> report = Report(max_listed=1)
    >>> report.add(Problem(Severity.ERROR, "d.jsonl", "not valid JSON", line=3))
    >>> report.add(Problem(Severity.WARNING, "d.jsonl", "blank line", line=4))
    >>> report.summary_line(), report.ok, report.listed_all
    ('1 error, 1 warning (first 1 listed)', False, False)
    """

    def __init__(self, max_listed: int = 50) -> None:
        self.max_listed = max(0, max_listed)
        self.problems: list[Problem] = []
        self.error_count = 0
        self.warning_count = 0

    def add(self, problem: Problem) -> None:
        """Count ``problem`` and keep it if fewer than ``max_listed`` are kept."""
        if problem.severity is Severity.ERROR:
            self.error_count += 1
        else:
            self.warning_count += 1
        if len(self.problems) < self.max_listed:
            self.problems.append(problem)

    def extend(self, other: Report) -> None:
        """Add another report's kept problems and its exact counts (unlisted ones included)."""
        for problem in other.problems:
            self.add(problem)
        listed_errors = sum(1 for p in other.problems if p.severity is Severity.ERROR)
        self.error_count += other.error_count - listed_errors
        self.warning_count += other.warning_count - (len(other.problems) - listed_errors)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.error_count == 0

    @property
    def listed_all(self) -> bool:
        """True when every counted problem is in ``problems``."""
        return len(self.problems) == self.error_count + self.warning_count

    def errors(self) -> list[Problem]:
        """The kept errors."""
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def warnings(self) -> list[Problem]:
        """The kept warnings."""
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def summary_line(self) -> str:
        """Counts in words, e.g. ``2 errors, 1 warning``, noting when not all are listed."""
        text = f"{_plural(self.error_count, 'error')}, {_plural(self.warning_count, 'warning')}"
        if not self.listed_all:
            text += f" (first {len(self.problems)} listed)"
        return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def show(value: object, limit: int = 60) -> str:
    """A value for a message: its ``repr``, shortened so one bad value cannot flood a report."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # a huge int or a deeply nested value
        text = f"<{json_type(value)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type (``object``, ``array``...), or the Python name if not JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
