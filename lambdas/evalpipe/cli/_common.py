"""What the commands share: reading the user's files and writing to the terminal."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

# Exit codes of every command.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2  # a usage error or a path that cannot be read (argparse exits 2 as well)

CHUNK_BYTES = 1 << 20


class Unreadable(Exception):
    """A path given on the command line cannot be read."""


def read_bytes(path: str) -> bytes:
    """The whole file (a suite is small)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc


def open_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes in chunks, streamed; the file is opened now so a bad path fails here."""
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 -- closed by the generator below
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    return chunks()


def positive_int(text: str) -> int:
    """argparse ``type`` of a count: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def fail(message: str) -> int:
    """Report a usage problem on stderr; the exit code for it."""
    print(f"evalpipe: error: {message}", file=sys.stderr)
    return EXIT_USAGE


class Printer:
    """Lines to stdout; coloured with rich on a terminal when rich is installed, plain otherwise."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._console: Any = None
        if _isatty(self.stream) and not os.environ.get("NO_COLOR"):
            try:
                from rich.console import Console  # noqa: PLC0415 -- optional, terminal only
            except ImportError:  # pragma: no cover - rich is a dev dependency
                return
            self._console = Console(
                file=self.stream, highlight=False, markup=False, emoji=False, soft_wrap=True
            )

    def line(self, text: str = "", style: str | None = None) -> None:
        if self._console is not None:
            self._console.print(text, style=style)
        else:
            print(text, file=self.stream)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Fixed-width table lines: two-space indent and gutters, dashed rule, ``align`` "l"/"r" per column."""
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


# Terminal colours by verdict (rich styles; plain output ignores them).
_VERDICT_STYLES = {
    "PASSED": "green",
    "LOW_SCORES": "yellow",
    "STOPPED": "yellow",
    "REGRESSED": "bold red",
    "UNREADABLE": "red",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "REJECTED": "red",
    "ERROR": "red",
}


def verdict_style(verdict: object) -> str | None:
    """The colour a verdict is shown in on a terminal (None: default)."""
    return _VERDICT_STYLES.get(str(verdict)) if verdict else None


def short_time(value: object) -> str:
    """``2025-03-08T09:15:00+00:00`` -> ``2025-03-08 09:15:00`` (times are UTC); other text as is."""
    text = "" if value is None else str(value)
    return text[:19].replace("T", " ") if len(text) >= 19 and text[10:11] == "T" else text
