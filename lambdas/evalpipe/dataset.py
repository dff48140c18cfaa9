"""Streaming JSONL line splitter shared by dataset validation and result parsing.

The S3 body arrives as byte chunks of arbitrary size; a line may span many chunks. Only the
line being assembled is held in memory, never the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


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
    pending = bytearray()
    number = 0
    for chunk in chunks:
        if not chunk:
            continue
        parts = bytes(chunk).split(b"\n")
        # Every part but the last ends at a newline; the last continues in the next chunk.
        for part in parts[:-1]:
            pending += part
            number += 1
            yield RawLine(number, _strip_cr(bytes(pending)))
            pending.clear()
        pending += parts[-1]
    if pending:
        yield RawLine(number + 1, _strip_cr(bytes(pending)))


def _strip_cr(data: bytes) -> bytes:
    return data[:-1] if data.endswith(b"\r") else data
