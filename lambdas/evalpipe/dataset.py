"""Streaming JSONL line splitter shared by dataset validation and result parsing.

The S3 body arrives as byte chunks of arbitrary size; a line may span many chunks. Only the
line being assembled is held in memory, never the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


@dataclass(frozen=True)
class RawLine:
    """One line of a JSONL file, undecoded.

    Attributes
    ----------
    number : int
        1-based line number.
    data : bytes
        The line's bytes without its line ending (``\\n`` or ``\\r\\n``).
    """

    number: int
    data: bytes


def iter_raw_lines(chunks: Iterable[bytes]) -> Iterator[RawLine]:
    """Split a stream of byte chunks into lines.

    Parameters
    ----------
    chunks : Iterable[bytes]
        The file's bytes in chunks of any size (empty chunks are allowed).

    Yields
    ------
    RawLine
        Every line in order, blank ones included (the rules decide what a blank line means).
        A final line without a newline is yielded; a file ending in a newline yields no extra
        empty line. Bytes are not decoded: ``\\n`` (0x0A) never occurs inside a multi-byte
        UTF-8 sequence, so splitting before decoding is safe and lets the caller report
        undecodable bytes by line.

    Examples
    --------
    >>> [line.data for line in iter_raw_lines([b'{"a": 1}\\r\\n{"b"', b': 2}'])]
    [b'{"a": 1}', b'{"b": 2}']
    """
    splitter = LineSplitter()
    number = 0
    for chunk in chunks:
        if not chunk:
            continue
        for data in splitter.feed(chunk):
            number += 1
            yield RawLine(number, data)
    rest = splitter.rest()
    if rest is not None:
        yield RawLine(number + 1, rest)


class LineSplitter:
    """Incremental line splitting: feed byte chunks of any size, get the lines they complete.

    Shared by `iter_raw_lines` and readers that must pass the chunks on unchanged while they
    look at the lines (`evalpipe.estimate.DatasetMeasure.tap`). Lines come without their line
    ending (``\\n`` or ``\\r\\n``); only the line being assembled is held.

    Examples
    --------
    >>> splitter = LineSplitter()
    >>> splitter.feed(b'{"a": 1}\\r\\n{"b"'), splitter.feed(b": 2}"), splitter.rest()
    ([b'{"a": 1}'], [], b'{"b": 2}')
    """

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes, in order (none when it holds no newline)."""
        parts = bytes(chunk).split(b"\n")
        lines = []
        # Every part but the last ends at a newline; the last continues in the next chunk.
        for part in parts[:-1]:
            self._pending += part
            lines.append(_strip_cr(bytes(self._pending)))
            self._pending.clear()
        self._pending += parts[-1]
        return lines

    def rest(self) -> bytes | None:
        """The final line when the stream did not end with a newline, else None."""
        return _strip_cr(bytes(self._pending)) if self._pending else None


def _strip_cr(data: bytes) -> bytes:
    return data[:-1] if data.endswith(b"\r") else data
